//! With `--run-scripts`, jobs really run: papermill executes the notebook from the emulator's
//! Cloud Storage, the executed notebook lands under `gcsOutputUri`, and the job ends
//! SUCCEEDED, or FAILED with papermill's report of the failing cell, or FAILED with
//! DEADLINE_EXCEEDED at its `executionTimeout`. Skipped where papermill is missing, unless
//! `CI=true` or `REQUIRE_PAPERMILL=1`.

use std::time::Instant;

use notebooks_emulator::storage::StorageClient;

use super::*;
use crate::papermill::papermill;

/// A notebook with a parameters cell and a cell that uses the parameter.
fn notebook(code: &str) -> Vec<u8> {
    let cell = |source: &str, tags: Value| {
        json!({"cell_type": "code", "execution_count": null, "metadata": {"tags": tags},
            "outputs": [], "source": source})
    };
    json!({
        "cells": [cell("greeting = 'hello'", json!(["parameters"])), cell(code, json!([]))],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    })
    .to_string()
    .into_bytes()
}

/// An emulator that runs notebooks, with the `outputs` bucket in its Cloud Storage.
async fn running() -> Api {
    let api = Api::start(EmulatorConfig {
        run_scripts: true,
        ..EmulatorConfig::default()
    })
    .await;
    let storage = reqwest::Url::parse(&api.emulator.storage_url()).unwrap();
    StorageClient::new(storage)
        .ensure_bucket("p", "outputs")
        .await
        .expect("the outputs bucket");
    api
}

/// Puts `notebook` at gs://notebooks/NAME and creates job `id` that runs it.
async fn run(api: &Api, id: &str, name: &str, notebook: Vec<u8>, timeout: &str) {
    let storage = api.emulator.state().local_storage().unwrap();
    storage.put("notebooks", name, "application/x-ipynb+json", notebook);
    let body = json!({
        "displayName": id,
        "gcsNotebookSource": {"uri": format!("gs://notebooks/{name}")},
        "gcsOutputUri": "gs://outputs/runs",
        "executionTimeout": timeout,
        "kernelName": "python3",
    });
    let (status, answer) = api.create(id, body).await;
    assert_eq!(status, 200, "{answer}");
}

/// Waits (at most 60 s) for job `id` to leave PENDING and RUNNING; the job.
async fn ended(api: &Api, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let path = format!("/v1/{REGION}/notebookExecutionJobs/{id}");
    loop {
        let (_, job) = api.call("GET", &path, None).await;
        let state = job["jobState"].as_str().unwrap_or_default();
        if !matches!(state, "JOB_STATE_PENDING" | "JOB_STATE_RUNNING") {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} still {state} after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_notebook_runs_and_its_output_lands_under_the_job_id() {
    if !papermill() {
        return;
    }
    let api = running().await;
    let code = "print(greeting + ', world')";
    run(&api, "hello", "daily/report.ipynb", notebook(code), "120s").await;
    let job = ended(&api, "hello").await;
    assert_eq!(job["jobState"], "JOB_STATE_SUCCEEDED", "{job}");
    let storage = api.emulator.state().local_storage().unwrap();
    let output = storage
        .get("outputs", "runs/hello/report.ipynb")
        .expect("the executed notebook is at {gcsOutputUri}/{jobId}/{file name}");
    let executed: Value = serde_json::from_slice(&output).unwrap();
    let printed = executed["cells"][1]["outputs"][0]["text"].to_string();
    assert!(printed.contains("hello, world"), "{printed}");
    assert!(
        executed["metadata"]["papermill"].is_object(),
        "papermill ran it"
    );
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn a_failing_notebook_ends_failed_with_its_error() {
    if !papermill() {
        return;
    }
    let api = running().await;
    let code = "raise ValueError(f'no {greeting} today')";
    run(&api, "broken", "broken.ipynb", notebook(code), "120s").await;
    let job = ended(&api, "broken").await;
    assert_eq!(job["jobState"], "JOB_STATE_FAILED", "{job}");
    assert_eq!(job["status"]["code"], 2, "{job}");
    let message = job["status"]["message"].as_str().unwrap();
    assert!(message.contains("Exception encountered at"), "{message}");
    assert!(message.contains("ValueError: no hello today"), "{message}");
    // The notebook as far as it ran is written too, its error in it.
    let storage = api.emulator.state().local_storage().unwrap();
    assert!(storage.get("outputs", "runs/broken/broken.ipynb").is_some());
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn a_notebook_past_its_timeout_is_killed_and_ends_deadline_exceeded() {
    if !papermill() {
        return;
    }
    let api = running().await;
    // The kernel says where it is, then sleeps past the timeout.
    let pid_file = std::env::temp_dir().join(format!("sleeper-{}.pid", std::process::id()));
    let code = format!(
        "import os, time\nopen({:?}, 'w').write(str(os.getpid()))\ntime.sleep(600)",
        pid_file.display().to_string()
    );
    run(&api, "sleepy", "sleepy.ipynb", notebook(&code), "3s").await;
    let job = ended(&api, "sleepy").await;
    assert_eq!(job["jobState"], "JOB_STATE_FAILED", "{job}");
    assert_eq!(job["status"]["code"], 4, "{job}");
    assert!(
        job["status"]["message"]
            .as_str()
            .unwrap()
            .contains("execution_timeout"),
        "{job}"
    );
    let kernel = std::fs::read_to_string(&pid_file).expect("the kernel wrote its pid");
    let _ = std::fs::remove_file(&pid_file);
    let alive = std::fs::read_to_string(format!("/proc/{kernel}/stat"))
        .is_ok_and(|stat| !stat.contains(") Z "));
    assert!(!alive, "the kernel {kernel} outlived the timeout");
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn a_missing_notebook_or_generation_ends_not_found() {
    if !papermill() {
        return;
    }
    let api = running().await;
    let body = |uri: &str, generation: Option<&str>| {
        let mut source = json!({"uri": uri});
        if let Some(generation) = generation {
            source["generation"] = json!(generation);
        }
        json!({"gcsNotebookSource": source, "gcsOutputUri": "gs://outputs"})
    };
    let storage = api.emulator.state().local_storage().unwrap();
    storage.put(
        "notebooks",
        "nb.ipynb",
        "application/x-ipynb+json",
        notebook("1"),
    );
    assert_eq!(
        api.create("gone", body("gs://notebooks/none.ipynb", None))
            .await
            .0,
        200
    );
    assert_eq!(
        api.create("old", body("gs://notebooks/nb.ipynb", Some("1")))
            .await
            .0,
        200
    );
    for id in ["gone", "old"] {
        let job = ended(&api, id).await;
        assert_eq!(job["jobState"], "JOB_STATE_FAILED", "{job}");
        assert_eq!(job["status"]["code"], 5, "{job}");
    }
    api.emulator.shutdown().await;
}

/// A job deleted while its notebook runs: the run ends with every process it started, and
/// nothing writes the deleted job back.
#[tokio::test]
async fn deleting_a_running_job_ends_its_notebook() {
    if !papermill() {
        return;
    }
    let api = running().await;
    let pid_file = std::env::temp_dir().join(format!("deleted-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let code = format!(
        "import os, time\nopen({:?}, 'w').write(str(os.getpid()))\ntime.sleep(600)",
        pid_file.display().to_string()
    );
    run(&api, "doomed", "doomed.ipynb", notebook(&code), "600s").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let kernel = loop {
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            break pid;
        }
        assert!(Instant::now() < deadline, "the kernel never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = std::fs::remove_file(&pid_file);
    let name = format!("/v1/{REGION}/notebookExecutionJobs/doomed");
    assert_eq!(api.call("DELETE", &name, None).await.0, 200);
    let alive = || {
        std::fs::read_to_string(format!("/proc/{kernel}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive() {
        assert!(
            Instant::now() < deadline,
            "the kernel {kernel} outlived its job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(api.call("GET", &name, None).await.0, 404);
    assert!(api.emulator.executions().is_empty());
    api.emulator.shutdown().await;
}
