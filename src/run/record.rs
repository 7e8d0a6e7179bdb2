//! The run record: the run's story, kept where its VM cannot write (`store` says where).
//!
//! The instance is deleted when a run ends, so whatever must be known afterwards (who asked,
//! with which parameters, how it ended, where the files are, what cleanup did) is written to
//! Cloud Storage at each step: at launch, at completion and at cleanup. Each write replaces the
//! whole object, and every field a later step adds is optional, so a record read at any point
//! is valid and says how far the run got. `schema` changes only when a field changes meaning.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Cleanup, CompletionReport, Failure, NextAttempt, Origin, Outcome, RunId, RunStore};
use crate::profile::{Fields, RetryPolicy};

/// The version of the record's layout.
const SCHEMA: u32 = 1;

/// Where a run is in its life, as its record last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// The instance was asked for; no report yet.
    Launched,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    /// No report came: the reaper cleaned up the instance (past `max_run_time` and
    /// `RUN_GRACE`, or stopped longer than `KEEP_STOPPED`), and `error` says why. A report
    /// that arrives later is kept beside it (`late_report`); this state stands.
    Unreported,
    /// The run can never report: its instance is gone (deleted from outside, or never
    /// created), and `error` says which. Nothing is left to clean up.
    Lost,
    /// Its profile's `max_concurrent_runs` were going and its `when_busy` is `skip`: no
    /// instance was created, and `error` says so.
    Skipped,
}

impl RunState {
    /// Every state, in the order a run goes through them (the ends in any order).
    pub const ALL: [RunState; 8] = [
        RunState::Launched,
        RunState::Succeeded,
        RunState::Failed,
        RunState::TimedOut,
        RunState::Cancelled,
        RunState::Unreported,
        RunState::Lost,
        RunState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Launched => "launched",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Cancelled => "cancelled",
            RunState::Unreported => "unreported",
            RunState::Lost => "lost",
            RunState::Skipped => "skipped",
        }
    }
}

impl From<Outcome> for RunState {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Succeeded => RunState::Succeeded,
            Outcome::Failed => RunState::Failed,
            Outcome::TimedOut => RunState::TimedOut,
            Outcome::Cancelled => RunState::Cancelled,
        }
    }
}

/// What cleanup did to the instance, or why it could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupRecord {
    pub action: Cleanup,
    pub at: Timestamp,
    /// `None` when the action was accepted; the error otherwise (the reaper tries again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Who cleaned up: `report` or `reaper`.
    pub by: String,
}

/// One run's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: u32,
    pub run_id: RunId,
    /// `pubsub`, `cloudevent`, `manual` or `cli`.
    pub trigger: String,
    /// The Pub/Sub message id, when a message started the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub profile: String,
    /// The retry, rerun or "run now" this run is; `None` for a run a message started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The profile fields the message set over its profile (`parameters` aside, which holds
    /// them merged): a retry or a rerun launches what the message asked for.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub overrides: Fields,
    pub notebook: String,
    #[serde(default)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// `projects/P/locations/Z/instances/I`; empty for a run that executes as a job.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance: String,
    /// `projects/P/locations/R/notebookExecutionJobs/J`, for a run that executes as a job
    /// (`backend = "execution"`); `None` for a run on an instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// `gs://B/PREFIX/{run id}/`: where the run's files and this record are.
    pub output: String,
    pub launched: Timestamp,
    pub state: RunState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// The cell that raised, its exception and traceback, when the report said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_tail: String,
    /// The JSON the notebook left in `outputs/result.json`, as its report said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Why the run has no `result` although its notebook wrote one (too large, not JSON).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub result_error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<CleanupRecord>,
    /// A report that came after the run was recorded `unreported` or `lost`: what the runner
    /// said, kept beside the outcome that was recorded first, which stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_report: Option<LateReport>,
    /// How this attempt is tried again if it ends badly, as its profile said at launch;
    /// `None`: it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// The attempt that follows this one, once its retry is scheduled (see `attempt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<NextAttempt>,
    /// Who asked for the run to be cancelled, and when: its instance was stopped then, and its
    /// runner reports `cancelled` (or the reaper records it so). A report that came first, or
    /// one the runner sent before the stop reached it, stands. Asked of an ended attempt whose
    /// retry was still to come, it is that retry that is cancelled: no attempt follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<CancelRequest>,
    /// The slot of its profile's `max_concurrent_runs` the run holds (`gs://…` of the lease),
    /// given back once its instance is cleaned up, or at its end when it never had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
    /// When a reap found the run still going past its profile's `expected_duration` and
    /// announced it overdue: set once, so that it is announced once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_at: Option<Timestamp>,
}

/// An operator's request to cancel a run, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// The operator's account (`loopback` in the embedded demo, `cli:USER` at a terminal with
    /// the service's configuration).
    pub by: String,
    pub at: Timestamp,
}

/// What a late runner said, as a record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LateReport {
    pub outcome: Outcome,
    pub exit_code: i32,
    pub finished: Timestamp,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default)]
    pub outputs: Vec<String>,
}

/// What a run's record says from its launch on: who asked for which notebook, where.
#[derive(Debug, Clone)]
pub struct Launch {
    pub run_id: RunId,
    /// `pubsub`, `cloudevent`, `manual` or `cli`.
    pub trigger: String,
    pub message_id: Option<String>,
    pub profile: String,
    pub origin: Option<Origin>,
    /// The message's profile fields, `parameters` aside.
    pub overrides: Fields,
    pub notebook: String,
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// `projects/P/locations/Z/instances/I`; empty for a run that executes as a job.
    pub instance: String,
    /// The job's name, for a run that executes as a job.
    pub execution: Option<String>,
    /// The output prefix (`gs://B/PREFIX`) the run's folder is made under.
    pub output_prefix: String,
    /// The profile's retry policy, `None` when it retries nothing.
    pub retry: Option<RetryPolicy>,
}

impl RunRecord {
    /// The record a launch writes at `at`, before anything else happened to the run.
    pub fn launched(launch: Launch, at: Timestamp) -> Self {
        RunRecord {
            schema: SCHEMA,
            output: RunStore::folder(&launch.output_prefix, &launch.run_id),
            run_id: launch.run_id,
            trigger: launch.trigger,
            message_id: launch.message_id,
            profile: launch.profile,
            origin: launch.origin,
            overrides: launch.overrides,
            notebook: launch.notebook,
            parameters: launch.parameters,
            instance: launch.instance,
            execution: launch.execution,
            launched: at,
            state: RunState::Launched,
            started: None,
            finished: None,
            exit_code: None,
            error: String::new(),
            failure: None,
            outputs: Vec::new(),
            log_tail: String::new(),
            result: None,
            result_error: String::new(),
            cleanup: None,
            late_report: None,
            retry: launch.retry,
            next_attempt: None,
            cancel: None,
            lease: None,
            overdue_at: None,
        }
    }

    /// What the run executes on: its job's name, or its instance's.
    pub fn runs_on(&self) -> &str {
        self.execution.as_deref().unwrap_or(&self.instance)
    }

    /// Which attempt at its run this record is: 1, or the retry's number.
    pub fn attempt(&self) -> u32 {
        Origin::attempt(self.origin.as_ref())
    }

    /// The run this record is an attempt at: its first attempt's id.
    pub fn first_attempt(&self) -> &RunId {
        match &self.origin {
            Some(Origin::Retry { of, .. }) => of,
            _ => &self.run_id,
        }
    }

    /// Whether the run's outcome is recorded: a record moves only forward, and the first
    /// outcome written is the one that stands.
    pub fn has_outcome(&self) -> bool {
        self.state != RunState::Launched
    }

    /// Whether a report was taken already: its own outcome, or one kept beside the reaper's.
    /// A repeated report changes nothing.
    pub fn completed_by_report(&self) -> bool {
        !matches!(
            self.state,
            RunState::Launched | RunState::Unreported | RunState::Lost
        ) || self.late_report.is_some()
    }

    /// The record after the runner's report: its outcome when the run had none yet, or the
    /// report kept beside an `unreported` or `lost` outcome; `None` when a report was taken
    /// already.
    pub fn completed(&self, report: &CompletionReport) -> Option<Self> {
        let mut next = self.clone();
        match self.state {
            RunState::Launched => {
                next.state = report.outcome.into();
                next.started = Some(report.started);
                next.finished = Some(report.finished);
                next.exit_code = Some(report.exit_code);
                next.error = report.error.clone();
                next.failure = report.failure.clone();
                next.outputs = report.outputs.clone();
                next.log_tail = report.log_tail.clone();
                next.result = report.result.clone();
                next.result_error = report.result_error.clone();
            }
            RunState::Unreported | RunState::Lost if self.late_report.is_none() => {
                next.late_report = Some(LateReport {
                    outcome: report.outcome,
                    exit_code: report.exit_code,
                    finished: report.finished,
                    error: report.error.clone(),
                    failure: report.failure.clone(),
                    outputs: report.outputs.clone(),
                });
                if next.log_tail.is_empty() {
                    next.log_tail = report.log_tail.clone();
                }
            }
            _ => return None,
        }
        Some(next)
    }

    /// The record with a cancel asked by `by` at `at`: of the attempt still going, or of the
    /// retry an ended attempt still has to come. `None` when nothing is left to cancel (an
    /// outcome and no retry pending) or a cancel was asked before (the first one stays).
    pub fn cancel_requested(&self, by: &str, at: Timestamp) -> Option<Self> {
        (self.cancellable() && self.cancel.is_none()).then(|| {
            let mut next = self.clone();
            next.cancel = Some(CancelRequest {
                by: by.to_owned(),
                at,
            });
            next
        })
    }

    /// Whether a cancel has something to stop: the attempt is going, or its retry is still to
    /// come. A cancel asked already of a run still going may be asked again (its stop is
    /// repeated).
    pub fn cancellable(&self) -> bool {
        !self.has_outcome() || self.retry_pending()
    }

    /// The record of a run found still going at `at`, past what it should take; `None` once
    /// it has an outcome or was found overdue already.
    pub fn overdue(&self, at: Timestamp) -> Option<Self> {
        (self.state == RunState::Launched && self.overdue_at.is_none()).then(|| {
            let mut next = self.clone();
            next.overdue_at = Some(at);
            next
        })
    }

    /// The record of a run that never reported, ended by the reaper for `reason`: `cancelled`
    /// when a cancel was asked (its runner was stopped before it could say so), `unreported`
    /// otherwise; `None` once the run has an outcome.
    pub fn unreported(&self, reason: &str) -> Option<Self> {
        self.cancelled_without_report(reason).or_else(|| {
            self.ended_without_report(RunState::Unreported, format!("no report: {reason}"))
        })
    }

    /// The record of a run whose instance is gone without a report (`cancelled` when a cancel
    /// was asked); `None` once the run has an outcome.
    pub fn lost(&self, reason: &str) -> Option<Self> {
        self.cancelled_without_report(reason)
            .or_else(|| self.ended_without_report(RunState::Lost, format!("lost: {reason}")))
    }

    fn cancelled_without_report(&self, reason: &str) -> Option<Self> {
        let cancel = self.cancel.as_ref()?;
        self.ended_without_report(
            RunState::Cancelled,
            format!(
                "cancelled by {} at {}; the runner did not report: {reason}",
                cancel.by, cancel.at
            ),
        )
    }

    /// The record of a run whose instance the API refused for good; `None` once the run has
    /// an outcome.
    pub fn not_launched(&self, reason: &str) -> Option<Self> {
        self.ended_without_report(RunState::Failed, format!("not launched: {reason}"))
    }

    /// The record of a run that found its profile's runs all going, and was skipped for
    /// `reason`; `None` once the run has an outcome.
    pub fn skipped(&self, reason: &str) -> Option<Self> {
        self.ended_without_report(RunState::Skipped, reason.to_owned())
    }

    fn ended_without_report(&self, state: RunState, error: String) -> Option<Self> {
        (self.state == RunState::Launched).then(|| {
            let mut next = self.clone();
            next.state = state;
            next.error = error;
            next
        })
    }

    /// The record with `cleanup` in it; `None` when there is nothing to record: the run has
    /// no outcome yet, or an earlier cleanup was accepted already (it stays, so that racing
    /// cleaners record the one that happened first).
    pub fn cleaned(&self, cleanup: &CleanupRecord) -> Option<Self> {
        let done = self.cleanup.as_ref().is_some_and(|c| c.error.is_none());
        (self.has_outcome() && !done).then(|| {
            let mut next = self.clone();
            next.cleanup = Some(cleanup.clone());
            next
        })
    }

    /// Cleanup is owed: the run is over, it had an instance (a lost run that reported late
    /// had one after all), and no cleanup was accepted yet. A job tears its compute down
    /// itself: a run that executes as one never owes a cleanup.
    pub fn needs_cleanup(&self) -> bool {
        if self.execution.is_some() {
            return false;
        }
        let had_instance = match self.state {
            RunState::Launched | RunState::Skipped => false,
            RunState::Lost => self.late_report.is_some(),
            _ => true,
        };
        had_instance
            && self
                .cleanup
                .as_ref()
                .is_none_or(|c| c.error.is_some() && c.action != Cleanup::Keep)
    }
}

#[cfg(test)]
impl RunRecord {
    /// The record a launch writes for the message `key` at `launched` (default profile, a
    /// seed notebook), before anything else happened: the one fixture of the tests that
    /// need a record, which change what they are about.
    pub(crate) fn example(key: &str, launched: &str) -> Self {
        let launch = Launch {
            run_id: RunId::derive(&format!("pubsub:{key}")),
            trigger: "pubsub".into(),
            message_id: Some(key.into()),
            profile: "default".into(),
            origin: None,
            overrides: crate::profile::Fields::default(),
            notebook: "gs://b/nb/seed.ipynb".into(),
            parameters: serde_json::Map::new(),
            instance: format!("projects/p/locations/z/instances/{key}"),
            execution: None,
            output_prefix: "gs://b/runs".into(),
            retry: None,
        };
        RunRecord::launched(launch, launched.parse().expect("an RFC 3339 time"))
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
