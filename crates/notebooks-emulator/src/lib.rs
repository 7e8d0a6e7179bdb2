//! A local emulator of the Notebooks REST API (v1 user-managed notebooks, v2 Workbench
//! instances).
//!
//! # Why it exists
//! Creating a real Workbench instance takes minutes, costs money, needs credentials and cannot
//! be made to fail on demand. The product's create-and-poll path, its retry policy and its
//! handling of Google's error shapes still need to be exercised on every commit; this emulator
//! serves the same paths, JSON shapes, validation errors and long-running operations as
//! `notebooks.googleapis.com`, in milliseconds, and can inject faults reproducibly. Google's own
//! `gcloud` accepts it (see `tests/gcloud_emulator.rs`), which is the evidence that its shapes
//! are right.
//!
//! # How lifecycle works
//! No task runs per operation. A mutation stores when its operation will be done and what the
//! instance becomes then; every read settles instances against the clock first
//! (the `store` module). So `--provision-time` can be 30 s with 10 000 operations pending at no
//! cost, and a test with a [`ManualClock`] steps through states without sleeping.
//!
//! # Layout
//! `routes` parses Google's paths (custom methods like `instances/ID:stop`) and orchestrates;
//! `schema` validates against the vendored discovery documents; `store` keeps state; `faults`
//! decides deterministic failures; `status` renders `google.rpc.Status`; `filter` reads list
//! filters; `settings` holds the knobs tests turn at runtime; `clock` makes time injectable.

mod clock;
mod faults;
mod filter;
mod routes;
mod schema;
mod settings;
mod status;
mod store;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

pub use clock::{Clock, ManualClock, SystemClock};
pub use routes::router;
pub use status::{ApiError, Code};
pub use store::RecordedCreate;

use settings::Knobs;
use store::Store;

pub use notebooks_wire::ApiVersion;

/// The `@type` of a message of this version, as carried inside `google.protobuf.Any`.
fn type_url(version: ApiVersion, message: &str) -> String {
    format!(
        "type.googleapis.com/google.cloud.notebooks.{}.{message}",
        version.as_str()
    )
}

fn parse_status_name(text: &str) -> Result<String, String> {
    Code::parse(text).map(|code| code.name().to_owned())
}

/// How the emulated API behaves (everything but where it listens).
#[derive(clap::Args, Clone, Debug)]
pub struct EmulatorConfig {
    /// How long every create, start, stop and delete stays `done:false` (the instance meanwhile
    /// reads PROVISIONING, STARTING, STOPPING or DELETED). Real creations take minutes; tests
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

    /// Fraction (0.0–1.0) of create/start/stop/delete operations that end `done:true` with an
    /// `error` instead of a `response`. A failed create leaves no instance; other failed
    /// operations leave the instance in its previous state.
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
pub enum ConfigError {
    #[error("{name} must lie within 0.0..=1.0, got {value}")]
    Rate { name: &'static str, value: f64 },
    #[error("operation failure status: {0}")]
    Status(String),
}

#[derive(Debug)]
struct Shared {
    store: Store,
    knobs: Knobs,
    seed: u64,
    v1_legacy: bool,
    /// Every HTTP request, for [`EmulatorState::request_count`].
    requests: AtomicU64,
    /// API requests only (not `GET /`): the index request faults are keyed by, so readiness
    /// probes do not shift the fault sequence.
    api_requests: AtomicU64,
}

/// The emulator's state: cheap to clone, shared by the router and the test handle.
#[derive(Clone, Debug)]
pub struct EmulatorState(Arc<Shared>);

impl EmulatorState {
    /// # Errors
    /// A rate outside 0.0..=1.0 or an unknown status name.
    pub fn new(config: &EmulatorConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`EmulatorState::new`] with an injected clock, for lifecycle tests without sleeps.
    ///
    /// # Errors
    /// A rate outside 0.0..=1.0 or an unknown status name.
    pub fn with_clock(config: &EmulatorConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        for (name, value) in [
            ("fault rate", config.fault_rate),
            ("operation failure rate", config.operation_failure_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::Rate { name, value });
            }
        }
        let code = Code::parse(&config.operation_failure_status).map_err(ConfigError::Status)?;
        Ok(Self(Arc::new(Shared {
            store: Store::new(clock),
            knobs: Knobs::new(
                config.provision_time,
                config.fault_rate,
                config.operation_failure_rate,
                code,
            ),
            seed: config.seed,
            v1_legacy: config.v1_legacy,
            requests: AtomicU64::new(0),
            api_requests: AtomicU64::new(0),
        })))
    }

    /// Current instances of both versions, lifecycle settled, as `GET` would show them.
    pub fn instances(&self) -> Vec<serde_json::Value> {
        self.0.store.instances()
    }

    /// Every create that reached validation (accepted or rejected), in arrival order. Requests
    /// answered with an injected fault never got that far and are not listed.
    pub fn create_requests(&self) -> Vec<RecordedCreate> {
        self.0
            .store
            .create_requests()
            .into_iter()
            .map(|create| {
                create.map_body(|body| routes::json_body(&body).unwrap_or(serde_json::Value::Null))
            })
            .collect()
    }

    /// HTTP requests served, including injected faults, 404s and readiness probes.
    pub fn request_count(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// # Panics
    /// If `rate` lies outside 0.0..=1.0.
    pub fn set_fault_rate(&self, rate: f64) {
        self.0.knobs.set_fault_rate(rate);
    }

    /// Applies to operations started from now on.
    pub fn set_provision_time(&self, duration: Duration) {
        self.0.knobs.set_provision_time(duration);
    }

    /// # Panics
    /// If `rate` lies outside 0.0..=1.0 or `status` is not a canonical code name.
    pub fn set_operation_failure(&self, rate: f64, status: &str) {
        let code = Code::parse(status).unwrap_or_else(|message| panic!("{message}"));
        self.0.knobs.set_operation_failure(rate, code);
    }
}

/// A running emulator. Dropping it stops the server; [`Emulator::shutdown`] also waits for it.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    state: EmulatorState,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Emulator {
    /// Binds (port 0 allowed) and serves in a background task.
    ///
    /// # Errors
    /// The bind error, or `InvalidInput` for a configuration the flags would have refused.
    pub async fn start(addr: SocketAddr, config: EmulatorConfig) -> std::io::Result<Emulator> {
        let state = EmulatorState::new(&config)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let app = router(state.clone());
        let serve = axum::serve(notebooks_wire::net::without_nagle(listener), app)
            .with_graceful_shutdown(cancel.clone().cancelled_owned());
        let task = tokio::spawn(async move { serve.await });
        Ok(Emulator {
            addr,
            state,
            cancel,
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (a wildcard bind address is reported as loopback, which is
    /// what a local client must dial).
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    pub fn state(&self) -> &EmulatorState {
        &self.state
    }

    /// See [`EmulatorState::instances`].
    pub fn instances(&self) -> Vec<serde_json::Value> {
        self.state.instances()
    }

    /// See [`EmulatorState::create_requests`].
    pub fn create_requests(&self) -> Vec<RecordedCreate> {
        self.state.create_requests()
    }

    /// See [`EmulatorState::request_count`].
    pub fn request_count(&self) -> u64 {
        self.state.request_count()
    }

    /// See [`EmulatorState::set_fault_rate`].
    pub fn set_fault_rate(&self, rate: f64) {
        self.state.set_fault_rate(rate);
    }

    /// See [`EmulatorState::set_provision_time`].
    pub fn set_provision_time(&self, duration: Duration) {
        self.state.set_provision_time(duration);
    }

    /// See [`EmulatorState::set_operation_failure`].
    pub fn set_operation_failure(&self, rate: f64, status: &str) {
        self.state.set_operation_failure(rate, status);
    }

    /// Stops accepting, lets in-flight requests finish (at most 5 s, then aborts) and waits.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        let Some(mut task) = self.task.take() else {
            return;
        };
        match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "emulator server stopped with an error"),
            Ok(Err(error)) => tracing::warn!(%error, "emulator server task failed"),
            Err(_) => {
                tracing::warn!("emulator connections still open after 5s; aborting");
                task.abort();
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// For the `notebook-trigger emulator` subcommand: bind, print where to reach it, serve until
/// `shutdown` resolves.
///
/// # Errors
/// The address cannot be bound, or the configuration is invalid.
pub async fn run(
    args: EmulatorArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = SocketAddr::new(args.host, args.port);
    let emulator = Emulator::start(addr, args.config.clone())
        .await
        .with_context(|| format!("cannot start the Notebooks API emulator on {addr}"))?;
    println!(
        "Notebooks API emulator listening on {} (provision time {}, fault rate {})",
        emulator.base_url(),
        notebooks_wire::duration::display(args.config.provision_time),
        args.config.fault_rate
    );
    println!(
        "NOTEBOOKS_EMULATOR_HOST={}",
        emulator.base_url().trim_start_matches("http://")
    );
    shutdown.await;
    emulator.shutdown().await;
    Ok(())
}
