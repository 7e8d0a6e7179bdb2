//! How many runs of a profile may go at once, and what a message that finds them all going
//! does: the cap Databricks calls `max_concurrent_runs`, with its queue.
//!
//! The count itself is the run model's (slots in Cloud Storage, shared by every service
//! instance); a profile only says how many and what then. The cap is bounded because a push
//! that finds every slot taken reads each of them, and each holder's record, to tell a slot
//! whose run has ended from one still held.

use std::num::NonZeroU32;

use super::fields::{DEFAULT_WHEN_BUSY, Field, FieldError, Fields};

/// The largest `max_concurrent_runs` a profile may set.
pub const MAX_CONCURRENT_RUNS_LIMIT: u32 = 100;

/// What a launch does when its profile's runs are all going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenBusy {
    /// Answer so that Pub/Sub keeps the message and delivers it again later: the subscription
    /// is the queue.
    Queue,
    /// Acknowledge, and record the run as skipped.
    Skip,
}

impl WhenBusy {
    pub fn as_str(self) -> &'static str {
        match self {
            WhenBusy::Queue => "queue",
            WhenBusy::Skip => "skip",
        }
    }

    /// The inverse of [`WhenBusy::as_str`], kept beside it.
    fn parse(text: &str) -> Result<WhenBusy, String> {
        [WhenBusy::Queue, WhenBusy::Skip]
            .into_iter()
            .find(|when| when.as_str() == text.trim())
            .ok_or_else(|| format!("`{text}` is not queue or skip"))
    }
}

/// A profile's cap on its runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// At most this many runs of the profile go at once, 1–[`MAX_CONCURRENT_RUNS_LIMIT`].
    pub max: NonZeroU32,
    pub when_busy: WhenBusy,
}

/// The profile's cap, `None` when it sets none; `runs` says whether it runs a notebook, since
/// only runs are counted.
pub(super) fn parse_concurrency(
    fields: &Fields,
    runs: bool,
) -> Result<Option<Concurrency>, FieldError> {
    let when_busy = WhenBusy::parse(fields.when_busy.as_deref().unwrap_or(DEFAULT_WHEN_BUSY))
        .map_err(|reason| FieldError::new(Field::WhenBusy, reason))?;
    let Some(max) = fields.max_concurrent_runs else {
        return Ok(None);
    };
    let max = NonZeroU32::new(max)
        .filter(|max| max.get() <= MAX_CONCURRENT_RUNS_LIMIT)
        .ok_or_else(|| {
            FieldError::new(
                Field::MaxConcurrentRuns,
                format!(
                    "{max} is outside 1–{MAX_CONCURRENT_RUNS_LIMIT}; leave it unset for no cap"
                ),
            )
        })?;
    if !runs {
        return Err(FieldError::new(
            Field::MaxConcurrentRuns,
            "the cap counts runs, and the profile runs no notebook: set notebook too, or leave max_concurrent_runs unset",
        ));
    }
    Ok(Some(Concurrency { max, when_busy }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(max: Option<u32>, when_busy: Option<&str>) -> Fields {
        Fields {
            max_concurrent_runs: max,
            when_busy: when_busy.map(str::to_owned),
            ..Fields::default()
        }
    }

    #[test]
    fn a_cap_queues_unless_the_profile_says_skip() {
        assert_eq!(parse_concurrency(&with(None, None), true), Ok(None));
        let queue = parse_concurrency(&with(Some(2), None), true)
            .unwrap()
            .unwrap();
        assert_eq!((queue.max.get(), queue.when_busy), (2, WhenBusy::Queue));
        let skip = parse_concurrency(&with(Some(100), Some("skip")), true)
            .unwrap()
            .unwrap();
        assert_eq!((skip.max.get(), skip.when_busy), (100, WhenBusy::Skip));
    }

    #[test]
    fn each_wrong_value_names_its_field_and_the_fix() {
        for max in [0, MAX_CONCURRENT_RUNS_LIMIT + 1] {
            let error = parse_concurrency(&with(Some(max), None), true).unwrap_err();
            assert_eq!(error.field, Field::MaxConcurrentRuns);
            assert!(
                error.reason.contains("leave it unset for no cap"),
                "{error}"
            );
        }
        let error = parse_concurrency(&with(Some(2), Some("wait")), true).unwrap_err();
        assert_eq!(error.field, Field::WhenBusy);
        assert!(error.reason.contains("queue or skip"), "{error}");
        let error = parse_concurrency(&with(None, Some("later")), true).unwrap_err();
        assert_eq!(
            error.field,
            Field::WhenBusy,
            "checked with or without a cap"
        );
        let error = parse_concurrency(&with(Some(2), None), false).unwrap_err();
        assert_eq!(error.field, Field::MaxConcurrentRuns);
        assert!(error.reason.contains("set notebook"), "{error}");
    }
}
