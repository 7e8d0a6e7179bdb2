//! Reaping: acting on the reaper's verdicts for every managed instance the service can see.
//!
//! [`run::reaper::judge`](crate::run::reaper::judge) decides; this module observes and acts.
//! It lists the managed instances of every zone a profile launches in, reads the record of
//! each one that runs a notebook, judges, and ends and cleans up each run it has a verdict
//! for through the same [`Transitions`] as a runner's report (`by: reaper`). Every verdict is
//! logged and returned with its reason.
//!
//! Records are judged too, so that none stays `launched` forever: a run recorded `launched`
//! longer than `RUN_LOST_AFTER` ago whose instance is gone (deleted from outside after its runner
//! died, or never created) can never report, and is recorded `lost`. Only when every zone
//! could be listed, and only after asking for the instance by the name its record keeps.
//!
//! Old runs are deleted too, where a profile sets `keep_runs` (`retention` says how and why
//! the reaper does it).
//!
//! It may run while another reaper runs (a scheduled message redelivered, a person at a
//! terminal): each action is one the API takes twice without harm, and each record step is a
//! compare-and-swap that applies once (see [`Transitions`]).

mod retention;

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::cause;
use crate::naming::LABEL_RUN_ID;
use crate::notebooks::Instance;
use crate::profile::{MAX_RUN_TIME_LIMIT, Retention};
use crate::run::instances::run_folder;
use crate::run::reaper::{Observed, ReaperPolicy, Verdict, judge};
use crate::run::{Actor, ManagedInstances, RunRecord, RunState, RunStore, Transitions, Updated};
use crate::runner::KEY_PREFIX;

/// What a reaper looks at and how it judges.
#[derive(Debug, Clone)]
pub struct Reaper {
    instances: ManagedInstances,
    records: RunStore,
    transitions: Transitions,
    /// The output prefixes whose records are judged for lost runs.
    outputs: BTreeSet<String>,
    policy: ReaperPolicy,
    /// The outputs whose old runs are deleted, and after how long.
    retention: Retention,
}

pub use retention::ExpiredRun;

/// What one reap did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reap {
    /// Nothing was done: the verdicts and lost runs are what a reap would do.
    pub dry_run: bool,
    /// One per instance judged to be cleaned up.
    pub verdicts: Vec<Reaped>,
    /// Runs recorded `lost`: their instance is gone and they never reported.
    pub lost: Vec<LostRun>,
    /// Runs deleted (or, in a dry run, to delete) because they ended more than their
    /// output's `keep_runs` ago.
    pub expired: Vec<ExpiredRun>,
}

impl Reap {
    /// The lines `reap` prints, one per verdict and per lost run.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.verdicts
            .iter()
            .map(Reaped::line)
            .chain(self.lost.iter().map(LostRun::line))
            .chain(self.expired.iter().map(ExpiredRun::line))
    }
}

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
    fn line(&self) -> String {
        format!(
            "lost run {} ({}): {} ({})",
            self.run_id, self.instance, self.reason, self.result
        )
    }
}

/// One verdict and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaped {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// `dry-run`, `done`, or `failed: …`.
    pub result: String,
}

impl Reaped {
    /// The line `reap` prints for it.
    pub fn line(&self) -> String {
        format!(
            "{} {}: {} ({})",
            self.verdict.action, self.verdict.instance, self.verdict.reason, self.result
        )
    }
}

impl Reaper {
    pub fn new(
        instances: ManagedInstances,
        records: RunStore,
        transitions: Transitions,
        outputs: BTreeSet<String>,
        policy: ReaperPolicy,
    ) -> Self {
        Self {
            instances,
            records,
            transitions,
            outputs,
            policy,
            retention: Retention::new(),
        }
    }

    /// The reaper that also deletes old runs of the outputs in `retention`.
    #[must_use]
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Observes, judges at `now` and, unless `dry_run`, acts: on the instances, then on the
    /// records of runs whose instance is gone, then on old runs. A zone that cannot be listed
    /// is logged and skipped: the next reap tries it again.
    pub async fn reap(&self, now: Timestamp, dry_run: bool) -> Reap {
        let found = self.instances.list().await;
        let complete = found.unlisted.is_empty();
        let live: BTreeSet<String> = found
            .instances
            .iter()
            .filter_map(|instance| instance.labels.get(LABEL_RUN_ID).cloned())
            .collect();
        let verdicts = self.reap_instances(found, now, dry_run).await;
        let lost = if complete {
            self.reap_records(&live, now, dry_run).await
        } else {
            Vec::new()
        };
        let expired = self.expire(now, dry_run).await;
        Reap {
            dry_run,
            verdicts,
            lost,
            expired,
        }
    }

    /// Judges and acts on every managed instance found.
    async fn reap_instances(
        &self,
        found: crate::run::instances::Found,
        now: Timestamp,
        dry_run: bool,
    ) -> Vec<Reaped> {
        for (zone, error) in &found.unlisted {
            tracing::warn!(zone = %zone, error = %cause::chain(error), "cannot list instances; the next reap tries again");
        }
        let mut observed = Vec::with_capacity(found.instances.len());
        for instance in found.instances {
            observed.push(self.observe(instance).await);
        }
        let verdicts = judge(&observed, now, self.policy);
        tracing::info!(
            instances = observed.len(),
            verdicts = verdicts.len(),
            dry_run,
            "reap judged"
        );
        let mut reaped = Vec::with_capacity(verdicts.len());
        for verdict in verdicts {
            let result = if dry_run {
                "dry-run".to_owned()
            } else {
                let record = observed
                    .iter()
                    .find(|o| o.name == verdict.instance)
                    .and_then(|o| o.record.clone());
                self.act(&verdict, record).await
            };
            let done = Reaped { verdict, result };
            tracing::info!(instance = %done.verdict.instance, action = %done.verdict.action, reason = %done.verdict.reason, result = %done.result, "reaped");
            reaped.push(done);
        }
        reaped
    }

    /// Ends a run that never reported (`unreported`, with the verdict's reason), then cleans
    /// up as the verdict says. When the record turns out to have moved since it was read (a
    /// report came in the meantime), that report's own cleanup stands and nothing is done.
    async fn act(&self, verdict: &Verdict, record: Option<RunRecord>) -> String {
        let folder = record.as_ref().map(|record| record.output.clone());
        if let Some(record) = record.filter(|record| record.state == RunState::Launched) {
            let reason = verdict.reason.clone();
            match self
                .transitions
                .end(&record.output, |now| now.unreported(&reason))
                .await
            {
                Ok(Some(Updated::Unchanged(now))) if now.state != RunState::Unreported => {
                    return format!("skipped: the run reported {} meanwhile", now.state.as_str());
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(run = %record.run_id, error = %cause::chain(&error), "the run's end is not recorded; the next reap tries again");
                }
            }
        }
        let cleanup = self
            .transitions
            .clean_up(
                &verdict.instance,
                verdict.action,
                Actor::Reaper,
                folder.as_deref(),
            )
            .await;
        match &cleanup.error {
            None => "done".to_owned(),
            Some(error) => format!("failed: {error}"),
        }
    }

    /// Records `lost` every run recorded `launched` for longer than `lost_after` whose
    /// instance is gone. `live` holds the run ids of the managed instances just listed.
    async fn reap_records(
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
            if record.state != RunState::Launched || record.launched > cutoff {
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
                Ok(Some(Updated::Written { .. })) => "done".to_owned(),
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

    /// What the reaper knows of one instance: its record when the metadata names where.
    async fn observe(&self, instance: Instance) -> Observed {
        let created = instance.create_time.unwrap_or_else(Timestamp::now);
        let max_run_time = instance
            .metadata_value(&format!("{KEY_PREFIX}max-run-time"))
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let record = match run_folder(&instance) {
            Some(folder) => match self.records.read(&folder).await {
                Ok(record) => record,
                Err(error) => {
                    tracing::warn!(instance = %instance.name, error = %cause::chain(&error), "cannot read the run record; judged without it");
                    None
                }
            },
            None => None,
        };
        Observed {
            updated: instance.update_time.unwrap_or(created),
            created,
            state: instance.state.clone().unwrap_or_default(),
            labels: instance.labels,
            name: instance.name,
            max_run_time,
            record,
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
