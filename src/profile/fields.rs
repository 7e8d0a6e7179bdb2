//! The fields a profile can set, declared once in one table.
//!
//! A field is a name in profile files, payloads and `ALLOWED_OVERRIDES`, an environment
//! variable of the default profile, a documented `--help` row and a member of each layer of
//! [`Fields`]. Writing these apart lets them drift (a field that parses but is undocumented,
//! or is documented under another name); `profile_fields!` expands the one table into all of
//! them, and each field's Rust type picks how its variable is parsed and how layers stack.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::notify::NotifyRule;
use crate::variable::Variable;
use crate::variable::WhenUnset::{Absent, Decided, Required, Value};

/// The machine type of a profile that names none.
pub const DEFAULT_MACHINE_TYPE: &str = "n1-standard-4";
/// The container tag of an image that names none.
pub const DEFAULT_CONTAINER_TAG: &str = "latest";
/// How long a notebook may run when its profile says nothing.
pub const DEFAULT_MAX_RUN_TIME: &str = "1h";
/// The outcomes a profile retries when it says nothing (as `RETRY_ON` writes them).
pub const DEFAULT_RETRY_ON: &str = "failed,timed_out,unreported";
/// How long a retry waits when its profile says nothing.
pub const DEFAULT_RETRY_DELAY: &str = "1m";
/// What a message that finds its profile's runs all going does when its profile says nothing.
pub const DEFAULT_WHEN_BUSY: &str = "queue";
/// Where a profile's runs execute when it says nothing (as `BACKEND` writes it).
pub const DEFAULT_BACKEND: &str = "instance";

/// Expands the table of fields. A row is
/// `Variant name: Type, "ENVIRONMENT_VARIABLE", when-unset, "meaning";`
/// where `name` is the field's name everywhere outside Rust and `Type` one of the
/// `FieldValue` types.
macro_rules! profile_fields {
    ($(
        $variant:ident $name:ident: $type:ty, $env:literal, $unset:expr, $meaning:literal;
    )+) => {
        /// The default profile's variables as `--help` documents them, in [`Field::ALL`] order.
        pub const VARIABLES: &[Variable] = &[$(
            Variable { name: $env, unset: $unset, meaning: $meaning },
        )+];

        /// Every field a profile (or an allowed override) can set, with its environment variable.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Field {
            $($variant,)+
        }

        impl Field {
            /// Every field, in the table's order.
            pub const ALL: [Field; VARIABLES.len()] = [$(Field::$variant,)+];

            /// The name used in profile files, JSON payloads and `ALLOWED_OVERRIDES`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Field::$variant => stringify!($name),)+
                }
            }

            /// The environment variable that sets this field in the default profile.
            pub fn env_var(self) -> &'static str {
                match self {
                    $(Field::$variant => $env,)+
                }
            }
        }

        /// One layer of a profile: every field optional, so layers can be stacked. A run's
        /// record keeps the layer its message set, so a retry or a rerun launches the same.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct Fields {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<$type>,
            )+
        }

        impl Fields {
            /// `top` over `self`: a field set in `top` wins; label and metadata maps are merged.
            pub fn overlay(&self, top: &Fields) -> Fields {
                Fields {
                    $($name: FieldValue::overlay(&self.$name, &top.$name),)+
                }
            }

            /// Whether this layer sets nothing.
            pub fn is_empty(&self) -> bool {
                self.present().is_empty()
            }

            /// The fields this layer sets, to check them against `ALLOWED_OVERRIDES`.
            pub fn present(&self) -> Vec<Field> {
                [$((Field::$variant, self.$name.is_some()),)+]
                    .into_iter()
                    .filter_map(|(field, set)| set.then_some(field))
                    .collect()
            }

            /// Reads the default profile from environment variables (see [`Field::env_var`]).
            ///
            /// # Errors
            /// A [`FieldError`] for each value of the wrong form, so start-up names them all;
            /// the caller names the variables.
            pub fn from_env(
                env: &dyn Fn(&str) -> Option<String>,
            ) -> Result<Fields, Vec<FieldError>> {
                let mut errors = Vec::new();
                let fields = Fields {
                    $($name: read(env, Field::$variant).unwrap_or_else(|error| {
                        errors.push(error);
                        None
                    }),)+
                };
                if errors.is_empty() { Ok(fields) } else { Err(errors) }
            }
        }
    };
}

profile_fields! {
    Location location: String, "NOTEBOOK_LOCATION", Required("(required)"),
        "zone of the instances, e.g. us-central1-a; an execution runs in its region (a region such as us-central1 is accepted too)";
    ContainerImage container_image: String, "CONTAINER_IMAGE", Required("(required)"),
        "container repository, optionally with :tag";
    ContainerTag container_tag: String, "CONTAINER_TAG", Value(DEFAULT_CONTAINER_TAG),
        "container tag";
    MachineType machine_type: String, "MACHINE_TYPE", Value(DEFAULT_MACHINE_TYPE),
        "machine type";
    PostStartupScript post_startup_script: String, "POST_STARTUP_SCRIPT", Absent,
        "gs://BUCKET/script.sh run after start-up (instance only)";
    PostStartupScriptBehavior post_startup_script_behavior: String,
        "POST_STARTUP_SCRIPT_BEHAVIOR", Absent,
        "run_once | run_every_start | download_and_run_every_start (instance only)";
    IdleTimeoutSeconds idle_timeout_seconds: u32, "IDLE_TIMEOUT_SECONDS",
        Decided("API default (10800)"), "idle shutdown after N s (600-86400; 0 disables) (instance only)";
    ServiceAccount service_account: String, "INSTANCE_SERVICE_ACCOUNT",
        Decided("Compute Engine default"), "service account of the instance VM, or the execution's serviceAccount";
    Network network: String, "NETWORK", Absent,
        "VPC network (short name or projects/P/global/networks/N)";
    Subnet subnet: String, "SUBNET", Absent, "subnetwork (short name or full name)";
    DisablePublicIp disable_public_ip: bool, "DISABLE_PUBLIC_IP", Value("false"),
        "no external IP on the VM";
    AcceleratorType accelerator_type: String, "ACCELERATOR_TYPE", Absent,
        "GPU type, e.g. NVIDIA_TESLA_T4";
    AcceleratorCount accelerator_count: u32, "ACCELERATOR_COUNT", Decided("1 with a type"),
        "number of GPUs";
    InstallGpuDriver install_gpu_driver: bool, "INSTALL_GPU_DRIVER", Decided("true with a GPU"),
        "install the GPU driver (instance only)";
    BootDiskType boot_disk_type: String, "BOOT_DISK_TYPE", Decided("API default"),
        "PD_STANDARD | PD_SSD | PD_BALANCED | …";
    BootDiskSizeGb boot_disk_size_gb: u32, "BOOT_DISK_SIZE_GB", Decided("API default (150)"),
        "boot disk size, 150-64000 (an execution's persistent disk)";
    Labels labels: BTreeMap<String, String>, "INSTANCE_LABELS", Absent,
        "extra labels, k=v,k2=v2";
    Metadata metadata: BTreeMap<String, String>, "INSTANCE_METADATA", Absent,
        "extra metadata, k=v,k2=v2: Workbench settings, never a key that runs code, grants logins or is written by Workbench (README, Security) (instance only)";
    InstanceId instance_id: String, "INSTANCE_ID", Absent,
        "fixed instance id for every message; otherwise derived per message (instance only)";
    Notebook notebook: String, "NOTEBOOK", Absent,
        "notebook each run executes: gs://BUCKET/PATH/NAME.ipynb or an absolute path in the container (its folder is the run's working directory); an execution reads it from Cloud Storage only";
    Parameters parameters: Map<String, serde_json::Value>, "NOTEBOOK_PARAMETERS", Absent,
        "default papermill parameters, a JSON object";
    Secrets secrets: BTreeMap<String, String>, "NOTEBOOK_SECRETS", Absent,
        "Secret Manager secrets the notebook's kernel gets as environment variables, VAR=projects/P/secrets/S/versions/V,…; never from a message (instance only)";
    Output output: String, "NOTEBOOK_OUTPUT", Required("(required with a notebook)"),
        "gs://BUCKET/PREFIX: each run's files go under PREFIX/RUN_ID/";
    MaxRunTime max_run_time: String, "MAX_RUN_TIME", Value(DEFAULT_MAX_RUN_TIME),
        "longest a notebook may run, at most 24h";
    Retries retries: u32, "RETRIES", Value("0"),
        "attempts after the first when a run ends in an outcome of retry_on, at most 10; each attempt is a run of its own";
    RetryOn retry_on: Vec<String>, "RETRY_ON", Value(DEFAULT_RETRY_ON),
        "outcomes that are retried, among failed, timed_out, unreported, lost (comma-separated; never cancelled)";
    RetryDelay retry_delay: String, "RETRY_DELAY", Value(DEFAULT_RETRY_DELAY),
        "wait between an attempt's end and the next attempt's launch, at most 6h";
    MaxConcurrentRuns max_concurrent_runs: u32, "MAX_CONCURRENT_RUNS", Decided("no cap"),
        "runs of this profile at once, 1-100, counted across every service instance";
    WhenBusy when_busy: String, "WHEN_BUSY", Value(DEFAULT_WHEN_BUSY),
        "with max_concurrent_runs going: queue (Pub/Sub redelivers the message later) | skip (acknowledged, recorded skipped)";
    Notify notify: Vec<NotifyRule>, "NOTIFY", Absent,
        "webhooks told of a run's events, a JSON list of {url | url_env | url_secret, on, format}: format slack | google_chat | json, on among launched, succeeded, failed, timed_out, cancelled, unreported, lost, skipped, overdue, retrying (default: failed, timed_out, unreported, lost, overdue); never from a message";
    ExpectedDuration expected_duration: String, "EXPECTED_DURATION", Absent,
        "how long a run should take, e.g. 20m: a run still going past it is announced overdue once (below max_run_time)";
    KeepRuns keep_runs: String, "KEEP_RUNS", Decided("forever"),
        "how long a run's folder and record are kept after it ends, e.g. 90d: the reap deletes older ones, never a run still going; one value per output; never from a message";
    Backend backend: String, "BACKEND", Value(DEFAULT_BACKEND),
        "where each run executes: instance (a Workbench instance per run, with the runner) | execution (a Vertex AI notebook execution job in the location's region; instance-only fields are refused)";
    RuntimeTemplate runtime_template: String, "RUNTIME_TEMPLATE", Absent,
        "execution only: projects/P/locations/REGION/notebookRuntimeTemplates/T, the compute a job runs on instead of machine_type, accelerator_*, boot_disk_*, network, subnet, and disable_public_ip, whose container it uses too (container_image is then not sent)";
}

impl Field {
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A field whose value cannot be launched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct FieldError {
    pub field: Field,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: Field, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// What a field's type means for its environment variable and for layering: the table gives
/// each field a type, and the type alone decides how it is read (text, whole number, flag,
/// `k=v` pairs) and whether a higher layer replaces it or merges into it.
pub(super) trait FieldValue: Clone {
    /// The value of a variable's text; the error says what form was expected.
    fn from_env_text(text: &str) -> Result<Self, String>;

    /// `top` over `base`: a value set in `top` replaces the one below.
    fn overlay(base: &Option<Self>, top: &Option<Self>) -> Option<Self> {
        top.clone().or_else(|| base.clone())
    }
}

impl FieldValue for String {
    fn from_env_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

impl FieldValue for u32 {
    fn from_env_text(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a whole number"))
    }
}

impl FieldValue for bool {
    fn from_env_text(text: &str) -> Result<Self, String> {
        parse_bool(text).ok_or_else(|| format!("`{text}` is not true or false"))
    }
}

/// A list, such as `retry_on`: `a,b` in a variable; a higher layer replaces it whole.
impl FieldValue for Vec<String> {
    fn from_env_text(text: &str) -> Result<Self, String> {
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

/// Labels, metadata and secrets: a profile adds keys to the defaults rather than replacing them
/// all.
impl FieldValue for BTreeMap<String, String> {
    fn from_env_text(text: &str) -> Result<Self, String> {
        parse_pairs(text)
    }

    fn overlay(base: &Option<Self>, top: &Option<Self>) -> Option<Self> {
        match (base, top) {
            (Some(base), Some(top)) => {
                let mut merged = base.clone();
                merged.extend(top.clone());
                Some(merged)
            }
            _ => top.clone().or_else(|| base.clone()),
        }
    }
}

/// Parameters: a profile adds to the defaults' parameters, a message to the profile's.
impl FieldValue for Map<String, serde_json::Value> {
    fn from_env_text(text: &str) -> Result<Self, String> {
        match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err(format!("`{text}` is not a JSON object")),
            Err(error) => Err(format!("not a JSON object: {error}")),
        }
    }

    fn overlay(base: &Option<Self>, top: &Option<Self>) -> Option<Self> {
        match (base, top) {
            (Some(base), Some(top)) => {
                let mut merged = base.clone();
                merged.extend(top.clone());
                Some(merged)
            }
            _ => top.clone().or_else(|| base.clone()),
        }
    }
}

/// A field's variable: unset or blank is `None`, anything else must be of the field's form.
fn read<T: FieldValue>(
    env: &dyn Fn(&str) -> Option<String>,
    field: Field,
) -> Result<Option<T>, FieldError> {
    env(field.env_var())
        .filter(|v| !v.trim().is_empty())
        .map(|v| T::from_env_text(&v).map_err(|reason| FieldError::new(field, reason)))
        .transpose()
}

/// `true/false`, `1/0`, `yes/no`, `on/off`, in any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `k=v,k2=v2` (the form gcloud's `--labels` and `--metadata` take).
fn parse_pairs(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(format!("`{pair}` is not KEY=VALUE (expected k=v,k2=v2)")),
        })
        .collect()
}
