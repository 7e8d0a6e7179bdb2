//! Retention's judgement: which runs are old enough that their folder and record go.
//!
//! A run is deleted only when it is over for good: it has an outcome (never `launched`, so
//! never a run still going), its instance's cleanup was accepted (so nothing the reaper still
//! owes it depends on its record), and it ended more than `keep_runs` ago. When it ended is
//! taken from Cloud Storage's clock, not the VM's: the time its record was last written,
//! which is its outcome or its cleanup, both written after the run ended. A runner's
//! `finished` is what the VM says, and a VM that claimed an old time must not have its run,
//! or any other, deleted early. So a run may be kept a little longer than `keep_runs` (the
//! time between its end and its cleanup), never shorter.
//!
//! Like the reaper's other verdicts this is a pure function of what was observed, so two reaps
//! judge alike and acting twice is harmless (see `reap`).

use std::time::Duration;

use jiff::Timestamp;

use super::RunRecord;
use crate::profile::shown_keep;

/// The most records a reap reads to judge for retention: old runs beyond it wait for the next
/// reap, which keeps each reap's time and requests bounded however many runs have piled up.
pub const MAX_RUNS_PER_REAP: usize = 100;
/// The most objects a reap deletes from old runs' folders; a folder cut short keeps its
/// record, so the next reap finds the run again and goes on.
pub const MAX_OBJECTS_PER_REAP: usize = 5000;

/// Why `record`, last written at `written`, is to be deleted at `now` when runs are kept for
/// `keep`; `None` when it is kept.
pub fn expired(
    record: &RunRecord,
    written: Timestamp,
    now: Timestamp,
    keep: Duration,
) -> Option<String> {
    if !record.has_outcome() || record.needs_cleanup() {
        return None;
    }
    let ended_for = Duration::try_from(now.duration_since(written)).ok()?;
    (ended_for > keep).then(|| {
        format!(
            "ended {} and its record was last written {}, more than keep_runs ({}) ago",
            record.state.as_str(),
            written.strftime("%Y-%m-%d %H:%M:%S UTC"),
            shown_keep(Some(keep))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Cleanup, CleanupRecord, RunState};

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn ended(state: RunState, cleanup_error: Option<&str>) -> RunRecord {
        RunRecord {
            state,
            cleanup: Some(CleanupRecord {
                action: Cleanup::Delete,
                at: at("2026-01-01T10:05:00Z"),
                error: cleanup_error.map(str::to_owned),
                by: "report".into(),
            }),
            ..RunRecord::example("1", "2026-01-01T10:00:00Z")
        }
    }

    #[test]
    fn an_ended_cleaned_run_goes_once_its_record_is_older_than_keep_runs() {
        let written = at("2026-01-01T10:05:00Z");
        let record = ended(RunState::Succeeded, None);
        assert_eq!(
            expired(&record, written, at("2026-01-08T10:05:00Z"), 7 * DAY),
            None,
            "exactly keep_runs: kept"
        );
        let reason = expired(&record, written, at("2026-01-08T10:05:01Z"), 7 * DAY).unwrap();
        assert_eq!(
            reason,
            "ended succeeded and its record was last written 2026-01-01 10:05:00 UTC, more than keep_runs (7d) ago"
        );
        for state in [
            RunState::Failed,
            RunState::TimedOut,
            RunState::Cancelled,
            RunState::Unreported,
        ] {
            let old = ended(state, None);
            assert!(expired(&old, written, at("2027-01-01T00:00:00Z"), DAY).is_some());
        }
    }

    #[test]
    fn a_run_still_going_or_owed_a_cleanup_is_kept_however_old() {
        let long_after = at("2030-01-01T00:00:00Z");
        let written = at("2026-01-01T10:05:00Z");
        let launched = RunRecord::example("1", "2026-01-01T10:00:00Z");
        assert_eq!(expired(&launched, written, long_after, DAY), None);
        let uncleaned = RunRecord {
            cleanup: None,
            ..ended(RunState::Failed, None)
        };
        assert_eq!(expired(&uncleaned, written, long_after, DAY), None);
        let refused = ended(RunState::Failed, Some("UNAVAILABLE"));
        assert_eq!(expired(&refused, written, long_after, DAY), None);
        // Lost without a late report had no instance left to clean up.
        let lost = RunRecord::example("1", "2026-01-01T10:00:00Z")
            .lost("its instance is gone")
            .unwrap();
        assert!(expired(&lost, written, long_after, DAY).is_some());
    }

    #[test]
    fn the_vms_own_finish_time_cannot_make_a_run_old() {
        let mut record = ended(RunState::Succeeded, None);
        record.finished = Some(at("1970-01-01T00:00:00Z"));
        let written = at("2026-01-01T10:05:00Z");
        assert_eq!(
            expired(&record, written, at("2026-01-02T10:00:00Z"), 7 * DAY),
            None
        );
        assert_eq!(
            expired(&record, at("2026-01-03T00:00:00Z"), written, DAY),
            None,
            "a record written after now is not old"
        );
    }
}
