//! End to end through real Pub/Sub: Google's Pub/Sub emulator pushes to the service binary,
//! which launches instances on the Notebooks emulator. Skipped (with the reason printed) where
//! the Cloud SDK is missing, unless `REQUIRE_PUBSUB_EMULATOR=1`.
//!
//! - `chain`: messages to instances: what they ask for, dead letters and replay, faults and
//!   crashes; `message_keys`: the product's keys as attributes, the data an app's event.
//! - `runs`: messages to finished runs: the notebook executed on the emulated instance, its
//!   files in Cloud Storage, the report, the cleanup; `history_page`: those runs in a real
//!   browser (headless chromium) on the service's `/runs` page; `notebook_page`: a run's
//!   executed notebook (markdown, a plot, a DataFrame, a hostile HTML output) on its page;
//!   `notify`: a failing run's webhook notification, and an overdue run announced once;
//!   `notify_outcomes`: every other outcome notified once per rule, in each format, from a
//!   URL in the profile, the environment or Secret Manager (`receiver` takes them).
//! - `executions`: a message to a notebook execution job that runs its notebook with
//!   parameters, and a failing one, each ended by a reap message.
//! - `retries`: a notebook failing twice, then succeeding at its third attempt.
//! - `operate`: an operator's rerun with new parameters and cancel of a running notebook,
//!   from the terminal; `operate_page`: "Run now", "Cancel" and "Rerun" clicked in chromium.
//! - `concurrency`: ten messages against a profile's `max_concurrent_runs` of two, queued
//!   in the subscription or skipped.
//! - `results`: a notebook's result in its record and on its page; retention deleting a run
//!   that ended long enough ago while one still going is kept.
//! - `chaos`: many runs of every kind while the service is killed and reapers race the
//!   reports; afterwards every message has one finished record and no instance is up.
//! - `service`: the service binary as a process; `deployment`: it deployed for runs (profiles,
//!   environment, subscription) and the run records read back; `topology`: topics and
//!   subscriptions.

#[path = "../support/chromium.rs"]
mod chromium;
#[path = "../support/devtools.rs"]
mod devtools;
#[path = "../support/fake_gcs.rs"]
mod fake_gcs;
#[path = "../support/local_server.rs"]
mod local_server;
#[path = "../support/papermill.rs"]
mod papermill;
#[path = "../support/pubsub_emulator.rs"]
mod pubsub_emulator;
#[path = "../support/pubsub_pull.rs"]
mod pubsub_pull;
#[path = "../support/secrets.rs"]
mod secrets;
#[path = "../support/test_log.rs"]
mod test_log;

mod chain;
mod chaos;
mod concurrency;
mod deployment;
mod executions;
mod history_page;
mod message_keys;
mod notebook_page;
mod notify;
mod notify_outcomes;
mod operate;
mod operate_page;
mod receiver;
mod results;
mod retries;
mod runs;
mod service;
mod topology;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use notebooks_emulator::{Emulator, EmulatorConfig};
use pubsub_emulator::PubSubEmulator;

const BIN: &str = env!("CARGO_BIN_EXE_notebook-trigger");
const PROJECT: &str = "e2e-project";

pub async fn notebooks(provision: Duration) -> Emulator {
    let config = EmulatorConfig {
        provision_time: provision,
        seed: 7,
        ..EmulatorConfig::default()
    };
    test_log::init();
    Emulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap()
}

/// Runs the binary as a user would, bounded in time; the child is killed if the test fails.
pub async fn cli(pubsub: &PubSubEmulator, args: &[&str]) -> std::process::Output {
    bounded(&[("PUBSUB_EMULATOR_HOST", &pubsub.host)], args).await
}

/// Runs the binary with nothing set but `PATH` and the project.
pub async fn cli_plain(args: &[&str]) -> std::process::Output {
    bounded(&[], args).await
}

/// The binary with `args`, `PATH`, the project and `env` only, bounded in time.
async fn bounded(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GOOGLE_CLOUD_PROJECT", PROJECT)
        .envs(env.iter().copied())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cli runs");
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("`{}` did not finish within 60 s", args.join(" ")))
        .expect("cli output")
}

/// Waits until `check` holds, up to `limit`.
pub async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn active(notebooks: &Emulator) -> usize {
    notebooks
        .instances()
        .iter()
        .filter(|i| i["state"] == "ACTIVE")
        .count()
}
