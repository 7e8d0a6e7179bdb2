//! The settings of runs: where runners report, where records go, how runs end and are reaped,
//! and where their events are published.

use std::time::Duration;

use reqwest::Url;

use super::env::{Env, SettingError, SettingErrors};
use super::variables as var;
use crate::run::CleanupPolicy;

/// How runs report, end and are reaped.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The service's own URL (`SERVICE_URL`, else `PUSH_AUTH_AUDIENCE`): runners report to
    /// `{url}/runs/{id}/complete` with tokens for this audience. `None`: runs cannot report,
    /// so a profile with a notebook is refused at launch.
    pub service_url: Option<String>,
    /// `gs://…` of the runner.
    pub runner_script: Option<String>,
    /// `STORAGE_EMULATOR_HOST` as a base URL: run records go there, without credentials.
    /// `None`: Google's Cloud Storage, with the service's credentials.
    pub storage_emulator: Option<Url>,
    pub cleanup: CleanupPolicy,
    pub report_within: Duration,
    pub grace: Duration,
    pub keep_stopped: Duration,
    /// `RUN_LOST_AFTER`: how long a run may be `launched` without an instance.
    pub lost_after: Duration,
    /// `RUN_TOKEN_JWKS_URL`: the keys that sign runners' identity tokens.
    pub token_jwks_url: String,
    /// `RUN_EVENTS_TOPIC`, checked: a topic id or `projects/P/topics/T`. `None`: no events.
    pub events_topic: Option<String>,
    /// `PUBSUB_EMULATOR_HOST`: `HOST:PORT` of the emulator run events go to.
    pub pubsub_emulator: Option<String>,
}

/// The run settings, or `None` with the error of each variable that cannot be used kept.
pub(super) fn run_settings(vars: &Env<'_>, errors: &mut SettingErrors) -> Option<RunSettings> {
    let service_url = errors.take(service_url(vars));
    let runner_script = errors.take(
        vars.get(&var::RUNNER_SCRIPT)
            .map(|uri| {
                storage_client::GsUri::parse(&uri)
                    .map(|_| uri)
                    .map_err(|e| SettingError::new(var::RUNNER_SCRIPT.name, e))
            })
            .transpose(),
    );
    let storage_emulator = errors.take(
        vars.get(&var::STORAGE_EMULATOR_HOST)
            .map(|host| {
                storage_client::emulator_base_url(&host)
                    .map_err(|e| SettingError::new(var::STORAGE_EMULATOR_HOST.name, e))
            })
            .transpose(),
    );
    let events_topic = errors.take(
        vars.get(&var::RUN_EVENTS_TOPIC)
            .map(|topic| {
                crate::pubsub::check_topic(&topic)
                    .map(|()| topic)
                    .map_err(|e| SettingError::new(var::RUN_EVENTS_TOPIC.name, e.to_string()))
            })
            .transpose(),
    );
    let pubsub_emulator = errors.take(pubsub_emulator(vars));
    let on_complete = errors.take(vars.parse(&var::ON_COMPLETE, str::parse));
    let on_failure = errors.take(vars.parse(&var::ON_FAILURE, str::parse));
    let report_within = errors.take(vars.duration(&var::REPORT_WITHIN));
    let grace = errors.take(vars.duration(&var::RUN_GRACE));
    let keep_stopped = errors.take(vars.duration(&var::KEEP_STOPPED));
    let lost_after = errors.take(vars.duration(&var::RUN_LOST_AFTER));
    let token_jwks_url = errors.take(vars.parse(&var::RUN_TOKEN_JWKS_URL, |url| {
        if url.starts_with("https://") || url.starts_with("http://") {
            Ok(url.to_owned())
        } else {
            Err(format!("`{url}` is not an http(s):// URL"))
        }
    }));
    Some(RunSettings {
        events_topic: events_topic?,
        pubsub_emulator: pubsub_emulator?,
        service_url: service_url?,
        runner_script: runner_script?,
        storage_emulator: storage_emulator?,
        cleanup: CleanupPolicy {
            on_complete: on_complete?,
            on_failure: on_failure?,
        },
        report_within: report_within?,
        grace: grace?,
        keep_stopped: keep_stopped?,
        lost_after: lost_after?,
        token_jwks_url: token_jwks_url?,
    })
}

/// `SERVICE_URL`, else `PUSH_AUTH_AUDIENCE`, without a trailing slash.
fn service_url(vars: &Env<'_>) -> Result<Option<String>, SettingError> {
    vars.get(&var::SERVICE_URL)
        .or_else(|| vars.get(&var::PUSH_AUTH_AUDIENCE))
        .map(|url| {
            Url::parse(&url)
                .ok()
                .filter(|u| matches!(u.scheme(), "https" | "http") && u.has_host())
                .map(|_| url.trim_end_matches('/').to_owned())
                .ok_or_else(|| {
                    SettingError::new(
                        var::SERVICE_URL.name,
                        format!("`{url}` is not an http(s):// URL"),
                    )
                })
        })
        .transpose()
}

fn pubsub_emulator(vars: &Env<'_>) -> Result<Option<String>, SettingError> {
    vars.get(&var::PUBSUB_EMULATOR_HOST)
        .map(|host| {
            if host.contains(':') && !host.contains('/') {
                Ok(host)
            } else {
                Err(SettingError::new(
                    var::PUBSUB_EMULATOR_HOST.name,
                    format!("`{host}` is not HOST:PORT (e.g. 127.0.0.1:8085)"),
                ))
            }
        })
        .transpose()
}
