//! Names that make a launch idempotent: the instance id, the request id and provenance labels.
//!
//! With one fixed instance name, every launch after the first would collide with it. So the
//! id is derived from the message (`{prefix}-{yyyymmdd-hhmm}-{hash}`), the Notebooks
//! `requestId` is a UUID derived from the same [`DedupeKey`], and the instance carries labels
//! saying which message made it. A redelivery therefore maps to the same request, the same id,
//! and an instance that can be recognised as its own.

use std::collections::BTreeMap;
use std::fmt;

use uuid::Uuid;

use crate::push::{DedupeKey, Trigger};

/// Namespace of every request id we derive (UUIDv5): fixed forever, or redeliveries across a
/// version upgrade would stop matching.
const REQUEST_NAMESPACE: Uuid = Uuid::from_u128(0x6e6f_7465_626f_6f6b_2d74_7269_6767_6572);

pub const LABEL_MANAGED_BY: &str = "managed-by";
pub const LABEL_SOURCE: &str = "trigger-source";
pub const LABEL_KEY: &str = "trigger-key";
pub const LABEL_PROFILE: &str = "trigger-profile";
pub const MANAGED_BY: &str = "notebook-trigger";
/// The label that carries the run id on a run's instance.
pub const LABEL_RUN_ID: &str = "run-id";

const PROVENANCE: [&str; 4] = [LABEL_MANAGED_BY, LABEL_SOURCE, LABEL_KEY, LABEL_PROFILE];

/// A valid Notebooks instance id: 1–63 chars, `[a-z]([-a-z0-9]*[a-z0-9])?`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId(String);

/// Why a string is not an instance id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an instance id: 1–63 characters of lowercase letters, digits and dashes, starting with a letter and not ending with a dash"
)]
pub struct InvalidId(pub String);

impl InstanceId {
    /// # Errors
    /// [`InvalidId`] when `text` breaks the API's id rules.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let valid = (1..=63).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && !text.ends_with('-')
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidId(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The prefix of derived ids; short enough that a derived id always fits in 63 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPrefix(String);

/// `-yyyymmdd-hhmm-` plus an 8-hex hash: 23 characters after the prefix.
const DERIVED_SUFFIX_LEN: usize = 23;
pub const MAX_PREFIX_LEN: usize = 63 - DERIVED_SUFFIX_LEN;

impl IdPrefix {
    /// # Errors
    /// A message giving the rule the prefix breaks.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_PREFIX_LEN {
            return Err(format!(
                "`{text}` is longer than {MAX_PREFIX_LEN} characters"
            ));
        }
        InstanceId::parse(text).map_err(|_| {
            format!("`{text}` must start with a lowercase letter, use only [a-z0-9-] and not end with a dash")
        })?;
        Ok(Self(text.to_owned()))
    }
}

impl Default for IdPrefix {
    fn default() -> Self {
        Self("notebook".to_owned())
    }
}

/// The Notebooks `requestId` for a message: the same key always gives the same UUID.
pub fn request_id(key: &DedupeKey) -> Uuid {
    Uuid::new_v5(&REQUEST_NAMESPACE, key.as_str().as_bytes())
}

/// A short stable hash of the key, safe as a label value and an id suffix.
pub fn key_hash(key: &DedupeKey) -> String {
    request_id(key).simple().to_string()[..16].to_owned()
}

/// `{prefix}-{yyyymmdd-hhmm of publish time}-{hash}`; the time is UTC, so ids sort by launch.
pub fn derive_id(prefix: &IdPrefix, publish_time: jiff::Timestamp, key: &DedupeKey) -> InstanceId {
    let stamp = publish_time.strftime("%Y%m%d-%H%M");
    let id = format!("{}-{stamp}-{}", prefix.0, &key_hash(key)[..8]);
    InstanceId::parse(&id).expect("a valid prefix, digits and hex always make a valid id")
}

/// The instance id for a trigger: fixed by the profile, or derived from the message.
pub fn instance_id(fixed: Option<&InstanceId>, prefix: &IdPrefix, trigger: &Trigger) -> InstanceId {
    match fixed {
        Some(id) => id.clone(),
        None => derive_id(
            prefix,
            trigger.publish_time.unwrap_or_else(jiff::Timestamp::now),
            &trigger.key,
        ),
    }
}

/// The notebook execution job id of the run `run` (`r` and 16 hex digits): `{prefix}-{run}`.
/// A run's id derives from its message, so a redelivery names the same job and finds it
/// taken (409), and a retry or a rerun, a run of its own, names a job of its own. It keeps the
/// instance ids' form, which the API's job ids accept.
pub fn job_id(prefix: &IdPrefix, run: &str) -> InstanceId {
    InstanceId::parse(&format!("{}-{run}", prefix.0))
        .expect("a valid prefix and a run id (r and hex) always make a valid id")
}

/// Labels saying where an instance came from; on a 409 they tell our own instance apart.
pub fn provenance(trigger: &Trigger, profile: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        (LABEL_SOURCE.to_owned(), trigger.source.label().to_owned()),
        (LABEL_KEY.to_owned(), key_hash(&trigger.key)),
        (LABEL_PROFILE.to_owned(), label_value(profile)),
    ])
}

pub fn is_provenance_label(key: &str) -> bool {
    PROVENANCE.contains(&key) || key == LABEL_RUN_ID
}

/// Makes any text a valid label value (lowercase, `[a-z0-9_-]`, ≤ 63).
fn label_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect()
}

/// GCP label values: ≤ 63 of `[a-z0-9_-]` (empty allowed).
pub fn is_label_value(text: &str) -> bool {
    text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// GCP label rules: key 1–63, starting with a lowercase letter; both `[a-z0-9_-]`.
///
/// # Errors
/// A message naming the label and the rule.
pub fn check_label(key: &str, value: &str) -> Result<(), String> {
    if key.is_empty() || !key.starts_with(|c: char| c.is_ascii_lowercase()) || !is_label_value(key)
    {
        return Err(format!(
            "label key `{key}` must be 1–63 of [a-z0-9_-] starting with a lowercase letter"
        ));
    }
    if !is_label_value(value) {
        return Err(format!(
            "label `{key}`: value `{value}` must be at most 63 of [a-z0-9_-]"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(text: &str) -> DedupeKey {
        let body = format!(
            r#"{{"message":{{"messageId":{}}}}}"#,
            serde_json::json!(text)
        );
        crate::push::decode(&axum::http::HeaderMap::new(), body.as_bytes(), usize::MAX)
            .unwrap()
            .key
    }

    #[test]
    fn a_runs_job_id_is_the_prefix_and_the_run_and_fits_the_longest_prefix() {
        let run = "r0123456789abcdef";
        assert_eq!(
            job_id(&IdPrefix::default(), run).as_str(),
            "notebook-r0123456789abcdef"
        );
        let longest = IdPrefix::parse(&"p".repeat(MAX_PREFIX_LEN)).unwrap();
        assert_eq!(job_id(&longest, run).as_str().len(), MAX_PREFIX_LEN + 18);
    }

    #[test]
    fn id_rules() {
        for ok in ["a", "notetweeti", "a-1", &"a".repeat(63)] {
            assert!(InstanceId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "a-", "A", "a_b", "../x", "a.b", &"a".repeat(64)] {
            assert!(InstanceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_id_has_the_documented_shape() {
        let time: jiff::Timestamp = "2024-03-05T06:07:59Z".parse().unwrap();
        let id = derive_id(&IdPrefix::default(), time, &key("123"));
        assert!(id.as_str().starts_with("notebook-20240305-0607-"), "{id}");
        assert_eq!(id.as_str().len(), "notebook-20240305-0607-".len() + 8);
    }

    #[test]
    fn prefix_rules() {
        assert!(IdPrefix::parse("tweeti").is_ok());
        assert!(IdPrefix::parse(&"a".repeat(MAX_PREFIX_LEN)).is_ok());
        assert!(IdPrefix::parse(&"a".repeat(MAX_PREFIX_LEN + 1)).is_err());
        assert!(IdPrefix::parse("Tweeti").is_err());
        assert!(IdPrefix::parse("t-").is_err());
    }

    #[test]
    fn request_id_is_stable_and_distinct() {
        assert_eq!(request_id(&key("1")), request_id(&key("1")));
        assert_ne!(request_id(&key("1")), request_id(&key("2")));
        assert_eq!(request_id(&key("1")).get_version_num(), 5);
    }

    #[test]
    fn provenance_labels_obey_gcp_rules() {
        let trigger = Trigger::from_cli(None);
        for (k, v) in provenance(&trigger, "Nightly Run!") {
            check_label(&k, &v).unwrap();
        }
    }

    proptest! {
        #[test]
        fn derived_ids_are_always_valid_and_stable(
            prefix_len in 1usize..=MAX_PREFIX_LEN,
            seconds in 0i64..4_102_444_800,
            message_id in ".*",
        ) {
            let prefix = IdPrefix::parse(&"p".repeat(prefix_len)).unwrap();
            let time = jiff::Timestamp::from_second(seconds).unwrap();
            let k = key(&message_id);
            let id = derive_id(&prefix, time, &k);
            prop_assert!(InstanceId::parse(id.as_str()).is_ok());
            prop_assert_eq!(id, derive_id(&prefix, time, &k));
        }
    }
}
