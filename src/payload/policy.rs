//! Who may set what: the fields of `ALLOWED_OVERRIDES`, the registries of
//! `ALLOWED_IMAGE_PREFIXES`, the parameter names of `ALLOWED_PARAMETERS`, and whether a
//! message may be an event (`MESSAGE_EVENTS`); and the check of a message's overrides against
//! them and against what no policy lets a message set.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde_json::Value;

use super::PayloadError;
use crate::profile::{Field, Fields, MAX_PARAMETERS_BYTES, check_parameter_name, reserved_key};

/// The name in `ALLOWED_OVERRIDES` that lets a message ask for a dry run.
pub const DRY_RUN: &str = "dry_run";

/// Why `secrets` can never be listed: whoever can publish could have any secret the VM's
/// account may read put into the variable a notebook sends somewhere, or into a notebook of
/// their own choosing (see `profile::secrets`).
const NEVER_SECRETS: &str = "`secrets` can never be overridden by a message: whoever can publish could then have any secret the VM's account may read handed to a notebook; name secrets in the profiles only";

/// Why `notify` can never be listed: whoever can publish could have the service post to any
/// address it reaches, with a run's errors in the body (see `profile::notify`).
const NEVER_NOTIFY: &str = "`notify` can never be overridden by a message: whoever can publish could then have the service post to any address it reaches; name webhooks in the profiles only";

/// Why `keep_runs` is never a message's: retention is judged per output folder by the reap,
/// which reads the profiles, not a run's message; and whoever can publish would decide when
/// other runs' files are deleted.
const NEVER_KEEP_RUNS: &str = "`keep_runs` can never be overridden by a message: the reap deletes a whole output folder's old runs as its profiles say; set keep_runs in the profiles only";

/// Which fields a message may set. Empty by default: messages only trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverridePolicy {
    allowed: BTreeSet<Field>,
    /// Where an overridden `container_image` may come from (`ALLOWED_IMAGE_PREFIXES`).
    pub(super) image_prefixes: Vec<String>,
    /// The parameters a message may set (`ALLOWED_PARAMETERS`); `None`: any name.
    pub(super) parameter_names: Option<BTreeSet<String>>,
    /// `dry_run` is in `ALLOWED_OVERRIDES`.
    pub(super) dry_run: bool,
    /// Whether a message may carry an event (`MESSAGE_EVENTS`).
    pub(super) events: Events,
}

/// Whether a message may carry an app's event (`MESSAGE_EVENTS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Events {
    /// A key the product does not read makes the data object an event, the notebook's
    /// `event` parameter.
    #[default]
    Allow,
    /// A deployment that takes only the product's keys: any other key is refused, naming it.
    Refuse,
}

impl FromStr for Events {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "allow" => Ok(Events::Allow),
            "refuse" => Ok(Events::Refuse),
            other => Err(format!("`{other}` is not allow or refuse")),
        }
    }
}

impl OverridePolicy {
    /// Parses `ALLOWED_OVERRIDES` (`machine_type,labels`).
    ///
    /// # Errors
    /// A message naming the unknown field and listing the valid names.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut policy = Self::default();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == DRY_RUN {
                policy.dry_run = true;
                continue;
            }
            let field = Field::from_name(name).ok_or_else(|| {
                format!(
                    "`{name}` is not a field; expected a comma-separated list of: {}, {DRY_RUN}",
                    Field::ALL.map(Field::name).join(", ")
                )
            })?;
            match field {
                Field::Secrets => return Err(NEVER_SECRETS.to_owned()),
                Field::KeepRuns => return Err(NEVER_KEEP_RUNS.to_owned()),
                Field::Notify => return Err(NEVER_NOTIFY.to_owned()),
                _ => {}
            }
            policy.allowed.insert(field);
        }
        Ok(policy)
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

    /// Adds `ALLOWED_PARAMETERS` (`date,region`): the only parameter names a message may send.
    /// Empty: any name, once `ALLOWED_OVERRIDES` lists `parameters`. Each is held to the rule of
    /// a profile's names, so the list cannot let in what no profile may use (`__builtins__`).
    ///
    /// # Errors
    /// A message naming a name that no parameter can have.
    pub fn with_parameter_names(mut self, text: &str) -> Result<Self, String> {
        let names: BTreeSet<String> = text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(error) = names
            .iter()
            .find_map(|name| check_parameter_name(name).err())
        {
            return Err(error);
        }
        if !names.is_empty() && !self.allows(Field::Parameters) {
            return Err(
                "names parameters, but ALLOWED_OVERRIDES does not list parameters".to_owned(),
            );
        }
        self.parameter_names = (!names.is_empty()).then_some(names);
        Ok(self)
    }

    /// Adds `MESSAGE_EVENTS`: whether a message may carry an event.
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    /// This policy with dry runs allowed, for a dry run asked for outside any message.
    pub fn allowing_dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Whether a message may name this image.
    pub(super) fn image_allowed(&self, image: &str) -> bool {
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

/// The fields, the image, the metadata keys and the parameters a message sets, against the
/// deployment's policy and against what no policy lets a message set.
pub(super) fn check(overrides: &Fields, policy: &OverridePolicy) -> Result<(), PayloadError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::payload::{PayloadError, parse};
    use crate::push::Data;

    /// The fields no policy lets a message set.
    const NEVER_A_MESSAGES: [Field; 3] = [Field::Secrets, Field::Notify, Field::KeepRuns];

    /// Whatever else a policy allows, a field a message may never set is refused in the
    /// policy and in a message.
    #[test]
    fn secrets_notify_and_keep_runs_can_never_be_overridden_by_a_message() {
        let all_else: Vec<&str> = Field::ALL
            .iter()
            .filter(|f| !NEVER_A_MESSAGES.contains(f) && **f != Field::ContainerImage)
            .map(|f| f.name())
            .collect();
        let policy = OverridePolicy::parse(&all_else.join(",")).unwrap();
        let values = [
            (
                Field::Secrets,
                r#"{"X": "projects/p/secrets/s/versions/1"}"#,
            ),
            (Field::Notify, r#"[{"url": "https://evil.example/hook"}]"#),
            (Field::KeepRuns, r#""1d""#),
        ];
        for (field, value) in values {
            let error = OverridePolicy::parse(&format!("machine_type,{field}")).unwrap_err();
            assert!(
                error.contains(&format!("`{field}` can never be overridden")),
                "{error}"
            );
            let message = format!(r#"{{"overrides": {{"{field}": {value}}}}}"#);
            let refused = parse(&Data::Text(message), &BTreeMap::new(), &policy).unwrap_err();
            assert!(
                matches!(refused, PayloadError::NotAllowed { field: f, .. } if f == field),
                "{field}: {refused:?}"
            );
        }
    }
}
