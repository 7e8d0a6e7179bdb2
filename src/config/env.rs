//! Reading the environment: each variable trimmed (blank is unset), parsed or defaulted as
//! its declaration says, and every error naming the variable.
//!
//! Below both the service's settings and the run history's readers, which read through it.

use std::collections::BTreeSet;
use std::time::Duration;

use super::variables as var;
use crate::profile;
use crate::variable::Variable;

/// A variable with a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct SettingError {
    pub variable: String,
    pub reason: String,
}

impl SettingError {
    pub fn new(variable: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            reason: reason.into(),
        }
    }
}

/// Every variable with a value that cannot be used, in the order they are read: a deployment
/// with three mistakes is fixed in one round, not three start-ups.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", one_per_line(.0))]
pub struct SettingErrors(Vec<SettingError>);

impl SettingErrors {
    /// The value, or `None` with its error kept.
    pub(super) fn take<T>(&mut self, result: Result<T, SettingError>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// Keeps `error`, once: a variable read for two settings is named once.
    pub(super) fn push(&mut self, error: SettingError) {
        if !self.0.contains(&error) {
            self.0.push(error);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The variables at fault, in the order they were read.
    pub fn variables(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.variable.as_str()).collect()
    }
}

impl FromIterator<SettingError> for SettingErrors {
    fn from_iter<I: IntoIterator<Item = SettingError>>(errors: I) -> Self {
        let mut all = Self::default();
        errors.into_iter().for_each(|error| all.push(error));
        all
    }
}

/// One error as it is; several under a count, one per line.
fn one_per_line(errors: &[SettingError]) -> String {
    match errors {
        [one] => one.to_string(),
        all => all.iter().fold(
            format!("{} settings cannot be used:", all.len()),
            |text, error| format!("{text}\n  {error}"),
        ),
    }
}

/// The variables as the parser reads them: trimmed, blank meaning unset.
pub(super) struct Env<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// A variable's value by name; `None` when unset or blank.
    pub(super) fn named(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn get(&self, variable: &Variable) -> Option<String> {
        self.named(variable.name)
    }

    /// The value, or for an unset variable the text of its declared default.
    pub(super) fn or_default(&self, variable: &Variable) -> String {
        self.get(variable)
            .unwrap_or_else(|| variable.unset.read_as().to_owned())
    }

    /// Parses the value or, unset, the declared default, the same way; errors name the variable.
    pub(super) fn parse<T>(
        &self,
        variable: &Variable,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, SettingError> {
        parse(&self.or_default(variable)).map_err(|reason| SettingError::new(variable.name, reason))
    }

    pub(super) fn duration(&self, variable: &Variable) -> Result<Duration, SettingError> {
        self.parse(variable, notebooks_wire::duration::parse)
    }

    pub(super) fn count(&self, variable: &Variable, minimum: usize) -> Result<usize, SettingError> {
        self.parse(variable, |v| match v.parse::<usize>() {
            Ok(n) if n >= minimum => Ok(n),
            _ => Err(format!("`{v}` is not a whole number of at least {minimum}")),
        })
    }
}

/// A comma-separated list of email addresses; an entry that is not one is named.
pub(super) fn emails(
    variable: &Variable,
    value: Option<String>,
) -> Result<BTreeSet<String>, SettingError> {
    let list: BTreeSet<String> = value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    match list.iter().find(|a| {
        !matches!(a.split_once('@'), Some((user, domain)) if !user.is_empty() && domain.contains('.'))
            || a.chars().any(char::is_whitespace)
    }) {
        Some(bad) => Err(SettingError::new(
            variable.name,
            format!("`{bad}` is not an email address"),
        )),
        None => Ok(list),
    }
}

/// `PUSH_AUTH_JWKS_URL`: where Google's token signing keys are fetched.
pub(super) fn jwks_url(vars: &Env<'_>) -> Result<String, SettingError> {
    vars.parse(&var::PUSH_AUTH_JWKS_URL, |url| {
        if url.starts_with("https://") || url.starts_with("http://") {
            Ok(url.to_owned())
        } else {
            Err(format!("`{url}` is not an http(s):// URL"))
        }
    })
}

/// Maps a default-profile field error to its variable.
pub fn field_error(error: profile::FieldError) -> SettingError {
    SettingError::new(error.field.env_var(), error.reason)
}

/// Maps a field error of the profile `name` to where it was set: the default profile's
/// variable, or the profile in `PROFILES_FILE`.
pub fn profile_field_error(name: &str, error: profile::FieldError) -> SettingError {
    match name {
        "default" => field_error(error),
        _ => SettingError::new(
            "PROFILES_FILE",
            format!(
                "profile `{name}`: field `{}`: {}",
                error.field, error.reason
            ),
        ),
    }
}
