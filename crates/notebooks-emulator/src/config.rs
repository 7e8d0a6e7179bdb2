//! What the emulator is told at start-up: the `notebook-trigger emulator` flags, and the
//! same settings for in-process use.

use std::net::IpAddr;
use std::time::Duration;

use super::settings;
use super::status::Code;

fn parse_status_name(text: &str) -> Result<String, String> {
    Code::parse(text).map(|code| code.name().to_owned())
}

/// How the emulated API behaves (everything but where it listens).
#[derive(clap::Args, Clone, Debug)]
pub struct EmulatorConfig {
    /// How long every operation (create, start, stop, reset, update, delete) stays `done:false`
    /// (the instance meanwhile reads PROVISIONING, STARTING, STOPPING or DELETED, or keeps its
    /// state during an update). Real creations take minutes; tests
    /// want 1s or less. Forms: 30s, 250ms, 1m30s, or bare seconds.
    #[arg(long, value_parser = notebooks_wire::duration::parse, default_value = "30s", value_name = "DURATION")]
    pub provision_time: Duration,

    /// Fraction (0.0–1.0) of API requests answered 503 UNAVAILABLE or 429 RESOURCE_EXHAUSTED
    /// before they touch any state, to exercise client retries. `GET /` is never faulted.
    #[arg(long, value_parser = settings::parse_rate, default_value_t = 0.0, value_name = "FRACTION")]
    pub fault_rate: f64,

    /// Seed of every fault decision. Request faults depend on (seed, position of the request in
    /// arrival order), operation failures on (seed, verb, instance name), so a run with the
    /// same seed and the same requests fails the same way every time.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Fraction (0.0–1.0) of operations (create, start, stop, reset, update, delete) that end
    /// `done:true` with an `error` instead of a `response`. A failed create leaves no
    /// instance; other failed operations leave the instance in its previous state.
    #[arg(long, value_parser = settings::parse_rate, default_value_t = 0.0, value_name = "FRACTION")]
    pub operation_failure_rate: f64,

    /// Canonical code of failed operations: RESOURCE_EXHAUSTED (a CPU quota message, as when a
    /// region is out of quota), INVALID_ARGUMENT, FAILED_PRECONDITION, PERMISSION_DENIED, or
    /// any other google.rpc.Code name.
    #[arg(long, value_parser = parse_status_name, default_value = "RESOURCE_EXHAUSTED", value_name = "CODE")]
    pub operation_failure_status: String,

    /// Let v1 (user-managed notebooks) create instances as it did before its shutdown. Without
    /// it, v1 create answers like production today: 400 FAILED_PRECONDITION "… have been
    /// deprecated and new instances cannot be created …".
    #[arg(long)]
    pub v1_legacy: bool,

    /// Run each instance's post-startup script when it becomes ACTIVE: the `gs://` URI in its
    /// `post-startup-script` metadata is fetched from Cloud Storage and run as `bash SCRIPT`,
    /// with a metadata server of its own (`GCE_METADATA_HOST`). Its output is the instance's
    /// serial console. `stop` and `delete` end the script's process group. Vertex AI notebook
    /// execution jobs run too: their notebook is read from Cloud Storage and run by `python3 -m
    /// papermill` here (not in the job's container image, which is never pulled), killed at
    /// its `executionTimeout`, and the executed notebook is written to
    /// `{gcsOutputUri}/{jobId}/{file name}` (Google's exact place is unconfirmed). Only on a
    /// loopback `--host`: scripts and notebooks come from whoever can write to that Cloud
    /// Storage.
    #[arg(long)]
    pub run_scripts: bool,

    /// Cloud Storage for scripts (`host:port` or `http://host:port` of a JSON API emulator such
    /// as fake-gcs-server). Without it the emulator serves a Cloud Storage of its own on its
    /// port, and scripts are pointed at that.
    #[arg(long, env = "STORAGE_EMULATOR_HOST", value_name = "HOST:PORT")]
    pub storage_emulator_host: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            provision_time: Duration::from_secs(30),
            fault_rate: 0.0,
            seed: 0,
            operation_failure_rate: 0.0,
            operation_failure_status: Code::ResourceExhausted.name().to_owned(),
            v1_legacy: false,
            run_scripts: false,
            storage_emulator_host: None,
        }
    }
}

/// `notebook-trigger emulator` flags.
#[derive(clap::Args, Clone, Debug)]
pub struct EmulatorArgs {
    /// Address to listen on. Keep 127.0.0.1 unless a container must reach it: there is no auth.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on; 0 picks a free one (printed on start-up).
    #[arg(long, default_value_t = 8090)]
    pub port: u16,

    #[command(flatten)]
    pub config: EmulatorConfig,
}

/// A configuration value the flags' parsers would have refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EmulatorConfigError {
    #[error("{name} must lie within 0.0..=1.0, got {value}")]
    Rate { name: &'static str, value: f64 },
    #[error("operation failure status: {0}")]
    Status(String),
    #[error("{0}")]
    StorageHost(String),
    #[error(
        "--run-scripts runs scripts from Cloud Storage as local processes, so the emulator must \
         listen on a loopback address, not {0}"
    )]
    ScriptsNeedLoopback(std::net::IpAddr),
}
