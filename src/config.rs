//! Configuration: every environment variable read once, at start-up, into typed settings.
//!
//! A bad value stops start-up with a message naming the variable and the expected form:
//! a service that starts with a half-understood configuration fails later, on a message, at
//! night. The source is a function rather than the process environment so that tests can pass
//! their own variables.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::launch::{OnExisting, PollSettings};
use crate::naming::IdPrefix;
use crate::notebooks::ApiVersion;
use crate::notebooks::client::Timeouts;
use crate::payload::OverridePolicy;
use crate::poll::Backoff;
#[cfg(test)]
use crate::profile::Field;
use crate::profile::{self, Fields};
use crate::push_token::{self, PushAuthMode, VerifySettings};

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
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            reason: reason.into(),
        }
    }
}

/// One documented variable: name, default, meaning. Rendered into `serve --help`.
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every variable the service reads, in the order `--help` shows them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "PORT",
        default: "8080",
        meaning: "port to listen on (0.0.0.0)",
    },
    Variable {
        name: "GOOGLE_CLOUD_PROJECT",
        default: "credentials' project",
        meaning: "project the instances are created in",
    },
    Variable {
        name: "NOTEBOOKS_EMULATOR_HOST",
        default: "-",
        meaning: "host:port of a Notebooks API emulator (HTTP/2 without TLS, no credentials)",
    },
    Variable {
        name: "NOTEBOOKS_ENDPOINT",
        default: "https://notebooks.googleapis.com",
        meaning: "another API endpoint, with credentials",
    },
    Variable {
        name: "NOTEBOOKS_API_VERSION",
        default: "v2",
        meaning: "v2 (Workbench instances) or v1 (user-managed, create shut down in 2025)",
    },
    Variable {
        name: "NOTEBOOK_LOCATION",
        default: "(required)",
        meaning: "zone of the instances, e.g. us-central1-a",
    },
    Variable {
        name: "CONTAINER_IMAGE",
        default: "(required)",
        meaning: "container repository, optionally with :tag",
    },
    Variable {
        name: "CONTAINER_TAG",
        default: "latest",
        meaning: "container tag",
    },
    Variable {
        name: "MACHINE_TYPE",
        default: "n1-standard-4",
        meaning: "machine type",
    },
    Variable {
        name: "POST_STARTUP_SCRIPT",
        default: "-",
        meaning: "gs://BUCKET/script.sh run after start-up",
    },
    Variable {
        name: "POST_STARTUP_SCRIPT_BEHAVIOR",
        default: "-",
        meaning: "run_once | run_every_start | download_and_run_every_start",
    },
    Variable {
        name: "IDLE_TIMEOUT_SECONDS",
        default: "API default (10800)",
        meaning: "idle shutdown after N s (600-86400; 0 disables)",
    },
    Variable {
        name: "INSTANCE_SERVICE_ACCOUNT",
        default: "Compute Engine default",
        meaning: "service account of the instance VM",
    },
    Variable {
        name: "NETWORK",
        default: "-",
        meaning: "VPC network (short name or projects/P/global/networks/N)",
    },
    Variable {
        name: "SUBNET",
        default: "-",
        meaning: "subnetwork (short name or full name)",
    },
    Variable {
        name: "DISABLE_PUBLIC_IP",
        default: "false",
        meaning: "no external IP on the VM",
    },
    Variable {
        name: "ACCELERATOR_TYPE",
        default: "-",
        meaning: "GPU type, e.g. NVIDIA_TESLA_T4",
    },
    Variable {
        name: "ACCELERATOR_COUNT",
        default: "1 with a type",
        meaning: "number of GPUs",
    },
    Variable {
        name: "INSTALL_GPU_DRIVER",
        default: "true with a GPU",
        meaning: "install the GPU driver",
    },
    Variable {
        name: "BOOT_DISK_TYPE",
        default: "API default",
        meaning: "PD_STANDARD | PD_SSD | PD_BALANCED | …",
    },
    Variable {
        name: "BOOT_DISK_SIZE_GB",
        default: "API default (150)",
        meaning: "boot disk size, 150-64000",
    },
    Variable {
        name: "INSTANCE_LABELS",
        default: "-",
        meaning: "extra labels, k=v,k2=v2",
    },
    Variable {
        name: "INSTANCE_METADATA",
        default: "-",
        meaning: "extra metadata, k=v,k2=v2",
    },
    Variable {
        name: "INSTANCE_ID",
        default: "-",
        meaning: "fixed instance id (the seed's behaviour); otherwise derived per message",
    },
    Variable {
        name: "INSTANCE_ID_PREFIX",
        default: "notebook",
        meaning: "prefix of derived ids: PREFIX-yyyymmdd-hhmm-HASH",
    },
    Variable {
        name: "ON_EXISTING",
        default: "skip",
        meaning: "fixed id taken by another trigger: skip | replace",
    },
    Variable {
        name: "PUSH_AUTH_AUDIENCE",
        default: "-",
        meaning: "audience of the push subscription's OIDC token; set, every request needs a Google-signed token",
    },
    Variable {
        name: "PUSH_AUTH_SERVICE_ACCOUNTS",
        default: "(required with the audience)",
        meaning: "emails of the service accounts that may push, comma-separated",
    },
    Variable {
        name: "PUSH_AUTH_JWKS_URL",
        default: push_token::GOOGLE_JWKS_URL,
        meaning: "where the token signing keys are fetched (tests point it elsewhere)",
    },
    Variable {
        name: "PUSH_AUTH",
        default: "-",
        meaning: "off: no token check here, stated explicitly (Cloud Run IAM protects the endpoint)",
    },
    Variable {
        name: "PROFILES_FILE",
        default: "-",
        meaning: "TOML or YAML file of named profiles",
    },
    Variable {
        name: "ALLOWED_OVERRIDES",
        default: "(none)",
        meaning: "fields a message may override, e.g. machine_type,labels",
    },
    Variable {
        name: "ALLOWED_IMAGE_PREFIXES",
        default: "(none)",
        meaning: "registry paths an overridden container_image must start with, ending in / (required when container_image is allowed)",
    },
    Variable {
        name: "POLL_TIMEOUT",
        default: "540s",
        meaning: "longest wait for the create and its operation (keep below the ack deadline)",
    },
    Variable {
        name: "POLL_INITIAL_DELAY",
        default: "1s",
        meaning: "first delay between polls (doubles)",
    },
    Variable {
        name: "POLL_MAX_DELAY",
        default: "15s",
        meaning: "longest delay between polls",
    },
    Variable {
        name: "HTTP_CONNECT_TIMEOUT",
        default: "10s",
        meaning: "connect timeout for API calls",
    },
    Variable {
        name: "HTTP_REQUEST_TIMEOUT",
        default: "30s",
        meaning: "timeout of each API call",
    },
    Variable {
        name: "MAX_BODY_BYTES",
        default: "1048576",
        meaning: "largest accepted request body (larger: 413)",
    },
    Variable {
        name: "MAX_PAYLOAD_BYTES",
        default: "65536",
        meaning: "largest message payload once base64 is decoded (larger: 413)",
    },
    Variable {
        name: "MAX_CONCURRENT_LAUNCHES",
        default: "64",
        meaning: "launches in progress at once; beyond it 429 with Retry-After",
    },
    Variable {
        name: "LOG_FORMAT",
        default: "json on Cloud Run, else text",
        meaning: "text | json",
    },
    Variable {
        name: "RUST_LOG",
        default: "info",
        meaning: "log filter, e.g. notebook_trigger=debug",
    },
];

/// Renders [`VARIABLES`] for `--help`.
pub fn variables_help() -> String {
    let mut text = String::from("Environment variables:\n");
    for v in VARIABLES {
        text.push_str(&format!(
            "  {:<29} {} [default: {}]\n",
            v.name, v.meaning, v.default
        ));
    }
    text
}

impl Settings {
    /// Reads and checks every variable.
    ///
    /// # Errors
    /// The first [`ConfigError`], naming the variable.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let parsed = |name: &str, default: &str| -> Result<Duration, ConfigError> {
            notebooks_wire::duration::parse(&get(name).unwrap_or_else(|| default.to_owned()))
                .map_err(|e| ConfigError::new(name, e))
        };
        let on_cloud_run = get("K_SERVICE").is_some();
        let port = get("PORT")
            .map(|p| {
                p.parse::<u16>().map_err(|_| {
                    ConfigError::new("PORT", format!("`{p}` is not a port number (0-65535)"))
                })
            })
            .transpose()?
            .unwrap_or(8080);
        let project = get("GOOGLE_CLOUD_PROJECT");
        let backend = match (get("NOTEBOOKS_EMULATOR_HOST"), get("NOTEBOOKS_ENDPOINT")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "NOTEBOOKS_EMULATOR_HOST",
                    "set either NOTEBOOKS_EMULATOR_HOST (emulator, no credentials) or NOTEBOOKS_ENDPOINT (with credentials), not both",
                ));
            }
            (Some(host), None) => {
                let url = Url::parse(&format!("http://{host}/"))
                    .ok()
                    .filter(|url| !host.contains("://") && host.contains(':') && url.path() == "/");
                let Some(url) = url else {
                    return Err(ConfigError::new(
                        "NOTEBOOKS_EMULATOR_HOST",
                        format!("`{host}` is not HOST:PORT (e.g. 127.0.0.1:8090)"),
                    ));
                };
                if project.is_none() {
                    return Err(ConfigError::new(
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
                    return Err(ConfigError::new(
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
                    .map_err(|e| ConfigError::new("NOTEBOOKS_API_VERSION", e))
            })
            .transpose()?
            .unwrap_or_default();
        let default_profile =
            Fields::from_env(env).map_err(|e| ConfigError::new(e.field.env_var(), e.reason))?;
        let policy = OverridePolicy::parse(&get("ALLOWED_OVERRIDES").unwrap_or_default())
            .map_err(|e| ConfigError::new("ALLOWED_OVERRIDES", e))?
            .with_image_prefixes(&get("ALLOWED_IMAGE_PREFIXES").unwrap_or_default())
            .map_err(|e| ConfigError::new("ALLOWED_IMAGE_PREFIXES", e))?;
        let prefix = get("INSTANCE_ID_PREFIX")
            .map(|p| IdPrefix::parse(&p).map_err(|e| ConfigError::new("INSTANCE_ID_PREFIX", e)))
            .transpose()?
            .unwrap_or_default();
        let on_existing = get("ON_EXISTING")
            .map(|v| v.parse().map_err(|e| ConfigError::new("ON_EXISTING", e)))
            .transpose()?
            .unwrap_or_default();
        let backoff = Backoff {
            initial: parsed("POLL_INITIAL_DELAY", "1s")?,
            max: parsed("POLL_MAX_DELAY", "15s")?,
        };
        if backoff.initial.is_zero() || backoff.max < backoff.initial {
            return Err(ConfigError::new(
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
        let count = |name: &str, minimum: usize, default: usize| -> Result<usize, ConfigError> {
            get(name)
                .map(|v| match v.parse::<usize>() {
                    Ok(n) if n >= minimum => Ok(n),
                    _ => Err(ConfigError::new(
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
                return Err(ConfigError::new(
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

    /// The embedded demo: fills what a newcomer has not set, so `cargo run` just works.
    pub fn with_demo_defaults(mut self) -> Self {
        let demo = Fields {
            location: Some("us-central1-a".into()),
            container_image: Some(
                "us-docker.pkg.dev/deeplearning-platform-release/gcr.io/workbench-container".into(),
            ),
            post_startup_script: Some("gs://demo-bucket/script.sh".into()),
            ..Fields::default()
        };
        self.default_profile = demo.overlay(&self.default_profile);
        self.project.get_or_insert_with(|| "demo-project".into());
        self
    }
}

/// `PUSH_AUTH`, `PUSH_AUTH_AUDIENCE`, `PUSH_AUTH_SERVICE_ACCOUNTS`, `PUSH_AUTH_JWKS_URL`.
fn push_auth_mode(get: &dyn Fn(&str) -> Option<String>) -> Result<PushAuthMode, ConfigError> {
    let accounts = get("PUSH_AUTH_SERVICE_ACCOUNTS");
    match (get("PUSH_AUTH").as_deref(), get("PUSH_AUTH_AUDIENCE")) {
        (Some("off"), None) if accounts.is_none() => Ok(PushAuthMode::Off),
        (Some("off"), _) => Err(ConfigError::new(
            "PUSH_AUTH",
            "is off, but PUSH_AUTH_AUDIENCE or PUSH_AUTH_SERVICE_ACCOUNTS is set: choose one",
        )),
        (Some(other), _) => Err(ConfigError::new(
            "PUSH_AUTH",
            format!("`{other}` is not `off`; tokens are checked when PUSH_AUTH_AUDIENCE is set"),
        )),
        (None, None) if accounts.is_some() => Err(ConfigError::new(
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
                return Err(ConfigError::new(
                    "PUSH_AUTH_SERVICE_ACCOUNTS",
                    "is required with PUSH_AUTH_AUDIENCE: the emails of the push service accounts",
                ));
            }
            if let Some(bad) = service_accounts.iter().find(|a| {
                !matches!(a.split_once('@'), Some((user, domain)) if !user.is_empty() && domain.contains('.'))
                    || a.chars().any(char::is_whitespace)
            }) {
                return Err(ConfigError::new(
                    "PUSH_AUTH_SERVICE_ACCOUNTS",
                    format!("`{bad}` is not an email address"),
                ));
            }
            let jwks_url =
                get("PUSH_AUTH_JWKS_URL").unwrap_or_else(|| push_token::GOOGLE_JWKS_URL.to_owned());
            if !(jwks_url.starts_with("https://") || jwks_url.starts_with("http://")) {
                return Err(ConfigError::new(
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
pub fn field_error(error: profile::FieldError) -> ConfigError {
    ConfigError::new(error.field.env_var(), error.reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The README's configuration table is the `--help` table as Markdown: one row per variable,
    /// in the same order, with the same words (a `|` in a cell escaped).
    #[test]
    fn the_readme_lists_every_variable_as_help_does() {
        let readme = include_str!("../README.md");
        let cell = |text: &str| text.replace('|', "\\|");
        let expected: Vec<String> = VARIABLES
            .iter()
            .map(|v| {
                format!(
                    "| `{}` | {} | {} |",
                    v.name,
                    cell(v.default),
                    cell(v.meaning)
                )
            })
            .collect();
        let table = readme
            .split("| Variable | Default | Meaning |\n|---|---|---|\n")
            .nth(1)
            .expect("the README has the configuration table");
        let rows: Vec<&str> = table.lines().take_while(|l| l.starts_with('|')).collect();
        assert_eq!(
            rows,
            expected,
            "README rows; expected:\n{}",
            expected.join("\n")
        );
    }

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_env(&move |name| map.get(name).cloned())
    }

    #[test]
    fn the_emulator_host_becomes_its_url_whatever_the_port() {
        for (host, url) in [
            ("127.0.0.1:8090", "http://127.0.0.1:8090/"),
            ("localhost:80", "http://localhost/"),
            ("[::1]:8090", "http://[::1]:8090/"),
        ] {
            let s = settings(&[
                ("NOTEBOOKS_EMULATOR_HOST", host),
                ("GOOGLE_CLOUD_PROJECT", "p"),
            ])
            .unwrap();
            assert_eq!(
                s.backend,
                Backend::Emulator(Url::parse(url).unwrap()),
                "{host}"
            );
        }
    }

    #[test]
    fn nothing_configured_means_the_embedded_demo() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.backend, Backend::Embedded);
        assert_eq!(s.port, 8080);
        assert_eq!(s.poll.timeout, Duration::from_secs(540));
        assert_eq!(s.log_format, LogFormat::Text);
    }

    #[test]
    fn cloud_run_without_a_project_uses_google_and_json_logs() {
        let s = settings(&[("K_SERVICE", "trigger")]).unwrap();
        assert_eq!(s.backend, Backend::Google);
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("PORT", "http")], "PORT"),
            (&[("NOTEBOOKS_API_VERSION", "v3")], "NOTEBOOKS_API_VERSION"),
            (
                &[("NOTEBOOKS_EMULATOR_HOST", "localhost")],
                "NOTEBOOKS_EMULATOR_HOST",
            ),
            (
                &[("NOTEBOOKS_EMULATOR_HOST", "localhost:1")],
                "GOOGLE_CLOUD_PROJECT",
            ),
            (
                &[("NOTEBOOKS_EMULATOR_HOST", "localhost:port")],
                "NOTEBOOKS_EMULATOR_HOST",
            ),
            (
                &[("NOTEBOOKS_EMULATOR_HOST", "localhost:8090/v2")],
                "NOTEBOOKS_EMULATOR_HOST",
            ),
            (
                &[("NOTEBOOKS_ENDPOINT", "notebooks.example")],
                "NOTEBOOKS_ENDPOINT",
            ),
            (&[("NOTEBOOKS_ENDPOINT", "https://")], "NOTEBOOKS_ENDPOINT"),
            (
                &[("NOTEBOOKS_ENDPOINT", "https://exa mple.com")],
                "NOTEBOOKS_ENDPOINT",
            ),
            (&[("ALLOWED_OVERRIDES", "colour")], "ALLOWED_OVERRIDES"),
            (&[("INSTANCE_ID_PREFIX", "Bad")], "INSTANCE_ID_PREFIX"),
            (&[("ON_EXISTING", "crash")], "ON_EXISTING"),
            (&[("POLL_TIMEOUT", "soon")], "POLL_TIMEOUT"),
            (&[("POLL_INITIAL_DELAY", "20s")], "POLL_MAX_DELAY"),
            (&[("MAX_BODY_BYTES", "12")], "MAX_BODY_BYTES"),
            (&[("MAX_PAYLOAD_BYTES", "-1")], "MAX_PAYLOAD_BYTES"),
            (
                &[("MAX_CONCURRENT_LAUNCHES", "0")],
                "MAX_CONCURRENT_LAUNCHES",
            ),
            (
                &[("ALLOWED_OVERRIDES", "container_image")],
                "ALLOWED_IMAGE_PREFIXES",
            ),
            (
                &[("ALLOWED_IMAGE_PREFIXES", "gcr.io/no-trailing-slash")],
                "ALLOWED_IMAGE_PREFIXES",
            ),
            (&[("LOG_FORMAT", "xml")], "LOG_FORMAT"),
            (&[("PUSH_AUTH", "on")], "PUSH_AUTH"),
            (
                &[("PUSH_AUTH", "off"), ("PUSH_AUTH_AUDIENCE", "https://x")],
                "PUSH_AUTH",
            ),
            (
                &[("PUSH_AUTH_AUDIENCE", "https://x")],
                "PUSH_AUTH_SERVICE_ACCOUNTS",
            ),
            (
                &[
                    ("PUSH_AUTH_AUDIENCE", "https://x"),
                    ("PUSH_AUTH_SERVICE_ACCOUNTS", "not-an-email"),
                ],
                "PUSH_AUTH_SERVICE_ACCOUNTS",
            ),
            (
                &[("PUSH_AUTH_SERVICE_ACCOUNTS", "a@p.iam.gserviceaccount.com")],
                "PUSH_AUTH_AUDIENCE",
            ),
            (
                &[
                    ("PUSH_AUTH_AUDIENCE", "https://x"),
                    ("PUSH_AUTH_SERVICE_ACCOUNTS", "a@p.iam.gserviceaccount.com"),
                    ("PUSH_AUTH_JWKS_URL", "file:///etc/keys"),
                ],
                "PUSH_AUTH_JWKS_URL",
            ),
            (&[("DISABLE_PUBLIC_IP", "maybe")], "DISABLE_PUBLIC_IP"),
            (&[("BOOT_DISK_SIZE_GB", "big")], "BOOT_DISK_SIZE_GB"),
        ];
        for (vars, variable) in cases {
            let error = settings(vars).expect_err(variable);
            assert_eq!(error.variable, *variable, "{error}");
        }
    }

    #[test]
    fn push_auth_modes() {
        assert_eq!(settings(&[]).unwrap().push_auth, PushAuthMode::Unset);
        assert_eq!(
            settings(&[("PUSH_AUTH", "off")]).unwrap().push_auth,
            PushAuthMode::Off
        );
        let verify = settings(&[
            ("PUSH_AUTH_AUDIENCE", "https://trigger-abc-ew.a.run.app"),
            (
                "PUSH_AUTH_SERVICE_ACCOUNTS",
                "push@p.iam.gserviceaccount.com, other@p.iam.gserviceaccount.com",
            ),
        ])
        .unwrap()
        .push_auth;
        let PushAuthMode::Verify(verify) = verify else {
            panic!("{verify:?}")
        };
        assert_eq!(verify.audience, "https://trigger-abc-ew.a.run.app");
        assert_eq!(verify.service_accounts.len(), 2);
        assert_eq!(verify.jwks_url, push_token::GOOGLE_JWKS_URL);
    }

    #[test]
    fn every_profile_field_is_documented() {
        for field in Field::ALL {
            assert!(
                VARIABLES.iter().any(|v| v.name == field.env_var()),
                "{} missing from VARIABLES",
                field.env_var()
            );
        }
    }
}
