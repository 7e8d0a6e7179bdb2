//! `RUNS_READERS`, `RUNS_OPERATORS`, `RUNS_AUTH`, `RUNS_AUTH_AUDIENCE`: who may read the run
//! history, and who may also act on runs (rerun, cancel, run now).
//!
//! A run's record names its notebook, parameters, errors and log lines, which are the users'
//! data: the history is closed until the deployment says who reads it, and saying nothing is
//! not taken to mean "everyone Cloud Run lets in" (the push and runner accounts are invokers
//! too). Either an allow-list checked on Google-signed tokens, or `RUNS_AUTH=off` to state that
//! Cloud Run IAM alone decides. Acting on runs is never open: its accounts are always listed
//! and checked on tokens, so `RUNS_AUTH=off` does not mix with `RUNS_OPERATORS`.

use super::env::{Env, SettingError, emails, jwks_url};
use super::variables as var;
use crate::http::{ReaderSettings, RunsAuthMode};

pub(super) fn runs_auth_mode(vars: &Env<'_>) -> Result<RunsAuthMode, SettingError> {
    let readers = emails(&var::RUNS_READERS, vars.get(&var::RUNS_READERS))?;
    let operators = emails(&var::RUNS_OPERATORS, vars.get(&var::RUNS_OPERATORS))?;
    match vars.get(&var::RUNS_AUTH).as_deref() {
        Some("off") if !operators.is_empty() => Err(SettingError::new(
            var::RUNS_AUTH.name,
            "is off, but RUNS_OPERATORS is set: operators are checked on Google-signed ID \
             tokens, so list who reads in RUNS_READERS instead of RUNS_AUTH=off",
        )),
        Some("off") if readers.is_empty() => Ok(RunsAuthMode::Off),
        Some("off") => Err(SettingError::new(
            var::RUNS_AUTH.name,
            "is off, but RUNS_READERS is set: choose one",
        )),
        Some(other) => Err(SettingError::new(
            var::RUNS_AUTH.name,
            format!("`{other}` is not `off`; readers are checked when RUNS_READERS is set"),
        )),
        None if readers.is_empty() && operators.is_empty() => Ok(RunsAuthMode::Unset),
        None => Ok(RunsAuthMode::Readers(ReaderSettings {
            readers,
            operators,
            audience: vars.or_default(&var::RUNS_AUTH_AUDIENCE),
            jwks_url: jwks_url(vars)?,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SettingErrors, Settings};

    fn mode(vars: &[(&str, &str)]) -> Result<RunsAuthMode, SettingErrors> {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        Settings::from_env(&env).map(|s| s.runs_auth)
    }

    #[test]
    fn reading_runs_is_an_allow_list_or_explicitly_off_and_nothing_else() {
        assert_eq!(mode(&[]), Ok(RunsAuthMode::Unset));
        assert_eq!(mode(&[("RUNS_AUTH", "off")]), Ok(RunsAuthMode::Off));
        let Ok(RunsAuthMode::Readers(settings)) = mode(&[(
            "RUNS_READERS",
            " ana@example.com , ops@p.iam.gserviceaccount.com",
        )]) else {
            panic!("an allow-list");
        };
        assert_eq!(
            settings.readers.iter().collect::<Vec<_>>(),
            ["ana@example.com", "ops@p.iam.gserviceaccount.com"]
        );
        assert_eq!(settings.audience, var::RUNS_AUTH_AUDIENCE.unset.read_as());
        assert_eq!(settings.jwks_url, crate::push_token::GOOGLE_JWKS_URL);

        let error = |vars: &[(&str, &str)]| mode(vars).unwrap_err().to_string();
        assert_eq!(
            error(&[("RUNS_AUTH", "off"), ("RUNS_READERS", "a@b.c")]),
            "RUNS_AUTH: is off, but RUNS_READERS is set: choose one"
        );
        assert!(error(&[("RUNS_AUTH", "iam")]).starts_with("RUNS_AUTH: `iam` is not `off`"));
        assert_eq!(
            error(&[("RUNS_READERS", "ana")]),
            "RUNS_READERS: `ana` is not an email address"
        );
        assert!(
            error(&[("RUNS_READERS", "a@b.c"), ("PUSH_AUTH_JWKS_URL", "ftp://x")])
                .starts_with("PUSH_AUTH_JWKS_URL:")
        );
    }

    #[test]
    fn operators_are_listed_and_checked_on_tokens_and_never_open() {
        let Ok(RunsAuthMode::Readers(settings)) = mode(&[("RUNS_OPERATORS", "ops@example.com")])
        else {
            panic!("operators alone are checked on tokens");
        };
        assert!(settings.readers.is_empty());
        assert_eq!(
            settings.operators.iter().collect::<Vec<_>>(),
            ["ops@example.com"]
        );
        let error = mode(&[("RUNS_AUTH", "off"), ("RUNS_OPERATORS", "ops@example.com")])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("RUNS_AUTH: is off, but RUNS_OPERATORS is set"),
            "{error}"
        );
        let error = mode(&[("RUNS_OPERATORS", "ops")]).unwrap_err().to_string();
        assert_eq!(error, "RUNS_OPERATORS: `ops` is not an email address");
    }
}
