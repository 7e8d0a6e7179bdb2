//! A job as the planner works with it: validated, in the terms Cloud Scheduler's API uses, so
//! that comparing it with what the cloud reports is a field-by-field comparison.

use std::collections::BTreeMap;
use std::time::Duration;

/// gcloud's defaults, so that a job without `retry` diffs cleanly against one created by it.
pub const DEFAULT_MIN_BACKOFF: Duration = Duration::from_secs(5);
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(3600);
pub const DEFAULT_TIME_ZONE: &str = "Etc/UTC";

/// A validated job, in the terms the API uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub name: String,
    pub schedule: String,
    pub time_zone: String,
    /// The message data: the text, or the object as compact JSON.
    pub payload: String,
    pub attributes: BTreeMap<String, String>,
    pub description: String,
    pub retry: Retry,
    pub paused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub count: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            count: 0,
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}
