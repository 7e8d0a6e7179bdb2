//! Parsing the environment into [`Settings`]: every variable checked at start-up, every
//! error naming the variable, so no message ever meets a half-understood configuration.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use super::env::{Env, SettingError, emails, field_error, jwks_url};
use super::variables as var;
use crate::http::RunsAuthMode;
use crate::launch::{OnExisting, PollSettings};
use crate::naming::IdPrefix;
use crate::notebooks::ApiVersion;
use crate::notebooks::client::Timeouts;
use crate::notebooks::protocol::EmulatorProtocol;
use crate::payload::OverridePolicy;
use crate::poll::Backoff;
use crate::profile::Fields;
use crate::push_token::{PushAuthMode, VerifySettings};
use crate::run::CleanupPolicy;
use crate::telemetry::LogFormat;

/// Where the Notebooks API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `https://notebooks.googleapis.com` with Application Default Credentials.
    Google,
    /// `NOTEBOOKS_ENDPOINT`: another HTTPS endpoint, with credentials.
    Endpoint(Url),
    /// `NOTEBOOKS_EMULATOR_HOST`, as `http://HOST:PORT/`: plain HTTP, as
    /// `NOTEBOOKS_EMULATOR_PROTOCOL` says (HTTP/1.1, or h2c where it answers), no credentials.
    Emulator(Url, EmulatorProtocol),
    /// Nothing configured and not on Cloud Run: an in-process emulator with demo settings.
    Embedded,
}

/// Everything `serve` and `launch` need, parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub port: u16,
    pub backend: Backend,
    /// `None`: ask the credentials (the metadata server on Cloud Run).
    pub project: Option<String>,
    pub api_version: ApiVersion,
    pub default_profile: Fields,
    pub profiles_file: Option<PathBuf>,
    pub policy: OverridePolicy,
    pub prefix: IdPrefix,
    pub on_existing: OnExisting,
    pub poll: PollSettings,
    pub timeouts: Timeouts,
    pub max_body_bytes: usize,
    /// Largest payload once base64 is decoded (larger: 413).
    pub max_payload_bytes: usize,
    /// Launches running at once; one more is refused with 429.
    pub max_concurrent_launches: usize,
    pub log_format: LogFormat,
    /// Whether and how push requests are authenticated.
    pub push_auth: PushAuthMode,
    /// Who may read the run history (`GET /runs`).
    pub runs_auth: RunsAuthMode,
    /// `K_SERVICE` is set: we run on Cloud Run.
    pub on_cloud_run: bool,
    pub runs: RunSettings,
}

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

impl Settings {
    /// Reads and checks every variable.
    ///
    /// # Errors
    /// The first [`SettingError`], naming the variable.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let vars = Env(env);
        let on_cloud_run = vars.named("K_SERVICE").is_some();
        let port = vars.parse(&var::PORT, |p| {
            p.parse::<u16>()
                .map_err(|_| format!("`{p}` is not a port number (0-65535)"))
        })?;
        let project = vars.get(&var::GOOGLE_CLOUD_PROJECT);
        let backend = backend(&vars, project.is_some(), on_cloud_run)?;
        let api_version = vars.parse(&var::NOTEBOOKS_API_VERSION, str::parse)?;
        let default_profile = Fields::from_env(env).map_err(field_error)?;
        let policy = vars
            .parse(&var::ALLOWED_OVERRIDES, OverridePolicy::parse)?
            .with_image_prefixes(&vars.or_default(&var::ALLOWED_IMAGE_PREFIXES))
            .map_err(|e| SettingError::new(var::ALLOWED_IMAGE_PREFIXES.name, e))?
            .with_parameter_names(&vars.or_default(&var::ALLOWED_PARAMETERS))
            .map_err(|e| SettingError::new(var::ALLOWED_PARAMETERS.name, e))?
            .with_events(vars.parse(&var::MESSAGE_EVENTS, str::parse)?);
        let prefix = vars.parse(&var::INSTANCE_ID_PREFIX, IdPrefix::parse)?;
        let on_existing = vars.parse(&var::ON_EXISTING, str::parse)?;
        let backoff = Backoff {
            initial: vars.duration(&var::POLL_INITIAL_DELAY)?,
            max: vars.duration(&var::POLL_MAX_DELAY)?,
        };
        if backoff.initial.is_zero() || backoff.max < backoff.initial {
            return Err(SettingError::new(
                var::POLL_MAX_DELAY.name,
                "must be at least POLL_INITIAL_DELAY, which must be above 0",
            ));
        }
        let poll = PollSettings {
            backoff,
            timeout: vars.duration(&var::POLL_TIMEOUT)?,
        };
        let timeouts = Timeouts {
            connect: vars.duration(&var::HTTP_CONNECT_TIMEOUT)?,
            request: vars.duration(&var::HTTP_REQUEST_TIMEOUT)?,
        };
        let max_body_bytes = vars.count(&var::MAX_BODY_BYTES, 1024)?;
        let max_payload_bytes = vars.count(&var::MAX_PAYLOAD_BYTES, 1024)?;
        let max_concurrent_launches = vars.count(&var::MAX_CONCURRENT_LAUNCHES, 1)?;
        let push_auth = push_auth_mode(&vars)?;
        let runs_auth = super::readers::runs_auth_mode(&vars)?;
        let log_format = match vars.get(&var::LOG_FORMAT).as_deref() {
            None if on_cloud_run => LogFormat::Json,
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(SettingError::new(
                    var::LOG_FORMAT.name,
                    format!("`{other}` is not text or json"),
                ));
            }
        };
        let runs = run_settings(&vars)?;
        // A launch writes its record, then may wait up to POLL_TIMEOUT for its instance: a run
        // judged lost sooner could be one whose create is still on its way.
        if runs.lost_after <= poll.timeout {
            return Err(SettingError::new(
                var::RUN_LOST_AFTER.name,
                format!(
                    "must be longer than POLL_TIMEOUT ({}): a launch may wait that long for its \
                     instance after its record is written",
                    notebooks_wire::duration::display(poll.timeout)
                ),
            ));
        }
        Ok(Settings {
            port,
            backend,
            project,
            api_version,
            default_profile,
            profiles_file: vars.get(&var::PROFILES_FILE).map(PathBuf::from),
            policy,
            prefix,
            on_existing,
            poll,
            timeouts,
            max_body_bytes,
            max_payload_bytes,
            max_concurrent_launches,
            log_format,
            push_auth,
            runs_auth,
            on_cloud_run,
            runs,
        })
    }
}

fn run_settings(vars: &Env<'_>) -> Result<RunSettings, SettingError> {
    let service_url = vars
        .get(&var::SERVICE_URL)
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
        .transpose()?;
    let runner_script = vars
        .get(&var::RUNNER_SCRIPT)
        .map(|uri| {
            storage_client::GsUri::parse(&uri)
                .map(|_| uri)
                .map_err(|e| SettingError::new(var::RUNNER_SCRIPT.name, e))
        })
        .transpose()?;
    let storage_emulator = vars
        .get(&var::STORAGE_EMULATOR_HOST)
        .map(|host| {
            storage_client::emulator_base_url(&host)
                .map_err(|e| SettingError::new(var::STORAGE_EMULATOR_HOST.name, e))
        })
        .transpose()?;
    let events_topic = vars
        .get(&var::RUN_EVENTS_TOPIC)
        .map(|topic| {
            crate::pubsub::check_topic(&topic)
                .map(|()| topic)
                .map_err(|e| SettingError::new(var::RUN_EVENTS_TOPIC.name, e.to_string()))
        })
        .transpose()?;
    let pubsub_emulator = vars
        .get(&var::PUBSUB_EMULATOR_HOST)
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
        .transpose()?;
    Ok(RunSettings {
        events_topic,
        pubsub_emulator,
        service_url,
        runner_script,
        storage_emulator,
        cleanup: CleanupPolicy {
            on_complete: vars.parse(&var::ON_COMPLETE, str::parse)?,
            on_failure: vars.parse(&var::ON_FAILURE, str::parse)?,
        },
        report_within: vars.duration(&var::REPORT_WITHIN)?,
        grace: vars.duration(&var::RUN_GRACE)?,
        keep_stopped: vars.duration(&var::KEEP_STOPPED)?,
        lost_after: vars.duration(&var::RUN_LOST_AFTER)?,
        token_jwks_url: vars.parse(&var::RUN_TOKEN_JWKS_URL, |url| {
            if url.starts_with("https://") || url.starts_with("http://") {
                Ok(url.to_owned())
            } else {
                Err(format!("`{url}` is not an http(s):// URL"))
            }
        })?,
    })
}

/// `NOTEBOOKS_EMULATOR_HOST`, `NOTEBOOKS_ENDPOINT`, or neither: Google's API, or the embedded
/// demo when nothing says which project to use and the service is not on Cloud Run.
fn backend(vars: &Env<'_>, has_project: bool, on_cloud_run: bool) -> Result<Backend, SettingError> {
    let protocol: EmulatorProtocol = vars.parse(&var::NOTEBOOKS_EMULATOR_PROTOCOL, str::parse)?;
    // A forced protocol without an emulator would be ignored: Google's endpoint and
    // NOTEBOOKS_ENDPOINT negotiate over TLS.
    if protocol != EmulatorProtocol::Auto && vars.get(&var::NOTEBOOKS_EMULATOR_HOST).is_none() {
        return Err(SettingError::new(
            var::NOTEBOOKS_EMULATOR_PROTOCOL.name,
            "applies to NOTEBOOKS_EMULATOR_HOST only, which is not set",
        ));
    }
    match (
        vars.get(&var::NOTEBOOKS_EMULATOR_HOST),
        vars.get(&var::NOTEBOOKS_ENDPOINT),
    ) {
        (Some(_), Some(_)) => Err(SettingError::new(
            var::NOTEBOOKS_EMULATOR_HOST.name,
            "set either NOTEBOOKS_EMULATOR_HOST (emulator, no credentials) or NOTEBOOKS_ENDPOINT (with credentials), not both",
        )),
        (Some(host), None) => {
            let url = Url::parse(&format!("http://{host}/"))
                .ok()
                .filter(|url| !host.contains("://") && host.contains(':') && url.path() == "/");
            let Some(url) = url else {
                return Err(SettingError::new(
                    var::NOTEBOOKS_EMULATOR_HOST.name,
                    format!("`{host}` is not HOST:PORT (e.g. 127.0.0.1:8090)"),
                ));
            };
            if !has_project {
                return Err(SettingError::new(
                    var::GOOGLE_CLOUD_PROJECT.name,
                    "is required with NOTEBOOKS_EMULATOR_HOST (any name, e.g. demo-project)",
                ));
            }
            Ok(Backend::Emulator(url, protocol))
        }
        (None, Some(url)) => {
            let parsed = Url::parse(&url)
                .ok()
                .filter(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
            let Some(parsed) = parsed else {
                return Err(SettingError::new(
                    var::NOTEBOOKS_ENDPOINT.name,
                    format!("`{url}` is not an http(s):// URL"),
                ));
            };
            Ok(Backend::Endpoint(parsed))
        }
        (None, None) if !has_project && !on_cloud_run => Ok(Backend::Embedded),
        (None, None) => Ok(Backend::Google),
    }
}

/// `PUSH_AUTH`, `PUSH_AUTH_AUDIENCE`, `PUSH_AUTH_SERVICE_ACCOUNTS`, `PUSH_AUTH_JWKS_URL`.
fn push_auth_mode(vars: &Env<'_>) -> Result<PushAuthMode, SettingError> {
    let accounts = vars.get(&var::PUSH_AUTH_SERVICE_ACCOUNTS);
    match (
        vars.get(&var::PUSH_AUTH).as_deref(),
        vars.get(&var::PUSH_AUTH_AUDIENCE),
    ) {
        (Some("off"), None) if accounts.is_none() => Ok(PushAuthMode::Off),
        (Some("off"), _) => Err(SettingError::new(
            var::PUSH_AUTH.name,
            "is off, but PUSH_AUTH_AUDIENCE or PUSH_AUTH_SERVICE_ACCOUNTS is set: choose one",
        )),
        (Some(other), _) => Err(SettingError::new(
            var::PUSH_AUTH.name,
            format!("`{other}` is not `off`; tokens are checked when PUSH_AUTH_AUDIENCE is set"),
        )),
        (None, None) if accounts.is_some() => Err(SettingError::new(
            var::PUSH_AUTH_AUDIENCE.name,
            "is required with PUSH_AUTH_SERVICE_ACCOUNTS (the subscription's --push-auth-token-audience)",
        )),
        (None, None) => Ok(PushAuthMode::Unset),
        (None, Some(audience)) => {
            let service_accounts = emails(&var::PUSH_AUTH_SERVICE_ACCOUNTS, accounts)?;
            if service_accounts.is_empty() {
                return Err(SettingError::new(
                    var::PUSH_AUTH_SERVICE_ACCOUNTS.name,
                    "is required with PUSH_AUTH_AUDIENCE: the emails of the push service accounts",
                ));
            }
            let jwks_url = jwks_url(vars)?;
            Ok(PushAuthMode::Verify(VerifySettings {
                audience,
                service_accounts,
                jwks_url,
            }))
        }
    }
}
