//! Parsing the environment into [`Settings`]: every variable checked at start-up, every
//! error naming the variable, so no message ever meets a half-understood configuration.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use reqwest::Url;
use storage_client::GsUri;

use super::env::{Env, SettingError, SettingErrors, emails, field_error, jwks_url};
use super::runs::RunSettings;
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

/// Where `PROFILES_FILE` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfilesFile {
    /// A file on this machine (or in the image).
    Local(PathBuf),
    /// An object in Cloud Storage, read at start-up with the service's credentials: a
    /// deployment changes its profiles without building an image.
    Object(GsUri),
}

/// Everything `serve` and `launch` need, parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub port: u16,
    /// `HOST`: the address the service listens on.
    pub host: IpAddr,
    pub backend: Backend,
    /// `None`: ask the credentials (the metadata server on Cloud Run).
    pub project: Option<String>,
    pub api_version: ApiVersion,
    pub default_profile: Fields,
    pub profiles_file: Option<ProfilesFile>,
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

impl Settings {
    /// Reads and checks every variable.
    ///
    /// # Errors
    /// Every [`SettingError`], each naming its variable.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, SettingErrors> {
        let mut errors = SettingErrors::default();
        match read(env, &mut errors) {
            Some(settings) if errors.is_empty() => Ok(settings),
            // A setting is missing only where its error was kept.
            _ => Err(errors),
        }
    }
}

/// The settings, every variable read even after one that cannot be used; `None` when a
/// setting is missing, its error kept in `errors`.
fn read(env: &dyn Fn(&str) -> Option<String>, errors: &mut SettingErrors) -> Option<Settings> {
    let vars = Env(env);
    let on_cloud_run = vars.named("K_SERVICE").is_some();
    let port = errors.take(vars.parse(&var::PORT, |p| {
        p.parse::<u16>()
            .map_err(|_| format!("`{p}` is not a port number (0-65535)"))
    }));
    let project = vars.get(&var::GOOGLE_CLOUD_PROJECT);
    let backend = errors.take(backend(&vars, project.is_some(), on_cloud_run));
    let host = errors.take(host(&vars, backend == Some(Backend::Embedded)));
    let api_version = errors.take(vars.parse(&var::NOTEBOOKS_API_VERSION, str::parse));
    let default_profile = Fields::from_env(env)
        .map_err(|field_errors| {
            field_errors
                .into_iter()
                .for_each(|e| errors.push(field_error(e)));
        })
        .ok();
    let profiles_file = errors.take(profiles_file(&vars));
    let policy = errors.take(policy(&vars));
    let events = errors.take(vars.parse(&var::MESSAGE_EVENTS, str::parse));
    let prefix = errors.take(vars.parse(&var::INSTANCE_ID_PREFIX, IdPrefix::parse));
    let on_existing = errors.take(vars.parse(&var::ON_EXISTING, str::parse));
    let poll = poll_settings(&vars, errors);
    let connect = errors.take(vars.duration(&var::HTTP_CONNECT_TIMEOUT));
    let request = errors.take(vars.duration(&var::HTTP_REQUEST_TIMEOUT));
    let max_body_bytes = errors.take(vars.count(&var::MAX_BODY_BYTES, 1024));
    let max_payload_bytes = errors.take(vars.count(&var::MAX_PAYLOAD_BYTES, 1024));
    let max_concurrent_launches = errors.take(vars.count(&var::MAX_CONCURRENT_LAUNCHES, 1));
    let push_auth = errors.take(push_auth_mode(&vars));
    let runs_auth = errors.take(super::readers::runs_auth_mode(&vars));
    let log_format = errors.take(log_format(&vars, on_cloud_run));
    let runs = super::runs::run_settings(&vars, errors);
    if let (Some(runs), Some(poll)) = (&runs, &poll) {
        errors.take(lost_after_outlasts_the_poll(runs, poll));
    }
    Some(Settings {
        port: port?,
        host: host?,
        backend: backend?,
        project,
        api_version: api_version?,
        default_profile: default_profile?,
        profiles_file: profiles_file?,
        policy: policy?.with_events(events?),
        prefix: prefix?,
        on_existing: on_existing?,
        poll: poll?,
        timeouts: Timeouts {
            connect: connect?,
            request: request?,
        },
        max_body_bytes: max_body_bytes?,
        max_payload_bytes: max_payload_bytes?,
        max_concurrent_launches: max_concurrent_launches?,
        log_format: log_format?,
        push_auth: push_auth?,
        runs_auth: runs_auth?,
        on_cloud_run,
        runs: runs?,
    })
}

/// `HOST`: Cloud Run sends requests to 0.0.0.0:PORT; the embedded demo, which checks no
/// tokens and is meant for the machine it runs on, answers on the loopback only.
fn host(vars: &Env<'_>, embedded: bool) -> Result<IpAddr, SettingError> {
    match vars.get(&var::HOST) {
        None if embedded => Ok(Ipv4Addr::LOCALHOST.into()),
        None => Ok(Ipv4Addr::UNSPECIFIED.into()),
        Some(text) => text.parse().map_err(|_| {
            SettingError::new(
                var::HOST.name,
                format!("`{text}` is not an IP address (e.g. 0.0.0.0, 127.0.0.1 or ::)"),
            )
        }),
    }
}

/// `PROFILES_FILE`.
fn profiles_file(vars: &Env<'_>) -> Result<Option<ProfilesFile>, SettingError> {
    vars.get(&var::PROFILES_FILE)
        .map(|value| {
            ProfilesFile::parse(&value).map_err(|e| SettingError::new(var::PROFILES_FILE.name, e))
        })
        .transpose()
}

impl ProfilesFile {
    /// A `gs://` URI is an object, anything else a path.
    ///
    /// # Errors
    /// A `gs://` URI that names no object.
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.starts_with("gs://") {
            GsUri::parse(value).map(ProfilesFile::Object)
        } else {
            Ok(ProfilesFile::Local(PathBuf::from(value)))
        }
    }
}

/// `ALLOWED_OVERRIDES`, with the image prefixes and parameter names it needs.
fn policy(vars: &Env<'_>) -> Result<OverridePolicy, SettingError> {
    vars.parse(&var::ALLOWED_OVERRIDES, OverridePolicy::parse)?
        .with_image_prefixes(&vars.or_default(&var::ALLOWED_IMAGE_PREFIXES))
        .map_err(|e| SettingError::new(var::ALLOWED_IMAGE_PREFIXES.name, e))?
        .with_parameter_names(&vars.or_default(&var::ALLOWED_PARAMETERS))
        .map_err(|e| SettingError::new(var::ALLOWED_PARAMETERS.name, e))
}

/// `POLL_TIMEOUT`, and delays that start above 0 and grow.
fn poll_settings(vars: &Env<'_>, errors: &mut SettingErrors) -> Option<PollSettings> {
    let timeout = errors.take(vars.duration(&var::POLL_TIMEOUT));
    let initial = errors.take(vars.duration(&var::POLL_INITIAL_DELAY));
    let max = errors.take(vars.duration(&var::POLL_MAX_DELAY));
    let backoff = Backoff {
        initial: initial?,
        max: max?,
    };
    if backoff.initial.is_zero() || backoff.max < backoff.initial {
        errors.push(SettingError::new(
            var::POLL_MAX_DELAY.name,
            "must be at least POLL_INITIAL_DELAY, which must be above 0",
        ));
        return None;
    }
    Some(PollSettings {
        backoff,
        timeout: timeout?,
    })
}

fn log_format(vars: &Env<'_>, on_cloud_run: bool) -> Result<LogFormat, SettingError> {
    match vars.get(&var::LOG_FORMAT).as_deref() {
        None if on_cloud_run => Ok(LogFormat::Json),
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(SettingError::new(
            var::LOG_FORMAT.name,
            format!("`{other}` is not text or json"),
        )),
    }
}

/// A launch writes its record, then may wait up to POLL_TIMEOUT for its instance: a run
/// judged lost sooner could be one whose create is still on its way.
fn lost_after_outlasts_the_poll(
    runs: &RunSettings,
    poll: &PollSettings,
) -> Result<(), SettingError> {
    if runs.lost_after > poll.timeout {
        return Ok(());
    }
    Err(SettingError::new(
        var::RUN_LOST_AFTER.name,
        format!(
            "must be longer than POLL_TIMEOUT ({}): a launch may wait that long for its \
             instance after its record is written",
            notebooks_wire::duration::display(poll.timeout)
        ),
    ))
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
