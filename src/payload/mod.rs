//! What a message asks for: a profile, overrides, parameters, or an event.
//!
//! Anything that is not a JSON object (plain text such as `TweetiNoteStartTopic`, an empty
//! Scheduler body, bytes) launches the default profile: the text is only a trigger. In a JSON
//! object, the product's own keys are [`PRODUCT_KEYS`]: `profile` picks a profile, `overrides`
//! sets profile fields, `parameters` sets papermill parameters, `action` asks for something
//! other than a launch and `dry_run` for a launch that creates nothing. Fields and parameters
//! are only what `ALLOWED_OVERRIDES` (and `ALLOWED_PARAMETERS`) allow, so whoever can publish
//! to the topic cannot choose the image, the service account, the network or the script
//! unless the deployment explicitly lets them.
//!
//! Two things stay out of a message's reach even when the policy lists their field: the
//! instance metadata keys that Compute Engine, Workbench and the runner give a meaning to
//! (`startup-script`, `ssh-keys`, `proxy-mode`, … see [`crate::profile::RESERVED_KEYS`]:
//! setting one would run code on the VM or decide who logs in), and parameter names starting
//! with `__`, which would rebind Python's own names in the notebook. Both are refused with 400
//! naming the key or the name, before the profile is even looked up. The profile's `secrets`
//! cannot even be listed in `ALLOWED_OVERRIDES` (see `policy`).
//!
//! Profile fields at the top level (`{"machine_type": "…"}`) are overrides too, when every
//! other key is the product's. An object with any other key is an **event** (a web app's
//! `{"upload": "gs://b/new.csv"}`): the whole object reaches the notebook as the parameter
//! `event`, as data, and only the product's keys in it are read.

mod policy;

use serde_json::{Map, Value};

pub use policy::{DRY_RUN, OverridePolicy};

use crate::json_depth::{self, MAX_JSON_DEPTH};
use crate::profile::{Field, Fields, MAX_PARAMETERS_BYTES, check_parameter_name, reserved_key};
use crate::push::Data;

/// The top-level keys the product reads; any other key that is not a profile field makes the
/// object an event.
pub const PRODUCT_KEYS: [&str; 5] = ["profile", "overrides", "parameters", "action", "dry_run"];

/// What a message asks for instead of a launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Look for instances whose runs ended without cleanup.
    Reap,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reap => "reap",
        }
    }
}

/// What the message asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchRequest {
    /// `None` selects the default profile.
    pub profile: Option<String>,
    /// Fields over the profile's; `overrides.parameters` are the message's parameters.
    pub overrides: Fields,
    /// The whole object, when it is an event: the notebook's `event` parameter.
    pub event: Option<Value>,
    pub action: Option<Action>,
    /// Build the create request and answer with it, creating nothing.
    pub dry_run: bool,
}

/// A payload refused by policy or by form: answered 400, so it ends in the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the payload starts like a JSON object but is not valid JSON: {0}")]
    BrokenJson(String),
    #[error("field `{field}`: {reason}")]
    BadField { field: String, reason: String },
    #[error("field `{field}` is not in ALLOWED_OVERRIDES (allowed: {allowed})")]
    NotAllowed { field: Field, allowed: String },
    #[error("field `container_image`: `{image}` is not under ALLOWED_IMAGE_PREFIXES ({prefixes})")]
    ImageNotAllowed { image: String, prefixes: String },
    /// A metadata key that Compute Engine, Workbench or the runner reads: never a message's.
    #[error("metadata key `{key}` cannot be set by a message: {reason}")]
    ReservedMetadata { key: String, reason: String },
    /// A name no profile may use either (`__builtins__`, `class`, `a-b`); the reason names it,
    /// worded as the same name in a profile is.
    #[error("field `parameters`: {reason}")]
    BadParameter { name: String, reason: String },
    #[error("parameter `{name}` is not in ALLOWED_PARAMETERS (allowed: {allowed})")]
    ParameterNotAllowed { name: String, allowed: String },
    #[error("the parameters take {size} bytes as JSON; at most {limit} are accepted")]
    ParametersTooLarge { size: usize, limit: usize },
    #[error("dry_run is not in ALLOWED_OVERRIDES")]
    DryRunNotAllowed,
    /// A well-formed action that the launch path does not carry out.
    #[error("action `{}` is not carried out by a launch", .0.as_str())]
    NotALaunch(Action),
    #[error("the payload nests JSON deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
}

/// Reads the payload. A JSON object is a request; anything else launches the default profile.
///
/// # Errors
/// [`PayloadError`] naming the field at fault.
pub fn parse(data: &Data, policy: &OverridePolicy) -> Result<LaunchRequest, PayloadError> {
    let text = match data {
        Data::Text(text) if text.trim_start().starts_with('{') => text,
        Data::Absent | Data::Text(_) | Data::Bytes(_) => return Ok(LaunchRequest::default()),
    };
    if json_depth::exceeds(text.as_bytes(), MAX_JSON_DEPTH) {
        return Err(PayloadError::TooDeep);
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| PayloadError::BrokenJson(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Ok(LaunchRequest::default());
    };
    let is_event = object
        .keys()
        .any(|key| !PRODUCT_KEYS.contains(&key.as_str()) && Field::from_name(key).is_none());
    let event = is_event.then(|| Value::Object(object.clone()));
    let profile = match object.remove("profile") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(other) => return Err(bad("profile", "a profile name (string)", &other)),
    };
    let action = match object.remove("action") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if name == Action::Reap.as_str() => Some(Action::Reap),
        Some(Value::String(name)) => {
            return Err(PayloadError::BadField {
                field: "action".into(),
                reason: format!("`{name}` is not an action (reap)"),
            });
        }
        Some(other) => return Err(bad("action", "an action name (string)", &other)),
    };
    let dry_run = match object.remove("dry_run") {
        None | Some(Value::Null | Value::Bool(false)) => false,
        Some(Value::Bool(true)) if policy.dry_run => true,
        Some(Value::Bool(true)) => return Err(PayloadError::DryRunNotAllowed),
        Some(other) => return Err(bad("dry_run", "true or false", &other)),
    };
    let nested = match object.remove("overrides") {
        None | Some(Value::Null) => Fields::default(),
        Some(Value::Object(fields)) => fields_of(fields, "overrides.")?,
        Some(other) => return Err(bad("overrides", "an object of profile fields", &other)),
    };
    let top = if is_event {
        let parameters = object.remove("parameters");
        fields_of(
            Map::from_iter(parameters.map(|p| ("parameters".to_owned(), p))),
            "",
        )?
    } else {
        fields_of(object, "")?
    };
    if let Some(field) = top
        .present()
        .into_iter()
        .find(|f| nested.present().contains(f))
    {
        return Err(PayloadError::BadField {
            field: field.name().to_owned(),
            reason: "is set both at the top level and in `overrides`: set it once".to_owned(),
        });
    }
    let overrides = top.overlay(&nested);
    check_policy(&overrides, policy)?;
    Ok(LaunchRequest {
        profile,
        overrides,
        event,
        action,
        dry_run,
    })
}

/// Profile fields, strictly: an unknown or mistyped one is named with its path.
fn fields_of(object: Map<String, Value>, path: &str) -> Result<Fields, PayloadError> {
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|error| {
        let at = error.path().to_string();
        let reason = error.into_inner().to_string();
        let field = if at == "." {
            unknown_field(&reason)
        } else {
            at
        };
        PayloadError::BadField {
            field: format!("{path}{field}"),
            reason,
        }
    })
}

/// The fields, the image, the metadata keys and the parameters a message sets, against the
/// deployment's policy and against what no policy lets a message set.
fn check_policy(overrides: &Fields, policy: &OverridePolicy) -> Result<(), PayloadError> {
    if let Some(field) = overrides.present().into_iter().find(|f| !policy.allows(*f)) {
        let allowed: Vec<&str> = policy.allowed().map(Field::name).collect();
        return Err(PayloadError::NotAllowed {
            field,
            allowed: if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            },
        });
    }
    if let Some(image) = &overrides.container_image
        && !policy.image_allowed(image)
    {
        return Err(PayloadError::ImageNotAllowed {
            image: image.clone(),
            prefixes: policy.image_prefixes.join(", "),
        });
    }
    if let Some(metadata) = &overrides.metadata
        && let Some((key, reserved)) = metadata
            .keys()
            .find_map(|key| reserved_key(key).map(|reserved| (key, reserved)))
    {
        return Err(PayloadError::ReservedMetadata {
            key: key.escape_debug().to_string(),
            reason: reserved.why(),
        });
    }
    if let Some(parameters) = &overrides.parameters {
        if let Some((name, reason)) = parameters
            .keys()
            .find_map(|name| check_parameter_name(name).err().map(|e| (name, e)))
        {
            return Err(PayloadError::BadParameter {
                name: name.escape_debug().to_string(),
                reason,
            });
        }
        if let Some(names) = &policy.parameter_names
            && let Some(name) = parameters.keys().find(|name| !names.contains(*name))
        {
            return Err(PayloadError::ParameterNotAllowed {
                name: name.escape_debug().to_string(),
                allowed: names.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        let size = Value::Object(parameters.clone()).to_string().len();
        if size > MAX_PARAMETERS_BYTES {
            return Err(PayloadError::ParametersTooLarge {
                size,
                limit: MAX_PARAMETERS_BYTES,
            });
        }
    }
    Ok(())
}

fn bad(field: &str, expected: &str, got: &Value) -> PayloadError {
    PayloadError::BadField {
        field: field.to_owned(),
        reason: format!("expected {expected}, got {}", kind(got)),
    }
}

/// serde's `deny_unknown_fields` message is "unknown field `x`, expected one of …".
fn unknown_field(reason: &str) -> String {
    reason
        .split('`')
        .nth(1)
        .map_or_else(|| "(payload)".to_owned(), str::to_owned)
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
