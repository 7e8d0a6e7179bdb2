//! The jobs that exist, as `gcloud scheduler jobs list --format=json` prints them: the other
//! side of the diff.
//!
//! Only the fields the planner manages are read; everything else the API reports (state
//! history, `userUpdateTime`, `maxDoublings`, …) is ignored, so a field the planner does not
//! own never causes an update.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::SchedulerError;

/// A job as `gcloud scheduler jobs list --format=json` reports it (the API's `Job`); fields
/// this planner does not manage are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CurrentJob {
    pub name: String,
    pub schedule: String,
    pub time_zone: Option<String>,
    pub description: Option<String>,
    pub state: Option<String>,
    pub pubsub_target: Option<CurrentPubsubTarget>,
    pub retry_config: Option<CurrentRetry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CurrentPubsubTarget {
    pub topic_name: String,
    pub data: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CurrentRetry {
    pub retry_count: Option<u32>,
    pub min_backoff_duration: Option<String>,
    pub max_backoff_duration: Option<String>,
}

/// Reads the JSON array printed by `gcloud scheduler jobs list --format=json`.
///
/// # Errors
/// [`SchedulerError::Current`] when it is not such an array.
pub fn parse_current(text: &str) -> Result<Vec<CurrentJob>, SchedulerError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|e| SchedulerError::Current(e.to_string()))
}

/// `"5s"`, `"0.500s"` → duration; absent → `default`.
pub(super) fn api_duration(text: Option<&str>, default: Duration) -> Option<Duration> {
    match text {
        None => Some(default),
        Some(text) => text
            .strip_suffix('s')
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(Duration::from_secs_f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_state_must_be_a_list() {
        assert!(parse_current("").expect("empty").is_empty());
        assert!(parse_current("{}").is_err());
    }
}
