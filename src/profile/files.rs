//! Named profiles from `PROFILES_FILE`: read and checked at start-up, so a bad profile stops
//! the service before a message can select it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::backend::{Backend, parse_backend};
use super::fields::{Field, Fields};
use super::secrets::secret_of;
use super::spec::LaunchSpec;
use crate::naming;

/// Named profiles from `PROFILES_FILE`, each already layered over the default profile.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    default: Fields,
    named: BTreeMap<String, Fields>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    profiles: BTreeMap<String, Fields>,
}

/// A secret some profile's runs read, and the account they read it as: what must be granted
/// `roles/secretmanager.secretAccessor` on the secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretGrant {
    /// `projects/P/secrets/S`: IAM grants a secret's versions together.
    pub secret: String,
    /// The profile's `service_account`; `None`: the Compute Engine default account.
    pub service_account: Option<String>,
}

/// A profiles file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfilesError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Syntax { path: String, reason: String },
    #[error("{path}: {reason} (expected a .toml, .yaml or .yml file)")]
    Format { path: String, reason: String },
    #[error("{path}: profile `{profile}`: field `{field}`: {reason}")]
    Invalid {
        path: String,
        profile: String,
        field: Field,
        reason: String,
    },
    #[error(
        "{path}: profile name `{name}` is not allowed: names are 1–63 of [a-z0-9_-], starting with a letter"
    )]
    BadName { path: String, name: String },
}

impl Profiles {
    pub fn new(default: Fields) -> Self {
        Self {
            default,
            named: BTreeMap::new(),
        }
    }

    /// Loads `path` (TOML or YAML, by extension) with a `profiles` table of named [`Fields`].
    ///
    /// # Errors
    /// [`ProfilesError`] naming the file, the profile and the field.
    pub fn load(default: Fields, path: &Path, project: &str) -> Result<Self, ProfilesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ProfilesError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(default, &shown, &text, project)
    }

    /// Parses `text`, the content of the file `shown` (a path or a `gs://` URI, whose
    /// extension says TOML or YAML, and which errors name).
    ///
    /// # Errors
    /// [`ProfilesError`] naming the file, the profile and the field.
    pub fn parse(
        default: Fields,
        shown: &str,
        text: &str,
        project: &str,
    ) -> Result<Self, ProfilesError> {
        let extension = Path::new(shown)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        let shown = shown.to_owned();
        let file: ProfilesFile = match extension {
            "toml" => toml::from_str(text).map_err(|e| ProfilesError::Syntax {
                path: shown.clone(),
                reason: e.to_string(),
            })?,
            "yaml" | "yml" => serde_yaml_ng::from_str(text).map_err(|e| ProfilesError::Syntax {
                path: shown.clone(),
                reason: e.to_string(),
            })?,
            other => {
                return Err(ProfilesError::Format {
                    path: shown,
                    reason: format!("unknown extension `{other}`"),
                });
            }
        };
        let mut named = BTreeMap::new();
        for (name, fields) in file.profiles {
            if !naming::is_label_value(&name)
                || name.is_empty()
                || !name.starts_with(|c: char| c.is_ascii_lowercase())
            {
                return Err(ProfilesError::BadName { path: shown, name });
            }
            let layered = default.overlay(&fields);
            LaunchSpec::parse(&layered, project).map_err(|e| ProfilesError::Invalid {
                path: shown.clone(),
                profile: name.clone(),
                field: e.field,
                reason: e.reason,
            })?;
            named.insert(name, layered);
        }
        Ok(Self { default, named })
    }

    /// The layered fields of a profile (`None` selects the default profile).
    pub fn get(&self, name: Option<&str>) -> Option<&Fields> {
        match name {
            None | Some("default") => Some(&self.default),
            Some(name) => self.named.get(name),
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once("default").chain(self.named.keys().map(String::as_str))
    }

    /// Every profile's layered fields, the default's first.
    fn all(&self) -> impl Iterator<Item = &Fields> {
        std::iter::once(&self.default).chain(self.named.values())
    }

    /// The zones the profiles launch in: where their instances are looked for.
    pub fn zones(&self) -> BTreeSet<String> {
        self.all()
            .filter_map(|fields| fields.location.clone())
            .collect()
    }

    /// Every secret the profiles' runs read, with the account each reads it as, once each.
    pub fn secret_grants(&self) -> BTreeSet<SecretGrant> {
        self.all()
            .flat_map(|fields| {
                let versions = fields.secrets.iter().flat_map(|secrets| secrets.values());
                versions.map(|version| SecretGrant {
                    secret: secret_of(version).to_owned(),
                    service_account: fields.service_account.clone(),
                })
            })
            .collect()
    }

    /// The accounts the profiles' executions run as (`None`: the Compute Engine default), once
    /// each: the accounts whose jobs the service creates.
    pub fn execution_accounts(&self) -> BTreeSet<Option<String>> {
        self.all()
            .filter(|fields| matches!(parse_backend(fields), Ok(Backend::Execution(_))))
            .map(|fields| fields.service_account.clone())
            .collect()
    }

    /// The output prefixes the profiles' runs write to (`gs://B/PREFIX`, without a trailing
    /// slash): where their records are.
    pub fn outputs(&self) -> BTreeSet<String> {
        self.all()
            .filter_map(|fields| fields.output.as_deref())
            .map(|output| output.trim_end_matches('/').to_owned())
            .collect()
    }
}
