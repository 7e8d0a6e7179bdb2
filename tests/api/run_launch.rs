//! A profile with a notebook: the create carries the runner and the run's spec, and the run's
//! record is in Cloud Storage before the instance exists.

use notebook_trigger::run::RunId;
use notebooks_emulator::storage::StorageClient;
use serde_json::{Value, json};

use crate::helpers::{EMULATOR_STORAGE, TestApp, push_body, spawn_app};

pub const RUNNER: &str = "gs://runs-bucket/runner.sh";

/// A Python notebook; with `parameters`, its first cell is tagged `parameters` and holds them.
/// Without, it declares nothing, and the pre-flight lets any parameter through.
pub fn notebook(parameters: Option<&str>) -> Vec<u8> {
    let cell = |source: &str, tags: &[&str]| {
        json!({"cell_type": "code", "execution_count": null, "metadata": {"tags": tags},
               "outputs": [], "source": source})
    };
    let cells: Vec<Value> = parameters
        .map(|parameters| cell(parameters, &["parameters"]))
        .into_iter()
        .chain([cell("print('run')", &[])])
        .collect();
    serde_json::to_vec(&json!({
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }))
    .unwrap()
}

/// Puts `bytes` at `gs://runs-bucket/{name}` in the emulator's Cloud Storage.
pub fn upload(app: &TestApp, name: &str, bytes: Vec<u8>) {
    app.emulator
        .state()
        .local_storage()
        .expect("the emulator serves Cloud Storage")
        .put("runs-bucket", name, "application/x-ipynb+json", bytes);
}

/// The variables of a deployment that runs `gs://runs-bucket/nb/seed.ipynb` (a notebook
/// without a parameters cell) and records to the emulator's own Cloud Storage; `extra` adds
/// or replaces variables.
pub async fn spawn_runs(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("POST_STARTUP_SCRIPT", ""),
        ("NOTEBOOK", "gs://runs-bucket/nb/seed.ipynb"),
        ("NOTEBOOK_OUTPUT", "gs://runs-bucket/runs/"),
        ("NOTEBOOK_PARAMETERS", r#"{"rows": 3, "label": "default"}"#),
        ("MAX_RUN_TIME", "20m"),
        ("SERVICE_URL", "https://trigger.example.run.app/"),
        ("RUNNER_SCRIPT", RUNNER),
        ("REPORT_WITHIN", "5m"),
        ("STORAGE_EMULATOR_HOST", EMULATOR_STORAGE),
    ];
    vars.extend_from_slice(extra);
    let app = spawn_app(&vars).await;
    upload(&app, "nb/seed.ipynb", notebook(None));
    app
}

/// The one create the emulator received, as JSON.
pub fn created(app: &TestApp) -> Value {
    let creates = app.emulator.create_requests();
    assert_eq!(creates.len(), 1, "one create");
    creates[0].body.clone()
}

/// The record of `run_id`, from the emulator's Cloud Storage.
pub async fn record(app: &TestApp, run_id: &str) -> Value {
    let client = StorageClient::new(reqwest::Url::parse(&app.emulator.storage_url()).unwrap());
    let bytes = client
        .download(
            "runs-bucket",
            &format!(
                "{}/runs/{run_id}.json",
                notebook_trigger::run::RECORDS_PREFIX
            ),
        )
        .await
        .expect("the run record is written");
    serde_json::from_slice(&bytes).expect("the record is JSON")
}

#[tokio::test]
async fn a_run_is_created_with_the_runner_its_spec_and_its_record() {
    let app = spawn_runs(&[]).await;
    let (status, answer) = app.push("7001", "TweetiNoteStartTopic").await;
    assert_eq!(status, 200, "{answer}");
    let run_id = answer["run_id"].as_str().expect("the answer names the run");
    assert!(RunId::parse(run_id).is_ok(), "{run_id}");
    let body = created(&app);
    let metadata = &body["gceSetup"]["metadata"];
    assert_eq!(metadata["post-startup-script"], RUNNER);
    assert_eq!(metadata["notebook-trigger-run-id"], run_id);
    assert_eq!(
        metadata["notebook-trigger-notebook"],
        "gs://runs-bucket/nb/seed.ipynb"
    );
    assert_eq!(metadata["notebook-trigger-output"], "gs://runs-bucket/runs");
    assert_eq!(
        metadata["notebook-trigger-parameters"],
        r#"{"label":"default","rows":3}"#
    );
    assert_eq!(metadata["notebook-trigger-max-run-time"], "1200");
    assert_eq!(
        metadata["notebook-trigger-report-url"],
        format!("https://trigger.example.run.app/runs/{run_id}/complete")
    );
    assert_eq!(
        metadata["notebook-trigger-report-audience"],
        "https://trigger.example.run.app"
    );
    assert_eq!(metadata["notebook-trigger-report-within"], "300");
    assert_eq!(body["labels"]["run-id"], run_id);

    let record = record(&app, run_id).await;
    assert_eq!(record["schema"], 1);
    assert_eq!(record["run_id"], run_id);
    assert_eq!(record["state"], "launched");
    assert_eq!(record["trigger"], "pubsub");
    assert_eq!(record["message_id"], "7001");
    assert_eq!(record["profile"], "default");
    assert_eq!(record["notebook"], "gs://runs-bucket/nb/seed.ipynb");
    assert_eq!(
        record["parameters"],
        serde_json::json!({"label": "default", "rows": 3})
    );
    assert_eq!(record["output"], format!("gs://runs-bucket/runs/{run_id}/"));
    assert_eq!(record["instance"], answer["instance"]);
    assert!(record["launched"].is_string(), "{record}");
}

#[tokio::test]
async fn a_redelivery_names_the_same_run_and_keeps_its_record() {
    let app = spawn_runs(&[]).await;
    let (_, first) = app.push("7002", "go").await;
    let run_id = first["run_id"].as_str().unwrap().to_owned();
    let written = record(&app, &run_id).await;
    let (status, again) = app.push("7002", "go").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["run_id"], run_id.as_str());
    assert_eq!(
        record(&app, &run_id).await["launched"],
        written["launched"],
        "the record of the first delivery stays"
    );
    let (_, other) = app.push("7003", "go").await;
    assert_ne!(other["run_id"], run_id.as_str());
}

#[tokio::test]
async fn a_record_that_cannot_be_written_is_answered_503_and_nothing_is_created() {
    let app = spawn_runs(&[("NOTEBOOK_OUTPUT", "gs://no-such-bucket/runs")]).await;
    let response = app.post(&push_body("7004", "go")).await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("the run record gs://no-such-bucket/notebook-trigger-records/runs/"),
        "{answer}"
    );
    assert!(app.emulator.create_requests().is_empty());
}

#[tokio::test]
async fn a_default_profile_with_a_notebook_and_no_runner_does_not_start() {
    let said = crate::helpers::refused_start(&[
        ("GOOGLE_CLOUD_PROJECT", "p"),
        ("NOTEBOOK_LOCATION", "us-central1-a"),
        ("CONTAINER_IMAGE", "us-docker.pkg.dev/p/r/img"),
        ("NOTEBOOK", "gs://runs-bucket/nb/seed.ipynb"),
        ("NOTEBOOK_OUTPUT", "gs://runs-bucket/runs"),
        ("SERVICE_URL", "https://trigger.example"),
    ])
    .await;
    assert!(
        said.contains("NOTEBOOK:")
            && said.contains("RUNNER_SCRIPT")
            && !said.contains("SERVICE_URL"),
        "{said}"
    );
}
