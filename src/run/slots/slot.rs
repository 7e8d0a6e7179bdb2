//! One slot of a profile's cap, as its lease object says, and the judgement of whether the
//! run holding it still does: a pure function of the slot, its holder's record and the time,
//! so that a launch and the reaper judge alike.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use storage_client::GsUri;

use crate::profile::MAX_RUN_TIME_LIMIT;
use crate::run::{RECORDS_PREFIX, RunId, RunRecord};

/// The folder of every profile's slots, under the records' prefix in a bucket: the VM's grant
/// excludes it, so nothing a notebook runs can take, free or forge a slot.
const LEASES: &str = "leases";

/// How long a slot may name a run that has no record yet. A launch writes its record right
/// after it takes its slot, so a holder without one past this died in between (or stalled
/// longer than this, which is the race the README bounds).
pub const UNRECORDED_AFTER: Duration = Duration::from_secs(10 * 60);

/// A lease object: the slot is held by a run, or free again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Slot {
    Held(Holder),
    /// Given back when its run's end was recorded, or by whoever found its holder done.
    Free {
        released: Timestamp,
        /// The run that held it last.
        was: RunId,
    },
}

/// The run holding a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub run_id: RunId,
    /// `gs://B/PREFIX/{run id}/`: where its record says whether it has ended.
    pub folder: String,
    pub taken: Timestamp,
}

/// What was found of a holder's run.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    Record(&'a RunRecord),
    NoRecord,
    /// Its record could not be read now: the slot counts as held.
    Unreadable,
}

/// Why the slot at `slot` (its `gs://` URI) is no longer held by `holder`, whose run is
/// `seen` at `now`; `None` while it is. A run that has ended holds its slot until its
/// instance is cleaned up (or it had none), so that a profile never has more instances up
/// than its cap; a cleanup that never comes (the process died after a refused create) lets
/// go once no instance of the run can be up, past the longest run and its grace.
pub fn released_by(holder: &Holder, slot: &str, seen: Seen<'_>, now: Timestamp) -> Option<String> {
    match seen {
        Seen::Unreadable => None,
        Seen::Record(record) if record.has_outcome() => {
            let cleaned = record.cleanup.is_some() || !record.needs_cleanup();
            // Past this, any instance of the run has been stopped by the reaper.
            let long_ago = holder.taken + since(MAX_RUN_TIME_LIMIT + UNRECORDED_AFTER) <= now;
            (cleaned || long_ago).then(|| {
                format!(
                    "its run {} has ended ({})",
                    holder.run_id,
                    record.state.as_str()
                )
            })
        }
        Seen::Record(record) if record.lease.as_deref() == Some(slot) => None,
        Seen::Record(_) => Some(format!(
            "its run {} went on with another slot (two deliveries of its message raced)",
            holder.run_id
        )),
        Seen::NoRecord => (holder.taken + since(UNRECORDED_AFTER) <= now).then(|| {
            format!(
                "its run {} has no record {} min after taking the slot: its launch died in between",
                holder.run_id,
                UNRECORDED_AFTER.as_secs() / 60
            )
        }),
    }
}

fn since(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

/// Where `profile`'s slots are in `bucket`: `notebook-trigger-records/leases/PROFILE/`.
pub fn profile_prefix(profile: &str) -> String {
    format!("{RECORDS_PREFIX}/{LEASES}/{profile}/")
}

/// Where every profile's slots are in a bucket.
pub fn leases_prefix() -> String {
    format!("{RECORDS_PREFIX}/{LEASES}/")
}

/// Slot `number` of `profile` in `bucket`.
pub fn slot_uri(bucket: &str, profile: &str, number: u32) -> GsUri {
    GsUri {
        bucket: bucket.to_owned(),
        object: format!("{}{number}.json", profile_prefix(profile)),
    }
}

/// The number of the slot an object of `profile_prefix(profile)` is, when it is one.
pub fn slot_number(name: &str, prefix: &str) -> Option<u32> {
    let number = name.strip_prefix(prefix)?.strip_suffix(".json")?;
    number
        .chars()
        .all(|c| c.is_ascii_digit())
        .then(|| number.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Cleanup, CleanupRecord, RunState};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn holder(record: &RunRecord) -> Holder {
        Holder {
            run_id: record.run_id.clone(),
            folder: record.output.clone(),
            taken: at("2026-12-01T10:00:00Z"),
        }
    }

    const SLOT: &str = "gs://b/notebook-trigger-records/leases/default/0.json";

    #[test]
    fn a_slot_is_held_while_its_run_goes_and_free_once_it_has_ended() {
        let mut record = RunRecord::example("1", "2026-12-01T10:00:00Z");
        record.lease = Some(SLOT.to_owned());
        let holder = holder(&record);
        let later = at("2026-12-03T10:00:00Z");
        assert_eq!(
            released_by(&holder, SLOT, Seen::Record(&record), later),
            None
        );
        record.state = RunState::Succeeded;
        assert_eq!(
            released_by(&holder, SLOT, Seen::Record(&record), holder.taken),
            None,
            "an ended run holds its slot until its instance is cleaned up"
        );
        let why = released_by(&holder, SLOT, Seen::Record(&record), later).unwrap();
        assert!(why.contains("succeeded"), "past the longest run: {why}");
        record.cleanup = Some(CleanupRecord {
            action: Cleanup::Delete,
            at: holder.taken,
            error: None,
            by: "report".into(),
        });
        for state in [RunState::Succeeded, RunState::Failed, RunState::Unreported] {
            record.state = state;
            let why = released_by(&holder, SLOT, Seen::Record(&record), holder.taken).unwrap();
            assert!(why.contains(state.as_str()), "{why}");
        }
        record.cleanup = None;
        record.state = RunState::Lost;
        let why = released_by(&holder, SLOT, Seen::Record(&record), holder.taken).unwrap();
        assert!(why.contains("lost"), "no instance is left: {why}");
        assert_eq!(
            released_by(&holder, SLOT, Seen::Unreadable, later),
            None,
            "a record that cannot be read holds its slot"
        );
    }

    #[test]
    fn a_holder_without_a_record_keeps_its_slot_only_for_a_while() {
        let record = RunRecord::example("1", "2026-12-01T10:00:00Z");
        let holder = holder(&record);
        let soon = holder.taken + SignedDuration::from_secs(60);
        assert_eq!(released_by(&holder, SLOT, Seen::NoRecord, soon), None);
        let late = holder.taken + since(UNRECORDED_AFTER);
        let why = released_by(&holder, SLOT, Seen::NoRecord, late).unwrap();
        assert!(why.contains("no record"), "{why}");
    }

    #[test]
    fn a_run_recorded_with_another_slot_frees_this_one() {
        let mut record = RunRecord::example("1", "2026-12-01T10:00:00Z");
        record.lease = Some(SLOT.replace("0.json", "1.json"));
        let holder = holder(&record);
        let why = released_by(&holder, SLOT, Seen::Record(&record), holder.taken).unwrap();
        assert!(why.contains("another slot"), "{why}");
    }

    #[test]
    fn slots_are_numbered_objects_under_their_profile() {
        let uri = slot_uri("b", "nightly", 3);
        assert_eq!(
            uri.to_string(),
            "gs://b/notebook-trigger-records/leases/nightly/3.json"
        );
        let prefix = profile_prefix("nightly");
        assert_eq!(slot_number(&uri.object, &prefix), Some(3));
        for not in [
            "notebook-trigger-records/leases/nightly/x.json",
            "notebook-trigger-records/leases/nightly/+1.json",
            "notebook-trigger-records/leases/nightly/1.txt",
            "notebook-trigger-records/leases/nightlier/1.json",
            "notebook-trigger-records/leases/nightly/a/1.json",
        ] {
            assert_eq!(slot_number(not, &prefix), None, "{not}");
        }
        let held = Slot::Held(Holder {
            run_id: RunId::derive("k"),
            folder: "gs://b/runs/r/".into(),
            taken: at("2026-12-01T10:00:00Z"),
        });
        let text = serde_json::to_string(&held).unwrap();
        assert!(text.starts_with(r#"{"state":"held","run_id":"#), "{text}");
        assert_eq!(serde_json::from_str::<Slot>(&text).unwrap(), held);
    }
}
