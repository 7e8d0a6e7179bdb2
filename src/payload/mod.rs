//! What a message asks for: a profile, overrides, parameters, or an event.
//!
//! The product's own keys are [`PRODUCT_KEYS`]: `profile` picks a profile, `overrides` sets
//! profile fields, `parameters` sets papermill parameters, `action` asks for something other
//! than a launch and `dry_run` for a launch that creates nothing. A message carries them in
//! one of two places, never both:
//!
//! - **attributes**: when an attribute is named as one of them, the message's data is the
//!   app's alone: a JSON object with keys is the notebook's `event` parameter, whole, whatever
//!   its keys are called (`{"profile": "premium", "action": "upload"}`), and nothing in it is
//!   read (`attributes` reads the values);
//! - **data**: otherwise, a JSON object's top-level keys are read. Profile fields at the top
//!   (`{"machine_type": "…"}`) are overrides too, when every other key is the product's. An
//!   object with any other key is an **event** (a web app's `{"upload": "gs://b/new.csv"}`):
//!   the whole object reaches the notebook as `event`, as data, and only the product's keys in
//!   it are read.
//!
//! Anything else (plain text such as `TweetiNoteStartTopic`, an empty Scheduler body, bytes)
//! launches the default profile, or the attributes' choice: the text is only a trigger. A key
//! that only looks like one of the product's (`paramters`, `Profile`, `dry-run`) is refused
//! rather than taken for an event's and launched without what it meant (`keys`), and a
//! deployment with `MESSAGE_EVENTS=refuse` takes no events at all.
//!
//! Fields and parameters are only what `ALLOWED_OVERRIDES` (and `ALLOWED_PARAMETERS`) allow,
//! wherever they come from, so whoever can publish to the topic cannot choose the image, the
//! service account, the network or the script unless the deployment explicitly lets them.
//! Two things stay out of a message's reach even when the policy lists their field: the
//! instance metadata keys that Compute Engine, Workbench and the runner give a meaning to
//! (`startup-script`, `ssh-keys`, `proxy-mode`, … see [`crate::profile::RESERVED_KEYS`]:
//! setting one would run code on the VM or decide who logs in), and parameter names starting
//! with `__`, which would rebind Python's own names in the notebook. Both are refused with 400
//! naming the key or the name, before the profile is even looked up. The profile's `secrets`
//! cannot even be listed in `ALLOWED_OVERRIDES` (see `policy`).

mod attributes;
mod keys;
mod policy;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub use keys::{PRODUCT_KEYS, Place};
pub use policy::{DRY_RUN, Events, OverridePolicy};

use crate::json_depth::{self, MAX_JSON_DEPTH};
use crate::profile::{Field, Fields};
use crate::push::Data;

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
    /// The app's event, whole: the notebook's `event` parameter.
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
    /// A key that is not the product's but close to one: a typo, or an app's key too like the
    /// product's to be told apart.
    #[error("{}`{key}`: did you mean `{meant}`? {}", place.prefix(), place.near_miss_fix())]
    NearMiss {
        key: String,
        meant: &'static str,
        place: Place,
    },
    /// An attribute of the product's whose text is not what its key takes.
    #[error("attribute `{attribute}`: {reason}")]
    BadAttribute {
        attribute: &'static str,
        reason: String,
    },
    #[error(
        "attribute `{attribute}` is a profile field, which attributes do not carry: set it in the `overrides` attribute, e.g. overrides={{\"{field}\": …}}"
    )]
    FieldAttribute { attribute: String, field: Field },
    /// With `MESSAGE_EVENTS=refuse`, a key that would make the message an event.
    #[error("{}", event_refused(key, *by_attributes))]
    EventRefused { key: String, by_attributes: bool },
}

/// The refusal of an event by a deployment that takes none, naming the key that makes it one.
fn event_refused(key: &str, by_attributes: bool) -> String {
    let fix = if by_attributes {
        "with the product's keys in attributes, the data is an event: send no data, or text"
    } else {
        "send only profile, overrides, parameters, action, dry_run and profile fields"
    };
    format!(
        "key `{key}` makes the message an event, and this deployment takes none (MESSAGE_EVENTS=refuse): {fix}"
    )
}

/// Reads what a message asks for from its data and its attributes.
///
/// # Errors
/// [`PayloadError`] naming the key, attribute or field at fault.
pub fn parse(
    data: &Data,
    attributes: &BTreeMap<String, String>,
    policy: &OverridePolicy,
) -> Result<LaunchRequest, PayloadError> {
    keys::check_attribute_names(attributes)?;
    let object = object_of(data)?;
    if attributes
        .keys()
        .any(|key| PRODUCT_KEYS.contains(&key.as_str()))
    {
        return from_attributes(attributes, object, policy);
    }
    match object {
        Some(object) => from_data(object, policy),
        None => Ok(LaunchRequest::default()),
    }
}

/// A data object that carries the product's keys: read as it is, or, with a key of its own,
/// an event whose product keys are read.
fn from_data(
    object: Map<String, Value>,
    policy: &OverridePolicy,
) -> Result<LaunchRequest, PayloadError> {
    keys::check_data(&object, policy.events)?;
    if object.keys().all(|key| keys::is_read(key)) {
        return read(object, None, policy);
    }
    let product = object
        .iter()
        .filter(|(key, _)| PRODUCT_KEYS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    read(product, Some(Value::Object(object)), policy)
}

/// The data as a JSON object; `None` for anything else, which is only a trigger.
fn object_of(data: &Data) -> Result<Option<Map<String, Value>>, PayloadError> {
    let text = match data {
        Data::Text(text) if text.trim_start().starts_with('{') => text,
        Data::Absent | Data::Text(_) | Data::Bytes(_) => return Ok(None),
    };
    if json_depth::exceeds(text.as_bytes(), MAX_JSON_DEPTH) {
        return Err(PayloadError::TooDeep);
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(object)) => Ok(Some(object)),
        Ok(_) => Ok(None),
        Err(error) => Err(PayloadError::BrokenJson(error.to_string())),
    }
}

/// A message whose attributes carry the product's keys: the data object, if it has keys, is
/// the event, whole.
fn from_attributes(
    attributes: &BTreeMap<String, String>,
    object: Option<Map<String, Value>>,
    policy: &OverridePolicy,
) -> Result<LaunchRequest, PayloadError> {
    keys::refuse_field_attributes(attributes)?;
    let event = object.filter(|object| !object.is_empty());
    if let (Events::Refuse, Some(key)) = (policy.events, event.iter().flat_map(Map::keys).next()) {
        return Err(PayloadError::EventRefused {
            key: key.escape_debug().to_string(),
            by_attributes: true,
        });
    }
    read(
        attributes::product_keys(attributes)?,
        event.map(Value::Object),
        policy,
    )
}

/// The request the product's keys in `object` make, checked against the policy; `event` is
/// carried as it is.
fn read(
    mut object: Map<String, Value>,
    event: Option<Value>,
    policy: &OverridePolicy,
) -> Result<LaunchRequest, PayloadError> {
    let profile = match object.remove("profile") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(other) => return Err(bad("profile", "a profile name (string)", &other)),
    };
    let action = action_of(object.remove("action"))?;
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
    let top = fields_of(object, "")?;
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
    policy::check(&overrides, policy)?;
    Ok(LaunchRequest {
        profile,
        overrides,
        event,
        action,
        dry_run,
    })
}

/// The action a message names, if any.
fn action_of(value: Option<Value>) -> Result<Option<Action>, PayloadError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if name == Action::Reap.as_str() => Ok(Some(Action::Reap)),
        Some(Value::String(name)) => Err(PayloadError::BadField {
            field: "action".into(),
            reason: format!("`{}` is not an action (reap)", name.escape_debug()),
        }),
        Some(other) => Err(bad("action", "an action name (string)", &other)),
    }
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
