//! The embedded demo: with nothing configured, the service starts the Notebooks emulator
//! in-process and puts what its instances run into the emulator's own Cloud Storage, so
//! `cargo run` is a working demo without a cloud account.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use anyhow::Context as _;
use notebooks_emulator::storage::GsUri;
use notebooks_emulator::{DEMO_SCRIPT, Emulator, EmulatorConfig};

use crate::config::{Settings, demo};
use crate::runner;

/// Provisioning time of the embedded demo emulator: long enough to watch, short enough to wait.
const DEMO_PROVISION_TIME: Duration = Duration::from_secs(5);

/// The demo notebook and its input.
const DEMO_NOTEBOOK: &str = include_str!("../demo/seed.ipynb");
const DEMO_INPUT: &str = include_str!("../demo/input.csv");

/// Why the demo has no runs to show, and what to do: it runs notebooks only with papermill.
pub const NO_RUNS: &str = "demo launches run a notebook only where papermill is installed \
     (pip install papermill ipykernel, then restart the demo), and only when POST_STARTUP_SCRIPT \
     is not set instead of NOTEBOOK";

/// Starts the embedded emulator and fills in the settings the demo needs to use it: runs when
/// papermill is installed, the shell demo script otherwise, unless the settings chose what
/// instances run.
///
/// # Errors
/// The emulator cannot start.
pub async fn start(settings: Settings) -> anyhow::Result<(Settings, Emulator)> {
    let config = EmulatorConfig {
        provision_time: DEMO_PROVISION_TIME,
        run_scripts: true,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .context("starting the embedded Notebooks emulator")?;
    let papermill = on_path("papermill");
    let service_url = format!("http://{}", reachable(settings.host, settings.port));
    let settings = settings.with_demo_defaults(
        papermill,
        &emulator.storage_url(),
        &emulator.jwks_url(),
        &service_url,
    );
    install(&emulator, &settings, papermill);
    Ok((settings, emulator))
}

/// Puts what demo instances run into the embedded emulator's own Cloud Storage, as far as the
/// settings left it to the demo: the runner for any notebook, the seed notebook and its input
/// when no notebook was chosen and papermill can run it, the shell demo script otherwise.
fn install(emulator: &Emulator, settings: &Settings, papermill: bool) {
    let Some(storage) = emulator.state().local_storage() else {
        return;
    };
    let put = |uri: &str, kind: &str, text: &str| {
        let uri = GsUri::parse(uri).expect("a demo object's URI");
        storage.put(&uri.bucket, &uri.object, kind, text.as_bytes().to_vec());
    };
    let storage_url = emulator.storage_url();
    let profile = &settings.default_profile;
    if settings.runs.runner_script.as_deref() == Some(demo::DEMO_RUNNER) {
        put(demo::DEMO_RUNNER, "text/x-sh", &runner::SCRIPT);
    }
    if profile.notebook.as_deref() == Some(demo::DEMO_NOTEBOOK) {
        let seed = format!("gs://{}/{}", demo::DEMO_BUCKET, demo::DEMO_NOTEBOOK_FOLDER);
        put(
            &format!("{seed}/seed.ipynb"),
            "application/x-ipynb+json",
            DEMO_NOTEBOOK,
        );
        put(&format!("{seed}/input.csv"), "text/csv", DEMO_INPUT);
    }
    if let Some(notebook) = &profile.notebook {
        let output = profile.output.as_deref().unwrap_or(demo::DEMO_OUTPUT);
        if papermill {
            tracing::info!(
                "demo launches are runs: the runner executes {notebook} with papermill and saves what it wrote under {output}/RUN_ID/; notebook-trigger runs (or GET /runs) lists them"
            );
        } else {
            tracing::warn!(
                "papermill is not installed, so the runner cannot execute {notebook}: pip install papermill ipykernel, then restart"
            );
        }
    } else if profile.post_startup_script.as_deref() == Some(demo::DEMO_SCRIPT_URI) {
        put(demo::DEMO_SCRIPT_URI, "text/x-sh", DEMO_SCRIPT);
        tracing::info!(
            "papermill is not installed, so demo instances run the shell script {script} instead of a notebook (pip install papermill for whole runs); for the instance projects/P/locations/ZONE/instances/ID in an answer, its console: curl -s {base}/compute/v1/projects/P/zones/ZONE/instances/ID/serialPort, the file it writes: curl -s '{storage_url}/storage/v1/b/{bucket}/o?prefix=runs/'",
            script = demo::DEMO_SCRIPT_URI,
            base = emulator.base_url(),
            bucket = demo::DEMO_BUCKET,
        );
    }
}

/// Where this machine reaches a service listening on `host:port`: an unspecified address
/// (every interface) through its loopback.
fn reachable(host: IpAddr, port: u16) -> SocketAddr {
    let host = match host {
        IpAddr::V4(ip) if ip.is_unspecified() => Ipv4Addr::LOCALHOST.into(),
        IpAddr::V6(ip) if ip.is_unspecified() => Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    SocketAddr::new(host, port)
}

/// Whether an executable of this name is on `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}
