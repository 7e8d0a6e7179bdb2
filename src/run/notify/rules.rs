//! A profile's `notify` rules, parsed once at start-up into where, when and how to send: each
//! error names the field and the rule (counted from 1) and says how to fix it, and none ever
//! shows a URL, which is a credential.
//!
//! The deploy checks the same rules before the service exists, to learn what it must provide
//! for them ([`webhook_sources`]): the variables `url_env` names, which only the service's
//! environment will hold, and the secrets `url_secret` names, which the service's account
//! must be let read.

use std::collections::BTreeSet;
use std::fmt;

use reqwest::Url;

use crate::profile::{
    Field, FieldError, Fields, MAX_RULES, NotifyRule, check_secret_version, secret_of,
};
use crate::run::{RunEvent, RunState};

/// What a webhook's body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Slack's incoming webhooks: `text` and a `mrkdwn` section block.
    Slack,
    /// Google Chat's incoming webhooks: `text`.
    GoogleChat,
    /// A plain JSON object with named fields.
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Slack, Format::GoogleChat, Format::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Slack => "slack",
            Format::GoogleChat => "google_chat",
            Format::Json => "json",
        }
    }

    fn parse(text: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "format `{}` is not one of {}",
                    text.escape_debug(),
                    Format::ALL.map(Format::as_str).join(", ")
                )
            })
    }
}

/// Where a rule's webhook is.
#[derive(Clone, PartialEq, Eq)]
pub enum Destination {
    /// Known at start-up: written in the profile, or in the service's environment.
    Url(Url),
    /// A Secret Manager version whose payload is the URL, read when sending.
    Secret(String),
}

/// Never prints a URL.
impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Url(url) => write!(f, "Url({}, <redacted>)", url.host_str().unwrap_or("")),
            Destination::Secret(version) => write!(f, "Secret({version})"),
        }
    }
}

/// One rule, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub destination: Destination,
    /// Where the URL came from, for the logs: `url`, `url_env NAME` or `url_secret VERSION`.
    pub source: String,
    pub on: Vec<RunEvent>,
    pub format: Format,
}

/// What a rule that names no events is told of: the unhappy ones.
pub const DEFAULT_ON: [RunEvent; 5] = [
    RunEvent::Reached(RunState::Failed),
    RunEvent::Reached(RunState::TimedOut),
    RunEvent::Reached(RunState::Unreported),
    RunEvent::Reached(RunState::Lost),
    RunEvent::Overdue,
];

/// The events a rule may name: every run event but the cleanup, which is the service's own
/// business.
pub fn notifiable() -> impl Iterator<Item = RunEvent> {
    RunEvent::ALL
        .into_iter()
        .filter(|e| *e != RunEvent::CleanedUp)
}

/// Where a webhook's URL is kept outside the profiles: what a deployment provides before the
/// service can send to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum WebhookSource {
    /// `url_env`: a variable the service's environment must hold.
    Variable(String),
    /// `url_secret`'s secret, `projects/P/secrets/S` (IAM grants a secret's versions together):
    /// the service's own account must read it.
    Secret(String),
}

/// `url_env NAME` or `url_secret SECRET`: the field that names it, and what it names.
impl fmt::Display for WebhookSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookSource::Variable(name) => write!(f, "url_env {name}"),
            WebhookSource::Secret(secret) => write!(f, "url_secret {secret}"),
        }
    }
}

/// The profile's rules, checked; `env` is the service's environment, which `url_env` names.
///
/// # Errors
/// A [`FieldError`] on `notify` naming the rule and what to change.
pub fn parse_rules(
    fields: &Fields,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Rule>, FieldError> {
    each_rule(fields, |rule| check_rule(rule)?.resolve(env))
}

/// The variables and secrets the profile's rules take their URLs from, each once: the rules
/// checked as [`parse_rules`] checks them, but for the value of each variable, which the
/// deployment is yet to provide.
///
/// # Errors
/// A [`FieldError`] on `notify` naming the rule and what to change.
pub fn webhook_sources(fields: &Fields) -> Result<BTreeSet<WebhookSource>, FieldError> {
    let checked = each_rule(fields, check_rule)?;
    Ok(checked
        .into_iter()
        .filter_map(|rule| match rule.place {
            Place::Url(_) => None,
            Place::Env(name) => Some(WebhookSource::Variable(name.to_owned())),
            Place::Secret(version) => Some(WebhookSource::Secret(secret_of(version).to_owned())),
        })
        .collect())
}

/// `read` applied to each of the profile's rules, at most [`MAX_RULES`]; an error names the
/// rule, counted from 1.
fn each_rule<'a, T>(
    fields: &'a Fields,
    read: impl Fn(&'a NotifyRule) -> Result<T, String>,
) -> Result<Vec<T>, FieldError> {
    let rules = fields.notify.as_deref().unwrap_or_default();
    let error = |reason: String| FieldError::new(Field::Notify, reason);
    if rules.len() > MAX_RULES {
        return Err(error(format!(
            "{} rules are more than {MAX_RULES}: send to fewer webhooks, or route run events (RUN_EVENTS_TOPIC) instead",
            rules.len()
        )));
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| read(rule).map_err(|e| error(format!("rule {}: {e}", i + 1))))
        .collect()
}

/// Where a checked rule's URL is, as the rule names it.
enum Place<'a> {
    Url(Url),
    Env(&'a str),
    Secret(&'a str),
}

/// A rule checked in everything but the value of the variable its `url_env` names.
struct Checked<'a> {
    place: Place<'a>,
    on: Vec<RunEvent>,
    format: Format,
}

impl Checked<'_> {
    /// The rule, with the URL a `url_env` names read from `env`.
    fn resolve(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Rule, String> {
        let (destination, source) = match self.place {
            Place::Url(url) => (Destination::Url(url), "url".to_owned()),
            Place::Env(name) => (
                Destination::Url(from_env(name, env)?),
                format!("url_env {name}"),
            ),
            Place::Secret(version) => (
                Destination::Secret(version.to_owned()),
                format!("url_secret {version}"),
            ),
        };
        Ok(Rule {
            destination,
            source,
            on: self.on,
            format: self.format,
        })
    }
}

fn check_rule(rule: &NotifyRule) -> Result<Checked<'_>, String> {
    let place = match (&rule.url, &rule.url_env, &rule.url_secret) {
        (Some(url), None, None) => Place::Url(check_url(url).map_err(|e| format!("url {e}"))?),
        (None, Some(name), None) => Place::Env(check_variable(name)?),
        (None, None, Some(version)) => {
            check_secret_version(version).map_err(|e| format!("url_secret: {e}"))?;
            Place::Secret(version)
        }
        _ => {
            return Err(
                "name the webhook once: url, url_env (a variable of the service) or url_secret (a Secret Manager version)"
                    .to_owned(),
            );
        }
    };
    let on = match &rule.on {
        None => DEFAULT_ON.to_vec(),
        Some(names) if names.is_empty() => {
            return Err("on is empty: list events, or leave on unset for the unhappy ones".into());
        }
        Some(names) => names.iter().map(|n| event(n)).collect::<Result<_, _>>()?,
    };
    let format = rule
        .format
        .as_deref()
        .map_or(Ok(Format::Json), Format::parse)?;
    Ok(Checked { place, on, format })
}

fn event(name: &str) -> Result<RunEvent, String> {
    RunEvent::from_name(name)
        .filter(|e| *e != RunEvent::CleanedUp)
        .ok_or_else(|| {
            format!(
                "`{}` in on is not an event; expected some of: {}",
                name.escape_debug(),
                notifiable()
                    .map(RunEvent::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// `url_env`'s name, if it can name a variable.
fn check_variable(name: &str) -> Result<&str, String> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(name)
    } else {
        Err(format!(
            "url_env `{}` is not a variable name (upper case letters, digits and _)",
            name.escape_debug()
        ))
    }
}

/// The URL in the service's variable `name`.
fn from_env(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Url, String> {
    let value = env(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        format!(
            "url_env {name} is not set in the service's environment: set it (Cloud Run: --set-env-vars, or --set-secrets from Secret Manager), or name the webhook with url_secret"
        )
    })?;
    check_url(value.trim()).map_err(|e| format!("the value of {name} {e}"))
}

/// A webhook URL: `https://`, or `http://` to this machine only (tests, the demo). The
/// message never repeats the URL.
///
/// # Errors
/// What is wrong, to follow the place the URL came from (`url is not …`).
pub fn check_url(text: &str) -> Result<Url, String> {
    let url =
        Url::parse(text).map_err(|_| "is not a URL (expected https://HOST/PATH)".to_owned())?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" if !host.is_empty() => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(
            "is http:// to another machine: a webhook URL is a credential, send it over https:// (http:// is for 127.0.0.1 and localhost only)"
                .to_owned(),
        ),
        _ => Err("is not an https:// URL".to_owned()),
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
