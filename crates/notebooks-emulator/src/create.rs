//! `instances.create`: the checks the real API makes before it accepts an instance.

use serde_json::{Map, Value};

use super::lifecycle::Verb;
use super::request::{json_body, query_value};
use super::schema::Discovery;
use super::status::{ApiError, Code};
use super::store::{Creation, RecordedCreate};
use super::transitions::{started, transition};
use super::{ApiVersion, EmulatorState};

const V1_DEPRECATED: &str = "Vertex AI Workbench user-managed notebooks have been deprecated and new \
     instances cannot be created. We recommend using Vertex AI Workbench instances instead.";

/// `^[a-z]([-a-z0-9]*[a-z0-9])?$`, 1 to 63 characters: the documented instance id rule.
pub fn valid_instance_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.last() != Some(&b'-')
}

fn invalid_argument(field: &str, message: String) -> ApiError {
    ApiError::new(Code::InvalidArgument, message.clone()).with_field_violation(field, &message)
}

/// `instances.create`. The order of the checks (the request's shape, then the API version,
/// then the fields a valid shape can still leave out) decides which error a request with
/// several faults gets.
pub fn create(
    state: &EmulatorState,
    api: &Discovery,
    version: ApiVersion,
    parent: String,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Value, ApiError> {
    let instance_id = query_value(query, "instanceId").map(str::to_owned);
    let request_id = query_value(query, "requestId").map(str::to_owned);
    // Before any check, so that tests also see the requests the emulator turned away.
    state.0.store.record_create(RecordedCreate {
        api_version: version,
        parent: parent.clone(),
        instance_id: instance_id.clone(),
        request_id: request_id.clone(),
        body: body.into(),
    });
    api.check_query("instances", "create", query)?;
    let body = api.check_body("Instance", "instance", &json_body(body)?)?;
    refuse_deprecated_v1(state, version)?;
    let instance_id = required_instance_id(instance_id)?;
    check_container_repository(version, &body)?;
    check_v1_machine_type(version, &body)?;
    start_creation(
        state,
        Creation {
            version,
            parent,
            instance_id,
            request_id,
            body,
        },
    )
}

/// Google no longer creates v1 (user-managed) instances; `v1_legacy` emulates the time it did.
fn refuse_deprecated_v1(state: &EmulatorState, version: ApiVersion) -> Result<(), ApiError> {
    if version == ApiVersion::V1 && !state.0.v1_legacy {
        return Err(ApiError::new(Code::FailedPrecondition, V1_DEPRECATED));
    }
    Ok(())
}

/// Discovery calls `instanceId` required only in its prose, which the schema check cannot
/// see; an empty `instanceId=` counts as missing.
fn required_instance_id(instance_id: Option<String>) -> Result<String, ApiError> {
    match instance_id.filter(|id| !id.is_empty()) {
        None => Err(invalid_argument(
            "instance_id",
            "Field 'instance_id' is required.".to_owned(),
        )),
        Some(id) if !valid_instance_id(&id) => Err(invalid_argument(
            "instance_id",
            format!(
                "Invalid instance_id \"{id}\": it must be 1 to 63 characters long, start with a lowercase \
                 letter, contain only lowercase letters, digits and hyphens, and not end with a hyphen."
            ),
        )),
        Some(id) => Ok(id),
    }
}

/// Discovery calls a container image's repository required only in its prose, which the
/// schema check cannot see. The image sits on the instance in v1 and under `gceSetup` in v2,
/// and the error names the path where the client put it.
fn check_container_repository(
    version: ApiVersion,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    let (setup, setup_path) = match version {
        ApiVersion::V1 => (Some(body), "instance"),
        ApiVersion::V2 => (
            body.get("gceSetup").and_then(Value::as_object),
            "instance.gce_setup",
        ),
    };
    if let Some(image) = setup.and_then(|setup| setup.get("containerImage")) {
        if image["repository"].as_str().is_none_or(str::is_empty) {
            let field = format!("{setup_path}.container_image.repository");
            return Err(invalid_argument(
                &field,
                format!("Field '{field}' is required when a container image is set."),
            ));
        }
    }
    Ok(())
}

/// v1 requires a machine type, v2 makes it optional; discovery says so only in its prose,
/// which the schema check cannot see.
fn check_v1_machine_type(version: ApiVersion, body: &Map<String, Value>) -> Result<(), ApiError> {
    if version == ApiVersion::V1
        && body
            .get("machineType")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return Err(invalid_argument(
            "instance.machine_type",
            "Field 'instance.machine_type' is required.".to_owned(),
        ));
    }
    Ok(())
}

/// Called only once every check has passed, so a rejected create leaves neither an instance
/// nor an operation behind.
fn start_creation(state: &EmulatorState, creation: Creation) -> Result<Value, ApiError> {
    let version = creation.version;
    let name = format!("{}/instances/{}", creation.parent, creation.instance_id);
    let transition = transition(state, Verb::Create, &name);
    let fails = transition.failure.is_some();
    let accepted = state.0.store.create(creation, transition)?;
    Ok(started(
        state,
        version,
        &name,
        Verb::Create,
        fails,
        accepted,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_id_rules() {
        for good in ["a", "nb-1", "notetweeti", &"a".repeat(63)] {
            assert!(valid_instance_id(good), "{good}");
        }
        for bad in ["", "1abc", "-a", "a-", "Abc", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!valid_instance_id(bad), "{bad}");
        }
    }
}
