//! One job as `scheduler.yaml` writes it, before any check: [`file`](super::file) reads each
//! job into a [`JobSpec`] and [`validate`](super::validate) turns it into a [`Job`](super::Job).
//!
//! A type of its own so that reading and checking both depend on it and not on each other.
//! `deny_unknown_fields` because a misspelt key (`time-zone`, `retries`) would otherwise be
//! dropped silently and the job deployed with a default the author did not choose.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One job as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobSpec {
    pub(super) name: String,
    pub(super) schedule: String,
    #[serde(default)]
    pub(super) time_zone: Option<String>,
    #[serde(default)]
    pub(super) payload: Option<serde_json::Value>,
    #[serde(default)]
    pub(super) attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) retry: Option<RetrySpec>,
    #[serde(default)]
    pub(super) paused: bool,
}

/// A job's `retry:` as written; each unset backoff keeps gcloud's default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RetrySpec {
    #[serde(default)]
    pub(super) count: u32,
    #[serde(default)]
    pub(super) min_backoff: Option<String>,
    #[serde(default)]
    pub(super) max_backoff: Option<String>,
}
