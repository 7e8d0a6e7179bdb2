//! An attempt's link to the attempt after it, kept in its record.
//!
//! Retrying goes in two steps, each a compare-and-swap on the ended attempt's record, so that
//! nothing about a retry lives only in a process's memory: first the retry is *scheduled*
//! (the next attempt's id, its number and when it is due are written, and only the writer
//! whose write did it announces `retrying`), then, once due, it is *launched* and the launch
//! is marked. A process that dies between the two leaves a record that says a launch is due
//! and not made, which the next reap finds and launches; the launch is idempotent by the next
//! attempt's key, so two services launching it at once start one attempt. Once marked, reaps
//! pass the record by, and the history links the attempt to the one after it.
//!
//! A run that is cancelled is never tried again: a cancel asked while an attempt runs, or
//! after it ended while its retry is owed or scheduled and not launched, ends the run's
//! attempts there. A retry launched while the cancel was being written is cancelled in turn by
//! whoever sees both (see [`RunRecord::retry_launched_despite_cancel`]).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{RunId, RunRecord, RunState};
use crate::profile::RetryOn;

/// The attempt scheduled after an ended one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAttempt {
    pub run_id: RunId,
    /// Its number: the ended attempt's plus one.
    pub attempt: u32,
    /// When it is launched: the ended attempt's end, as judged, plus the policy's delay.
    pub at: Timestamp,
    /// When its launch was made (it exists, or had ended already); `None` until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launched: Option<Timestamp>,
    /// Why it can never be launched (its profile is gone, or refuses it now): no reap tries
    /// again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The retryable outcome a state is, if it is one.
pub fn retryable(state: RunState) -> Option<RetryOn> {
    match state {
        RunState::Failed => Some(RetryOn::Failed),
        RunState::TimedOut => Some(RetryOn::TimedOut),
        RunState::Unreported => Some(RetryOn::Unreported),
        RunState::Lost => Some(RetryOn::Lost),
        RunState::Launched | RunState::Succeeded | RunState::Cancelled | RunState::Skipped => None,
    }
}

impl RunRecord {
    /// Whether this attempt ended in an outcome its policy retries, with retries left, and
    /// no next attempt is scheduled yet.
    pub fn owes_retry(&self) -> bool {
        self.next_attempt.is_none() && self.cancel.is_none() && self.retried_by_policy()
    }

    /// Whether its policy retries this attempt's outcome, with retries left.
    fn retried_by_policy(&self) -> bool {
        self.retry
            .as_ref()
            .zip(retryable(self.state))
            .is_some_and(|(policy, outcome)| policy.retries_after(self.attempt(), outcome))
    }

    /// Whether this ended attempt would have been retried but for a cancel (asked while it
    /// ran, or after it ended): no attempt follows it.
    pub fn retry_cancelled(&self) -> bool {
        self.cancel.is_some()
            && self.retried_by_policy()
            && (self.next_attempt.is_none() || self.unlaunched_retry().is_some())
    }

    /// The next attempt, named `run_id`, when a retry is owed and judged so at `now`.
    pub fn next_attempt_at(&self, run_id: RunId, now: Timestamp) -> Option<NextAttempt> {
        let policy = self.retry.as_ref().filter(|_| self.owes_retry())?;
        let delay = SignedDuration::try_from(policy.delay).unwrap_or(SignedDuration::ZERO);
        Some(NextAttempt {
            run_id,
            attempt: self.attempt() + 1,
            at: now.saturating_add(delay).unwrap_or(now),
            launched: None,
            refused: None,
        })
    }

    /// The record with `next` scheduled; `None` when no retry is owed any more (another
    /// writer scheduled it first).
    pub fn retry_scheduled(&self, next: &NextAttempt) -> Option<Self> {
        self.owes_retry().then(|| {
            let mut scheduled = self.clone();
            scheduled.next_attempt = Some(next.clone());
            scheduled
        })
    }

    /// The next attempt, when it is due at `now`, neither launched nor refused, and the run
    /// was not cancelled.
    pub fn retry_due(&self, now: Timestamp) -> Option<&NextAttempt> {
        self.unlaunched_retry()
            .filter(|next| self.cancel.is_none() && next.at <= now)
    }

    /// Whether an ended attempt still has a retry to come: owed, or scheduled and neither
    /// launched nor refused, and not cancelled. A cancel asked now stops it.
    pub fn retry_pending(&self) -> bool {
        self.owes_retry() || (self.cancel.is_none() && self.unlaunched_retry().is_some())
    }

    /// The next attempt of a cancelled run that is scheduled and not marked launched: its
    /// launch may have been made while the cancel was written (the launcher marks it after),
    /// so whoever finds it looks for that attempt and cancels it.
    pub fn retry_launched_despite_cancel(&self) -> Option<&NextAttempt> {
        self.unlaunched_retry().filter(|_| self.cancel.is_some())
    }

    fn unlaunched_retry(&self) -> Option<&NextAttempt> {
        self.next_attempt
            .as_ref()
            .filter(|next| next.launched.is_none() && next.refused.is_none())
    }

    /// The record with its next attempt's launch marked made at `at`; `None` when it was
    /// marked already, or none is scheduled.
    pub fn retry_launched(&self, at: Timestamp) -> Option<Self> {
        self.mark_next(|next| next.launched = Some(at))
    }

    /// The record with its next attempt refused for good, for `reason`.
    pub fn retry_refused(&self, reason: &str) -> Option<Self> {
        self.mark_next(|next| next.refused = Some(reason.to_owned()))
    }

    fn mark_next(&self, mark: impl FnOnce(&mut NextAttempt)) -> Option<Self> {
        let next = self.next_attempt.as_ref()?;
        if next.launched.is_some() || next.refused.is_some() {
            return None;
        }
        let mut marked = self.clone();
        mark(marked.next_attempt.as_mut()?);
        Some(marked)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use super::*;
    use crate::profile::RetryPolicy;
    use crate::run::Origin;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// Attempt `attempt` of a run retried twice on failures, ended in `state`.
    fn ended(attempt: u32, state: RunState) -> RunRecord {
        let mut record = RunRecord::example("1", "2026-12-01T10:00:00Z");
        record.retry = Some(RetryPolicy {
            retries: 2,
            on: BTreeSet::from([RetryOn::Failed, RetryOn::Unreported]),
            delay: Duration::from_secs(30),
        });
        if attempt > 1 {
            record.origin = Some(Origin::Retry {
                of: RunId::derive("pubsub:1"),
                attempt,
            });
        }
        record.state = state;
        record
    }

    #[test]
    fn only_an_outcome_of_the_policy_with_retries_left_is_retried() {
        assert!(ended(1, RunState::Failed).owes_retry());
        assert!(ended(2, RunState::Unreported).owes_retry());
        assert!(!ended(3, RunState::Failed).owes_retry(), "the last attempt");
        for state in [
            RunState::Launched,
            RunState::Succeeded,
            RunState::Cancelled,
            RunState::TimedOut,
            RunState::Lost,
        ] {
            assert!(!ended(1, state).owes_retry(), "{state:?}");
        }
        let mut unretried = ended(1, RunState::Failed);
        unretried.retry = None;
        assert!(!unretried.owes_retry());
    }

    #[test]
    fn a_retry_is_scheduled_once_and_due_after_the_delay() {
        let first = ended(1, RunState::Failed);
        let now = at("2026-12-01T10:10:00Z");
        let next = first
            .next_attempt_at(RunId::derive("retry:x#2"), now)
            .unwrap();
        assert_eq!((next.attempt, next.at), (2, at("2026-12-01T10:10:30Z")));
        let scheduled = first.retry_scheduled(&next).unwrap();
        assert_eq!(scheduled.retry_scheduled(&next), None, "a second writer");
        assert_eq!(
            scheduled.next_attempt_at(RunId::derive("retry:x#2"), now),
            None
        );
        assert_eq!(scheduled.retry_due(now), None, "not yet");
        assert_eq!(scheduled.retry_due(at("2026-12-01T10:10:30Z")), Some(&next));
        let launched = scheduled
            .retry_launched(at("2026-12-01T10:10:31Z"))
            .unwrap();
        assert_eq!(launched.retry_due(at("2026-12-02T00:00:00Z")), None);
        assert_eq!(launched.retry_launched(at("2026-12-01T10:11:00Z")), None);
        assert_eq!(launched.retry_refused("gone"), None);
        let refused = scheduled.retry_refused("the profile is gone").unwrap();
        assert_eq!(refused.retry_due(at("2026-12-02T00:00:00Z")), None);
        assert_eq!(ended(1, RunState::Failed).retry_launched(now), None);
    }

    #[test]
    fn a_cancelled_run_is_never_tried_again() {
        let now = at("2026-12-01T10:10:00Z");
        let by = |record: &RunRecord| record.cancel_requested("ops@example.com", now);
        let mut running = ended(1, RunState::Launched);
        running = by(&running).unwrap();
        running.state = RunState::Failed;
        assert!(
            !running.owes_retry(),
            "cancelled, then its report said failed"
        );
        assert!(running.retry_cancelled());

        let owed = ended(1, RunState::Failed);
        assert!(owed.retry_pending());
        assert!(!owed.retry_cancelled());
        let cancelled = by(&owed).unwrap();
        assert!(!cancelled.owes_retry() && !cancelled.retry_pending());
        assert!(cancelled.retry_cancelled());
        assert_eq!(by(&cancelled), None, "the first cancel stays");

        let next = owed
            .next_attempt_at(RunId::derive("retry:x#2"), now)
            .unwrap();
        let scheduled = owed.retry_scheduled(&next).unwrap();
        assert!(scheduled.retry_pending());
        assert_eq!(scheduled.retry_launched_despite_cancel(), None);
        let cancelled = by(&scheduled).unwrap();
        assert_eq!(cancelled.retry_due(at("2026-12-02T00:00:00Z")), None);
        assert_eq!(cancelled.retry_launched_despite_cancel(), Some(&next));
        let marked = cancelled.retry_launched(now).unwrap();
        assert_eq!(marked.retry_launched_despite_cancel(), None);

        let launched = scheduled.retry_launched(now).unwrap();
        assert!(!launched.retry_pending() && !launched.retry_cancelled());
        assert_eq!(by(&launched), None, "its retry runs: the cancel goes to it");
        assert_eq!(by(&ended(3, RunState::Failed)), None, "no retry left");
        assert_eq!(by(&ended(1, RunState::Succeeded)), None);
    }

    #[test]
    fn the_link_reads_back_from_the_record() {
        let mut record = ended(1, RunState::Failed);
        let next = record
            .next_attempt_at(RunId::derive("retry:x#2"), at("2026-12-01T10:10:00Z"))
            .unwrap();
        record = record.retry_scheduled(&next).unwrap();
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["next_attempt"]["attempt"], 2);
        assert_eq!(json["retry"]["delay"], "30s");
        assert_eq!(serde_json::from_value::<RunRecord>(json).unwrap(), record);
    }
}
