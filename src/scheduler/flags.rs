//! The flags of `gcloud scheduler jobs create pubsub` and `… update pubsub`: every field of a
//! new job, or only the fields that differ from the job that exists.
//!
//! gcloud's flag syntax has its own rules, kept here: attribute lists are `K=V,…` unless a key
//! or value holds a comma (then `^DELIM^K=V…`), attributes are updated, removed or cleared by
//! different flags, and a message body can be replaced but never cleared.

use std::time::Duration;

use base64::Engine as _;

use super::current::{CurrentJob, CurrentPubsubTarget, api_duration};
use super::{DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF, DEFAULT_TIME_ZONE, Job, SchedulerTarget};

fn secs(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

/// `K=V,K2=V2`, or gcloud's `^DELIM^K=V…` form when a key or value holds a comma.
fn attribute_list<'a>(pairs: impl Iterator<Item = (&'a String, Option<&'a String>)>) -> String {
    let items: Vec<String> = pairs
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    if items.iter().all(|item| !item.contains(',')) {
        return items.join(",");
    }
    let delimiter = [";", "|", "~", "#", "!", "+", "%", "@"]
        .into_iter()
        .find(|d| items.iter().all(|item| !item.contains(d)))
        .unwrap_or("\u{1f}");
    format!("^{delimiter}^{}", items.join(delimiter))
}

/// Every field of `job`, for `create pubsub`.
pub(super) fn create_flags(job: &Job, target: &SchedulerTarget) -> Vec<String> {
    let mut flags = vec![
        format!("--schedule={}", job.schedule),
        format!("--time-zone={}", job.time_zone),
        format!("--topic={}", target.topic),
    ];
    if !job.payload.is_empty() {
        flags.push(format!("--message-body={}", job.payload));
    }
    if !job.attributes.is_empty() {
        flags.push(format!(
            "--attributes={}",
            attribute_list(job.attributes.iter().map(|(k, v)| (k, Some(v))))
        ));
    }
    if !job.description.is_empty() {
        flags.push(format!("--description={}", job.description));
    }
    flags.push(format!("--max-retry-attempts={}", job.retry.count));
    flags.push(format!("--min-backoff={}", secs(job.retry.min_backoff)));
    flags.push(format!("--max-backoff={}", secs(job.retry.max_backoff)));
    flags
}

/// Only the fields of `job` that differ from `existing`, for `update pubsub`; none when the
/// job already matches.
pub(super) fn update_flags(
    job: &Job,
    existing: &CurrentJob,
    pubsub: &CurrentPubsubTarget,
    target: &SchedulerTarget,
) -> Vec<String> {
    let mut flags = Vec::new();
    if existing
        .schedule
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        != job.schedule
    {
        flags.push(format!("--schedule={}", job.schedule));
    }
    if existing.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE) != job.time_zone {
        flags.push(format!("--time-zone={}", job.time_zone));
    }
    if pubsub.topic_name != target.topic {
        flags.push(format!("--topic={}", target.topic));
    }
    let data = pubsub
        .data
        .as_deref()
        .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
        .unwrap_or_default();
    if data != job.payload.as_bytes() {
        // gcloud cannot clear the body; an emptied payload (attributes only) keeps the old one.
        if !job.payload.is_empty() {
            flags.push(format!("--message-body={}", job.payload));
        }
    }
    if pubsub.attributes != job.attributes {
        if job.attributes.is_empty() {
            flags.push("--clear-attributes".into());
        } else {
            flags.push(format!(
                "--update-attributes={}",
                attribute_list(job.attributes.iter().map(|(k, v)| (k, Some(v))))
            ));
            let removed: Vec<&String> = pubsub
                .attributes
                .keys()
                .filter(|k| !job.attributes.contains_key(*k))
                .collect();
            if !removed.is_empty() {
                flags.push(format!(
                    "--remove-attributes={}",
                    attribute_list(removed.into_iter().map(|k| (k, None)))
                ));
            }
        }
    }
    if existing.description.as_deref().unwrap_or_default() != job.description {
        flags.push(format!("--description={}", job.description));
    }
    let retry = existing.retry_config.clone().unwrap_or_default();
    if retry.retry_count.unwrap_or(0) != job.retry.count {
        flags.push(format!("--max-retry-attempts={}", job.retry.count));
    }
    if api_duration(retry.min_backoff_duration.as_deref(), DEFAULT_MIN_BACKOFF)
        != Some(job.retry.min_backoff)
    {
        flags.push(format!("--min-backoff={}", secs(job.retry.min_backoff)));
    }
    if api_duration(retry.max_backoff_duration.as_deref(), DEFAULT_MAX_BACKOFF)
        != Some(job.retry.max_backoff)
    {
        flags.push(format!("--max-backoff={}", secs(job.retry.max_backoff)));
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lists_with_commas_use_another_delimiter() {
        let a = "a".to_owned();
        let v = "1,2".to_owned();
        let w = "x;y".to_owned();
        assert_eq!(
            attribute_list([(&a, Some(&v))].into_iter()),
            "^;^a=1,2".to_owned()
        );
        let b = "b".to_owned();
        assert_eq!(
            attribute_list([(&a, Some(&v)), (&b, Some(&w))].into_iter()),
            "^|^a=1,2|b=x;y".to_owned()
        );
    }
}
