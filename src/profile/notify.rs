//! What a profile says about telling people of its runs: the webhooks it notifies
//! (`notify`) and how long its runs should take (`expected_duration`).
//!
//! A rule names where its webhook is in one of three ways, because a webhook URL is a
//! credential (whoever holds a Slack or Chat webhook URL may post in that channel): `url` in
//! the profile itself, `url_env` naming one of the service's environment variables (which
//! Cloud Run may fill from Secret Manager), or `url_secret` naming a Secret Manager version
//! the service reads with its own account when it sends. The form of a rule is held here; the
//! run model parses it into where, when and how to send (`run::notify`), since the events a
//! rule can name are the run's.
//!
//! A message can never set `notify`, whatever `ALLOWED_OVERRIDES` says (the payload policy
//! refuses to list it): whoever can publish could otherwise have the service post a run's
//! errors, and its own requests, to any address it reaches.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::fields::{Field, FieldError, FieldValue, Fields};

/// The most rules a profile may have: each run event sends one request per matching rule.
pub const MAX_RULES: usize = 10;

/// One webhook rule as a profile file (or `NOTIFY`, as JSON) writes it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyRule {
    /// The webhook's URL, written in the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The service's environment variable that holds the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// `projects/P/secrets/S/versions/V` whose payload is the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_secret: Option<String>,
    /// The events that send; unset: the unhappy ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<String>>,
    /// `slack`, `google_chat` or `json` (unset: `json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// Never prints a URL written in the profile: it is a credential.
impl fmt::Debug for NotifyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyRule")
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("url_env", &self.url_env)
            .field("url_secret", &self.url_secret)
            .field("on", &self.on)
            .field("format", &self.format)
            .finish()
    }
}

/// `NOTIFY` is the list as JSON; a profile's list replaces the default profile's.
impl FieldValue for Vec<NotifyRule> {
    fn from_env_text(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| {
            format!(
                "not a JSON list of rules such as [{{\"url_env\": \"SLACK_WEBHOOK\", \"on\": [\"failed\"], \"format\": \"slack\"}}]: {e}"
            )
        })
    }
}

/// The profile's `expected_duration`, checked against its `max_run_time` (`max_run_time`):
/// a run is stopped at its limit, so an expectation at or past it could never be overdue.
pub(super) fn parse_expected_duration(
    fields: &Fields,
    max_run_time: Duration,
) -> Result<Option<Duration>, FieldError> {
    let Some(text) = fields.expected_duration.as_deref() else {
        return Ok(None);
    };
    let error = |reason: String| FieldError::new(Field::ExpectedDuration, reason);
    let duration = expected_duration(text).map_err(error)?;
    if duration >= max_run_time {
        return Err(error(format!(
            "`{text}` is not below max_run_time ({}): a run is stopped at max_run_time, so it could never be overdue; set expected_duration lower, or max_run_time higher",
            notebooks_wire::duration::display(max_run_time)
        )));
    }
    Ok(Some(duration))
}

/// `expected_duration`'s text as a duration (`20m`, `1h30m`), at least a second.
///
/// # Errors
/// A message saying the form expected.
pub fn expected_duration(text: &str) -> Result<Duration, String> {
    let duration = notebooks_wire::duration::parse(text)
        .map_err(|e| format!("{e} (expected a duration such as 20m or 1h30m)"))?;
    if duration < Duration::from_secs(1) {
        return Err(format!("`{text}` is shorter than a second"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reads_a_json_list_and_refuses_unknown_keys() {
        let rules = Vec::<NotifyRule>::from_env_text(
            r#"[{"url_env": "SLACK_WEBHOOK", "on": ["failed"], "format": "slack"}]"#,
        )
        .unwrap();
        assert_eq!(rules[0].url_env.as_deref(), Some("SLACK_WEBHOOK"));
        assert_eq!(rules[0].on, Some(vec!["failed".to_owned()]));
        let error = Vec::<NotifyRule>::from_env_text(r#"[{"uri": "https://x"}]"#).unwrap_err();
        assert!(error.contains("unknown field `uri`"), "{error}");
        let error = Vec::<NotifyRule>::from_env_text(r#"{"url": "https://x"}"#).unwrap_err();
        assert!(error.contains("JSON list of rules"), "{error}");
    }

    #[test]
    fn a_rule_never_shows_its_url() {
        let rule = NotifyRule {
            url: Some("https://hooks.slack.com/services/T/B/secret-part".into()),
            ..NotifyRule::default()
        };
        let shown = format!("{rule:?}");
        assert!(
            !shown.contains("secret-part") && shown.contains("redacted"),
            "{shown}"
        );
    }

    #[test]
    fn an_expected_duration_is_below_max_run_time() {
        let hour = Duration::from_secs(3600);
        let with = |text: &str| Fields {
            expected_duration: Some(text.into()),
            ..Fields::default()
        };
        assert_eq!(parse_expected_duration(&Fields::default(), hour), Ok(None));
        assert_eq!(
            parse_expected_duration(&with("20m"), hour),
            Ok(Some(Duration::from_secs(1200)))
        );
        for (text, said) in [
            ("1h", "not below max_run_time (1h)"),
            ("2h", "set expected_duration lower"),
            ("soon", "expected a duration"),
            ("0s", "shorter than a second"),
        ] {
            let error = parse_expected_duration(&with(text), hour).unwrap_err();
            assert_eq!(error.field, Field::ExpectedDuration);
            assert!(error.reason.contains(said), "{text}: {error}");
        }
    }
}
