//! The embedded demo: with nothing configured, the service starts the Notebooks emulator
//! in-process and puts what its instances run into the emulator's own Cloud Storage, so
//! `cargo run` is a working demo without a cloud account.

use std::net::SocketAddr;
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
    let chosen = settings.default_profile.post_startup_script.is_some()
        || settings.default_profile.notebook.is_some();
    let papermill = on_path("papermill");
    let service_url = format!("http://127.0.0.1:{}", settings.port);
    let settings = settings.with_demo_defaults(
        papermill,
        &emulator.storage_url(),
        &emulator.jwks_url(),
        &service_url,
    );
    if !chosen {
        install(&emulator, papermill);
    }
    Ok((settings, emulator))
}

/// Puts what demo instances run into the embedded emulator's own Cloud Storage: the notebook,
/// its input and the runner where papermill can run it, the shell demo script otherwise.
fn install(emulator: &Emulator, papermill: bool) {
    let Some(storage) = emulator.state().local_storage() else {
        return;
    };
    let storage_url = emulator.storage_url();
    let folder = demo::DEMO_NOTEBOOK_FOLDER;
    if papermill {
        for (name, kind, text) in [
            ("seed.ipynb", "application/x-ipynb+json", DEMO_NOTEBOOK),
            ("input.csv", "text/csv", DEMO_INPUT),
        ] {
            storage.put(
                demo::DEMO_BUCKET,
                &format!("{folder}/{name}"),
                kind,
                text.into(),
            );
        }
        let runner = GsUri::parse(demo::DEMO_RUNNER).expect("the demo runner's URI");
        storage.put(
            &runner.bucket,
            &runner.object,
            "text/x-sh",
            runner::SCRIPT.as_bytes().to_vec(),
        );
        tracing::info!(
            "demo launches are runs: the runner executes {notebook} with papermill and saves what it wrote under {output}/RUN_ID/ (list: curl -s '{storage_url}/storage/v1/b/{bucket}/o?prefix=runs/'); its record is gs://{bucket}/{records}/runs/RUN_ID.json",
            notebook = demo::DEMO_NOTEBOOK,
            output = demo::DEMO_OUTPUT,
            bucket = demo::DEMO_BUCKET,
            records = crate::run::RECORDS_PREFIX,
        );
    } else {
        let script = GsUri::parse(demo::DEMO_SCRIPT_URI).expect("the demo script's URI");
        storage.put(
            &script.bucket,
            &script.object,
            "text/x-sh",
            DEMO_SCRIPT.into(),
        );
        tracing::info!(
            "papermill is not installed, so demo instances run the shell script {script} instead of a notebook (pip install papermill for whole runs); for the instance projects/P/locations/ZONE/instances/ID in an answer, its console: curl -s {base}/compute/v1/projects/P/zones/ZONE/instances/ID/serialPort, the file it writes: curl -s '{storage_url}/storage/v1/b/{bucket}/o?prefix=runs/'",
            base = emulator.base_url(),
            bucket = script.bucket,
        );
    }
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
