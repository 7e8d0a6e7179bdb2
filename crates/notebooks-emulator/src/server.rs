//! A running emulator on a socket, and the `notebook-trigger emulator` subcommand.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::clock::{Clock, SystemClock};
use super::config::{EmulatorArgs, EmulatorConfig, EmulatorConfigError};
use super::executions::{RecordedExecutionCreate, Runs};
use super::identity::JWKS_PATH;
use super::machines::Machines;
use super::routes::router;
use super::state::EmulatorState;
use super::store::RecordedCreate;

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
        Self::start_with_clock(addr, config, Arc::new(SystemClock)).await
    }

    /// Like [`Emulator::start`] with an injected clock: lifecycle, and the moment scripts start,
    /// follow it.
    ///
    /// # Errors
    /// The bind error, or `InvalidInput` for a configuration the flags would have refused
    /// (including `--run-scripts` on an address that is not loopback).
    pub async fn start_with_clock(
        addr: SocketAddr,
        config: EmulatorConfig,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Emulator> {
        let invalid = |error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error);
        if config.run_scripts && !addr.ip().is_loopback() {
            return Err(invalid(EmulatorConfigError::ScriptsNeedLoopback(addr.ip())));
        }
        let state = EmulatorState::with_clock(&config, clock).map_err(invalid)?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base = reqwest::Url::parse(&format!("http://{addr}"))
            .map_err(|error| invalid(EmulatorConfigError::StorageHost(error.to_string())))?;
        if config.run_scripts {
            let storage = state.0.storage_host.clone().unwrap_or_else(|| base.clone());
            let root = std::env::temp_dir().join(format!(
                "notebooks-emulator-{}-{}",
                addr.port(),
                uuid::Uuid::new_v4().simple()
            ));
            let runs = Runs::new(storage.clone(), root.clone());
            let _ = state.0.runs.set(runs);
            let _ = state
                .0
                .machines
                .set(Machines::new(addr.ip(), base, storage, root));
            // The signing key, made now in the background: the first identity token then
            // need not wait for RSA key generation.
            let signing = state.clone();
            tokio::task::spawn_blocking(move || {
                signing.signer();
            });
        }
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

    /// Where Cloud Storage is for this emulator's instances: the one configured, or the
    /// emulator itself. `STORAGE_EMULATOR_HOST` takes it as it is.
    pub fn storage_url(&self) -> String {
        match &self.state.0.storage_host {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => self.base_url(),
        }
    }

    /// Secret Manager's root on this emulator, as `CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER`
    /// takes it (`http://127.0.0.1:PORT/secretmanager/`).
    pub fn secretmanager_url(&self) -> String {
        format!("{}{}", self.base_url(), super::secrets::ROOT)
    }

    /// The JWKS that verifies instances' identity tokens (a verifier's JWKS URL).
    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.base_url())
    }

    /// See [`EmulatorState::console`].
    pub fn console(&self, name: &str) -> String {
        self.state.console(name)
    }

    /// See [`EmulatorState::instances`].
    pub fn instances(&self) -> Vec<serde_json::Value> {
        self.state.instances()
    }

    /// See [`EmulatorState::create_requests`].
    pub fn create_requests(&self) -> Vec<RecordedCreate> {
        self.state.create_requests()
    }

    /// See [`EmulatorState::execution_create_requests`].
    pub fn execution_create_requests(&self) -> Vec<RecordedExecutionCreate> {
        self.state.execution_create_requests()
    }

    /// See [`EmulatorState::executions`].
    pub fn executions(&self) -> Vec<serde_json::Value> {
        self.state.executions()
    }

    /// See [`EmulatorState::set_execution_state`].
    ///
    /// # Errors
    /// The job does not exist, or `job_state` is no `JobState` name.
    pub fn set_execution_state(
        &self,
        name: &str,
        job_state: &str,
        status: Option<serde_json::Value>,
    ) -> Result<(), super::ApiError> {
        self.state.set_execution_state(name, job_state, status)
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
    /// Running scripts are ended first, as their VMs would be.
    pub async fn shutdown(mut self) {
        if let Some(runs) = self.state.0.runs.get() {
            runs.halt_all().await;
        }
        if let Some(machines) = self.state.0.machines.get() {
            machines.halt_all().await;
        }
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
        if let Some(runs) = self.state.0.runs.get() {
            runs.kill_all_now();
        }
        if let Some(machines) = self.state.0.machines.get() {
            machines.kill_all_now();
        }
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
    if emulator.state.local_storage().is_some() {
        println!("STORAGE_EMULATOR_HOST={}", emulator.storage_url());
    }
    println!(
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER={}",
        emulator.secretmanager_url()
    );
    println!(
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_AIPLATFORM={}/",
        emulator.base_url()
    );
    if args.config.run_scripts {
        println!(
            "post-startup scripts run when instances become ACTIVE, and notebook execution jobs with papermill when created (Cloud Storage at {}); consoles: {}/compute/v1/projects/PROJECT/zones/ZONE/instances/ID/serialPort",
            emulator.storage_url(),
            emulator.base_url()
        );
    }
    shutdown.await;
    emulator.shutdown().await;
    Ok(())
}
