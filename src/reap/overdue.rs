//! Runs still going past their profile's `expected_duration`, announced `overdue` once each:
//! the step is a compare-and-swap on the record (`overdue_at`), so of two reaps that find the
//! same run, one announces it.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::Reaper;
use crate::cause;
use crate::profile::{Profiles, expected_duration};
use crate::run::{RunRecord, Updated};

/// A run still going past what its profile expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueRun {
    pub run_id: String,
    pub instance: String,
    /// The profile's `expected_duration` (or the message's), as written.
    pub expected_duration: String,
    /// `dry-run`, `done` (announced by this reap), `skipped: …` or `failed: …`.
    pub result: String,
}

impl OverdueRun {
    pub(super) fn line(&self) -> String {
        format!(
            "overdue run {} ({}): still going past expected_duration {} ({})",
            self.run_id, self.instance, self.expected_duration, self.result
        )
    }
}

impl Reaper {
    /// Announces overdue each of `going` (records of runs `launched` whose instance was
    /// seen) that is past its `expected_duration` at `now` and was not announced yet.
    pub(super) async fn reap_overdue(
        &self,
        going: Vec<RunRecord>,
        now: Timestamp,
        dry_run: bool,
    ) -> Vec<OverdueRun> {
        let Some(profiles) = &self.profiles else {
            return Vec::new();
        };
        let mut overdue = Vec::new();
        for record in going {
            let Some((text, expected)) = expected_of(profiles, &record) else {
                continue;
            };
            let due =
                record.launched + jiff::SignedDuration::try_from(expected).unwrap_or_default();
            if record.overdue_at.is_some() || now <= due {
                continue;
            }
            let result = if dry_run {
                "dry-run".to_owned()
            } else {
                match self.transitions.overdue(&record.output, now).await {
                    Ok(Some(Updated::Written { .. })) => "done".to_owned(),
                    Ok(_) => "skipped: announced already, or the run ended meanwhile".to_owned(),
                    Err(error) => format!("failed: {}", cause::chain(&error)),
                }
            };
            tracing::info!(run = %record.run_id, expected_duration = %text, result = %result, "overdue run");
            overdue.push(OverdueRun {
                run_id: record.run_id.to_string(),
                instance: record.runs_on().to_owned(),
                expected_duration: text,
                result,
            });
        }
        overdue
    }
}

/// The `expected_duration` of `record`'s run, as written and parsed: its message's, else its
/// profile's as the profiles say now. `None` for a run with none, or of a profile gone since.
fn expected_of(profiles: &Profiles, record: &RunRecord) -> Option<(String, Duration)> {
    let fields = profiles
        .get(Some(&record.profile))?
        .overlay(&record.overrides);
    let text = fields.expected_duration?;
    match expected_duration(&text) {
        Ok(expected) => Some((text, expected)),
        Err(error) => {
            tracing::warn!(run = %record.run_id, error = %error, "the run's expected_duration cannot be read; it is not judged overdue");
            None
        }
    }
}
