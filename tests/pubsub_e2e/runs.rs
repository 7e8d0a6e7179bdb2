//! Messages to finished runs, on one machine: Google's Pub/Sub emulator pushes to the service
//! binary, which launches an instance on the Notebooks emulator; the instance runs the shipped
//! runner, which executes the notebook with real papermill, saves its files to fake-gcs-server
//! and reports with the instance's identity token; the service verifies the report, records it
//! and cleans the instance up, announcing each step on a run events topic. Needs papermill (with ipykernel) and fake-gcs-server: skipped
//! with the reason printed where they are missing, unless `CI=true` or `REQUIRE_PAPERMILL=1`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use notebook_trigger::run::RunRecord;
use notebook_trigger::runner;
use notebooks_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};
use storage_client::StorageClient;

use crate::deployment::{Deployment, emulators};
use crate::fake_gcs::FakeGcs;
use crate::papermill::papermill;
use crate::pubsub_pull::{PullSubscription, Pulled};
use crate::service::Service;
use crate::{PROJECT, cli, test_log};

pub const BUCKET: &str = "runs";
const ACCOUNT: &str = "runner@e2e-project.iam.gserviceaccount.com";
const EVENTS_TOPIC: &str = "run-events";

/// A notebook whose first cell, tagged `parameters`, holds `parameters` and whose other cells
/// are `cells`.
pub fn notebook(parameters: &str, cells: &[&str]) -> Vec<u8> {
    let cell = |source: &str, tags: &[&str]| {
        json!({"cell_type": "code", "execution_count": null, "id": uuid::Uuid::new_v4().simple().to_string(),
               "metadata": {"tags": tags}, "outputs": [], "source": source})
    };
    let mut all = vec![cell(parameters, &["parameters"])];
    all.extend(cells.iter().map(|c| cell(c, &[])));
    serde_json::to_vec(&json!({
        "cells": all,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }))
    .unwrap()
}

/// The notebook of the seed article: read `input.csv`, add the column `Output`, write
/// `output.csv`; it also keeps the event it was given.
fn seed_notebook() -> Vec<u8> {
    notebook(
        "event = None",
        &["import csv, json\n\
           rows = list(csv.DictReader(open('input.csv')))\n\
           for row in rows:\n    row['Output'] = 'Now With Output added'\n\
           with open('output.csv', 'w', newline='') as f:\n\
           \x20   w = csv.DictWriter(f, fieldnames=list(rows[0]))\n\
           \x20   w.writeheader()\n    w.writerows(rows)\n\
           json.dump(event, open('event.json', 'w'))"],
    )
}

/// The record of a run of `what` (a profile), once it is over and its cleanup is written.
pub async fn finished_record(storage: &StorageClient, limit: Duration, what: &str) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let records = crate::deployment::records(storage).await;
        if let Some(record) = records
            .iter()
            .find(|r| crate::deployment::finished(r) && r["profile"] == what)
        {
            return record.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no finished run ({what}) within {limit:?}: {records:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn state_of(notebooks: &Emulator, instance: &str) -> String {
    notebooks
        .instances()
        .iter()
        .find(|i| i["name"] == instance)
        .map_or("DELETED".to_owned(), |i| {
            i["state"].as_str().unwrap_or_default().to_owned()
        })
}

async fn until_state(notebooks: &Emulator, instance: &str, state: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while state_of(notebooks, instance).await != state {
        assert!(
            Instant::now() < deadline,
            "{instance} is {} after {limit:?}, not {state}; console:\n{}",
            state_of(notebooks, instance).await,
            notebooks.console(instance)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_becomes_a_finished_run_and_no_instance_outlives_it() {
    let Some((gcs, pubsub)) = emulators().await else {
        return;
    };
    let (storage, notebooks) = stage(
        &gcs,
        vec![
            (
                "nb/failing/failing.ipynb",
                notebook("x = 1", &["raise ValueError('the data is bad')"]),
            ),
            (
                "nb/slow/slow.ipynb",
                notebook("x = 1", &["import time\ntime.sleep(120)"]),
            ),
        ],
    )
    .await;
    let profiles = format!(
        "[profiles.failing]\nnotebook = \"gs://{BUCKET}/nb/failing/failing.ipynb\"\n\
         [profiles.slow]\nnotebook = \"gs://{BUCKET}/nb/slow/slow.ipynb\"\nmax_run_time = \"3s\"\n"
    );
    let extra = [
        ("RUN_EVENTS_TOPIC", EVENTS_TOPIC.to_owned()),
        ("PUBSUB_EMULATOR_HOST", pubsub.host.clone()),
    ];
    let deployed = Deployment::start(&gcs, &notebooks, &pubsub, &profiles, &extra).await;
    let service = &deployed.service;
    let events = PullSubscription::create(&pubsub, EVENTS_TOPIC, "run-events-pull").await;
    let mut ended = Vec::new();

    // The seed's message: the notebook runs, its files are saved, the instance is deleted.
    let started = Instant::now();
    let published = cli(
        &pubsub,
        &[
            "publish",
            "--topic",
            "trigger",
            r#"{"upload": "gs://b/new.csv"}"#,
        ],
    )
    .await;
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    let succeeded = finished_record(&storage, Duration::from_secs(120), "default").await;
    let record = succeeded.clone();
    let took = started.elapsed();
    assert_eq!(record["state"], "succeeded", "{record:#}");
    assert_eq!(record["exit_code"], 0);
    assert_eq!(record["cleanup"]["action"], "delete", "{record:#}");
    assert!(record["cleanup"]["error"].is_null(), "{record:#}");
    ended.push(record.clone());
    let folder = record["output"]
        .as_str()
        .unwrap()
        .trim_start_matches(&format!("gs://{BUCKET}/"))
        .to_owned();
    let output = storage
        .download(BUCKET, &format!("{folder}outputs/output.csv"))
        .await
        .unwrap();
    let output = String::from_utf8(output).unwrap();
    assert!(output.starts_with("name,value,Output"), "{output}");
    assert!(output.contains("a,1,Now With Output added"), "{output}");
    let event = storage
        .download(BUCKET, &format!("{folder}outputs/event.json"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&event).unwrap(),
        json!({"upload": "gs://b/new.csv"})
    );
    storage
        .download(BUCKET, &format!("{folder}seed.ipynb"))
        .await
        .expect("the executed notebook");
    let instance = record["instance"].as_str().unwrap();
    until_state(&notebooks, instance, "DELETED", Duration::from_secs(10)).await;
    eprintln!("message → deleted instance: {:.1} s", took.as_secs_f64());

    // A failing notebook: recorded failed with the error; the instance is stopped, not deleted.
    let published = cli(
        &pubsub,
        &["publish", "--topic", "trigger", r#"{"profile": "failing"}"#],
    )
    .await;
    assert!(published.status.success());
    let failed = finished_record(&storage, Duration::from_secs(120), "failing").await;
    let record = failed.clone();
    assert_eq!(record["state"], "failed", "{record:#}");
    assert_eq!(record["cleanup"]["action"], "stop");
    ended.push(record.clone());
    assert!(
        record["log_tail"]
            .as_str()
            .unwrap()
            .contains("the data is bad"),
        "{record:#}"
    );
    explained(&record, &service.endpoint()).await;
    until_state(
        &notebooks,
        record["instance"].as_str().unwrap(),
        "STOPPED",
        Duration::from_secs(10),
    )
    .await;

    // A notebook past its max_run_time: timed out and stopped.
    let published = cli(
        &pubsub,
        &["publish", "--topic", "trigger", r#"{"profile": "slow"}"#],
    )
    .await;
    assert!(published.status.success());
    let record = finished_record(&storage, Duration::from_secs(120), "slow").await;
    assert_eq!(record["state"], "timed_out", "{record:#}");
    ended.push(record.clone());
    until_state(
        &notebooks,
        record["instance"].as_str().unwrap(),
        "STOPPED",
        Duration::from_secs(10),
    )
    .await;

    // Each run was announced three times, in order: its launch, its end, its cleanup.
    let messages = events.take(3 * ended.len(), Duration::from_secs(30)).await;
    for record in &ended {
        announced(&messages, record);
    }
    let outcome = messages
        .iter()
        .find(|m| m.attributes.get("event").map(String::as_str) == Some("failed"))
        .expect("the failure is announced");
    assert_eq!(outcome.attributes["exception"], "ValueError");
    assert_eq!(outcome.attributes["error"], failed["error"]);
    let data: Value = serde_json::from_slice(&outcome.data).unwrap();
    assert_eq!(data["failure"], failed["failure"]);

    // The service shows these runs to a browser.
    let shown: Vec<&Value> = ended.iter().collect();
    crate::history_page::renders_the_runs(&service.endpoint(), &shown, &failed);
}

/// The failed run's record names the cell that raised, its exception and its traceback, and
/// `runs` (asking the service) shows the error in its table.
async fn explained(record: &Value, service: &str) {
    let summary = "cell 2 raised ValueError: the data is bad";
    assert_eq!(record["error"], summary, "{record:#}");
    let failure = &record["failure"];
    assert_eq!(failure["cell_index"], 1, "{record:#}");
    assert_eq!(failure["source"], "raise ValueError('the data is bad')");
    assert_eq!(failure["ename"], "ValueError");
    assert_eq!(failure["evalue"], "the data is bad");
    let traceback = failure["traceback"].as_str().unwrap();
    assert!(
        traceback.ends_with("\nValueError: the data is bad"),
        "{traceback}"
    );
    assert!(!traceback.contains('\u{1b}'), "{traceback:?}");
    let table = crate::cli_plain(&["runs", "--service", service, "--state", "failed"]).await;
    let stdout = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    let header = stdout.lines().next().unwrap_or_default();
    assert!(
        header.contains(" ERROR ") && header.ends_with("OUTPUT"),
        "{stdout}"
    );
    let run = record["run_id"].as_str().unwrap();
    let row = stdout.lines().find(|l| l.starts_with(run)).expect(&stdout);
    assert!(row.contains(&format!("  {summary}  ")), "{stdout}");
}

/// The events of the run of `record`: launched, its outcome, cleaned up (as its record says),
/// each with the attributes a subscription filters on and the record as written then.
fn announced(messages: &[Pulled], record: &Value) {
    let run = record["run_id"].as_str().unwrap();
    let of_run: Vec<&Pulled> = messages
        .iter()
        .filter(|m| m.attributes.get("run_id").map(String::as_str) == Some(run))
        .collect();
    let names: Vec<&str> = of_run
        .iter()
        .map(|m| m.attributes["event"].as_str())
        .collect();
    let outcome = record["state"].as_str().unwrap();
    assert_eq!(names, ["launched", outcome, "cleaned_up"], "{of_run:#?}");
    for message in &of_run {
        let data: RunRecord = serde_json::from_slice(&message.data).expect("a run record");
        assert_eq!(data.run_id.as_str(), run);
        assert_eq!(message.attributes["state"], data.state.as_str());
        assert_eq!(message.attributes["profile"], record["profile"]);
        assert_eq!(message.attributes["instance"], record["instance"]);
    }
    assert_eq!(of_run[0].attributes["state"], "launched");
    assert_eq!(of_run[1].attributes["state"], outcome);
    let cleaned = of_run[2];
    assert_eq!(cleaned.attributes["action"], record["cleanup"]["action"]);
    assert_eq!(cleaned.attributes["by"], "report");
    assert!(!cleaned.attributes.contains_key("error"), "{cleaned:#?}");
    let data: RunRecord = serde_json::from_slice(&cleaned.data).unwrap();
    assert_eq!(
        serde_json::to_value(data.cleanup).unwrap(),
        record["cleanup"]
    );
}

/// A runner that cannot reach the service stops its own instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_that_cannot_report_stops_its_own_instance() {
    if !papermill() {
        return;
    }
    let Some(gcs) = FakeGcs::start().await else {
        return;
    };
    let (_storage, notebooks) = stage(&gcs, Vec::new()).await;
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let profiles = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    std::fs::write(profiles.path(), "[profiles.none]\n").unwrap();
    let mut env = run_env(&gcs, &notebooks, &nobody, profiles.path());
    env.push(("REPORT_WITHIN", "2s".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let service = Service::start_on(free_port(), &notebooks, &env);
    let answer = reqwest::Client::new()
        .post(service.endpoint())
        .json(&json!({"data": "VHdlZXRpTm90ZVN0YXJ0VG9waWM="}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let instances = notebooks.instances();
    let instance = instances[0]["name"].as_str().unwrap().to_owned();
    until_state(&notebooks, &instance, "STOPPED", Duration::from_secs(90)).await;
    assert!(
        notebooks.console(&instance).contains("stopping"),
        "{}",
        notebooks.console(&instance)
    );
}

/// The seed's notebook, its input and the runner in fake-gcs-server, with `more` objects, and a
/// Notebooks emulator whose instances run their scripts against it.
pub async fn stage(gcs: &FakeGcs, more: Vec<(&str, Vec<u8>)>) -> (StorageClient, Emulator) {
    test_log::init();
    let storage = StorageClient::new(gcs.url.parse().unwrap());
    storage.ensure_bucket(PROJECT, BUCKET).await.unwrap();
    let objects = [
        ("nb/seed/seed.ipynb", seed_notebook()),
        ("nb/seed/input.csv", b"name,value\na,1\nb,2\n".to_vec()),
        ("runner.sh", runner::SCRIPT.as_bytes().to_vec()),
    ];
    for (name, bytes) in objects.into_iter().chain(more) {
        storage
            .upload(BUCKET, name, "application/octet-stream", bytes)
            .await
            .unwrap();
    }
    let notebooks = Emulator::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        EmulatorConfig {
            provision_time: Duration::from_millis(300),
            run_scripts: true,
            storage_emulator_host: Some(gcs.url.clone()),
            ..EmulatorConfig::default()
        },
    )
    .await
    .unwrap();
    (storage, notebooks)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The service's environment for runs against these emulators.
pub fn run_env(
    gcs: &FakeGcs,
    notebooks: &Emulator,
    service_url: &str,
    profiles: &std::path::Path,
) -> Vec<(&'static str, String)> {
    vec![
        ("POST_STARTUP_SCRIPT", String::new()),
        ("NOTEBOOK", format!("gs://{BUCKET}/nb/seed/seed.ipynb")),
        ("NOTEBOOK_OUTPUT", format!("gs://{BUCKET}/out")),
        ("RUNNER_SCRIPT", format!("gs://{BUCKET}/runner.sh")),
        ("SERVICE_URL", service_url.to_owned()),
        ("STORAGE_EMULATOR_HOST", gcs.url.clone()),
        ("RUN_TOKEN_JWKS_URL", notebooks.jwks_url()),
        ("INSTANCE_SERVICE_ACCOUNT", ACCOUNT.to_owned()),
        ("PROFILES_FILE", profiles.display().to_string()),
        ("ALLOWED_OVERRIDES", "parameters".to_owned()),
        ("POLL_TIMEOUT", "60s".to_owned()),
        ("RUNS_AUTH", "off".to_owned()),
    ]
}
