//! The records written lately, read once per reap for the parts that judge them: the sync of
//! runs that execute as jobs and the retries' sweep each look at about the last day of runs,
//! and each record read once instead of once per part halves what a reap downloads. Each part
//! takes those written within its own window, from the listing's time of each record's last
//! write.
//!
//! A part that acts on a record it took may find it moved on since (an earlier part of the
//! same reap ended the run, or a report came): every step is a compare-and-swap on the
//! record, which applies to the record as it is, so a record read early is judged again
//! where it matters.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::Reaper;
use crate::cause;
use crate::run::RunRecord;

/// The records of every output written since a time, each with when it was last written.
#[derive(Debug, Default)]
pub(super) struct Recent {
    records: Vec<(Option<Timestamp>, RunRecord)>,
}

impl Recent {
    /// Those last written within `window` before `now` (or whose listing did not say when).
    pub(super) fn within(
        &self,
        window: Duration,
        now: Timestamp,
    ) -> impl Iterator<Item = &RunRecord> {
        let since = now - SignedDuration::try_from(window).unwrap_or_default();
        self.records
            .iter()
            .filter(move |(written, _)| written.is_none_or(|written| written >= since))
            .map(|(_, record)| record)
    }
}

impl Reaper {
    /// Lists every output's records written within `window` before `now`, and reads them. An
    /// output that cannot be listed is logged and left out: the next reap reads it.
    pub(super) async fn recent(&self, window: Duration, now: Timestamp) -> Recent {
        let since = now - SignedDuration::try_from(window).unwrap_or_default();
        let mut written = HashMap::new();
        for output in &self.outputs {
            match self.records.listed(output, Some(since)).await {
                Ok(listed) => written.extend(listed.into_iter().map(|l| (l.folder, l.updated))),
                Err(error) => {
                    tracing::warn!(output = %output, error = %cause::chain(&error), "cannot list the run records; the next reap tries again");
                }
            }
        }
        let read = self
            .records
            .read_all(written.keys().cloned().collect::<Vec<_>>())
            .await;
        for unreadable in &read.unreadable {
            tracing::warn!(record = %unreadable, "a run record cannot be read; it is left out of this reap");
        }
        let records = read
            .found
            .into_iter()
            .map(|record| (written.get(&record.output).copied().flatten(), record))
            .collect();
        Recent { records }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_part_takes_the_records_written_within_its_window() {
        let now: Timestamp = "2026-12-02T12:00:00Z".parse().unwrap();
        let record = |key: &str| RunRecord::example(key, "2026-12-01T00:00:00Z");
        let recent = Recent {
            records: vec![
                (Some("2026-12-02T11:00:00Z".parse().unwrap()), record("1")),
                (Some("2026-12-01T06:00:00Z".parse().unwrap()), record("2")),
                (None, record("3")),
            ],
        };
        let keys = |window: u64| -> Vec<String> {
            recent
                .within(Duration::from_secs(window * 3600), now)
                .map(|r| r.run_id.to_string())
                .collect()
        };
        assert_eq!(
            keys(2).len(),
            2,
            "the hour-old one, and the one of unknown age"
        );
        assert_eq!(keys(30).len(), 3);
        assert!(!keys(2).contains(&record("2").run_id.to_string()));
    }
}
