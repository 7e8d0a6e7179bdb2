//! Reaping: acting on the reaper's verdicts for every managed instance the service can see.
//!
//! [`runs::reaper::judge`](crate::runs::reaper::judge) decides; this module observes and acts.
//! It lists instances with the managed-by label in every zone a profile launches in (the
//! default profile's and those of `PROFILES_FILE`), reads the record of each one whose
//! metadata names an output folder, judges, stops or deletes, and records the cleanup
//! (`by: reaper`) in the run's record, announcing it as a run event when they are published.
//! Every verdict is logged and returned with its reason.
//!
//! It may run while another reaper runs (a scheduled message redelivered, a person at a
//! terminal): each action is one the API takes twice without harm (see
//! [`act`]), and records are replaced whole. An instance without the
//! managed-by label is never touched, even if the API ignored the list filter.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::cause;
use crate::naming::{LABEL_MANAGED_BY, MANAGED_BY};
use crate::notebooks::{Instance, NotebooksClient};
use crate::runner::KEY_PREFIX;
use crate::runs::reaper::{Observed, ReaperPolicy, Verdict, judge};
use crate::runs::{LABEL_RUN_ID, RunEvent, RunEvents, RunId, RunRecord, RunState, RunStore, act};
use crate::startup::Backing;

/// Who a reaper's cleanup is recorded as.
pub const BY: &str = "reaper";

/// What a reaper looks at and how it judges.
#[derive(Debug, Clone)]
pub struct Reaper {
    pub client: NotebooksClient,
    pub records: RunStore,
    pub project: String,
    /// The zones the profiles launch in.
    pub zones: BTreeSet<String>,
    pub policy: ReaperPolicy,
    /// Where a recorded cleanup is announced, when `RUN_EVENTS_TOPIC` is set.
    pub events: Option<Arc<RunEvents>>,
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

/// The filter of managed instances, as `instances.list` takes it.
pub fn managed_filter() -> String {
    format!("labels.{LABEL_MANAGED_BY}={MANAGED_BY}")
}

impl Reaper {
    /// The reaper of the service the settings describe, over its launcher's client.
    pub fn from_settings(backing: &Backing) -> Self {
        let (launcher, runs) = (&backing.launcher, &backing.runs);
        let zones = launcher
            .profiles
            .names()
            .filter_map(|name| launcher.profiles.get(Some(name))?.location.clone())
            .collect();
        let records = launcher.runs.store.clone();
        Self {
            client: launcher.client.clone(),
            records,
            events: launcher.runs.events.clone(),
            project: launcher.project.clone(),
            zones,
            policy: ReaperPolicy {
                grace: runs.grace,
                keep_stopped: runs.keep_stopped,
                cleanup: runs.cleanup,
            },
        }
    }

    /// Observes, judges at `now` and, unless `dry_run`, acts; one [`Reaped`] per verdict.
    /// A zone that cannot be listed is logged and skipped: the next reap tries it again.
    pub async fn reap(&self, now: Timestamp, dry_run: bool) -> Vec<Reaped> {
        let mut observed = Vec::new();
        for zone in &self.zones {
            let parent = format!("projects/{}/locations/{zone}", self.project);
            match self.client.list_instances(&parent, &managed_filter()).await {
                Ok(instances) => {
                    for instance in instances.into_iter().filter(is_managed) {
                        observed.push(self.observe(instance).await);
                    }
                }
                Err(error) => {
                    tracing::warn!(zone = %zone, error = %cause::chain(&error), "cannot list instances; the next reap tries again");
                }
            }
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

    async fn act(&self, verdict: &Verdict, record: Option<RunRecord>) -> String {
        let cleanup =
            act::apply_recorded(&self.client, &verdict.instance, verdict.action, BY).await;
        let result = match &cleanup.error {
            None => "done".to_owned(),
            Some(error) => format!("failed: {error}"),
        };
        if let Some(record) = record {
            let ended = record.state == RunState::Launched;
            let record = record.unreported(&verdict.reason).cleaned(cleanup);
            match self.records.write(&record).await {
                Ok(()) => {
                    if let Some(events) = &self.events {
                        if ended {
                            events
                                .publish(RunEvent::Reached(RunState::Unreported), &record)
                                .await;
                        }
                        events.publish(RunEvent::CleanedUp, &record).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(run = %record.run_id, error = %cause::chain(&error), "the reaper's cleanup is not recorded");
                }
            }
        }
        result
    }

    /// What the reaper knows of one instance: its record when the metadata names where.
    async fn observe(&self, instance: Instance) -> Observed {
        let created = instance.create_time.unwrap_or_else(Timestamp::now);
        let max_run_time = instance
            .metadata_value(&format!("{KEY_PREFIX}max-run-time"))
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let record = match folder(&instance) {
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

fn is_managed(instance: &Instance) -> bool {
    instance.labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
}

/// The run's folder, from the output in its metadata and the run id in its label.
fn folder(instance: &Instance) -> Option<String> {
    let output = instance.metadata_value(&format!("{KEY_PREFIX}output"))?;
    let run = RunId::parse(instance.labels.get(LABEL_RUN_ID)?).ok()?;
    Some(RunStore::folder(output, &run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn instance(labels: serde_json::Value, metadata: serde_json::Value) -> Instance {
        serde_json::from_value(json!({
            "name": "projects/p/locations/z/instances/i",
            "labels": labels,
            "gceSetup": {"metadata": metadata},
        }))
        .unwrap()
    }

    #[test]
    fn a_run_folder_needs_both_the_output_and_the_run_label() {
        let both = instance(
            json!({"managed-by": "notebook-trigger", "run-id": "r0123456789abcdef"}),
            json!({"notebook-trigger-output": "gs://b/runs"}),
        );
        assert!(is_managed(&both));
        assert_eq!(
            folder(&both).as_deref(),
            Some("gs://b/runs/r0123456789abcdef/")
        );
        let no_output = instance(json!({"run-id": "r0123456789abcdef"}), json!({}));
        assert!(!is_managed(&no_output));
        assert_eq!(folder(&no_output), None);
        let bad_run = instance(
            json!({"run-id": "../x"}),
            json!({"notebook-trigger-output": "gs://b/runs"}),
        );
        assert_eq!(folder(&bad_run), None);
        assert_eq!(managed_filter(), "labels.managed-by=notebook-trigger");
    }
}
