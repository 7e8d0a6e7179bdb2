//! The run record: `{output}/{run id}/run.json`, the run's story beside its outputs.
//!
//! The instance is deleted when a run ends, so whatever must be known afterwards (who asked,
//! with which parameters, how it ended, where the files are, what cleanup did) is written to
//! Cloud Storage at each step: at launch, at completion and at cleanup. Each write replaces the
//! whole object, and every field a later step adds is optional, so a record read at any point
//! is valid and says how far the run got. `schema` changes only when a field changes meaning.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Cleanup, CompletionReport, Outcome, RunId, RunStore};

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
    /// that arrives later still tells the run's end.
    Unreported,
}

impl RunState {
    /// Every state, in the order a run goes through them (the ends in any order).
    pub const ALL: [RunState; 6] = [
        RunState::Launched,
        RunState::Succeeded,
        RunState::Failed,
        RunState::TimedOut,
        RunState::Cancelled,
        RunState::Unreported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Launched => "launched",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Cancelled => "cancelled",
            RunState::Unreported => "unreported",
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
    pub notebook: String,
    #[serde(default)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// `projects/P/locations/Z/instances/I`.
    pub instance: String,
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
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_tail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<CleanupRecord>,
}

/// What a run's record says from its launch on: who asked for which notebook, where.
#[derive(Debug, Clone)]
pub struct Launch {
    pub run_id: RunId,
    /// `pubsub`, `cloudevent`, `manual` or `cli`.
    pub trigger: String,
    pub message_id: Option<String>,
    pub profile: String,
    pub notebook: String,
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// `projects/P/locations/Z/instances/I`.
    pub instance: String,
    /// The output prefix (`gs://B/PREFIX`) the run's folder is made under.
    pub output_prefix: String,
}

impl RunRecord {
    /// The object name of the record under a run's output folder.
    pub const FILE: &'static str = "run.json";

    /// The record a launch writes at `at`, before anything else happened to the run.
    pub fn launched(launch: Launch, at: Timestamp) -> Self {
        RunRecord {
            schema: SCHEMA,
            output: RunStore::folder(&launch.output_prefix, &launch.run_id),
            run_id: launch.run_id,
            trigger: launch.trigger,
            message_id: launch.message_id,
            profile: launch.profile,
            notebook: launch.notebook,
            parameters: launch.parameters,
            instance: launch.instance,
            launched: at,
            state: RunState::Launched,
            started: None,
            finished: None,
            exit_code: None,
            error: String::new(),
            outputs: Vec::new(),
            log_tail: String::new(),
            cleanup: None,
        }
    }

    /// Whether a report was already taken: a repeated report changes nothing.
    pub fn is_complete(&self) -> bool {
        !matches!(self.state, RunState::Launched | RunState::Unreported)
    }

    /// The record after the reaper cleaned up a run that never reported, for `reason`; a
    /// reported run stays as it is.
    pub fn unreported(mut self, reason: &str) -> Self {
        if self.state == RunState::Launched {
            self.state = RunState::Unreported;
            self.error = format!("no report: {reason}");
        }
        self
    }

    /// The record after the runner's report.
    pub fn completed(mut self, report: &CompletionReport) -> Self {
        self.state = report.outcome.into();
        self.started = Some(report.started);
        self.finished = Some(report.finished);
        self.exit_code = Some(report.exit_code);
        self.error = report.error.clone();
        self.outputs = report.outputs.clone();
        self.log_tail = report.log_tail.clone();
        self
    }

    /// The record after cleanup was tried.
    pub fn cleaned(mut self, cleanup: CleanupRecord) -> Self {
        self.cleanup = Some(cleanup);
        self
    }

    /// Cleanup is owed: the run is over and its action was not accepted yet.
    pub fn needs_cleanup(&self) -> bool {
        self.is_complete()
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
            notebook: "gs://b/nb/seed.ipynb".into(),
            parameters: serde_json::Map::new(),
            instance: format!("projects/p/locations/z/instances/{key}"),
            output_prefix: "gs://b/runs".into(),
        };
        RunRecord::launched(launch, launched.parse().expect("an RFC 3339 time"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launched() -> RunRecord {
        RunRecord::example("1", "2026-12-01T10:00:00Z")
    }

    #[test]
    fn every_state_is_named_once_as_the_record_writes_it() {
        for state in RunState::ALL {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
        let names: std::collections::BTreeSet<_> =
            RunState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names.len(), RunState::ALL.len());
    }

    #[test]
    fn a_record_round_trips_at_every_step_and_says_how_far_the_run_got() {
        let record = launched();
        let lost = record.clone().unreported("up for 2h, past max_run_time");
        assert_eq!(lost.state, RunState::Unreported);
        assert_eq!(lost.error, "no report: up for 2h, past max_run_time");
        assert!(
            !lost.is_complete(),
            "a late report still tells the run's end"
        );
        let json = serde_json::to_string(&record).unwrap();
        assert!(
            !json.contains("cleanup") && !json.contains("exit_code"),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<RunRecord>(&json).unwrap(), record);
        assert!(!record.is_complete() && !record.needs_cleanup());

        let report = CompletionReport {
            run_id: record.run_id.clone(),
            outcome: Outcome::Failed,
            exit_code: 1,
            started: "2026-12-01T10:01:00Z".parse().unwrap(),
            finished: "2026-12-01T10:02:00Z".parse().unwrap(),
            outputs: vec!["gs://b/runs/r/seed.ipynb".into()],
            error: "papermill exited with 1".into(),
            log_tail: "Traceback".into(),
        };
        let record = record.completed(&report);
        assert_eq!(record.state, RunState::Failed);
        assert!(record.needs_cleanup());

        let failed = record.clone().cleaned(CleanupRecord {
            action: Cleanup::Stop,
            at: "2026-12-01T10:02:01Z".parse().unwrap(),
            error: Some("UNAVAILABLE".into()),
            by: "report".into(),
        });
        assert!(failed.needs_cleanup(), "a failed cleanup is owed again");
        let done = record.cleaned(CleanupRecord {
            action: Cleanup::Stop,
            at: "2026-12-01T10:02:01Z".parse().unwrap(),
            error: None,
            by: "report".into(),
        });
        assert!(!done.needs_cleanup());
        let json = serde_json::to_string(&done).unwrap();
        assert_eq!(serde_json::from_str::<RunRecord>(&json).unwrap(), done);
    }
}
