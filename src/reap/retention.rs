//! Retention, acted on by the reap: each output folder with a `keep_runs` is listed, the runs
//! [`expired`] judges old are deleted, folder first and record last (see
//! [`RunStore::delete_folder`]), oldest first and within [`MAX_RUNS_PER_REAP`] records read
//! and [`MAX_OBJECTS_PER_REAP`] objects deleted, so a reap after months of piled-up runs takes
//! no longer than any other; the rest wait for the next reap.
//!
//! The reaper does this rather than a Cloud Storage lifecycle rule set per output prefix: a
//! rule judges each object by its own age, so it would delete the files of a run still going
//! that started long ago (its notebook's folder is written at its start and its end), or a
//! record whose cleanup failed and is still owed; it cannot tell a run from its objects, nor
//! delete a folder and its record together. The reaper reads the record, so it deletes only
//! runs that are over and cleaned up, and it can be tested against the emulators like the
//! rest of the product.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::Reaper;
use crate::cause;
use crate::run::retention::{MAX_OBJECTS_PER_REAP, MAX_RUNS_PER_REAP, expired};
use crate::run::{RecordDeleted, RunStore};

/// A run retention deleted, or would delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiredRun {
    pub run_id: String,
    /// `gs://B/PREFIX/{run id}/`.
    pub folder: String,
    pub reason: String,
    /// Objects of its folder deleted (or, in a dry run, there to delete).
    pub objects: usize,
    /// `dry-run`, `done`, `done by another reap`, `partly: …`, `skipped: …` or `failed: …`.
    pub result: String,
}

impl ExpiredRun {
    pub(super) fn line(&self) -> String {
        format!(
            "delete run {} ({}: {} objects and its record): {} ({})",
            self.run_id, self.folder, self.objects, self.reason, self.result
        )
    }
}

/// A record a listing found old enough to read: when it was last written, its folder, and how
/// long its output keeps runs.
type Candidate = (Timestamp, String, std::time::Duration);

impl Reaper {
    /// Judges and, unless `dry_run`, deletes the runs past their output's `keep_runs` at `now`.
    pub(super) async fn expire(&self, now: Timestamp, dry_run: bool) -> Vec<ExpiredRun> {
        let mut candidates: Vec<Candidate> = Vec::new();
        for (output, keep) in &self.retention {
            let Ok(keep_for) = SignedDuration::try_from(*keep) else {
                continue;
            };
            let Ok(cutoff) = now.checked_sub(keep_for) else {
                continue;
            };
            match self.records.listed(output, None).await {
                Ok(listed) => candidates.extend(listed.into_iter().filter_map(|listed| {
                    let written = listed.updated.filter(|written| *written < cutoff)?;
                    Some((written, listed.folder, *keep))
                })),
                Err(error) => {
                    tracing::warn!(output = %output, error = %cause::chain(&error), "cannot list the run records for retention; the next reap tries again");
                }
            }
        }
        candidates.sort();
        let mut budget = MAX_OBJECTS_PER_REAP;
        let mut done = Vec::new();
        for (written, folder, keep) in candidates.into_iter().take(MAX_RUNS_PER_REAP) {
            if budget == 0 {
                break;
            }
            let Some(reason) = self.judge_old(&folder, written, now, keep).await else {
                continue;
            };
            let (run_id, generation, reason) = reason;
            let (objects, result) = if dry_run {
                self.count(&folder).await
            } else {
                delete_run(&self.records, &folder, generation, &mut budget).await
            };
            tracing::info!(run = %run_id, folder = %folder, reason = %reason, objects, result = %result, "old run");
            done.push(ExpiredRun {
                run_id,
                folder,
                reason,
                objects,
                result,
            });
        }
        done
    }

    /// The run id, record generation and reason to delete the run in `folder`, when it is old.
    async fn judge_old(
        &self,
        folder: &str,
        written: Timestamp,
        now: Timestamp,
        keep: std::time::Duration,
    ) -> Option<(String, u64, String)> {
        match self.records.read_with_generation(folder).await {
            Ok(Some((record, generation))) => expired(&record, written, now, keep)
                .map(|reason| (record.run_id.to_string(), generation, reason)),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(folder = %folder, error = %cause::chain(&error), "cannot read an old run's record; the next reap tries again");
                None
            }
        }
    }

    /// What a dry run says: the objects there are to delete.
    async fn count(&self, folder: &str) -> (usize, String) {
        match self.records.folder_objects(folder).await {
            Ok(objects) => (objects.len(), "dry-run".to_owned()),
            Err(error) => (0, format!("dry-run; failed: {}", cause::chain(&error))),
        }
    }
}

/// Deletes the folder's objects within `budget`, then, when none is left, the record at the
/// generation judged: the objects deleted, and what became of the run.
async fn delete_run(
    records: &RunStore,
    folder: &str,
    generation: u64,
    budget: &mut usize,
) -> (usize, String) {
    let deleted = match records.delete_folder(folder, *budget).await {
        Ok(deleted) => deleted,
        Err(error) => return (0, format!("failed: {}", cause::chain(&error))),
    };
    *budget = budget.saturating_sub(deleted.deleted);
    if deleted.left > 0 {
        let left = deleted.left;
        return (
            deleted.deleted,
            format!("partly: {left} objects and the record are left for the next reap"),
        );
    }
    let result = match records.delete_record(folder, generation).await {
        Ok(RecordDeleted::Deleted) => "done".to_owned(),
        Ok(RecordDeleted::Gone) => "done by another reap".to_owned(),
        Ok(RecordDeleted::Changed) => {
            "skipped: its record was written meanwhile; judged again later".to_owned()
        }
        Err(error) => format!("failed: {}", cause::chain(&error)),
    };
    (deleted.deleted, result)
}
