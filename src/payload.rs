//! What a message asks for: a profile and, where the deployment allows it, overrides.
//!
//! Anything that is not a JSON object (plain text such as `TweetiNoteStartTopic`, an empty
//! Scheduler body, bytes) launches the default profile: the text is only a trigger. A JSON
//! object may pick a profile and override fields, but only those in `ALLOWED_OVERRIDES`, so
//! whoever can publish to the topic cannot choose the image, the service account, the network
//! or the script unless the deployment explicitly lets them.

use std::collections::BTreeSet;

use crate::json_depth::{self, MAX_JSON_DEPTH};
use crate::profile::{Field, Fields};
use crate::push::Data;

/// Which fields a message may set. Empty by default: messages only trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverridePolicy {
    allowed: BTreeSet<Field>,
    /// Where an overridden `container_image` may come from (`ALLOWED_IMAGE_PREFIXES`).
    image_prefixes: Vec<String>,
}

impl OverridePolicy {
    /// Parses `ALLOWED_OVERRIDES` (`machine_type,labels`).
    ///
    /// # Errors
    /// A message naming the unknown field and listing the valid names.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut allowed = BTreeSet::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let field = Field::from_name(name).ok_or_else(|| {
                format!(
                    "`{name}` is not a field; expected a comma-separated list of: {}",
                    Field::ALL.map(Field::name).join(", ")
                )
            })?;
            allowed.insert(field);
        }
        Ok(Self {
            allowed,
            image_prefixes: Vec::new(),
        })
    }

    /// Adds `ALLOWED_IMAGE_PREFIXES` (`europe-docker.pkg.dev/PROJECT/REPO/,gcr.io/PROJECT/`).
    ///
    /// Each prefix must end with `/`, so that `gcr.io/team/` does not also admit
    /// `gcr.io/team-evil/…`. A policy that allows `container_image` needs at least one.
    ///
    /// # Errors
    /// A message naming the bad prefix, or saying that one is needed.
    pub fn with_image_prefixes(mut self, text: &str) -> Result<Self, String> {
        for prefix in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let segments: Vec<&str> = prefix.strip_suffix('/').unwrap_or("").split('/').collect();
            let path_has_port = segments.iter().skip(1).any(|s| s.contains(':'));
            if segments
                .iter()
                .any(|s| s.is_empty() || *s == "." || *s == "..")
                || path_has_port
                || prefix.contains('@')
                || prefix.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(format!(
                    "`{prefix}` is not an image prefix: expected a registry path ending with `/`, e.g. europe-docker.pkg.dev/PROJECT/REPO/"
                ));
            }
            self.image_prefixes.push(prefix.to_owned());
        }
        if self.allows(Field::ContainerImage) && self.image_prefixes.is_empty() {
            return Err(
                "is required when ALLOWED_OVERRIDES lists container_image: name the registries a message may take images from".to_owned(),
            );
        }
        Ok(self)
    }

    /// Whether a message may name this image.
    fn image_allowed(&self, image: &str) -> bool {
        !image
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
            && self
                .image_prefixes
                .iter()
                .any(|prefix| image.starts_with(prefix.as_str()) && image.len() > prefix.len())
    }

    pub fn allows(&self, field: Field) -> bool {
        self.allowed.contains(&field)
    }

    pub fn allowed(&self) -> impl Iterator<Item = Field> + '_ {
        self.allowed.iter().copied()
    }
}

/// What the message asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchRequest {
    /// `None` selects the default profile.
    pub profile: Option<String>,
    pub overrides: Fields,
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
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| PayloadError::BrokenJson(e.to_string()))?;
    let serde_json::Value::Object(mut object) = value else {
        return Ok(LaunchRequest::default());
    };
    let profile = match object.remove("profile") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(name)) => Some(name),
        Some(other) => {
            return Err(PayloadError::BadField {
                field: "profile".into(),
                reason: format!("expected a profile name (string), got {}", kind(&other)),
            });
        }
    };
    let overrides: Fields = serde_path_to_error::deserialize(serde_json::Value::Object(object))
        .map_err(|error| {
            let path = error.path().to_string();
            let reason = error.into_inner().to_string();
            PayloadError::BadField {
                field: if path == "." {
                    unknown_field(&reason)
                } else {
                    path
                },
                reason,
            }
        })?;
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
    Ok(LaunchRequest { profile, overrides })
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(t: &str) -> Data {
        Data::Text(t.to_owned())
    }

    #[test]
    fn non_objects_launch_the_default_profile() {
        let policy = OverridePolicy::default();
        for data in [
            Data::Absent,
            text(""),
            text("TweetiNoteStartTopic"),
            text("[1,2]"),
            text("42"),
            Data::Bytes(vec![0xff, 0]),
        ] {
            assert_eq!(
                parse(&data, &policy),
                Ok(LaunchRequest::default()),
                "{data:?}"
            );
        }
    }

    #[test]
    fn profile_is_always_selectable() {
        let request = parse(&text(r#"{"profile":"gpu"}"#), &OverridePolicy::default()).unwrap();
        assert_eq!(request.profile.as_deref(), Some("gpu"));
        let error = parse(&text(r#"{"profile":7}"#), &OverridePolicy::default()).unwrap_err();
        assert!(error.to_string().contains("`profile`"), "{error}");
    }

    #[test]
    fn overrides_need_the_policy() {
        let data = text(r#"{"machine_type":"n1-standard-8"}"#);
        let error = parse(&data, &OverridePolicy::default()).unwrap_err();
        assert_eq!(
            error,
            PayloadError::NotAllowed {
                field: Field::MachineType,
                allowed: "none".into()
            }
        );
        let policy = OverridePolicy::parse("machine_type, labels").unwrap();
        let request = parse(&data, &policy).unwrap();
        assert_eq!(
            request.overrides.machine_type.as_deref(),
            Some("n1-standard-8")
        );
    }

    #[test]
    fn forbidden_fields_stay_forbidden_when_others_are_allowed() {
        let policy = OverridePolicy::parse("labels").unwrap();
        for field in [
            "container_image",
            "service_account",
            "network",
            "post_startup_script",
        ] {
            let body = format!(r#"{{"{field}":"x"}}"#);
            let error = parse(&text(&body), &policy).unwrap_err();
            assert!(error.to_string().contains(field), "{error}");
        }
    }

    #[test]
    fn unknown_and_mistyped_fields_are_named() {
        let policy = OverridePolicy::parse("machine_type,labels,accelerator_count").unwrap();
        let error = parse(&text(r#"{"colour":"red"}"#), &policy).unwrap_err();
        assert!(
            matches!(&error, PayloadError::BadField { field, .. } if field == "colour"),
            "{error}"
        );
        let error = parse(&text(r#"{"accelerator_count":"two"}"#), &policy).unwrap_err();
        assert!(
            matches!(&error, PayloadError::BadField { field, .. } if field == "accelerator_count"),
            "{error}"
        );
        let error = parse(&text(r#"{"labels":{"a":1}}"#), &policy).unwrap_err();
        assert!(
            matches!(&error, PayloadError::BadField { field, .. } if field == "labels.a"),
            "{error}"
        );
        assert!(matches!(
            parse(&text(r#"{"profile":"#), &policy),
            Err(PayloadError::BrokenJson(_))
        ));
    }

    #[test]
    fn policy_parse_names_the_bad_entry() {
        let error = OverridePolicy::parse("machine_type,colour").unwrap_err();
        assert!(
            error.contains("`colour`") && error.contains("machine_type"),
            "{error}"
        );
    }

    #[test]
    fn overridden_images_must_come_from_an_allowed_prefix() {
        let policy = OverridePolicy::parse("container_image")
            .unwrap()
            .with_image_prefixes("europe-docker.pkg.dev/team/notebooks/, localhost:5000/")
            .unwrap();
        let image = |name: &str| text(&format!(r#"{{"container_image":"{name}"}}"#));
        for ok in [
            "europe-docker.pkg.dev/team/notebooks/img:v1",
            "localhost:5000/img",
        ] {
            assert!(parse(&image(ok), &policy).is_ok(), "{ok}");
        }
        for refused in [
            "europe-docker.pkg.dev/team/notebooks-evil/img",
            "europe-docker.pkg.dev/team/notebooks/",
            "europe-docker.pkg.dev/team/notebooks/../other/img",
            "docker.io/evil/img",
        ] {
            assert!(
                matches!(
                    parse(&image(refused), &policy),
                    Err(PayloadError::ImageNotAllowed { .. })
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn image_prefixes_are_checked_at_start_up() {
        let allows_image = || OverridePolicy::parse("container_image").unwrap();
        let error = allows_image().with_image_prefixes("").unwrap_err();
        assert!(error.contains("required"), "{error}");
        for bad in [
            "gcr.io/team",
            "https://gcr.io/team/",
            "/x/",
            "gcr.io/../x/",
            "a b/",
        ] {
            assert!(allows_image().with_image_prefixes(bad).is_err(), "{bad}");
        }
        assert!(OverridePolicy::default().with_image_prefixes("").is_ok());
    }

    #[test]
    fn deeply_nested_payloads_are_refused_naming_the_limit() {
        let policy = OverridePolicy::parse("labels").unwrap();
        let deep = format!(r#"{{"labels":{}{}}}"#, "[".repeat(40), "]".repeat(40));
        let error = parse(&text(&deep), &policy).unwrap_err();
        assert_eq!(error, PayloadError::TooDeep);
        assert!(error.to_string().contains("32"), "{error}");
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let policy = OverridePolicy::parse("machine_type,labels").unwrap();
            let data = match String::from_utf8(bytes.clone()) { Ok(t) => Data::Text(t), Err(_) => Data::Bytes(bytes) };
            let _ = parse(&data, &policy);
        }

        #[test]
        fn arbitrary_json_objects_never_panic(json in "\\{(\"[a-z_]{1,20}\":(\"[a-z0-9-]{0,10}\"|[0-9]{1,3}|true|null|\\{\\}|\\[\\]),?){0,4}\\}") {
            let policy = OverridePolicy::parse("machine_type,labels,accelerator_count,disable_public_ip").unwrap();
            let _ = parse(&Data::Text(json), &policy);
        }
    }
}
