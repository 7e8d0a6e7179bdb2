//! Which runs to show, from what a person types: `--since 7d --state failed` on the command
//! line, `?since=7d&state=failed` in the service's URL. Both read text through [`FilterText`],
//! so the forms accepted and the errors given are the same everywhere.

use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;

use super::RunRow;
use super::row::{CANCELLING, RUNNING};
use crate::run::RunState;

/// What `since` takes, for help texts and the error that refuses anything else.
pub const SINCE_FORMS: &str =
    "a time back from now (7d, 12h, 30m) or a date or time (2026-11-24, 2026-11-24T08:00:00Z)";

/// How many runs a listing shows unless told otherwise: a screenful, the newest.
pub const DEFAULT_LIMIT: usize = 50;

/// A filter as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterText {
    pub since: Option<String>,
    pub profile: Option<String>,
    pub state: Option<String>,
    /// At most this many runs; `0` means all of them.
    pub limit: Option<usize>,
}

/// A filter, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    /// Runs launched at or after this.
    pub since: Option<Timestamp>,
    pub profile: Option<String>,
    /// A run's status ([`RunRow::status`]) or its record's state.
    pub state: Option<String>,
    pub limit: Option<usize>,
}

/// A filter value that means nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("since: `{0}` is not a time: give {forms}", forms = SINCE_FORMS)]
    Since(String),
    #[error("state: `{given}` is not a run state (one of {known})")]
    State { given: String, known: String },
}

impl FilterText {
    /// # Errors
    /// [`FilterError`] naming the value that is not understood.
    pub fn parse(&self, now: Timestamp) -> Result<RunFilter, FilterError> {
        let since = self
            .since
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_since(s, now))
            .transpose()?;
        let state = match self
            .state
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(given) => {
                let given = given.replace('-', "_");
                if !statuses().any(|known| known == given) {
                    return Err(FilterError::State {
                        given,
                        known: state_names(),
                    });
                }
                Some(given)
            }
        };
        Ok(RunFilter {
            since,
            profile: self.profile.clone().filter(|p| !p.trim().is_empty()),
            state,
            limit: self.limit.filter(|limit| *limit > 0),
        })
    }
}

impl RunFilter {
    pub fn matches(&self, row: &RunRow) -> bool {
        self.since.is_none_or(|since| row.record.launched >= since)
            && self
                .profile
                .as_deref()
                .is_none_or(|p| row.record.profile == p)
            && self
                .state
                .as_deref()
                .is_none_or(|s| row.status == s || row.record.state.as_str() == s)
    }
}

/// Every state a filter may name, for help texts: `launched, succeeded, …, running`.
pub fn state_names() -> String {
    statuses().collect::<Vec<_>>().join(", ")
}

/// Every state a filter may name and a row may show: the record's, `running` and
/// `cancelling`.
pub fn statuses() -> impl Iterator<Item = &'static str> {
    RunState::ALL
        .iter()
        .map(|state| state.as_str())
        .chain([RUNNING, CANCELLING])
}

/// `7d`, `12h`, `30m` back from `now`, or a date (midnight UTC) or an RFC 3339 time.
///
/// # Errors
/// [`FilterError::Since`].
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, FilterError> {
    let trimmed = text.trim();
    let days = trimmed
        .strip_suffix('d')
        .and_then(|n| n.trim().parse::<u64>().ok())
        .map(|n| Duration::from_secs(n.saturating_mul(86_400)));
    let back = days.or_else(|| {
        trimmed
            .parse::<u64>()
            .is_err()
            .then(|| notebooks_wire::duration::parse(trimmed).ok())
            .flatten()
    });
    if let Some(back) = back {
        let back =
            jiff::SignedDuration::try_from(back).map_err(|_| FilterError::Since(text.into()))?;
        return now
            .checked_sub(back)
            .map_err(|_| FilterError::Since(text.into()));
    }
    if let Ok(time) = trimmed.parse::<Timestamp>() {
        return Ok(time);
    }
    trimmed
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|date| date.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| FilterError::Since(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::row::tests::record;

    fn now() -> Timestamp {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn since_takes_a_time_back_from_now_or_a_date_or_a_time() {
        let at = |s: &str| parse_since(s, now()).map(|t| t.to_string());
        assert_eq!(at("7d").unwrap(), "2026-11-24T10:00:00Z");
        assert_eq!(at("12h").unwrap(), "2026-11-30T22:00:00Z");
        assert_eq!(at("30m").unwrap(), "2026-12-01T09:30:00Z");
        assert_eq!(at("2026-11-24").unwrap(), "2026-11-24T00:00:00Z");
        assert_eq!(at("2026-11-24T08:00:00Z").unwrap(), "2026-11-24T08:00:00Z");
        for bad in ["yesterday", "7", "-3d", "2026-13-01"] {
            assert_eq!(at(bad), Err(FilterError::Since(bad.into())), "{bad}");
        }
    }

    #[test]
    fn a_filter_chooses_by_time_profile_and_state() {
        let text = FilterText {
            since: Some("1d".into()),
            profile: Some("nightly".into()),
            state: Some("timed-out".into()),
            limit: Some(3),
        };
        let filter = text.parse(now()).unwrap();
        assert_eq!(filter.state.as_deref(), Some("timed_out"));

        let mut old = record("1", "nightly", "2026-11-29T10:00:00Z");
        old.state = RunState::TimedOut;
        let mut fresh = old.clone();
        fresh.launched = "2026-12-01T09:00:00Z".parse().unwrap();
        let mut other = fresh.clone();
        other.profile = "default".into();
        let row = |r| RunRow::new(r, None, now());
        assert!(filter.matches(&row(fresh.clone())));
        assert!(!filter.matches(&row(old)), "launched before since");
        assert!(!filter.matches(&row(other)), "another profile");
        fresh.state = RunState::Succeeded;
        assert!(!filter.matches(&row(fresh)), "another state");

        let running = FilterText {
            state: Some("running".into()),
            ..FilterText::default()
        }
        .parse(now())
        .unwrap();
        let launched = record("2", "nightly", "2026-12-01T09:00:00Z");
        assert!(running.matches(&RunRow::new(launched.clone(), Some("ACTIVE".into()), now())));
        assert!(!running.matches(&RunRow::new(launched, None, now())));

        let every = FilterText {
            limit: Some(0),
            ..FilterText::default()
        };
        assert_eq!(every.parse(now()).unwrap().limit, None, "0 is no limit");

        let error = FilterText {
            state: Some("done".into()),
            ..FilterText::default()
        }
        .parse(now())
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "state: `done` is not a run state (one of launched, succeeded, failed, timed_out, cancelled, unreported, lost, skipped, running, cancelling)"
        );
    }
}
