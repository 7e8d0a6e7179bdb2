//! Runs that can never report: recorded `launched` longer than `RUN_LOST_AFTER` ago, and
//! their instance gone (deleted from outside after its runner died, or never created). Judged
//! only when every zone could be listed, and only after asking for the instance by the name
//! its record keeps.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;

use super::Reaper;
use crate::cause;
use crate::naming::LABEL_RUN_ID;
use crate::profile::MAX_RUN_TIME_LIMIT;
use crate::run::{RunRecord, RunState, Updated};

/// A run whose instance is gone without a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LostRun {
    pub run_id: String,
    pub instance: String,
    pub reason: String,
    /// `dry-run`, `done`, or `failed: …`.
    pub result: String,
}

impl LostRun {
    pub(super) fn line(&self) -> String {
        format!(
            "lost run {} ({}): {} ({})",
            self.run_id, self.instance, self.reason, self.result
        )
    }
}

impl Reaper {
    /// Records `lost` every run recorded `launched` for longer than `lost_after` whose
    /// instance is gone. `live` holds the run ids of the managed instances just listed.
    pub(super) async fn reap_records(
        &self,
        live: &BTreeSet<String>,
        now: Timestamp,
        dry_run: bool,
    ) -> Vec<LostRun> {
        let lost_after = self.policy.lost_after;
        let cutoff = now - jiff::SignedDuration::try_from(lost_after).unwrap_or_default();
        // Long enough to hold the record of any run still up, and of one whose instance went
        // away since the last reap.
        let window = MAX_RUN_TIME_LIMIT + self.policy.grace + lost_after + lost_after;
        let since = now - jiff::SignedDuration::try_from(window).unwrap_or_default();
        let mut folders = Vec::new();
        for output in &self.outputs {
            match self.records.listed(output, Some(since)).await {
                Ok(listed) => folders.extend(
                    listed
                        .into_iter()
                        .filter(|l| l.updated.is_none_or(|updated| updated <= cutoff))
                        .filter(|l| !live.contains(run_of(&l.folder)))
                        .map(|l| l.folder),
                ),
                Err(error) => {
                    tracing::warn!(output = %output, error = %cause::chain(&error), "cannot list the run records; the next reap tries again");
                }
            }
        }
        let records = self.records.read_all(folders).await;
        let mut lost = Vec::new();
        for record in records.found {
            // A run that executes as a job has no instance: its job says whether it is gone.
            let job = record.execution.is_some();
            if record.state != RunState::Launched || record.launched > cutoff || job {
                continue;
            }
            if let Some(reason) = self.gone(&record).await {
                lost.push(self.record_lost(record, reason, dry_run).await);
            }
        }
        lost
    }

    /// Why the run's instance can never report, when it is gone: asked by the name the
    /// record keeps, in whichever zone.
    async fn gone(&self, record: &RunRecord) -> Option<String> {
        match self.instances.get(&record.instance).await {
            Ok(None) => Some(format!(
                "its instance {} is gone and it never reported",
                record.instance
            )),
            Ok(Some(instance))
                if instance.labels.get(LABEL_RUN_ID).map(String::as_str)
                    != Some(record.run_id.as_str()) =>
            {
                Some(format!(
                    "its instance name {} belongs to another run now, and it never reported",
                    record.instance
                ))
            }
            Ok(Some(_)) => None,
            Err(error) => {
                tracing::warn!(run = %record.run_id, error = %cause::chain(&error), "cannot look at the run's instance; the next reap tries again");
                None
            }
        }
    }

    async fn record_lost(&self, record: RunRecord, reason: String, dry_run: bool) -> LostRun {
        let result = if dry_run {
            "dry-run".to_owned()
        } else {
            match self
                .transitions
                .end(&record.output, |now| now.lost(&reason))
                .await
            {
                Ok(Some(Updated::Written { now, .. })) => {
                    self.ended(&now).await;
                    "done".to_owned()
                }
                Ok(_) => "skipped: the record moved meanwhile".to_owned(),
                Err(error) => format!("failed: {}", cause::chain(&error)),
            }
        };
        tracing::info!(run = %record.run_id, instance = %record.instance, reason = %reason, result = %result, "lost run");
        LostRun {
            run_id: record.run_id.to_string(),
            instance: record.instance,
            reason,
            result,
        }
    }
}

/// The run id a run's folder (`gs://B/PREFIX/{run id}/`) ends with.
fn run_of(folder: &str) -> &str {
    folder
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}
