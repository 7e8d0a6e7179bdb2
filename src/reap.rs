//! Reaping: acting on the reaper's verdicts for every managed instance the service can see.
//!
//! [`run::reaper::judge`](crate::run::reaper::judge) decides; this module observes and acts.
//! It lists the managed instances of every zone a profile launches in, reads the record of
//! each one that runs a notebook, judges, and ends and cleans up each run it has a verdict
//! for through the same [`Transitions`] as a runner's report (`by: reaper`). Every verdict is
//! logged and returned with its reason.
//!
//! It may run while another reaper runs (a scheduled message redelivered, a person at a
//! terminal): each action is one the API takes twice without harm (see [`Transitions`]).

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::cause;
use crate::notebooks::Instance;
use crate::run::instances::run_folder;
use crate::run::reaper::{Observed, ReaperPolicy, Verdict, judge};
use crate::run::{Actor, ManagedInstances, RunRecord, RunState, RunStore, Transitions};
use crate::runner::KEY_PREFIX;

/// What a reaper looks at and how it judges.
#[derive(Debug, Clone)]
pub struct Reaper {
    instances: ManagedInstances,
    records: RunStore,
    transitions: Transitions,
    policy: ReaperPolicy,
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
        policy: ReaperPolicy,
    ) -> Self {
        Self {
            instances,
            records,
            transitions,
            policy,
        }
    }

    /// Observes, judges at `now` and, unless `dry_run`, acts; one [`Reaped`] per verdict.
    /// A zone that cannot be listed is logged and skipped: the next reap tries it again.
    pub async fn reap(&self, now: Timestamp, dry_run: bool) -> Vec<Reaped> {
        let found = self.instances.list().await;
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
    /// up as the verdict says.
    async fn act(&self, verdict: &Verdict, record: Option<RunRecord>) -> String {
        let record = match record {
            Some(record) if record.state == RunState::Launched => {
                let ended = record.unreported(&verdict.reason);
                if let Err(error) = self.transitions.end(&ended).await {
                    tracing::warn!(run = %ended.run_id, error = %cause::chain(&error), "the run's end is not recorded; the next reap tries again");
                }
                Some(ended)
            }
            other => other,
        };
        let cleanup = self
            .transitions
            .clean_up(&verdict.instance, verdict.action, Actor::Reaper, record)
            .await;
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
