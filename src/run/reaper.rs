//! The reaper's judgement: which managed instances to stop or delete, and why.
//!
//! A run normally ends with its report, and cleanup follows. The reaper is for everything else:
//! a VM whose runner never reported (crashed, preempted, hung past its time limit), a cleanup
//! that failed after the report, a stopped instance nobody came back to. It runs on a schedule
//! and may run twice at once, so its judgement is a pure function of what it observes: the same
//! observation gives the same verdicts, and acting on a verdict twice is harmless (stopping a
//! stopped instance, deleting a deleted one). It never judges an instance without the
//! managed-by label.

use std::time::Duration;

use jiff::Timestamp;

use super::{Cleanup, CleanupPolicy, RunRecord};
use crate::naming::{LABEL_MANAGED_BY, MANAGED_BY};

/// What the reaper knows of one instance.
#[derive(Debug, Clone)]
pub struct Observed {
    /// `projects/P/locations/Z/instances/I`.
    pub name: String,
    pub state: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub created: Timestamp,
    /// When the state last changed (the API's `updateTime`).
    pub updated: Timestamp,
    /// The run's limit, from its metadata; `None` for an instance that runs no notebook.
    pub max_run_time: Option<Duration>,
    /// The run's record, when one was found.
    pub record: Option<RunRecord>,
}

/// The reaper's settings.
#[derive(Debug, Clone, Copy)]
pub struct ReaperPolicy {
    /// Time allowed past `max_run_time` for the runner to upload and report.
    pub grace: Duration,
    /// How long a stopped instance is kept before it is deleted.
    pub keep_stopped: Duration,
    /// How long a run may be recorded `launched` without an instance before it is `lost`:
    /// past any launch still waiting for its create.
    pub lost_after: Duration,
    pub cleanup: CleanupPolicy,
}

/// One thing the reaper will do, with the reason it gives in the log and on stdout.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub instance: String,
    pub action: Cleanup,
    pub reason: String,
}

/// The verdicts for what was observed at `now`; instances that are fine get none.
pub fn judge(observed: &[Observed], now: Timestamp, policy: ReaperPolicy) -> Vec<Verdict> {
    observed
        .iter()
        .filter(|i| i.labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY))
        .filter_map(|i| verdict(i, now, policy))
        .filter(|v| v.action != Cleanup::Keep)
        .collect()
}

fn verdict(instance: &Observed, now: Timestamp, policy: ReaperPolicy) -> Option<Verdict> {
    let running = crate::notebooks::Instance::is_up(&instance.state);
    let stopped = instance.state == "STOPPED";
    let say = |action: Cleanup, reason: String| Verdict {
        instance: instance.name.clone(),
        action,
        reason,
    };
    if let Some(record) = instance.record.as_ref().filter(|r| r.needs_cleanup()) {
        let action = policy.cleanup.for_state(record.state);
        let already = (action == Cleanup::Stop && stopped) || instance.state == "DELETED";
        let why = match record.cleanup.as_ref().and_then(|c| c.error.as_deref()) {
            Some(error) => format!("its cleanup failed ({error})"),
            None => "no cleanup was recorded".to_owned(),
        };
        if !already {
            return Some(say(
                action,
                format!(
                    "run {} ended {} but {why}",
                    record.run_id,
                    record.state.as_str()
                ),
            ));
        }
    }
    if let Some(verdict) = cancelled(instance, now, policy) {
        return Some(verdict);
    }
    // Up past its time, whatever its record says: a run's record ends it, but only the
    // instance says whether it still costs money.
    let up_for = duration_between(instance.created, now);
    if running {
        let limit = instance.max_run_time? + policy.grace;
        let (action, since) = match instance.record.as_ref().filter(|r| r.has_outcome()) {
            Some(record) => (
                policy.cleanup.for_state(record.state),
                format!("after its run ended {}", record.state.as_str()),
            ),
            None => (policy.cleanup.on_failure, "with no report".to_owned()),
        };
        if up_for > limit && action != Cleanup::Keep {
            return Some(say(
                action,
                format!(
                    "up for {}, past max_run_time and grace ({}), {since}",
                    notebooks_wire::duration::display(up_for),
                    notebooks_wire::duration::display(limit)
                ),
            ));
        }
    }
    let stopped_for = duration_between(instance.updated, now);
    if stopped && stopped_for > policy.keep_stopped {
        return Some(say(
            Cleanup::Delete,
            format!(
                "stopped for {}, longer than KEEP_STOPPED ({})",
                notebooks_wire::duration::display(stopped_for),
                notebooks_wire::duration::display(policy.keep_stopped)
            ),
        ));
    }
    None
}

/// A run an operator cancelled more than `grace` ago whose runner never reported (its VM was
/// killed hard, or the stop never reached it): its cleanup, which ends it `cancelled`.
fn cancelled(instance: &Observed, now: Timestamp, policy: ReaperPolicy) -> Option<Verdict> {
    let record = instance.record.as_ref().filter(|r| !r.has_outcome())?;
    let cancel = record.cancel.as_ref()?;
    let asked = duration_between(cancel.at, now);
    (asked > policy.grace).then(|| Verdict {
        instance: instance.name.clone(),
        action: policy.cleanup.for_state(super::RunState::Cancelled),
        reason: format!(
            "run {} was cancelled by {} {} ago and its runner did not report within RUN_GRACE ({})",
            record.run_id,
            cancel.by,
            notebooks_wire::duration::display(asked),
            notebooks_wire::duration::display(policy.grace)
        ),
    })
}

fn duration_between(earlier: Timestamp, later: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
#[path = "reaper_tests.rs"]
mod tests;
