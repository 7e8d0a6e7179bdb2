//! Wire shapes of the Notebooks API: `google.longrunning.Operation`, `google.rpc.Status`,
//! the error body, and the part of `Instance` the service reads back.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

pub use notebooks_wire::Code;

/// `google.rpc.Status`, as an operation's `error` or inside an HTTP error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub message: String,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[derive(Debug, Clone, Deserialize)]
struct WireStatus {
    #[serde(default)]
    code: i32,
    #[serde(default)]
    message: String,
    status: Option<String>,
}

impl WireStatus {
    fn into_status(self, http: Option<u16>) -> Status {
        let code = self
            .status
            .as_deref()
            .and_then(Code::from_name)
            .or_else(|| (self.code != 0 && http.is_none()).then(|| Code::from_number(self.code)))
            .or_else(|| http.map(Code::from_http))
            .unwrap_or(Code::Unknown);
        Status {
            code,
            message: self.message,
        }
    }
}

/// Parses an HTTP error body (`{"error":{"code","message","status"}}`), falling back to the
/// HTTP status and the raw text when the body is not Google's shape (a proxy's 502 page, say).
pub fn error_status(http: u16, body: &str) -> Status {
    #[derive(Deserialize)]
    struct Envelope {
        error: WireStatus,
    }
    match serde_json::from_str::<Envelope>(body) {
        Ok(envelope) => envelope.error.into_status(Some(http)),
        Err(_) => Status {
            code: Code::from_http(http),
            message: body.chars().take(300).collect::<String>().trim().to_owned(),
        },
    }
}

/// `google.longrunning.Operation`.
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    pub name: String,
    #[serde(default)]
    pub done: bool,
    error: Option<WireStatus>,
    response: Option<serde_json::Value>,
}

/// What a finished operation says.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Response(serde_json::Value),
    Error(Status),
}

/// A done operation with neither or both of `response` and `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("operation {0} is done but carries {1}")]
pub struct MalformedOperation(pub String, pub &'static str);

impl Operation {
    /// The error code of a done, failed operation.
    pub fn error_code(&self) -> Option<Code> {
        match (&self.done, &self.error) {
            (true, Some(error)) => Some(error.clone().into_status(None).code),
            _ => None,
        }
    }

    /// `None` while running; the outcome once done.
    ///
    /// # Errors
    /// [`MalformedOperation`] when a done operation does not carry exactly one outcome.
    pub fn outcome(self) -> Result<Option<Finished>, MalformedOperation> {
        if !self.done {
            return Ok(None);
        }
        match (self.response, self.error) {
            (Some(response), None) => Ok(Some(Finished::Response(response))),
            (None, Some(error)) => Ok(Some(Finished::Error(error.into_status(None)))),
            (None, None) => Err(MalformedOperation(self.name, "neither response nor error")),
            (Some(_), Some(_)) => Err(MalformedOperation(self.name, "both response and error")),
        }
    }
}

/// The part of an instance the service reads back.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub name: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub create_time: Option<jiff::Timestamp>,
    /// When the instance last changed (a stop sets it).
    #[serde(default)]
    pub update_time: Option<jiff::Timestamp>,
    /// v2: where the metadata and the service account are.
    #[serde(default)]
    pub gce_setup: GceSetup,
    /// v1: the metadata at the top level.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// v1: the service account at the top level.
    #[serde(default)]
    pub service_account: Option<String>,
}

/// The part of v2's `gceSetup` the service reads back.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GceSetup {
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccount>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ServiceAccount {
    #[serde(default)]
    pub email: String,
}

/// One page of `instances.list`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstancePage {
    #[serde(default)]
    pub instances: Vec<Instance>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

impl Instance {
    /// One metadata value, wherever the instance's API version keeps it.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.gce_setup
            .metadata
            .get(key)
            .or_else(|| self.metadata.get(key))
            .map(String::as_str)
    }

    /// The service account the VM runs as, when the API names one.
    pub fn service_account(&self) -> Option<&str> {
        self.gce_setup
            .service_accounts
            .first()
            .map(|a| a.email.as_str())
            .or(self.service_account.as_deref())
            .filter(|email| !email.is_empty())
    }

    /// `(project, zone, id)` of `projects/P/locations/Z/instances/I`.
    pub fn name_parts(&self) -> Option<(&str, &str, &str)> {
        match self.name.split('/').collect::<Vec<_>>()[..] {
            ["projects", project, "locations", zone, "instances", id] => Some((project, zone, id)),
            _ => None,
        }
    }

    /// Whether an instance in `state` is running or on its way to it: what the reaper holds
    /// to a run's time limit, and what a history shows as a run still going.
    pub fn is_up(state: &str) -> bool {
        matches!(
            state,
            "ACTIVE" | "PROVISIONING" | "STARTING" | "INITIALIZING"
        )
    }

    /// States from which the instance will not become ACTIVE without someone acting.
    pub fn is_settled(&self) -> bool {
        matches!(
            self.state.as_deref(),
            Some("ACTIVE" | "STOPPED" | "SUSPENDED" | "DELETED" | "ORPHANED")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_operation_needs_exactly_one_outcome() {
        let op = |json: &str| serde_json::from_str::<Operation>(json).unwrap().outcome();
        assert_eq!(op(r#"{"name":"o","done":false}"#), Ok(None));
        assert_eq!(op(r#"{"name":"o"}"#), Ok(None));
        assert!(matches!(
            op(r#"{"name":"o","done":true,"response":{}}"#),
            Ok(Some(Finished::Response(_)))
        ));
        assert_eq!(
            op(r#"{"name":"o","done":true,"error":{"code":8,"message":"quota"}}"#),
            Ok(Some(Finished::Error(Status {
                code: Code::ResourceExhausted,
                message: "quota".into()
            })))
        );
        assert!(op(r#"{"name":"o","done":true}"#).is_err());
        assert!(op(r#"{"name":"o","done":true,"response":{},"error":{"code":1}}"#).is_err());
    }

    #[test]
    fn an_instance_tells_its_metadata_account_and_name_in_either_version() {
        let v2: Instance = serde_json::from_value(serde_json::json!({
            "name": "projects/p/locations/z/instances/i",
            "createTime": "2026-12-01T10:00:00Z",
            "gceSetup": {"metadata": {"k": "v2"}, "serviceAccounts": [{"email": "a@p.iam"}]},
        }))
        .unwrap();
        assert_eq!(v2.metadata_value("k"), Some("v2"));
        assert_eq!(v2.service_account(), Some("a@p.iam"));
        assert_eq!(v2.name_parts(), Some(("p", "z", "i")));
        assert!(v2.create_time.is_some() && v2.update_time.is_none());
        let v1: Instance = serde_json::from_value(serde_json::json!({
            "name": "projects/p/instances/i",
            "metadata": {"k": "v1"}, "serviceAccount": "",
        }))
        .unwrap();
        assert_eq!(v1.metadata_value("k"), Some("v1"));
        assert_eq!(v1.service_account(), None);
        assert_eq!(v1.name_parts(), None);
    }

    #[test]
    fn error_bodies_prefer_the_status_name_then_the_http_code() {
        let body = r#"{"error":{"code":409,"message":"exists","status":"ALREADY_EXISTS"}}"#;
        assert_eq!(error_status(409, body).code, Code::AlreadyExists);
        assert_eq!(
            error_status(503, "<html>bad gateway</html>").code,
            Code::Unavailable
        );
        assert_eq!(
            error_status(429, r#"{"error":{"code":429,"message":"slow down"}}"#).code,
            Code::ResourceExhausted
        );
    }
}
