//! `instances.patch`: which fields an update mask may name, and what the update does.
//!
//! The fields come from the discovery document's own description of `updateMask` ("Updatable
//! fields: * `labels` * `gce_setup.metadata` …"), so the emulator allows exactly what the
//! published API documents. Each path in the mask copies that field from the request into the
//! instance, or clears it when the request leaves it out (AIP-134).

use serde_json::{Map, Value};

use super::lifecycle::Verb;
use super::request::{json_body, query_value};
use super::schema::{Discovery, snake_case};
use super::status::{ApiError, Code};
use super::transitions::transition;
use super::{ApiVersion, EmulatorState};

/// Fields that may only be set to `true` by an update (the description's "one-way" note).
const ONE_WAY: &[&str] = &["gce_setup.disable_public_ip", "disable_proxy_access"];

/// The paths the description of `updateMask` lists, in proto spelling.
fn updatable(api: &Discovery) -> Vec<String> {
    let description = api
        .method_named("instances", "patch")
        .and_then(|method| method.parameter("updateMask"))
        .and_then(|spec| spec["description"].as_str())
        .unwrap_or_default();
    let list = description
        .split_once("Updatable fields:")
        .map_or("", |(_, rest)| rest);
    let list = list.split("Note:").next().unwrap_or_default();
    list.split('*')
        .filter_map(|item| item.trim().strip_prefix('`')?.strip_suffix('`'))
        .map(str::to_owned)
        .collect()
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::new(Code::InvalidArgument, message.clone()).with_field_violation(field, &message)
}

/// The mask's paths in proto spelling (clients send the JSON spelling of a `FieldMask`), each
/// one of `updatable`.
fn mask(text: Option<&str>, updatable: &[String]) -> Result<Vec<String>, ApiError> {
    let paths: Vec<String> = text
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|path| !path.is_empty())
        .map(snake_case)
        .collect();
    if paths.is_empty() {
        return Err(invalid(
            "update_mask",
            "Field 'update_mask' is required.".to_owned(),
        ));
    }
    if let Some(path) = paths.iter().find(|path| !updatable.contains(path)) {
        return Err(invalid(
            "update_mask",
            format!(
                "Invalid update_mask path \"{path}\": updatable fields are {}.",
                updatable.join(", ")
            ),
        ));
    }
    Ok(paths)
}

/// The JSON spelling of a proto path: `gce_setup.machine_type` → `gceSetup`, `machineType`.
fn json_path(path: &str, api: &Discovery) -> Vec<String> {
    let mut schema = "Instance".to_owned();
    let mut out = Vec::new();
    for part in path.split('.') {
        let Some((name, spec)) = api.property(&schema, part) else {
            out.push(part.to_owned());
            continue;
        };
        let element = if spec["type"] == "array" {
            &spec["items"]
        } else {
            spec
        };
        schema = element["$ref"].as_str().unwrap_or_default().to_owned();
        out.push(name);
    }
    out
}

fn lookup<'v>(body: &'v Map<String, Value>, path: &[String]) -> Option<&'v Value> {
    let (first, rest) = path.split_first()?;
    let value = body.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    lookup(value.as_object()?, rest)
}

/// Copies field `path` of `source` into `target`, or removes it when `source` has none. A path
/// through a repeated field (`gce_setup.accelerator_configs.type`) replaces the whole list.
fn copy(target: &mut Map<String, Value>, source: &Map<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match (source.get(first), rest.is_empty()) {
        (Some(Value::Object(inner)), false) => {
            let entry = target
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Some(entry) = entry.as_object_mut() {
                copy(entry, inner, rest);
            }
        }
        (None, false) => match target.get_mut(first) {
            Some(Value::Object(entry)) => copy(entry, &Map::new(), rest),
            _ => {
                target.remove(first);
            }
        },
        (Some(value), _) => {
            target.insert(first.clone(), value.clone());
        }
        (None, true) => {
            target.remove(first);
        }
    }
}

/// # Errors
/// INVALID_ARGUMENT for a missing or unknown mask path, a request that turns a one-way field
/// back to `false` or a container image without repository; NOT_FOUND; FAILED_PRECONDITION
/// while another operation runs.
pub fn patch(
    state: &EmulatorState,
    api: &Discovery,
    version: ApiVersion,
    name: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Value, ApiError> {
    api.check_query("instances", "patch", query)?;
    let request = api.check_body("Instance", "instance", &json_body(body)?)?;
    let paths = mask(query_value(query, "updateMask"), &updatable(api))?;
    let mut copies = Vec::with_capacity(paths.len());
    for path in &paths {
        let json = json_path(path, api);
        let value = lookup(&request, &json);
        if ONE_WAY.contains(&path.as_str()) && value != Some(&Value::Bool(true)) {
            return Err(invalid(
                &format!("instance.{path}"),
                format!("{path} can only be set to true by an update."),
            ));
        }
        if path.starts_with("gce_setup.container_image")
            && lookup(
                &request,
                &json_path("gce_setup.container_image.repository", api),
            )
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(invalid(
                "instance.gce_setup.container_image.repository",
                "Field 'instance.gce_setup.container_image.repository' is required when a container image is set."
                    .to_owned(),
            ));
        }
        copies.push(json);
    }
    let request_id = query_value(query, "requestId").map(str::to_owned);
    let change = |body: &mut Map<String, Value>| {
        for path in &copies {
            copy(body, &request, path);
        }
    };
    Ok(state.0.store.update(
        version,
        name,
        request_id,
        change,
        transition(state, Verb::Update, name),
    )?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::discovery;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_updatable_fields_are_those_the_document_lists() {
        let updatable = updatable(discovery(ApiVersion::V2));
        assert!(updatable.len() >= 20, "{updatable:?}");
        for path in [
            "labels",
            "gce_setup.metadata",
            "gce_setup.machine_type",
            "disable_proxy_access",
        ] {
            assert!(updatable.iter().any(|p| p == path), "{path}");
        }
        assert!(!updatable.iter().any(|p| p.contains(' ') || p.contains('`')));
        assert_eq!(
            mask(Some("labels, gceSetup.machineType"), &updatable).unwrap(),
            ["labels", "gce_setup.machine_type"]
        );
        for bad in [
            None,
            Some(""),
            Some("name"),
            Some("gce_setup.boot_disk"),
            Some("*"),
        ] {
            assert_eq!(
                mask(bad, &updatable).unwrap_err().code,
                Code::InvalidArgument,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn each_path_is_copied_or_cleared() {
        let api = discovery(ApiVersion::V2);
        let mut stored = object(json!({
            "labels": {"a": "1"},
            "gceSetup": {"machineType": "m1", "metadata": {"k": "v"},
                         "acceleratorConfigs": [{"type": "NVIDIA_L4", "coreCount": "1"}]},
        }));
        let request = object(json!({
            "labels": {"b": "2"},
            "gceSetup": {"machineType": "m2", "acceleratorConfigs": [{"type": "NVIDIA_TESLA_T4"}]},
        }));
        for path in [
            "labels",
            "gce_setup.machine_type",
            "gce_setup.metadata",
            "gce_setup.accelerator_configs.type",
            "gce_setup.shielded_instance_config.enable_vtpm",
        ] {
            copy(&mut stored, &request, &json_path(path, api));
        }
        assert_eq!(
            Value::Object(stored),
            json!({
                "labels": {"b": "2"},
                "gceSetup": {"machineType": "m2", "acceleratorConfigs": [{"type": "NVIDIA_TESLA_T4"}]},
            })
        );
    }
}
