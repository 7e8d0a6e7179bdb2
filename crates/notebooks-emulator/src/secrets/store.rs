//! The secrets: their versions' payloads, their policies, and who may use which.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::Caller;
use crate::clock::Clock;
use crate::iam::checked_policy;
use crate::status::{ApiError, Code};
use crate::store::{EMPTY_POLICY_ETAG, stale_etag};
use crate::tokens::AccessTokens;

/// The largest payload Secret Manager keeps.
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The permission that reads a version's payload.
const ACCESS: &str = "secretmanager.versions.access";

#[derive(Debug)]
struct Secret {
    created: Timestamp,
    replication: Value,
    labels: Option<Value>,
    /// Version `n` is `versions[n - 1]`: Google numbers them from 1.
    versions: Vec<Version>,
    /// Set by `setIamPolicy`, with its etag.
    policy: Option<Map<String, Value>>,
}

#[derive(Debug)]
struct Version {
    data: Vec<u8>,
    created: Timestamp,
    /// The request carried a CRC32C, which matched.
    client_checksum: bool,
}

/// Every secret, in memory, by its name (`projects/P/secrets/S`).
#[derive(Debug)]
pub struct Secrets {
    clock: Arc<dyn Clock>,
    tokens: Arc<AccessTokens>,
    secrets: Mutex<BTreeMap<String, Secret>>,
}

impl Secrets {
    pub fn new(clock: Arc<dyn Clock>, tokens: Arc<AccessTokens>) -> Self {
        Self {
            clock,
            tokens,
            secrets: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Secret>> {
        self.secrets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The account an instance's token was issued to.
    pub(super) fn holder(&self, token: &str) -> Option<String> {
        self.tokens.holder(token)
    }

    /// `projects.secrets.create`: a secret without versions.
    pub(super) fn create(
        &self,
        caller: &Caller,
        project: &str,
        secret_id: Option<&str>,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let parent = format!("projects/{project}");
        permit(caller, None, "secretmanager.secrets.create", &parent)?;
        let id = secret_id.unwrap_or_default();
        let id_ok = (1..=255).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return Err(invalid(
                "secret_id",
                format!(
                    "Invalid secret id \"{id}\": 1 to 255 letters, digits, hyphens and underscores."
                ),
            ));
        }
        let replication = body
            .get("replication")
            .filter(|r| r.get("automatic").is_some() || r.get("userManaged").is_some())
            .cloned()
            .ok_or_else(|| {
                invalid(
                    "secret.replication",
                    "Secret.replication is required: automatic or userManaged.",
                )
            })?;
        let name = format!("{parent}/secrets/{id}");
        let mut secrets = self.lock();
        if secrets.contains_key(&name) {
            return Err(ApiError::new(
                Code::AlreadyExists,
                format!("Secret [{name}] already exists."),
            ));
        }
        let secret = Secret {
            created: self.clock.now(),
            replication,
            labels: body.get("labels").cloned(),
            versions: Vec::new(),
            policy: None,
        };
        let mut answer = json!({
            "name": name,
            "replication": secret.replication,
            "createTime": secret.created.to_string(),
        });
        if let Some(labels) = &secret.labels {
            answer["labels"] = labels.clone();
        }
        secrets.insert(name, secret);
        Ok(answer)
    }

    /// `projects.secrets.addVersion`: the next version, holding the request's payload.
    pub(super) fn add_version(
        &self,
        caller: &Caller,
        name: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let mut secrets = self.lock();
        let secret = permitted(&mut secrets, caller, "secretmanager.versions.add", name)?;
        let (data, client_checksum) = payload(body)?;
        let version = Version {
            data,
            created: self.clock.now(),
            client_checksum,
        };
        let answer = json!({
            "name": format!("{name}/versions/{}", secret.versions.len() + 1),
            "createTime": version.created.to_string(),
            "state": "ENABLED",
            "clientSpecifiedPayloadChecksum": version.client_checksum,
        });
        secret.versions.push(version);
        Ok(answer)
    }

    /// `projects.secrets.versions.access`: version `version` (a number, or `latest`) of `name`,
    /// its payload in base64 with its CRC32C.
    pub(super) fn access(
        &self,
        caller: &Caller,
        name: &str,
        version: &str,
    ) -> Result<Value, ApiError> {
        let resource = format!("{name}/versions/{version}");
        let secrets = self.lock();
        let secret = secrets.get(name);
        permit(caller, secret, ACCESS, &resource)?;
        let count = secret.map_or(0, |s| s.versions.len());
        let number = match version {
            "latest" => Some(count),
            number => number.parse::<usize>().ok(),
        }
        .filter(|n| (1..=count).contains(n));
        let (Some(secret), Some(number)) = (secret, number) else {
            let message = if version == "latest" {
                format!("Secret [{name}] not found or has no versions.")
            } else {
                format!("Secret Version [{resource}] not found.")
            };
            return Err(ApiError::new(Code::NotFound, message));
        };
        let data = &secret.versions[number - 1].data;
        Ok(json!({
            "name": format!("{name}/versions/{number}"),
            "payload": {"data": STANDARD.encode(data), "dataCrc32c": crc32c(data).to_string()},
        }))
    }

    /// `projects.secrets.getIamPolicy`: Google's empty policy until one is set.
    pub(super) fn policy(&self, caller: &Caller, name: &str) -> Result<Value, ApiError> {
        let mut secrets = self.lock();
        let secret = permitted(
            &mut secrets,
            caller,
            "secretmanager.secrets.getIamPolicy",
            name,
        )?;
        Ok(secret.policy.clone().map_or_else(
            || json!({"version": 1, "etag": EMPTY_POLICY_ETAG}),
            Value::Object,
        ))
    }

    /// `projects.secrets.setIamPolicy`: replaces the policy, which must carry the current
    /// etag if it carries one (its writer read what it replaces).
    pub(super) fn set_policy(
        &self,
        caller: &Caller,
        name: &str,
        request: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let mut secrets = self.lock();
        let secret = permitted(
            &mut secrets,
            caller,
            "secretmanager.secrets.setIamPolicy",
            name,
        )?;
        let mut policy = checked_policy(request)?;
        let current = secret.policy.as_ref().and_then(|p| p.get("etag"));
        if stale_etag(&policy, current.and_then(Value::as_str)) {
            return Err(ApiError::new(
                Code::Aborted,
                "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
            ));
        }
        let etag = STANDARD.encode(&uuid::Uuid::new_v4().as_bytes()[..8]);
        policy.insert("etag".to_owned(), json!(etag));
        secret.policy = Some(policy.clone());
        Ok(Value::Object(policy))
    }
}

/// Refuses `caller` unless it may use `permission` on `secret` (`None`: it does not exist,
/// which an account without access is not told).
/// Secret `name`, when `caller` holds `permission` on it: a secret the caller may not see
/// is refused as Google refuses it, whether or not it exists.
fn permitted<'a>(
    secrets: &'a mut BTreeMap<String, Secret>,
    caller: &Caller,
    permission: &str,
    name: &str,
) -> Result<&'a mut Secret, ApiError> {
    let secret = secrets.get_mut(name);
    permit(caller, secret.as_deref(), permission, name)?;
    secret.ok_or_else(|| not_found(name))
}

fn permit(
    caller: &Caller,
    secret: Option<&Secret>,
    permission: &str,
    resource: &str,
) -> Result<(), ApiError> {
    let granted = match caller {
        Caller::Owner => true,
        Caller::Account(email) => secret
            .and_then(|secret| secret.policy.as_ref())
            .is_some_and(|policy| grants(policy, email, permission)),
    };
    if granted {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::PermissionDenied,
            format!(
                "Permission '{permission}' denied for resource '{resource}' (or it may not exist)."
            ),
        ))
    }
}

/// Whether a binding without a condition gives `email` a role that holds `permission`
/// (conditions are not evaluated, so they grant nothing here).
fn grants(policy: &Map<String, Value>, email: &str, permission: &str) -> bool {
    let account = format!("serviceAccount:{email}");
    let holds = |role: &str| match role {
        "roles/owner" | "roles/secretmanager.admin" => true,
        "roles/secretmanager.secretAccessor" => permission == ACCESS,
        _ => false,
    };
    let members = |binding: &Value| {
        binding["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|m| m == account || m == "allUsers" || m == "allAuthenticatedUsers")
    };
    policy
        .get("bindings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|binding| binding.get("condition").is_none())
        .any(|binding| holds(binding["role"].as_str().unwrap_or_default()) && members(binding))
}

/// The payload of an `addVersion` request, and whether it came with a CRC32C (which must match).
fn payload(request: &Map<String, Value>) -> Result<(Vec<u8>, bool), ApiError> {
    let payload = request
        .get("payload")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("payload", "Field 'payload' is required."))?;
    let text = payload
        .get("data")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let data = STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .map_err(|_| {
            invalid(
                "payload.data",
                "Invalid value at 'payload.data' (TYPE_BYTES), Base64 decoding failed.",
            )
        })?;
    if data.len() > MAX_PAYLOAD_BYTES {
        return Err(invalid(
            "payload.data",
            format!(
                "Secret Payload cannot be larger than {MAX_PAYLOAD_BYTES} bytes ({} given).",
                data.len()
            ),
        ));
    }
    let Some(sent) = payload.get("dataCrc32c") else {
        return Ok((data, false));
    };
    let sent = sent
        .as_str()
        .and_then(|text| text.parse::<i64>().ok())
        .or_else(|| sent.as_i64());
    if sent != Some(i64::from(crc32c(&data))) {
        return Err(invalid(
            "payload.data_crc32c",
            "The data_crc32c of the payload does not match its data.",
        ));
    }
    Ok((data, true))
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("Secret [{name}] not found."))
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError::new(Code::InvalidArgument, message.clone()).with_field_violation(field, &message)
}

/// CRC-32C (Castagnoli), the checksum Secret Manager keeps with every payload.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests;
