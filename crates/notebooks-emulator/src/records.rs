//! The stored form of instances and operations, and how the API renders them.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::ApiVersion;
use super::lifecycle::{Pending, Settle, Verb};
use super::status::Code;

/// An instance as stored: its state as of the last settled operation, and the pending one.
#[derive(Clone, Debug)]
pub struct InstanceRecord {
    pub version: ApiVersion,
    pub name: String,
    pub uid: String,
    pub body: Map<String, Value>,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
    pub state: &'static str,
    pub pending: Option<Pending>,
}

impl InstanceRecord {
    /// Applies a finished operation; `false` if the instance no longer exists.
    pub fn settle(&mut self, now: Timestamp) -> bool {
        let Some(pending) = self.pending.as_ref().filter(|p| p.until <= now) else {
            return true;
        };
        let (until, then) = (pending.until, pending.then);
        self.pending = None;
        match then {
            Settle::Become(state) => {
                self.state = state;
                self.update_time = until;
                true
            }
            Settle::Stay => true,
            Settle::Vanish => false,
        }
    }

    pub fn shown_state(&self) -> &'static str {
        self.pending.as_ref().map_or(self.state, |p| p.shown)
    }

    /// The instance as the API shows it, in `state` as of `update_time`.
    pub fn render(&self, state: &str, update_time: Timestamp) -> Value {
        let mut out = self.body.clone();
        let mut put = |key: &str, value: Value| {
            out.insert(key.to_owned(), value);
        };
        put("name", json!(self.name));
        put("state", json!(state));
        put("createTime", json!(self.create_time.to_string()));
        put("updateTime", json!(update_time.to_string()));
        put("creator", json!(CREATOR));
        if self.version == ApiVersion::V2 {
            put("id", json!(self.uid));
            put(
                "healthState",
                json!(if state == "ACTIVE" {
                    "HEALTHY"
                } else {
                    "HEALTH_STATE_UNSPECIFIED"
                }),
            );
        }
        if state == "ACTIVE" {
            put(
                "proxyUri",
                json!(format!(
                    "{}-dot-emulator.notebooks.googleusercontent.com",
                    self.uid
                )),
            );
        }
        Value::Object(out)
    }

    pub fn view(&self) -> Value {
        self.render(self.shown_state(), self.update_time)
    }
}

/// The identity the emulator reports as `creator` (it checks no credentials).
pub const CREATOR: &str = "emulator-user@notebook-trigger.invalid";

/// A long-running operation; its outcome is fixed when it starts and shown once it is done.
#[derive(Clone, Debug)]
pub struct OperationRecord {
    pub version: ApiVersion,
    pub name: String,
    pub verb: Verb,
    pub target: String,
    pub create_time: Timestamp,
    pub end_time: Timestamp,
    /// The response (with `@type`) or the `google.rpc.Status`.
    pub outcome: Result<Value, Value>,
}

impl OperationRecord {
    /// Only `operations.cancel` ends an operation with `CANCELLED`.
    fn cancelled(&self) -> bool {
        matches!(&self.outcome, Err(status) if status["code"] == Code::Cancelled.number())
    }

    pub fn render(&self, now: Timestamp) -> Value {
        let done = self.end_time <= now;
        let mut metadata = json!({
            "@type": super::type_url(self.version, "OperationMetadata"),
            "createTime": self.create_time.to_string(),
            "target": self.target,
            "verb": self.verb.as_str(),
            "requestedCancellation": self.cancelled(),
            "apiVersion": self.version.as_str(),
        });
        let mut operation = json!({"name": self.name, "done": done});
        if done {
            metadata["endTime"] = json!(self.end_time.to_string());
            match &self.outcome {
                Ok(response) => operation["response"] = response.clone(),
                Err(status) => operation["error"] = status.clone(),
            }
        }
        operation["metadata"] = metadata;
        operation
    }
}
