//! The shipped runner (`src/runner/runner.sh`) against what a notebook may do: an instance of
//! the Notebooks emulator runs it as its post-startup script, with real papermill, the
//! emulator's own Cloud Storage and metadata server; its report goes to a local recorder and is
//! parsed as the service parses it. Needs papermill (with ipykernel): skipped with the reason
//! printed where it is missing, unless `CI=true` or `REQUIRE_PAPERMILL=1`.
//!
//! - `files`: what the run wrote (many files, hostile names, links, failed uploads) and what
//!   its notebook's folder holds (objects named to escape the work directory);
//! - `endings`: how a run ends (a kernel or papermill killed by a signal, the time limit, its
//!   instance stopped or its runner killed outright) and what its log shows of its parameters;
//! - `failures`: a cell that raises, reported with its source, exception and traceback.
//! - `parameters`: JSON values reach the notebook unchanged through papermill's YAML reading;
//! - `result`: the JSON a notebook writes to `outputs/result.json` reaches the report, and one
//!   too large, not JSON or a link is left out with the reason;
//! - `secrets`: Secret Manager secrets reach the kernel's environment and nothing else, and one
//!   that cannot be read fails the run before papermill starts.

#[path = "../support/local_server.rs"]
mod local_server;
#[path = "../support/papermill.rs"]
mod papermill;
#[path = "../support/test_log.rs"]
mod test_log;

mod endings;
mod failures;
mod files;
mod parameters;
mod result;
mod secrets;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use notebook_trigger::run::{CompletionReport, RunId};
use notebook_trigger::runner::RunSpec;
use notebooks_emulator::storage::StorageClient;
use notebooks_emulator::{Emulator, EmulatorConfig};
use serde_json::{Map, Value, json};

use local_server::LocalServer;

pub const BUCKET: &str = "runs";
const PROJECT: &str = "runner-project";
const ZONE: &str = "projects/runner-project/locations/us-central1-a";
const AUDIENCE: &str = "https://notebook-trigger.test";

/// A notebook whose first cell, tagged `parameters`, holds `parameters` and whose other cells
/// are `cells`.
pub fn notebook(parameters: &str, cells: &[&str]) -> Vec<u8> {
    let cell = |n: usize, source: &str, tags: &[&str]| {
        json!({"cell_type": "code", "execution_count": null, "id": format!("cell-{n}"),
               "metadata": {"tags": tags}, "outputs": [], "source": source})
    };
    let mut all = vec![cell(0, parameters, &["parameters"])];
    all.extend(cells.iter().enumerate().map(|(n, c)| cell(n + 1, c, &[])));
    serde_json::to_vec(&json!({
        "cells": all,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }))
    .unwrap()
}

/// A run id of the product's form, distinct per `n`.
pub fn run_id(n: u8) -> String {
    format!("r{n:016x}")
}

/// An emulator that runs scripts, the runner in its storage, and a recorder of reports; its
/// instances' processes end with [`Bench::stop`], or when it is dropped (a failing test).
pub struct Bench {
    pub emulator: Emulator,
    pub storage: StorageClient,
    recorder: LocalServer,
    reports: Arc<Mutex<Vec<Bytes>>>,
}

/// One run: `notebook` (an object of [`BUCKET`]) as run `run` with `parameters`, its files
/// under `gs://{output}/{run}/`.
pub struct Job<'a> {
    pub run: &'a str,
    pub notebook: &'a str,
    pub output: &'a str,
    pub parameters: Value,
    pub max_run_time: Duration,
    /// Kernel variable → Secret Manager version.
    pub secrets: BTreeMap<String, String>,
}

impl<'a> Job<'a> {
    /// `notebook` as run `run`, its files under `gs://runs/out/{run}/`, no parameters, ten
    /// minutes.
    pub fn new(run: &'a str, notebook: &'a str) -> Self {
        Job {
            run,
            notebook,
            output: "runs/out",
            parameters: json!({}),
            max_run_time: Duration::from_secs(600),
            secrets: BTreeMap::new(),
        }
    }
}

/// What one run ended with: its report as the service parses it (a refusal fails the test) and
/// as sent, and its instance's console.
pub struct Finished {
    pub report: CompletionReport,
    pub body: Bytes,
    pub console: String,
}

async fn record(State(reports): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes) -> &'static str {
    reports.lock().unwrap().push(body);
    "{}"
}

impl Bench {
    pub async fn start() -> Option<Bench> {
        if !papermill::papermill() {
            return None;
        }
        test_log::init();
        let config = EmulatorConfig {
            provision_time: Duration::from_millis(100),
            run_scripts: true,
            ..EmulatorConfig::default()
        };
        let emulator = Emulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
            .await
            .expect("the emulator starts");
        let storage = StorageClient::new(emulator.storage_url().parse().unwrap());
        storage.ensure_bucket(PROJECT, BUCKET).await.unwrap();
        let script = notebook_trigger::runner::SCRIPT.as_bytes().to_vec();
        storage
            .upload(BUCKET, "runner.sh", "text/x-sh", script)
            .await
            .unwrap();
        let reports = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/runs/{run}/complete", axum::routing::post(record))
            .with_state(reports.clone());
        let recorder = LocalServer::start(app).await;
        Some(Bench {
            emulator,
            storage,
            recorder,
            reports,
        })
    }

    pub async fn upload(&self, name: &str, bytes: Vec<u8>) {
        self.storage
            .upload(BUCKET, name, "application/octet-stream", bytes)
            .await
            .unwrap();
    }

    /// Runs `job` and waits (at most `limit`) for its report.
    pub async fn run(&self, job: Job<'_>, limit: Duration) -> Finished {
        let run = job.run.to_owned();
        let output = job.output.to_owned();
        let instance = self.launch(job).await;
        let deadline = Instant::now() + limit;
        let body = loop {
            if let Some(body) = self.reports.lock().unwrap().first().cloned() {
                break body;
            }
            assert!(
                Instant::now() < deadline,
                "no report within {limit:?}; console:\n{}",
                self.emulator.console(&instance)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let folder = format!("gs://{output}/{run}/");
        let report = CompletionReport::parse(&body, &RunId::parse(&run).unwrap(), &folder)
            .unwrap_or_else(|error| {
                panic!(
                    "the service would refuse this report: {error}\n{}",
                    String::from_utf8_lossy(&body)
                )
            });
        Finished {
            report,
            body,
            console: self.emulator.console(&instance),
        }
    }

    /// Creates the instance that runs `job`; its name.
    pub async fn launch(&self, job: Job<'_>) -> String {
        let Job {
            run,
            notebook,
            output,
            parameters,
            max_run_time,
            secrets,
        } = job;
        let spec = RunSpec {
            run_id: run.to_owned(),
            notebook: format!("gs://{BUCKET}/{notebook}"),
            output: format!("gs://{output}"),
            parameters: parameters.as_object().cloned().unwrap_or_else(Map::new),
            max_run_time,
            report_url: self.recorder.url(&format!("/runs/{run}/complete")),
            report_audience: AUDIENCE.to_owned(),
            report_within: Duration::from_secs(30),
            secrets,
        };
        let mut metadata: Map<String, Value> = spec
            .metadata()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        metadata.insert(
            "post-startup-script".into(),
            json!(format!("gs://{BUCKET}/runner.sh")),
        );
        let body = json!({"gceSetup": {
            "metadata": metadata,
            "serviceAccounts": [{"email": "runner@runner-project.iam.gserviceaccount.com"}],
        }});
        let created = reqwest::Client::new()
            .post(format!(
                "{}/v2/{ZONE}/instances?instanceId=nb-{run}",
                self.emulator.base_url()
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{}", created.status());
        format!("{ZONE}/instances/nb-{run}")
    }

    /// `POST /v2/{instance}:{verb}` (`stop`).
    pub async fn verb(&self, instance: &str, verb: &str) {
        let answer = reqwest::Client::new()
            .post(format!("{}/v2/{instance}:{verb}", self.emulator.base_url()))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{verb}: {}", answer.status());
    }

    /// Object names under `prefix` in [`BUCKET`].
    pub async fn objects(&self, prefix: &str) -> Vec<String> {
        self.storage.list(BUCKET, prefix).await.unwrap()
    }

    pub async fn object(&self, name: &str) -> Vec<u8> {
        self.storage
            .download(BUCKET, name)
            .await
            .unwrap_or_else(|error| panic!("gs://{BUCKET}/{name}: {error}"))
    }

    /// Ends every instance's processes and the emulator.
    pub async fn stop(self) {
        self.emulator.shutdown().await;
    }
}
