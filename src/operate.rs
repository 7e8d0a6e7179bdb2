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
use crate::notebooks::{ClientError, Code};
use crate::profile::MAX_RETRIES;
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
    #[error(
        "run {0} is linked to more attempts than a profile may retry: its records are not the \
         service's; nothing more was cancelled"
    )]
    TooManyAttempts(RunId),
    #[error(transparent)]
    Launch(#[from] Failure),
}

/// Where one attempt's cancel ended.
enum Step {
    Done(Cancelled),
    /// The attempt was retried: the cancel is asked of this one, launched after it.
    Retried(RunId),
}

/// A cancel that is recorded: of a run whose instance is stopping (or whose job is deleted),
/// or of the retry an ended run still had to come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cancelled {
    pub run_id: RunId,
    /// The instance stopping, or the job deleted; empty when a retry was cancelled.
    pub instance: String,
    /// The instance was still being created, which the API lets nobody stop: its launch
    /// stops it once it is made (or the reaper, after RUN_GRACE).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub being_created: bool,
    /// The attempt that is not launched, when the run had ended with its retry to come.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RunId>,
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

    /// Records that `by` cancels `run`, then stops its instance; of a run that ended with its
    /// retry still to come, cancels that retry; of a run retried already, cancels its latest
    /// attempt.
    ///
    /// # Errors
    /// [`OperateError::Ended`] for a run that has an outcome and no retry to come (nothing is
    /// changed); no such run; the record or the stop failed.
    pub async fn cancel(&self, run: &RunId, by: &str) -> Result<Cancelled, OperateError> {
        let mut run = run.clone();
        // Attempts are at most MAX_RETRIES + 1, each linked to the next by its record.
        for _ in 0..=MAX_RETRIES {
            match self.cancel_attempt(&run, by).await? {
                Step::Done(cancelled) => return Ok(cancelled),
                Step::Retried(next) => run = next,
            }
        }
        Err(OperateError::TooManyAttempts(run))
    }

    /// The cancel of one attempt: done here, or to be asked of the attempt launched after it.
    async fn cancel_attempt(&self, run: &RunId, by: &str) -> Result<Step, OperateError> {
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
            Some(Updated::Unchanged(now)) => (now, true),
            None => return Err(OperateError::NotFound(run.clone())),
        };
        if let Some(next) = record
            .next_attempt
            .as_ref()
            .filter(|n| n.launched.is_some())
        {
            return Ok(Step::Retried(next.run_id.clone()));
        }
        if record.retry_cancelled() {
            return self.cancel_retry(record, repeated).await;
        }
        if record.has_outcome() {
            return Err(OperateError::Ended {
                run: run.clone(),
                state: record.state,
            });
        }
        let cancel = record.cancel.clone().expect("a cancel was asked");
        if let Some(job) = &record.execution {
            return self
                .cancel_execution(record.clone(), job, cancel, repeated)
                .await
                .map(Step::Done);
        }
        tracing::info!(run = %run, by = %cancel.by, repeated, instance = %record.instance, "cancel: stopping the run's instance");
        let being_created = match self.transitions.stop(&record.instance).await {
            Ok(()) => false,
            // The API stops no instance whose create is under way; the launch that creates
            // it reads the cancel once it is made, and stops it (see `launch`).
            Err(source) if source.code() == Some(Code::FailedPrecondition) => true,
            Err(source) => {
                return Err(OperateError::Stop {
                    run: run.clone(),
                    instance: record.instance.clone(),
                    source,
                });
            }
        };
        Ok(Step::Done(Cancelled {
            run_id: run.clone(),
            instance: record.instance,
            being_created,
            retry: None,
            cancel,
            repeated,
        }))
    }

    /// The cancel of an ended attempt's retry, recorded on it: no attempt is launched after
    /// it. A launch made while the cancel was written has a record by now, or its launcher
    /// (or the next reap) finds the cancel and cancels it; when it has one, the cancel goes
    /// to it.
    async fn cancel_retry(&self, record: RunRecord, repeated: bool) -> Result<Step, OperateError> {
        let next = match &record.next_attempt {
            Some(next) => next.run_id.clone(),
            None => Relaunch::retry(&record).run_id(),
        };
        match self.record(&next).await {
            Ok(_) => return Ok(Step::Retried(next)),
            Err(OperateError::NotFound(_)) => {}
            Err(error) => return Err(error),
        }
        let cancel = record.cancel.clone().expect("a cancel was asked");
        tracing::info!(run = %record.run_id, by = %cancel.by, repeated, next_run = %next, "cancel: the run's retry is not launched");
        Ok(Step::Done(Cancelled {
            run_id: record.run_id,
            instance: String::new(),
            being_created: false,
            retry: Some(next),
            cancel,
            repeated,
        }))
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
            being_created: false,
            retry: None,
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
