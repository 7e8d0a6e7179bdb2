//! When a run is tried again: a profile's `retries`, `retry_on` and `retry_delay`, checked
//! once into a [`RetryPolicy`] that a run's record keeps, so that whoever later judges the
//! run's end (its report, a reaper, another service after a restart) judges it by the policy
//! it was launched with, not by whatever the profiles say by then.
//!
//! The bounds are there for the bill: every attempt is a new VM, so a policy holds at most
//! [`MAX_RETRIES`] retries and waits at most [`MAX_RETRY_DELAY`]. `cancelled` is never
//! retried (someone asked for the run to stop); `lost` is retried only when a profile names
//! it, since a run is mostly lost because someone deleted its instance on purpose.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::fields::{DEFAULT_RETRY_DELAY, DEFAULT_RETRY_ON, Field, FieldError, Fields};

/// The most retries a profile may ask for.
pub const MAX_RETRIES: u32 = 10;
/// The longest a retry may wait after the end of the attempt before it.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(6 * 3600);

/// An outcome a profile may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    /// The notebook raised, or the runner failed; or the API refused the instance.
    Failed,
    /// The notebook ran past `max_run_time`.
    TimedOut,
    /// No report came: the reaper ended the run.
    Unreported,
    /// The instance is gone without a report.
    Lost,
}

impl RetryOn {
    pub const ALL: [RetryOn; 4] = [
        RetryOn::Failed,
        RetryOn::TimedOut,
        RetryOn::Unreported,
        RetryOn::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RetryOn::Failed => "failed",
            RetryOn::TimedOut => "timed_out",
            RetryOn::Unreported => "unreported",
            RetryOn::Lost => "lost",
        }
    }

    fn parse(text: &str) -> Result<RetryOn, String> {
        if text == "cancelled" {
            return Err(
                "`cancelled` is never retried: a cancelled run was stopped on purpose; remove it"
                    .to_owned(),
            );
        }
        RetryOn::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "`{}` is not an outcome that can be retried; expected some of {}",
                    text.escape_debug(),
                    RetryOn::ALL.map(RetryOn::as_str).join(", ")
                )
            })
    }
}

/// How a profile's runs are tried again; only a policy that retries exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts after the first, at least 1.
    pub retries: u32,
    /// The outcomes that are retried.
    pub on: BTreeSet<RetryOn>,
    /// Between an attempt's end and the next attempt's launch.
    #[serde(with = "duration_text")]
    pub delay: Duration,
}

impl RetryPolicy {
    /// How many attempts a run may have in all.
    pub fn attempts(&self) -> u32 {
        self.retries + 1
    }

    /// Whether an attempt numbered `attempt` (1 for the first) that ended in `outcome` is
    /// followed by another.
    pub fn retries_after(&self, attempt: u32, outcome: RetryOn) -> bool {
        attempt <= self.retries && self.on.contains(&outcome)
    }
}

/// The retry policy the fields describe; `None` when they ask for no retries.
///
/// # Errors
/// A [`FieldError`] naming the field and the form it takes.
pub(super) fn parse_retry(fields: &Fields) -> Result<Option<RetryPolicy>, FieldError> {
    let retries = fields.retries.unwrap_or(0);
    if retries > MAX_RETRIES {
        return Err(FieldError::new(
            Field::Retries,
            format!(
                "{retries} is more than {MAX_RETRIES}: every attempt is a new VM; ask for at most {MAX_RETRIES}"
            ),
        ));
    }
    let on = parse_retry_on(fields.retry_on.as_deref())
        .map_err(|e| FieldError::new(Field::RetryOn, e))?;
    let delay = parse_delay(fields.retry_delay.as_deref().unwrap_or(DEFAULT_RETRY_DELAY))
        .map_err(|e| FieldError::new(Field::RetryDelay, e))?;
    Ok((retries > 0).then_some(RetryPolicy { retries, on, delay }))
}

fn parse_retry_on(listed: Option<&[String]>) -> Result<BTreeSet<RetryOn>, String> {
    let on = match listed {
        Some(listed) => listed
            .iter()
            .map(|text| RetryOn::parse(text.trim()))
            .collect::<Result<BTreeSet<_>, _>>()?,
        None => DEFAULT_RETRY_ON
            .split(',')
            .map(RetryOn::parse)
            .collect::<Result<BTreeSet<_>, _>>()?,
    };
    if on.is_empty() {
        return Err(format!(
            "names no outcome: list some of {}, or set retries = 0",
            RetryOn::ALL.map(RetryOn::as_str).join(", ")
        ));
    }
    Ok(on)
}

fn parse_delay(text: &str) -> Result<Duration, String> {
    let delay = notebooks_wire::duration::parse(text)?;
    if delay > MAX_RETRY_DELAY {
        return Err(format!(
            "`{text}` is longer than {}: a retry waits at most that",
            notebooks_wire::duration::display(MAX_RETRY_DELAY)
        ));
    }
    Ok(delay)
}

/// A delay as the record writes it: `1m 30s`, read back by the same parser as the field.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(delay: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&notebooks_wire::duration::display(*delay))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        notebooks_wire::duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(retries: Option<u32>, on: Option<&[&str]>, delay: Option<&str>) -> Fields {
        Fields {
            retries,
            retry_on: on.map(|on| on.iter().map(|s| (*s).to_owned()).collect()),
            retry_delay: delay.map(str::to_owned),
            ..Fields::default()
        }
    }

    #[test]
    fn no_retries_is_no_policy_and_the_defaults_retry_all_but_lost() {
        assert_eq!(parse_retry(&Fields::default()), Ok(None));
        assert_eq!(parse_retry(&fields(Some(0), None, None)), Ok(None));
        let policy = parse_retry(&fields(Some(2), None, None)).unwrap().unwrap();
        assert_eq!(policy.attempts(), 3);
        assert_eq!(policy.delay, Duration::from_secs(60));
        assert_eq!(
            policy.on,
            BTreeSet::from([RetryOn::Failed, RetryOn::TimedOut, RetryOn::Unreported])
        );
    }

    #[test]
    fn an_attempt_is_retried_for_its_outcomes_while_retries_remain() {
        let policy = parse_retry(&fields(Some(2), Some(&["failed", "lost"]), Some("0s")))
            .unwrap()
            .unwrap();
        assert!(policy.retries_after(1, RetryOn::Failed));
        assert!(policy.retries_after(2, RetryOn::Lost));
        assert!(
            !policy.retries_after(3, RetryOn::Failed),
            "the last attempt"
        );
        assert!(!policy.retries_after(1, RetryOn::TimedOut), "not listed");
        assert_eq!(policy.delay, Duration::ZERO);
    }

    #[test]
    fn each_field_is_bounded_and_named_in_its_error() {
        let cases: [(Fields, Field, &str); 6] = [
            (fields(Some(11), None, None), Field::Retries, "at most 10"),
            (
                fields(Some(1), Some(&["cancelled"]), None),
                Field::RetryOn,
                "never retried",
            ),
            (
                fields(Some(1), Some(&["failed", "crashed"]), None),
                Field::RetryOn,
                "`crashed` is not an outcome",
            ),
            (
                fields(Some(1), Some(&[]), None),
                Field::RetryOn,
                "names no outcome",
            ),
            (fields(Some(1), None, Some("7h")), Field::RetryDelay, "6h"),
            (
                fields(Some(1), None, Some("soon")),
                Field::RetryDelay,
                "expected e.g. 30s",
            ),
        ];
        for (fields, field, says) in cases {
            let error = parse_retry(&fields).unwrap_err();
            assert_eq!(error.field, field, "{error}");
            assert!(error.reason.contains(says), "{error}");
        }
    }

    #[test]
    fn a_policy_reads_back_as_the_record_wrote_it() {
        let policy = parse_retry(&fields(Some(3), Some(&["timed_out"]), Some("90s")))
            .unwrap()
            .unwrap();
        let json = serde_json::to_value(&policy).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"retries": 3, "on": ["timed_out"], "delay": "1m 30s"})
        );
        assert_eq!(serde_json::from_value::<RetryPolicy>(json).unwrap(), policy);
    }

    #[test]
    fn the_variable_is_a_comma_separated_list() {
        let env = |name: &str| (name == "RETRY_ON").then(|| "failed, lost,".to_owned());
        let fields = Fields::from_env(&env).unwrap();
        assert_eq!(
            fields.retry_on,
            Some(vec!["failed".to_owned(), "lost".to_owned()])
        );
    }
}
