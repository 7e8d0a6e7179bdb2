//! One run as a history shows it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::executions::Job;
use crate::notebooks::Instance;
use crate::run::{RunRecord, RunState};

/// What a run that has not reported is shown as while its instance exists.
pub const RUNNING: &str = "running";

/// What a run whose cancel was asked is shown as until its end is recorded: its runner is
/// being stopped and reports `cancelled` (or the reaper records it so).
pub const CANCELLING: &str = "cancelling";

/// A run's record with what only the present can add: its instance, and how long so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    #[serde(flatten)]
    pub record: RunRecord,
    /// The record's state; `cancelling` for a run with no outcome whose cancel was asked;
    /// `running` for a run that has not reported while its instance is up (`launched` then
    /// means its instance is stopped, gone or could not be looked at).
    pub status: String,
    /// The instance's own state (`PROVISIONING`, `ACTIVE`, `STOPPED`, …) while it exists, or
    /// the job's (`JOB_STATE_RUNNING`, …) of a run that executes as one and is recorded
    /// `launched`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_state: Option<String>,
    /// From start to end; for a run still going, from launch to now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
}

impl RunRow {
    pub fn new(record: RunRecord, instance_state: Option<String>, now: Timestamp) -> Self {
        let running = record.state == RunState::Launched
            && instance_state
                .as_deref()
                .is_some_and(|state| Instance::is_up(state) || Job::is_up(state));
        let cancelling = record.state == RunState::Launched && record.cancel.is_some();
        let status = if cancelling {
            CANCELLING.to_owned()
        } else if running {
            RUNNING.to_owned()
        } else {
            record.state.as_str().to_owned()
        };
        let span = match (record.started, record.finished) {
            (Some(started), Some(finished)) => Some((started, finished)),
            _ if running => Some((record.launched, now)),
            _ => None,
        };
        let duration_seconds =
            span.and_then(|(from, to)| u64::try_from(to.as_second() - from.as_second()).ok());
        Self {
            record,
            status,
            instance_state,
            duration_seconds,
        }
    }

    /// Which attempt at its run this is, and of how many its policy allows.
    pub fn attempt_of(&self) -> (u32, u32) {
        let record = &self.record;
        let most = record
            .retry
            .as_ref()
            .map_or(record.attempt(), |policy| policy.attempts());
        (record.attempt(), most.max(record.attempt()))
    }

    /// [`attempt_of`](Self::attempt_of) as the history shows it: `2/3`.
    pub fn attempt_text(&self) -> String {
        let (attempt, of) = self.attempt_of();
        format!("{attempt}/{of}")
    }

    /// `1h 02m`, `3m 07s`, `12s`; `-` when there is none.
    pub fn duration_text(&self) -> String {
        match self.duration_seconds {
            None => "-".to_owned(),
            Some(s) if s >= 3600 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
            Some(s) if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
            Some(s) => format!("{s}s"),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record launched at `launched` by `profile`, nothing more.
    pub(crate) fn record(key: &str, profile: &str, launched: &str) -> RunRecord {
        RunRecord {
            profile: profile.into(),
            ..RunRecord::example(key, launched)
        }
    }

    #[test]
    fn a_run_shows_its_live_state_until_it_reports_and_its_own_duration_after() {
        let now: Timestamp = "2026-12-01T10:05:00Z".parse().unwrap();
        let launched = record("1", "default", "2026-12-01T10:00:00Z");

        let up = RunRow::new(launched.clone(), Some("ACTIVE".into()), now);
        assert_eq!(up.status, RUNNING);
        assert_eq!(up.duration_seconds, Some(300));
        assert_eq!(up.duration_text(), "5m 00s");

        let gone = RunRow::new(launched.clone(), None, now);
        assert_eq!(
            (gone.status.as_str(), gone.duration_seconds),
            ("launched", None)
        );
        assert_eq!(gone.duration_text(), "-");
        let stopped = RunRow::new(launched.clone(), Some("STOPPED".into()), now);
        assert_eq!(
            stopped.status, "launched",
            "a stopped instance runs nothing"
        );
        let asked = launched.cancel_requested("ana@example.com", now).unwrap();
        let cancelling = RunRow::new(asked.clone(), Some("STOPPING".into()), now);
        assert_eq!(cancelling.status, CANCELLING, "until its end is recorded");
        let mut cancelled = asked;
        cancelled.state = RunState::Cancelled;
        assert_eq!(RunRow::new(cancelled, None, now).status, "cancelled");

        let mut failed = launched;
        failed.state = RunState::Failed;
        failed.started = Some("2026-12-01T10:01:00Z".parse().unwrap());
        failed.finished = Some("2026-12-01T11:03:09Z".parse().unwrap());
        let kept = RunRow::new(failed, Some("STOPPED".into()), now);
        assert_eq!(kept.status, "failed", "a reported run keeps its outcome");
        assert_eq!(kept.instance_state.as_deref(), Some("STOPPED"));
        assert_eq!(kept.duration_text(), "1h 02m");

        assert_eq!(
            kept.attempt_text(),
            "1/1",
            "a run its profile does not retry"
        );
        let json = serde_json::to_value(&kept).unwrap();
        assert_eq!(json["run_id"], kept.record.run_id.as_str());
        assert_eq!(json["status"], "failed");
        assert_eq!(json["duration_seconds"], 3729);
    }
}
