//! Stored IAM policies: one per instance, with an etag for read-modify-write.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::{Store, StoreError};
use crate::ApiVersion;

/// The etag Google answers for a resource whose policy was never set.
pub(crate) const EMPTY_POLICY_ETAG: &str = "ACAB";

/// An etag's bytes: clients decode etags and encode them again, padded or not, either alphabet.
fn etag_bytes(etag: &str) -> Option<Vec<u8>> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(etag).ok())
}

/// Whether a `setIamPolicy` request was written over another policy than the one in place,
/// whose etag is `current` (none: never set): it carries an etag, and not that one. Without
/// one it replaces whatever is there, as Google's does.
pub(crate) fn stale_etag(request: &Map<String, Value>, current: Option<&str>) -> bool {
    let current = current.unwrap_or(EMPTY_POLICY_ETAG);
    request
        .get("etag")
        .and_then(Value::as_str)
        .is_some_and(|etag| etag_bytes(etag) != etag_bytes(current))
}

impl Store {
    /// The instance's policy: Google's empty policy until one is set.
    pub fn policy(&self, version: ApiVersion, name: &str) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let uid = inner
            .live(version, name, now)
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?
            .uid
            .clone();
        Ok(inner
            .policies
            .get(&(version, uid))
            .cloned()
            .unwrap_or_else(|| json!({"version": 1, "etag": EMPTY_POLICY_ETAG})))
    }

    /// Replaces the instance's policy with a fresh etag. A policy that carries an etag must
    /// carry the current one: the writer read what it is replacing.
    pub fn set_policy(
        &self,
        version: ApiVersion,
        name: &str,
        mut policy: Map<String, Value>,
    ) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let uid = inner
            .live(version, name, now)
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?
            .uid
            .clone();
        let key = (version, uid);
        let current = inner.policies.get(&key).and_then(|p| p["etag"].as_str());
        if stale_etag(&policy, current) {
            return Err(StoreError::StalePolicy(name.to_owned()));
        }
        let etag = STANDARD.encode(&uuid::Uuid::new_v4().as_bytes()[..8]);
        policy.insert("etag".to_owned(), json!(etag));
        let policy = Value::Object(policy);
        inner.policies.insert(key, policy.clone());
        Ok(policy)
    }
}
