//! What an operator does to runs: rerun one with other parameters, cancel one, or run a
//! profile now. `runs rerun|cancel|start` and the history pages' buttons both come here, from a
//! terminal with the service's configuration or through the service's HTTP API.
//!
//! A rerun and a "run now" are [`Relaunch`]es, launched as a message's launch is, and named by
//! the request that asked for them, so that asking twice with one request (a form posted
//! twice, a terminal's request repeated) starts one run. A cancel is a compare-and-swap on the
//! run's record that notes who asked and when, then a stop of its instance: the VM sends its
//! runner the signal it reports `cancelled` on, and the run ends as every run ends, by its
//! report (or by the reaper, which ends a cancelled run that never reports as `cancelled`).
//! The record is written first so that a cancel whose stop fails, or whose process dies before
//! the stop, is still known: asked again, or reaped, it is finished. A run that has ended
//! already is left as it is, and the answer says how it ended. A run that executes as a job
//! has no runner to report: its job is deleted (the API's only way to stop one) and the run
//! recorded `cancelled` at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::executions::ExecutionsError;
use crate::launch::{Failure, Launched, Launcher, Progress, Relaunch};
use crate::notebooks::ClientError;
use crate::run::execution::JobEnd;
use crate::run::{
    CancelRequest, RunId, RunRecord, RunState, RunStore, StoreError, Transitions, Updated,
};

/// Why an operator's request was not done.
#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    #[error("no record of run {0} under any output")]
    NotFound(RunId),
    #[error(
        "no output is configured, so there is no run to act on: set NOTEBOOK_OUTPUT, or output \
         in a profile"
    )]
    NoOutputs,
    #[error("run {run} has ended already ({}): nothing was changed", state.as_str())]
    Ended { run: RunId, state: RunState },
    #[error("the record of run {run} cannot be read or written")]
    Store {
        run: RunId,
        #[source]
        source: StoreError,
    },
    #[error(
        "the cancel of run {run} is recorded, but its instance {instance} could not be stopped: \
         ask again (the reaper stops it after RUN_GRACE)"
    )]
    Stop {
        run: RunId,
        instance: String,
        #[source]
        source: ClientError,
    },
    #[error(
        "the cancel of run {run} is recorded, but its job {job} could not be deleted: ask again"
    )]
    Delete {
        run: RunId,
        job: String,
        #[source]
        source: ExecutionsError,
    },
    #[error(transparent)]
    Launch(#[from] Failure),
}

/// A cancel that is recorded and whose instance is stopping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cancelled {
    pub run_id: RunId,
    pub instance: String,
    /// Who asked and when: the first to ask, when this one came after it.
    pub cancel: CancelRequest,
    /// `true` when a cancel had been asked already: nothing changed but another stop.
    pub repeated: bool,
}

/// Reruns, cancels and "run now"s, over the launcher and the run records.
#[derive(Debug, Clone)]
pub struct Operations {
    launcher: Arc<Launcher>,
    records: RunStore,
    transitions: Transitions,
    /// The output prefixes a run's record is looked for under.
    outputs: BTreeSet<String>,
}

impl Operations {
    pub fn new(
        launcher: Arc<Launcher>,
        records: RunStore,
        transitions: Transitions,
        outputs: BTreeSet<String>,
    ) -> Self {
        Self {
            launcher,
            records,
            transitions,
            outputs,
        }
    }

    /// The profiles a "run now" may name, the default first.
    pub fn profiles(&self) -> Vec<String> {
        self.launcher.profiles.names().map(str::to_owned).collect()
    }

    /// A new run of `run`'s profile and notebook with `parameters` over its own, asked for
    /// by `by`; `request` names it (see [`Relaunch::rerun`]).
    ///
    /// # Errors
    /// [`OperateError`]: no such run, or the launch's own failure.
    pub async fn rerun(
        &self,
        run: &RunId,
        parameters: Map<String, Value>,
        by: &str,
        request: &str,
        progress: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Result<Launched, OperateError> {
        let record = self.record(run).await?;
        let relaunch = Relaunch::rerun(&record, parameters, by, request);
        tracing::info!(of = %run, run = %relaunch.run_id(), by, "rerun");
        Ok(self.launcher.relaunch(relaunch, progress).await?)
    }

    /// A run of `profile` with `parameters` over its own, asked for by `by`; `request` names
    /// it (see [`Relaunch::run_now`]).
    ///
    /// # Errors
    /// [`OperateError::Launch`]: an unknown profile, parameters it refuses, or the launch's
    /// own failure.
    pub async fn run_now(
        &self,
        profile: &str,
        parameters: Map<String, Value>,
        by: &str,
        request: &str,
        progress: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Result<Launched, OperateError> {
        let relaunch = Relaunch::run_now(profile, parameters, by, request);
        tracing::info!(profile, run = %relaunch.run_id(), by, "run now");
        Ok(self.launcher.relaunch(relaunch, progress).await?)
    }

    /// Records that `by` cancels `run`, then stops its instance.
    ///
    /// # Errors
    /// [`OperateError::Ended`] for a run that has an outcome already (nothing is changed);
    /// no such run; the record or the stop failed.
    pub async fn cancel(&self, run: &RunId, by: &str) -> Result<Cancelled, OperateError> {
        let record = self.record(run).await?;
        let store = |source| OperateError::Store {
            run: run.clone(),
            source,
        };
        let at = Timestamp::now();
        let (record, repeated) = match self
            .records
            .update(&record.output, |now| now.cancel_requested(by, at))
            .await
            .map_err(store)?
        {
            Some(Updated::Written { now, .. }) => (now, false),
            Some(Updated::Unchanged(now)) if now.has_outcome() => {
                return Err(OperateError::Ended {
                    run: run.clone(),
                    state: now.state,
                });
            }
            Some(Updated::Unchanged(now)) => (now, true),
            None => return Err(OperateError::NotFound(run.clone())),
        };
        let cancel = record.cancel.clone().expect("a cancel was asked");
        if let Some(job) = &record.execution {
            return self
                .cancel_execution(record.clone(), job, cancel, repeated)
                .await;
        }
        tracing::info!(run = %run, by = %cancel.by, repeated, instance = %record.instance, "cancel: stopping the run's instance");
        self.transitions
            .stop(&record.instance)
            .await
            .map_err(|source| OperateError::Stop {
                run: run.clone(),
                instance: record.instance.clone(),
                source,
            })?;
        Ok(Cancelled {
            run_id: run.clone(),
            instance: record.instance,
            cancel,
            repeated,
        })
    }

    /// Deletes the job of a cancelled run (v1 has no cancel for notebook execution jobs), then
    /// records the run `cancelled` through the one transition every run ends by. A job gone
    /// already counts as deleted; a run that ended meanwhile keeps its outcome.
    async fn cancel_execution(
        &self,
        record: RunRecord,
        job: &str,
        cancel: CancelRequest,
        repeated: bool,
    ) -> Result<Cancelled, OperateError> {
        let run = &record.run_id;
        tracing::info!(run = %run, by = %cancel.by, repeated, job, "cancel: deleting the run's job");
        match self.launcher.executions.delete_job(job).await {
            Ok(_) => {}
            Err(error) if error.is_not_found() => {}
            Err(source) => {
                return Err(OperateError::Delete {
                    run: run.clone(),
                    job: job.to_owned(),
                    source,
                });
            }
        }
        let end = JobEnd {
            state: RunState::Cancelled,
            error: String::new(),
            finished: Some(Timestamp::now()),
            started: None,
        };
        self.transitions
            .end(&record.output, |now| now.executed(&end, &[]))
            .await
            .map_err(|source| OperateError::Store {
                run: run.clone(),
                source,
            })?;
        Ok(Cancelled {
            run_id: run.clone(),
            instance: job.to_owned(),
            cancel,
            repeated,
        })
    }

    /// `run`'s record, from whichever output holds it.
    async fn record(&self, run: &RunId) -> Result<RunRecord, OperateError> {
        if self.outputs.is_empty() {
            return Err(OperateError::NoOutputs);
        }
        for output in &self.outputs {
            let folder = RunStore::folder(output, run);
            let found = self
                .records
                .read(&folder)
                .await
                .map_err(|source| OperateError::Store {
                    run: run.clone(),
                    source,
                })?;
            if let Some(record) = found {
                return Ok(record);
            }
        }
        Err(OperateError::NotFound(run.clone()))
    }
}

/// Parameters as an operator types them: a JSON object, or nothing.
///
/// # Errors
/// What is wrong with the text, for the one who typed it.
pub fn parameters(text: Option<&str>) -> Result<Map<String, Value>, String> {
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    let Some(text) = text else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(parameters)) => Ok(parameters),
        Ok(_) => Err(format!(
            "parameters: `{}` is not a JSON object such as {{\"rows\": 5}}",
            shown(text)
        )),
        Err(error) => Err(format!("parameters: not JSON ({error})")),
    }
}

/// At most 80 characters of what was typed, for an error message.
fn shown(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_a_json_object_or_nothing() {
        assert_eq!(parameters(None).unwrap(), Map::new());
        assert_eq!(parameters(Some("  ")).unwrap(), Map::new());
        assert_eq!(
            parameters(Some(r#"{"rows": 5}"#)).unwrap()["rows"],
            Value::from(5)
        );
        let error = parameters(Some("[1, 2]")).unwrap_err();
        assert!(error.contains("not a JSON object"), "{error}");
        let error = parameters(Some("{rows: 5")).unwrap_err();
        assert!(error.starts_with("parameters: not JSON"), "{error}");
        let long = parameters(Some(&"7".repeat(500))).unwrap_err();
        assert!(long.len() < 200, "{long}");
    }
}
