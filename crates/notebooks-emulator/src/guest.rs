//! What an emulated instance knows about itself: the facts its metadata server serves, taken
//! from the instance as the Notebooks API shows it.
//!
//! Compute Engine numbers projects, instances and service accounts; the emulator derives those
//! numbers from the names by hashing, so they are stable across restarts and runs.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use super::ApiVersion;
use super::faults::{fnv1a, splitmix64};

/// The metadata key naming the post-startup script, and the one saying when it runs.
pub const SCRIPT_KEY: &str = "post-startup-script";
pub const BEHAVIOR_KEY: &str = "post-startup-script-behavior";

/// When an instance runs its post-startup script (`post-startup-script-behavior`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptBehavior {
    /// `run_once`, the default: after creation only.
    RunOnce,
    /// `run_every_start`: the script fetched at creation, on every start.
    RunEveryStart,
    /// `download_and_run_every_start`: fetched again before every start.
    DownloadAndRunEveryStart,
}

impl ScriptBehavior {
    /// Unknown values read as the default, as Workbench treats them.
    pub fn parse(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("run_every_start") => ScriptBehavior::RunEveryStart,
            Some("download_and_run_every_start") => ScriptBehavior::DownloadAndRunEveryStart,
            _ => ScriptBehavior::RunOnce,
        }
    }
}

/// One instance, as its guest sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Guest {
    /// The Notebooks resource name, `projects/P/locations/ZONE/instances/ID`.
    pub resource: String,
    pub name: String,
    pub id: u64,
    pub project_id: String,
    pub project_number: u64,
    pub zone: String,
    pub service_account: String,
    /// The service account's numeric unique id (`sub` and `azp` of its identity tokens).
    pub account_id: String,
    pub created: Timestamp,
    pub attributes: BTreeMap<String, String>,
}

/// A number of `digits` digits (≤ 19) derived from `text`.
fn number(text: &str, digits: u32) -> u64 {
    let low = 10u64.pow(digits - 1);
    low + splitmix64(fnv1a(text)) % (9 * low)
}

impl Guest {
    /// Reads the instance rendered by the Notebooks API (`GET`), of either version.
    pub fn from_instance(version: ApiVersion, instance: &Value) -> Option<Self> {
        let resource = instance["name"].as_str()?.to_owned();
        let mut parts = resource.split('/');
        let (Some("projects"), Some(project), Some("locations"), Some(zone)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let name = resource.rsplit('/').next()?.to_owned();
        let project_number = number(project, 12);
        let strings = |value: &Value| -> BTreeMap<String, String> {
            value
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        };
        let (mut attributes, account) = match version {
            ApiVersion::V2 => (
                strings(&instance["gceSetup"]["metadata"]),
                instance["gceSetup"]["serviceAccounts"][0]["email"].as_str(),
            ),
            ApiVersion::V1 => (
                strings(&instance["metadata"]),
                instance["serviceAccount"].as_str(),
            ),
        };
        if let Some(script) = instance["postStartupScript"].as_str() {
            attributes
                .entry(SCRIPT_KEY.to_owned())
                .or_insert_with(|| script.to_owned());
        }
        let service_account = account.filter(|email| !email.is_empty()).map_or_else(
            || format!("{project_number}-compute@developer.gserviceaccount.com"),
            str::to_owned,
        );
        let account_id = format!("1{:020}", number(&service_account, 19));
        let uid = instance["id"].as_str().unwrap_or(&resource);
        Some(Self {
            id: number(uid, 19),
            name,
            project_id: project.to_owned(),
            project_number,
            zone: zone.to_owned(),
            account_id,
            service_account,
            created: instance["createTime"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(Timestamp::UNIX_EPOCH),
            attributes,
            resource,
        })
    }

    pub fn script_behavior(&self) -> ScriptBehavior {
        ScriptBehavior::parse(self.attributes.get(BEHAVIOR_KEY).map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_v2_instance_knows_its_names_numbers_and_metadata() {
        let instance = json!({
            "name": "projects/demo/locations/us-central1-a/instances/nb",
            "id": "0b6f…",
            "createTime": "2026-01-01T00:00:00Z",
            "gceSetup": {
                "metadata": {SCRIPT_KEY: "gs://b/s.sh", BEHAVIOR_KEY: "run_every_start"},
                "serviceAccounts": [{"email": "runner@demo.iam.gserviceaccount.com"}],
            },
        });
        let guest = Guest::from_instance(ApiVersion::V2, &instance).unwrap();
        assert_eq!(guest.name, "nb");
        assert_eq!(guest.zone, "us-central1-a");
        assert_eq!(guest.project_id, "demo");
        assert_eq!(guest.project_number.to_string().len(), 12);
        assert!(guest.id >= 10u64.pow(18));
        assert_eq!(guest.account_id.len(), 21);
        assert_eq!(guest.service_account, "runner@demo.iam.gserviceaccount.com");
        assert_eq!(guest.attributes[SCRIPT_KEY], "gs://b/s.sh");
        assert_eq!(guest.script_behavior(), ScriptBehavior::RunEveryStart);
        assert_eq!(Guest::from_instance(ApiVersion::V2, &instance), Some(guest));
    }

    #[test]
    fn without_an_account_the_default_compute_account_is_used() {
        let instance = json!({"name": "projects/demo/locations/z/instances/nb",
                              "postStartupScript": "gs://b/v1.sh"});
        let guest = Guest::from_instance(ApiVersion::V1, &instance).unwrap();
        assert_eq!(
            guest.service_account,
            format!(
                "{}-compute@developer.gserviceaccount.com",
                guest.project_number
            )
        );
        assert_eq!(guest.attributes[SCRIPT_KEY], "gs://b/v1.sh");
        assert_eq!(guest.script_behavior(), ScriptBehavior::RunOnce);
        assert!(Guest::from_instance(ApiVersion::V2, &json!({"name": "nb"})).is_none());
    }
}
