//! Reaping: acting on the reaper's verdicts for every managed instance the service can see.
//!
//! [`run::reaper::judge`](crate::run::reaper::judge) decides; this module observes and acts.
//! It lists the managed instances of every zone a profile launches in, reads the record of
//! each one that runs a notebook, judges, and ends and cleans up each run it has a verdict
//! for through the same [`Transitions`] as a runner's report (`by: reaper`). Every verdict is
//! logged and returned with its reason.
//!
//! What else a reap does, each in its own part:
//!
//! - `executions`: the job of each run that executes as one is read, and the run ended when
//!   its job has (the API announces no job's end).
//! - `lost`: records are judged too, so that none stays `launched` forever: a run whose
//!   instance is gone without a report is recorded `lost`.
//! - `overdue`: runs still going past their profile's `expected_duration` are announced once.
//! - `retention`: old runs are deleted where a profile sets `keep_runs`.
//! - With retries, each run a reap ends is retried as its profile says, and every reap launches
//!   the retries that are due (see [`retry`](crate::retry)): a retry outlives the process that
//!   scheduled it.
//! - Slots of profiles' caps whose run has ended (the process died between recording the end
//!   and giving the slot back) or that name a run with no record long after they were taken
//!   (its launch died in between) are given back, as the next launch that needs one would do.
//!
//! It may run while another reaper runs (a scheduled message redelivered, a person at a
//! terminal): each action is one the API takes twice without harm, and each record step is a
//! compare-and-swap that applies once (see [`Transitions`]).

mod executions;
mod lost;
mod overdue;
mod recent;
mod retention;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::cause;
use crate::executions::ExecutionsClient;
use crate::naming::LABEL_RUN_ID;
use crate::notebooks::Instance;
use crate::profile::{Profiles, Retention};
use crate::retry::{Retried, Retrier};

use crate::run::instances::run_folder;
use crate::run::reaper::{Observed, ReaperPolicy, Verdict, judge};
use crate::run::{
    Actor, Freed, ManagedInstances, RunRecord, RunState, RunStore, Transitions, Updated, bucket_of,
};
use crate::runner::KEY_PREFIX;
pub use executions::ExecutedRun;
pub use lost::LostRun;
pub use overdue::OverdueRun;
use recent::Recent;

/// What a reaper looks at and how it judges.
#[derive(Debug, Clone)]
pub struct Reaper {
    instances: ManagedInstances,
    records: RunStore,
    transitions: Transitions,
    /// The output prefixes whose records are judged for lost runs.
    outputs: BTreeSet<String>,
    policy: ReaperPolicy,
    /// Schedules the retry of each run this reaper ends, and launches those due.
    retries: Option<Arc<Retrier>>,
    /// The profiles whose `expected_duration` makes a run overdue; `None`: none is.
    profiles: Option<Profiles>,
    /// The outputs whose old runs are deleted, and after how long.
    retention: Retention,
    /// Reads the jobs of runs that execute as jobs; `None`: no run does.
    executions: Option<ExecutionsClient>,
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
    /// Runs that execute as jobs, ended because their job ended, is gone or is overdue.
    pub executions: Vec<ExecutedRun>,
    /// Retries scheduled or launched: ended attempts whose profile retries them.
    pub retries: Vec<Retried>,
    /// Slots of profiles' caps given back: their runs are done.
    pub freed: Vec<Freed>,
    /// Runs found still going past their `expected_duration`.
    pub overdue: Vec<OverdueRun>,
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
            .chain(self.executions.iter().map(ExecutedRun::line))
            .chain(self.retries.iter().map(Retried::line))
            .chain(self.freed.iter().map(Freed::line))
            .chain(self.overdue.iter().map(OverdueRun::line))
            .chain(self.expired.iter().map(ExpiredRun::line))
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
            retries: None,
            profiles: None,
            retention: Retention::new(),
            executions: None,
        }
    }

    /// The reaper that also reads the jobs of runs that execute as jobs, and ends their runs.
    #[must_use]
    pub fn with_executions(mut self, executions: ExecutionsClient) -> Self {
        self.executions = Some(executions);
        self
    }

    /// This reaper, announcing runs still going past their profile's `expected_duration`
    /// (a message's, where it set one) as overdue.
    pub fn with_overdue(self, profiles: Profiles) -> Self {
        Self {
            profiles: Some(profiles),
            ..self
        }
    }

    /// The reaper that also deletes old runs of the outputs in `retention`.
    #[must_use]
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The reaper that retries the runs it ends, and launches every retry due at a reap.
    #[must_use]
    pub fn with_retries(mut self, retrier: Arc<Retrier>) -> Self {
        self.retries = Some(retrier);
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
        let (verdicts, mut going) = self.reap_instances(found, now, dry_run).await;
        let recent = match self.recent_window() {
            Some(window) => self.recent(window, now).await,
            None => Recent::default(),
        };
        let (executions, executing) = self.reap_executions(&recent, now, dry_run).await;
        going.extend(executing);
        let overdue = self.reap_overdue(going, now, dry_run).await;
        let lost = if complete {
            self.reap_records(&live, now, dry_run).await
        } else {
            Vec::new()
        };
        // Slots first: a retry launched next may need one of them.
        let freed = self.free_slots(now, dry_run).await;
        let retries = match &self.retries {
            Some(retrier) => {
                let written = recent.within(Retrier::SWEEP_SINCE, now).cloned();
                retrier.sweep(written, now, dry_run).await
            }
            None => Vec::new(),
        };
        let expired = self.expire(now, dry_run).await;
        Reap {
            dry_run,
            verdicts,
            lost,
            executions,
            retries,
            freed,
            overdue,
            expired,
        }
    }

    /// How far back the records the executions' sync and the retries' sweep judge were
    /// written; `None` when neither has anything to do here.
    fn recent_window(&self) -> Option<Duration> {
        let executions = self.executions.as_ref().map(|_| self.sync_window());
        let retries = self.retries.as_ref().map(|_| Retrier::SWEEP_SINCE);
        executions.into_iter().chain(retries).max()
    }

    /// Schedules the retry of a run this reaper just ended, when its profile retries it.
    async fn ended(&self, record: &RunRecord) {
        if let Some(retrier) = &self.retries {
            retrier.ended(record).await;
        }
    }

    /// Gives back the slots, in every bucket runs are recorded in, whose runs are done.
    async fn free_slots(&self, now: Timestamp, dry_run: bool) -> Vec<Freed> {
        let buckets: BTreeSet<&str> = self
            .outputs
            .iter()
            .filter_map(|output| bucket_of(output))
            .collect();
        let mut freed = Vec::new();
        for bucket in buckets {
            match self
                .transitions
                .slots()
                .free_done(bucket, now, dry_run)
                .await
            {
                Ok(found) => {
                    for slot in &found {
                        tracing::info!(slot = %slot.slot, run = %slot.run_id, reason = %slot.reason, result = %slot.result, "slot freed");
                    }
                    freed.extend(found);
                }
                Err(error) => {
                    tracing::warn!(bucket, error = %cause::chain(&error), "cannot look at the slots; the next reap tries again");
                }
            }
        }
        freed
    }

    /// Judges and acts on every managed instance found; returns what it did, and the records
    /// of the runs found going (`launched`, with an instance).
    async fn reap_instances(
        &self,
        found: crate::run::instances::Found,
        now: Timestamp,
        dry_run: bool,
    ) -> (Vec<Reaped>, Vec<RunRecord>) {
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
        let going = observed
            .into_iter()
            .filter_map(|o| o.record)
            .filter(|record| record.state == RunState::Launched)
            .collect();
        (reaped, going)
    }

    /// Ends a run that never reported (`unreported`, or `cancelled` when an operator asked
    /// for it, with the verdict's reason), then cleans up as the verdict says. When the record turns out to have moved since it was read (a
    /// report came in the meantime), that report's own cleanup stands and nothing is done.
    async fn act(&self, verdict: &Verdict, record: Option<RunRecord>) -> String {
        let folder = record.as_ref().map(|record| record.output.clone());
        let mut ended = None;
        if let Some(record) = record.filter(|record| record.state == RunState::Launched) {
            let reason = verdict.reason.clone();
            match self
                .transitions
                .end(&record.output, |now| now.unreported(&reason))
                .await
            {
                Ok(Some(Updated::Unchanged(now)))
                    if !matches!(now.state, RunState::Unreported | RunState::Cancelled) =>
                {
                    return format!("skipped: the run reported {} meanwhile", now.state.as_str());
                }
                Ok(Some(Updated::Written { now, .. })) => ended = Some(now),
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
        if let Some(ended) = &ended {
            self.ended(ended).await;
        }
        match &cleanup.error {
            None => "done".to_owned(),
            Some(error) => format!("failed: {error}"),
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
