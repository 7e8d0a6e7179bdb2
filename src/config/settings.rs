//! Parsing the environment into [`Settings`]: every variable checked at start-up, every
//! error naming the variable, so no message ever meets a half-understood configuration.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::launch::{OnExisting, PollSettings};
use crate::naming::IdPrefix;
use crate::notebooks::ApiVersion;
use crate::notebooks::client::Timeouts;
use crate::payload::OverridePolicy;
use crate::poll::Backoff;
use crate::profile::{self, Fields};
use crate::push_auth::{self, PushAuthMode, VerifySettings};

/// Where the Notebooks API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `https://notebooks.googleapis.com` with Application Default Credentials.
    Google,
    /// `NOTEBOOKS_ENDPOINT`: another HTTPS endpoint, with credentials.
    Endpoint(Url),
    /// `NOTEBOOKS_EMULATOR_HOST`, as `http://HOST:PORT/`: HTTP/2 without TLS, no credentials.
    Emulator(Url),
    /// Nothing configured and not on Cloud Run: an in-process emulator with demo settings.
    Embedded,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Text,
    /// One JSON object per line with `severity`, as Cloud Logging reads it.
    Json,
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
    /// `K_SERVICE` is set: we run on Cloud Run.
    pub on_cloud_run: bool,
}

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

impl Settings {
    /// Reads and checks every variable.
    ///
    /// # Errors
    /// The first [`SettingError`], naming the variable.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let parsed = |name: &str, default: &str| -> Result<Duration, SettingError> {
            notebooks_wire::duration::parse(&get(name).unwrap_or_else(|| default.to_owned()))
                .map_err(|e| SettingError::new(name, e))
        };
        let on_cloud_run = get("K_SERVICE").is_some();
        let port = get("PORT")
            .map(|p| {
                p.parse::<u16>().map_err(|_| {
                    SettingError::new("PORT", format!("`{p}` is not a port number (0-65535)"))
                })
            })
            .transpose()?
            .unwrap_or(8080);
        let project = get("GOOGLE_CLOUD_PROJECT");
        let backend = match (get("NOTEBOOKS_EMULATOR_HOST"), get("NOTEBOOKS_ENDPOINT")) {
            (Some(_), Some(_)) => {
                return Err(SettingError::new(
                    "NOTEBOOKS_EMULATOR_HOST",
                    "set either NOTEBOOKS_EMULATOR_HOST (emulator, no credentials) or NOTEBOOKS_ENDPOINT (with credentials), not both",
                ));
            }
            (Some(host), None) => {
                let url = Url::parse(&format!("http://{host}/"))
                    .ok()
                    .filter(|url| !host.contains("://") && host.contains(':') && url.path() == "/");
                let Some(url) = url else {
                    return Err(SettingError::new(
                        "NOTEBOOKS_EMULATOR_HOST",
                        format!("`{host}` is not HOST:PORT (e.g. 127.0.0.1:8090)"),
                    ));
                };
                if project.is_none() {
                    return Err(SettingError::new(
                        "GOOGLE_CLOUD_PROJECT",
                        "is required with NOTEBOOKS_EMULATOR_HOST (any name, e.g. demo-project)",
                    ));
                }
                Backend::Emulator(url)
            }
            (None, Some(url)) => {
                let parsed = Url::parse(&url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
                let Some(parsed) = parsed else {
                    return Err(SettingError::new(
                        "NOTEBOOKS_ENDPOINT",
                        format!("`{url}` is not an http(s):// URL"),
                    ));
                };
                Backend::Endpoint(parsed)
            }
            (None, None) if project.is_none() && !on_cloud_run => Backend::Embedded,
            (None, None) => Backend::Google,
        };
        let api_version = get("NOTEBOOKS_API_VERSION")
            .map(|v| {
                v.parse()
                    .map_err(|e| SettingError::new("NOTEBOOKS_API_VERSION", e))
            })
            .transpose()?
            .unwrap_or_default();
        let default_profile =
            Fields::from_env(env).map_err(|e| SettingError::new(e.field.env_var(), e.reason))?;
        let policy = OverridePolicy::parse(&get("ALLOWED_OVERRIDES").unwrap_or_default())
            .map_err(|e| SettingError::new("ALLOWED_OVERRIDES", e))?
            .with_image_prefixes(&get("ALLOWED_IMAGE_PREFIXES").unwrap_or_default())
            .map_err(|e| SettingError::new("ALLOWED_IMAGE_PREFIXES", e))?;
        let prefix = get("INSTANCE_ID_PREFIX")
            .map(|p| IdPrefix::parse(&p).map_err(|e| SettingError::new("INSTANCE_ID_PREFIX", e)))
            .transpose()?
            .unwrap_or_default();
        let on_existing = get("ON_EXISTING")
            .map(|v| v.parse().map_err(|e| SettingError::new("ON_EXISTING", e)))
            .transpose()?
            .unwrap_or_default();
        let backoff = Backoff {
            initial: parsed("POLL_INITIAL_DELAY", "1s")?,
            max: parsed("POLL_MAX_DELAY", "15s")?,
        };
        if backoff.initial.is_zero() || backoff.max < backoff.initial {
            return Err(SettingError::new(
                "POLL_MAX_DELAY",
                "must be at least POLL_INITIAL_DELAY, which must be above 0",
            ));
        }
        let poll = PollSettings {
            backoff,
            timeout: parsed("POLL_TIMEOUT", "540s")?,
        };
        let timeouts = Timeouts {
            connect: parsed("HTTP_CONNECT_TIMEOUT", "10s")?,
            request: parsed("HTTP_REQUEST_TIMEOUT", "30s")?,
        };
        let count = |name: &str, minimum: usize, default: usize| -> Result<usize, SettingError> {
            get(name)
                .map(|v| match v.parse::<usize>() {
                    Ok(n) if n >= minimum => Ok(n),
                    _ => Err(SettingError::new(
                        name,
                        format!("`{v}` is not a whole number of at least {minimum}"),
                    )),
                })
                .transpose()
                .map(|n| n.unwrap_or(default))
        };
        let max_body_bytes = count("MAX_BODY_BYTES", 1024, 1024 * 1024)?;
        let max_payload_bytes = count("MAX_PAYLOAD_BYTES", 1024, 64 * 1024)?;
        let max_concurrent_launches = count("MAX_CONCURRENT_LAUNCHES", 1, 64)?;
        let push_auth = push_auth_mode(&get)?;
        let log_format = match get("LOG_FORMAT").as_deref() {
            None if on_cloud_run => LogFormat::Json,
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(SettingError::new(
                    "LOG_FORMAT",
                    format!("`{other}` is not text or json"),
                ));
            }
        };
        Ok(Settings {
            port,
            backend,
            project,
            api_version,
            default_profile,
            profiles_file: get("PROFILES_FILE").map(PathBuf::from),
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
            on_cloud_run,
        })
    }
}

/// `PUSH_AUTH`, `PUSH_AUTH_AUDIENCE`, `PUSH_AUTH_SERVICE_ACCOUNTS`, `PUSH_AUTH_JWKS_URL`.
fn push_auth_mode(get: &dyn Fn(&str) -> Option<String>) -> Result<PushAuthMode, SettingError> {
    let accounts = get("PUSH_AUTH_SERVICE_ACCOUNTS");
    match (get("PUSH_AUTH").as_deref(), get("PUSH_AUTH_AUDIENCE")) {
        (Some("off"), None) if accounts.is_none() => Ok(PushAuthMode::Off),
        (Some("off"), _) => Err(SettingError::new(
            "PUSH_AUTH",
            "is off, but PUSH_AUTH_AUDIENCE or PUSH_AUTH_SERVICE_ACCOUNTS is set: choose one",
        )),
        (Some(other), _) => Err(SettingError::new(
            "PUSH_AUTH",
            format!("`{other}` is not `off`; tokens are checked when PUSH_AUTH_AUDIENCE is set"),
        )),
        (None, None) if accounts.is_some() => Err(SettingError::new(
            "PUSH_AUTH_AUDIENCE",
            "is required with PUSH_AUTH_SERVICE_ACCOUNTS (the subscription's --push-auth-token-audience)",
        )),
        (None, None) => Ok(PushAuthMode::Unset),
        (None, Some(audience)) => {
            let service_accounts: std::collections::BTreeSet<String> = accounts
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
            if service_accounts.is_empty() {
                return Err(SettingError::new(
                    "PUSH_AUTH_SERVICE_ACCOUNTS",
                    "is required with PUSH_AUTH_AUDIENCE: the emails of the push service accounts",
                ));
            }
            if let Some(bad) = service_accounts.iter().find(|a| {
                !matches!(a.split_once('@'), Some((user, domain)) if !user.is_empty() && domain.contains('.'))
                    || a.chars().any(char::is_whitespace)
            }) {
                return Err(SettingError::new(
                    "PUSH_AUTH_SERVICE_ACCOUNTS",
                    format!("`{bad}` is not an email address"),
                ));
            }
            let jwks_url =
                get("PUSH_AUTH_JWKS_URL").unwrap_or_else(|| push_auth::GOOGLE_JWKS_URL.to_owned());
            if !(jwks_url.starts_with("https://") || jwks_url.starts_with("http://")) {
                return Err(SettingError::new(
                    "PUSH_AUTH_JWKS_URL",
                    format!("`{jwks_url}` is not an http(s):// URL"),
                ));
            }
            Ok(PushAuthMode::Verify(VerifySettings {
                audience,
                service_accounts,
                jwks_url,
            }))
        }
    }
}

/// Maps a default-profile field error to its variable.
pub fn field_error(error: profile::FieldError) -> SettingError {
    SettingError::new(error.field.env_var(), error.reason)
}
