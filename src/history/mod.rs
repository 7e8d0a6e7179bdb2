//! Run history: every run's record, joined with the instance it still has, newest first.
//!
//! Records are the truth about runs, because they outlive the instances: they sit in Cloud
//! Storage, one per run for each output prefix the profiles name (the store says where). An
//! instance that is still up knows one thing a record cannot, what it is doing right now, so
//! the managed instances of the profiles' zones are listed once and their state joined by run
//! id. A zone that cannot be listed leaves the records as they are and says so in
//! [`Listing::warnings`]: the history is still worth showing without live states.
//!
//! The command line (`notebook-trigger runs`) and the service (`GET /runs`) show the same
//! [`Listing`]; `filter` reads what a person types to choose runs.
//!
//! - `filter`: which runs to show (`--since 7d`, `--profile`, `--state`, `--limit`).
//! - `jobs`: the live state of runs that execute as jobs, asked of each job.
//! - `row`: one run as shown, with its live state and duration.
//! - `notebook`: a run's executed notebook, read for its page.
//! - `remote`: the same history from a running service's `GET /runs`.
//! - `table`: what the `runs` command prints for a person.

mod filter;
mod jobs;
mod notebook;
pub mod remote;
mod row;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::cause;
use crate::executions::ExecutionsClient;
use crate::naming::LABEL_RUN_ID;
use crate::notebooks::{Code, NotebooksClient};
use crate::reap::Reaper;
use crate::run::{ManagedInstances, RunId, RunRecord, RunStore, StoreError};

pub use filter::{
    DEFAULT_LIMIT, FilterError, FilterText, RunFilter, SINCE_FORMS, parse_since, state_names,
    statuses,
};
pub use notebook::ExecutedNotebook;
pub use row::RunRow;

/// Why there is no history to show.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("no profile runs a notebook, so there are no run records to read: {fix}")]
    NoOutputs { fix: &'static str },
    #[error("the run records under {output} cannot be read")]
    Records {
        output: String,
        #[source]
        source: StoreError,
    },
}

/// Where runs are recorded and where their instances live.
#[derive(Debug, Clone)]
pub struct History {
    store: RunStore,
    /// Asks a run's own instance for its state, by the name its record keeps.
    client: NotebooksClient,
    /// Where live instances are looked for.
    instances: ManagedInstances,
    /// The output prefixes of the profiles (`gs://B/PREFIX`), each read once.
    outputs: BTreeSet<String>,
    /// What to do when there are none: it depends on how the service was set up.
    no_outputs: &'static str,
    /// Reads the job of a run shown that executes as one, and ends the run when its job has,
    /// so that a run shown is as current as its job; `None`: shown as recorded.
    sync: Option<Arc<Reaper>>,
    /// Asks the job of a run that executes as one for its state; `None`: not shown.
    jobs: Option<ExecutionsClient>,
}

/// How a configured service gets run records.
pub const SET_AN_OUTPUT: &str = "set NOTEBOOK_OUTPUT (or a profile's output) as the service has it";

/// How many records are read at once, at least: a batch or two cover the default limit.
const READ_BATCH: usize = 64;

/// How far a record's `launched` (the service's clock) may be ahead of its write time (Cloud
/// Storage's clock).
const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// The runs a filter chose, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listing {
    pub runs: Vec<RunRow>,
    /// How many runs matched among the records read, before `limit` cut the list.
    pub matched: usize,
    /// Whether every record was read: when not, `limit` runs newer than any unread record
    /// were found first, and older runs may match too (`limit` 0 reads them all).
    pub complete: bool,
    /// What could not be looked at; the rows are shown without it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Listing {
    /// How many runs these are, of how many, for a person: `2 runs`, `3 of 340 runs`, or
    /// `the 50 newest runs` when older records were not read.
    pub fn count(&self) -> String {
        let shown = self.runs.len();
        let runs = |n: usize| if n == 1 { "run" } else { "runs" };
        if !self.complete {
            format!(
                "the {shown} newest {} (older records not read)",
                runs(shown)
            )
        } else if shown < self.matched {
            format!("{shown} of {} {}", self.matched, runs(self.matched))
        } else {
            format!("{shown} {}", runs(shown))
        }
    }

    /// Whether `limit` left runs out.
    pub fn is_cut(&self) -> bool {
        !self.complete || self.runs.len() < self.matched
    }
}

/// One run in full: its row, and the objects in its folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub row: RunRow,
    /// Every object in the run's folder (`gs://…`), the record included.
    pub objects: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl History {
    pub fn new(
        store: RunStore,
        client: NotebooksClient,
        instances: ManagedInstances,
        outputs: BTreeSet<String>,
        no_outputs: &'static str,
    ) -> Self {
        Self {
            store,
            client,
            instances,
            outputs,
            no_outputs,
            sync: None,
            jobs: None,
        }
    }

    /// The history that syncs a run it shows with its job first (see [`Reaper::sync_execution`]).
    #[must_use]
    pub fn with_sync(mut self, reaper: Arc<Reaper>) -> Self {
        self.sync = Some(reaper);
        self
    }

    /// The history that shows the live state of runs that execute as jobs, asked of `jobs`.
    #[must_use]
    pub fn with_jobs(mut self, jobs: ExecutionsClient) -> Self {
        self.jobs = Some(jobs);
        self
    }

    /// The output prefixes whose records are read.
    pub fn outputs(&self) -> &BTreeSet<String> {
        &self.outputs
    }

    /// The runs `filter` chooses, newest first, with the live state of those still up.
    ///
    /// Records are read newest write first, a batch at a time, and reading stops once `limit`
    /// runs are in hand that were launched after the newest write still unread: a record is
    /// written at its run's launch or later, so no unread record can show a newer run. With
    /// a few thousand records and the default limit, that is a batch or two instead of all.
    ///
    /// # Errors
    /// [`HistoryError`] when no output is configured or one cannot be listed.
    pub async fn list(&self, filter: &RunFilter, now: Timestamp) -> Result<Listing, HistoryError> {
        if self.outputs.is_empty() {
            return Err(HistoryError::NoOutputs {
                fix: self.no_outputs,
            });
        }
        let mut listed = Vec::new();
        for output in &self.outputs {
            let found = self
                .store
                .listed(output, filter.since)
                .await
                .map_err(|source| HistoryError::Records {
                    output: output.clone(),
                    source,
                })?;
            listed.extend(found);
        }
        // Newest write first; a record whose write time is unknown could be any, so first.
        listed.sort_by_key(|l| std::cmp::Reverse(l.updated.map_or(Timestamp::MAX, |t| t)));
        let (live, mut warnings) = self.live().await;
        // Without a limit every record is read, so all at once: batches would only wait for
        // each other's slowest read.
        let batch = match filter.limit.filter(|l| *l > 0) {
            Some(limit) => limit.max(READ_BATCH),
            None => listed.len().max(1),
        };
        let mut rows: Vec<RunRow> = Vec::new();
        let mut unread = listed.as_slice();
        while !unread.is_empty() && !enough(&mut rows, filter.limit, unread[0].updated) {
            let (next, rest) = unread.split_at(batch.min(unread.len()));
            unread = rest;
            let folders: Vec<String> = next.iter().map(|l| l.folder.clone()).collect();
            let read = self.store.read_all(folders).await;
            warnings.extend(read.unreadable);
            let (jobs, unasked) = self.job_states(&read.found).await;
            warnings.extend(unasked);
            rows.extend(
                read.found
                    .into_iter()
                    .map(|record| {
                        let run = record.run_id.as_str();
                        let state = live.get(run).or_else(|| jobs.get(run)).cloned();
                        RunRow::new(record, state, now)
                    })
                    .filter(|row| filter.matches(row)),
            );
        }
        newest_first(&mut rows);
        let matched = rows.len();
        if let Some(limit) = filter.limit {
            rows.truncate(limit);
        }
        Ok(Listing {
            runs: rows,
            matched,
            complete: unread.is_empty(),
            warnings,
        })
    }

    /// One run, looked for under every output; `None` when no output has its record.
    ///
    /// # Errors
    /// [`HistoryError`] when no output is configured or one cannot be read.
    pub async fn show(
        &self,
        run: &RunId,
        now: Timestamp,
    ) -> Result<Option<RunDetail>, HistoryError> {
        if self.outputs.is_empty() {
            return Err(HistoryError::NoOutputs {
                fix: self.no_outputs,
            });
        }
        for output in &self.outputs {
            let folder = RunStore::folder(output, run);
            let failed = |source| HistoryError::Records {
                output: output.clone(),
                source,
            };
            let Some(record) = self.store.read(&folder).await.map_err(failed)? else {
                continue;
            };
            let record = self.synced(record, now).await;
            let objects = self.store.objects(&folder).await.map_err(failed)?;
            let (instance, warnings) = self.instance_of(&record).await;
            return Ok(Some(RunDetail {
                row: RunRow::new(record, instance, now),
                objects,
                warnings,
            }));
        }
        Ok(None)
    }

    /// `record` after its run's job was read and, when it has ended, its end recorded: as the
    /// store has it then.
    async fn synced(&self, record: RunRecord, now: Timestamp) -> RunRecord {
        let Some(reaper) = &self.sync else {
            return record;
        };
        if record.has_outcome() || reaper.sync_execution(&record, now, false).await.is_none() {
            return record;
        }
        match self.store.read(&record.output).await {
            Ok(Some(now)) => now,
            _ => record,
        }
    }

    /// The state of the run's own instance, asked of it by the name its record keeps (in
    /// whichever zone it is): `None` once it is gone, or when the name now belongs to another
    /// run's instance (a fixed `INSTANCE_ID`).
    async fn instance_of(&self, record: &RunRecord) -> (Option<String>, Vec<String>) {
        if record.execution.is_some() {
            let (mut states, warnings) = self.job_states(std::slice::from_ref(record)).await;
            return (states.remove(record.run_id.as_str()), warnings);
        }
        match self.client.get_instance(&record.instance).await {
            Ok(instance) => {
                let ours = instance.labels.get(LABEL_RUN_ID).map(String::as_str)
                    == Some(record.run_id.as_str());
                (ours.then(|| instance.state.unwrap_or_default()), Vec::new())
            }
            Err(error) if error.code() == Some(Code::NotFound) => (None, Vec::new()),
            Err(error) => {
                let warning = format!(
                    "the instance {} cannot be looked at, so its live state is not shown: {}",
                    record.instance,
                    cause::chain(&error)
                );
                tracing::warn!("{warning}");
                (None, vec![warning])
            }
        }
    }

    /// The state of every managed instance that carries a run id, by run id.
    async fn live(&self) -> (BTreeMap<String, String>, Vec<String>) {
        let found = self.instances.list().await;
        let live = found
            .instances
            .into_iter()
            .filter_map(|instance| {
                let run = instance.labels.get(LABEL_RUN_ID)?.clone();
                Some((run, instance.state.unwrap_or_default()))
            })
            .collect();
        let warnings = found
            .unlisted
            .iter()
            .map(|(zone, error)| {
                let warning = format!(
                    "the instances in {zone} cannot be listed, so their live states are not shown: {}",
                    cause::chain(error)
                );
                tracing::warn!("{warning}");
                warning
            })
            .collect();
        (live, warnings)
    }
}

/// Whether `limit` rows are in hand that were all launched after `newest_unread`, the latest
/// write among the records not read yet (plus [`CLOCK_SKEW`]): then none of those can be
/// newer. Without a limit every record is read. Sorts `rows` newest first.
fn enough(rows: &mut [RunRow], limit: Option<usize>, newest_unread: Option<Timestamp>) -> bool {
    let Some(limit) = limit.filter(|l| *l > 0) else {
        return false;
    };
    if rows.len() < limit {
        return false;
    }
    newest_first(rows);
    let Some(newest_unread) = newest_unread else {
        return false;
    };
    newest_unread
        .checked_add(CLOCK_SKEW)
        .is_ok_and(|bound| rows[limit - 1].record.launched > bound)
}

fn newest_first(rows: &mut [RunRow]) {
    rows.sort_by(|a, b| {
        b.record
            .launched
            .cmp(&a.record.launched)
            .then_with(|| a.record.run_id.cmp(&b.record.run_id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::row::tests::record;

    #[test]
    fn reading_stops_only_when_no_unread_record_can_hold_a_newer_run() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let row =
            |key: &str, launched: &str| RunRow::new(record(key, "default", launched), None, now);
        let mut rows = vec![
            row("1", "2026-12-01T10:00:00Z"),
            row("2", "2026-12-01T11:00:00Z"),
            row("3", "2026-12-01T09:00:00Z"),
        ];
        let at = |t: &str| Some(t.parse::<Timestamp>().unwrap());
        assert!(
            !enough(&mut rows, Some(4), at("2026-11-01T00:00:00Z")),
            "too few"
        );
        assert!(
            !enough(&mut rows, None, at("2026-11-01T00:00:00Z")),
            "no limit"
        );
        assert!(
            !enough(&mut rows, Some(0), at("2026-11-01T00:00:00Z")),
            "0 is no limit"
        );
        assert!(enough(&mut rows, Some(2), at("2026-12-01T09:30:00Z")));
        assert_eq!(
            rows[0].record.launched,
            "2026-12-01T11:00:00Z".parse().unwrap()
        );
        assert!(
            !enough(&mut rows, Some(2), at("2026-12-01T10:00:00Z")),
            "an unread record written as the second run launched may be newer"
        );
        assert!(
            !enough(&mut rows, Some(2), at("2026-12-01T09:59:30Z")),
            "within the clock skew"
        );
        assert!(
            !enough(&mut rows, Some(2), None),
            "an unknown write time could be any"
        );
    }
}
