//! Retries over real sockets: a reap that ends a run unreported schedules its retry, which
//! the service launches when due; a reap launches the retry of an attempt whose end was
//! recorded by a process that died before it scheduled the retry; two reaps in the service and one in
//! the `reap` binary racing over a due retry start one attempt; a redelivery of the first
//! message afterwards starts nothing.

use std::process::Command;
use std::time::Duration;

use notebook_trigger::launch::Relaunch;
use notebook_trigger::run::{RECORDS_PREFIX, RunRecord};
use notebooks_emulator::storage::StorageClient;

use crate::child::run_bounded;
use crate::helpers::{PROJECT, TestApp, ZONE};
use crate::run_launch::{RUNNER, record, spawn_runs};

const BUCKET: &str = "runs-bucket";
const REAP: &str = r#"{"action":"reap"}"#;

/// The service's variables for a deployment whose runs are retried twice, at once.
const RETRIED: [(&str, &str); 2] = [("RETRIES", "2"), ("RETRY_DELAY", "0s")];

fn storage(app: &TestApp) -> StorageClient {
    StorageClient::new(app.emulator.storage_url().parse().unwrap())
}

/// Replaces run `run`'s record by `change` of it, as another process's write would.
pub async fn rewrite(app: &TestApp, run: &str, change: impl FnOnce(RunRecord) -> RunRecord) {
    let record: RunRecord = serde_json::from_value(record(app, run).await).unwrap();
    let object = format!("{RECORDS_PREFIX}/runs/{run}.json");
    let bytes = serde_json::to_vec(&change(record)).unwrap();
    storage(app)
        .upload(BUCKET, &object, "application/json", bytes)
        .await
        .unwrap();
}

/// The record as a report of a failed notebook leaves it, its retry not scheduled yet: the
/// process that wrote it died before the next step.
fn failed(mut record: RunRecord) -> RunRecord {
    record.state = notebook_trigger::run::RunState::Failed;
    record.exit_code = Some(1);
    record.error = "cell 2 raised ValueError: the data is bad".into();
    record
}

/// Message `id`'s first attempt, failed, with its retry scheduled and due now but not
/// launched (the process died between the two steps): its run id and its retry's.
pub async fn failed_with_retry_due(app: &TestApp, id: &str) -> (String, String) {
    let first = first_attempt(app, id).await;
    let mut next_run = String::new();
    rewrite(app, &first, |record| {
        let record = failed(record);
        let next = record
            .next_attempt_at(Relaunch::retry(&record).run_id(), jiff::Timestamp::now())
            .unwrap();
        next_run = next.run_id.to_string();
        record.retry_scheduled(&next).unwrap()
    })
    .await;
    (first, next_run)
}

/// The instances whose run-id label is `run`.
fn instances_of(app: &TestApp, run: &str) -> usize {
    app.instances()
        .iter()
        .filter(|i| i["labels"]["run-id"] == run)
        .count()
}

/// Launches message `id`'s run: its first attempt.
async fn first_attempt(app: &TestApp, id: &str) -> String {
    let (status, answer) = app.push(id, "go").await;
    assert_eq!(status, 200, "{answer}");
    answer["run_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reap_launches_a_retry_its_dead_scheduler_owed_and_a_redelivery_starts_nothing() {
    let app = spawn_runs(&RETRIED).await;
    let first = first_attempt(&app, "8001").await;
    let launched = record(&app, &first).await;
    assert_eq!(launched["retry"]["retries"], 2, "{launched}");
    assert_eq!(launched["retry"]["delay"], "0s", "{launched}");
    rewrite(&app, &first, failed).await;

    let (status, answer) = app.push("reap-1", REAP).await;
    assert_eq!(status, 200, "{answer}");
    let retries = answer["retries"].as_array().unwrap();
    assert_eq!(retries.len(), 1, "{answer}");
    assert_eq!(retries[0]["run_id"], first.as_str());
    assert_eq!(retries[0]["next_attempt"], 2);
    assert_eq!(retries[0]["result"], "launched (created)", "{answer}");
    let second = retries[0]["next_run_id"].as_str().unwrap().to_owned();
    assert_eq!(instances_of(&app, &second), 1);

    let attempt = record(&app, &second).await;
    assert_eq!(attempt["origin"]["kind"], "retry", "{attempt}");
    assert_eq!(attempt["origin"]["of"], first.as_str());
    assert_eq!(attempt["origin"]["attempt"], 2);
    assert_eq!(attempt["trigger"], "retry");
    assert_eq!(attempt["state"], "launched");
    assert_eq!(attempt["parameters"], launched["parameters"]);
    let ended = record(&app, &first).await;
    let next = &ended["next_attempt"];
    assert_eq!(next["run_id"], second.as_str(), "{ended}");
    assert_eq!(next["attempt"], 2);
    assert!(next["launched"].is_string(), "{ended}");
    assert_eq!(ended["state"], "failed", "the end stands");

    // The next reap passes the marked record by.
    let (_, again) = app.push("reap-2", REAP).await;
    assert_eq!(again["retries"], serde_json::json!([]), "{again}");

    // A process that launched the retry and died before marking it: the next reap follows
    // the attempt that exists, and marks it.
    rewrite(&app, &first, |mut record| {
        record.next_attempt.as_mut().unwrap().launched = None;
        record
    })
    .await;
    let (_, followed) = app.push("reap-2b", REAP).await;
    let retries = followed["retries"].as_array().unwrap();
    assert_eq!(retries.len(), 1, "{followed}");
    assert_eq!(retries[0]["next_run_id"], second.as_str());
    // The create's request id names the same operation: the instance is not made twice.
    let result = retries[0]["result"].as_str().unwrap();
    assert!(result.starts_with("launched ("), "{followed}");
    assert!(record(&app, &first).await["next_attempt"]["launched"].is_string());
    assert_eq!(instances_of(&app, &second), 1);

    // The first message's redelivery finds its run ended and starts nothing.
    let (status, redelivered) = app.push("8001", "go").await;
    assert_eq!(status, 200, "{redelivered}");
    assert_eq!(redelivered["outcome"], "ended", "{redelivered}");
    assert_eq!(redelivered["run_id"], first.as_str());
    assert_eq!(app.instances().len(), 2, "{:#?}", app.instances());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reapers_racing_over_a_due_retry_start_one_attempt() {
    let app = spawn_runs(&RETRIED).await;
    let (first, next_run) = failed_with_retry_due(&app, "8002").await;

    // Two reaps in the service at once, and one in another process.
    let binary = reap_binary(&app);
    let (one, two, command) = tokio::join!(
        app.push("reap-3", REAP),
        app.push("reap-4", REAP),
        tokio::task::spawn_blocking(move || run_bounded(&mut { binary }, Duration::from_secs(60)))
    );
    let command = command.unwrap();
    assert!(command.status.success(), "{}", command.stderr);
    assert_eq!((one.0, two.0), (200, 200), "{} {}", one.1, two.1);
    let said = format!("{}\n{}\n{}", one.1, two.1, command.stdout);
    assert!(said.contains(&next_run), "someone launched it: {said}");
    assert_eq!(instances_of(&app, &next_run), 1, "{:#?}", app.instances());
    assert_eq!(app.instances().len(), 2);
    let attempt = record(&app, &next_run).await;
    assert_eq!(attempt["origin"]["attempt"], 2, "{attempt}");
    let ended = record(&app, &first).await;
    assert!(ended["next_attempt"]["launched"].is_string(), "{ended}");
    app.stop().await;
}

/// `notebook-trigger reap` as another process of the same deployment.
fn reap_binary(app: &TestApp) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_notebook-trigger"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "NOTEBOOKS_EMULATOR_HOST",
            app.emulator.local_addr().to_string(),
        )
        .env("STORAGE_EMULATOR_HOST", app.emulator.storage_url())
        .env("GOOGLE_CLOUD_PROJECT", PROJECT)
        .env("NOTEBOOK_LOCATION", ZONE)
        .env(
            "CONTAINER_IMAGE",
            "europe-west3-docker.pkg.dev/tweetiment-xyz/tweetimentrep/python-docker",
        )
        .env("NOTEBOOK", format!("gs://{BUCKET}/nb/seed.ipynb"))
        .env("NOTEBOOK_OUTPUT", format!("gs://{BUCKET}/runs/"))
        .env("NOTEBOOK_PARAMETERS", r#"{"rows": 3, "label": "default"}"#)
        .env("MAX_RUN_TIME", "20m")
        .env("SERVICE_URL", "https://trigger.example.run.app/")
        .env("RUNNER_SCRIPT", RUNNER)
        .env("POLL_INITIAL_DELAY", "20ms")
        .env("POLL_MAX_DELAY", "100ms")
        .envs(RETRIED)
        .arg("reap");
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_the_reaper_ends_unreported_is_retried_once_its_delay_is_over() {
    let vars = [
        ("RETRIES", "1"),
        ("RETRY_DELAY", "1s"),
        ("MAX_RUN_TIME", "1s"),
        ("RUN_GRACE", "1s"),
    ];
    let app = spawn_runs(&vars).await;
    let first = first_attempt(&app, "8003").await;
    // Its instance runs nothing here, so no report comes: past max_run_time and RUN_GRACE.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, answer) = app.push("reap-5", REAP).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["verdicts"][0]["result"], "done", "{answer}");
    let ended = record(&app, &first).await;
    assert_eq!(ended["state"], "unreported", "{ended}");
    let next = ended["next_attempt"].clone();
    assert_eq!(
        next["attempt"], 2,
        "the reap that ended it scheduled it: {ended}"
    );
    let second = next["run_id"].as_str().unwrap().to_owned();

    // The service's timer launches it when due; a reap would as well.
    let mut waited = 0;
    while instances_of(&app, &second) == 0 {
        assert!(waited < 100, "no second attempt: {:#?}", app.instances());
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    let attempt = record(&app, &second).await;
    assert_eq!(attempt["origin"]["attempt"], 2, "{attempt}");
    assert_eq!(
        attempt["retry"]["retries"], 1,
        "the last attempt: {attempt}"
    );
    let mut marked = record(&app, &first).await;
    while !marked["next_attempt"]["launched"].is_string() {
        assert!(waited < 200, "the launch is not marked: {marked}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        marked = record(&app, &first).await;
        waited += 1;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_retry_policy_that_cannot_be_kept_stops_start_up_naming_its_variable() {
    let base = [
        ("GOOGLE_CLOUD_PROJECT", "p"),
        ("NOTEBOOK_LOCATION", "us-central1-a"),
        ("CONTAINER_IMAGE", "us-docker.pkg.dev/p/r/img"),
        ("RUNNER_SCRIPT", "gs://runs-bucket/runner.sh"),
        ("SERVICE_URL", "https://trigger.example"),
        ("NOTEBOOK", "gs://runs-bucket/nb/seed.ipynb"),
        ("NOTEBOOK_OUTPUT", "gs://runs-bucket/runs"),
        ("RETRIES", "2"),
    ];
    for (variable, value, says) in [
        (
            "RETRY_ON",
            "failed,cancelled",
            "`cancelled` is never retried",
        ),
        ("RETRY_DELAY", "7h", "longer than 6h"),
        ("RETRIES", "50", "at most 10"),
        ("INSTANCE_ID", "nightly", "unset instance_id"),
    ] {
        let mut vars: Vec<(&str, &str)> =
            base.into_iter().filter(|(k, _)| *k != variable).collect();
        vars.push((variable, value));
        let said = crate::helpers::refused_start(&vars).await;
        let named = if variable == "INSTANCE_ID" {
            "RETRIES"
        } else {
            variable
        };
        assert!(said.contains(named) && said.contains(says), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reap_reads_each_record_once_for_its_instance_and_once_for_all_else() {
    let app = spawn_runs(&RETRIED).await;
    let run = first_attempt(&app, "8004").await;
    rewrite(&app, &run, failed).await;
    let object = format!("{RECORDS_PREFIX}/runs/{run}.json");
    let downloads = || {
        app.emulator
            .state()
            .local_storage()
            .unwrap()
            .downloads("runs-bucket", &object)
            .expect("the record exists")
    };
    // This reap schedules and launches its retry, writing the record (each write reads it
    // first); the next, with nothing to do, is the one to count.
    app.push("reap-6", REAP).await;
    // ...and stops its instance: once stopped, nothing is left to do about it.
    for _ in 0..100 {
        let stopped = app
            .instances()
            .iter()
            .any(|i| i["labels"]["run-id"] == run.as_str() && i["state"] == "STOPPED");
        if stopped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ...and a timer it started may still read the record after it answered: after one
    // more reap, nothing is left to do.
    app.push("reap-7", REAP).await;
    let written = downloads();
    let (status, answer) = app.push("reap-8", REAP).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["retries"], serde_json::json!([]), "{answer}");
    assert_eq!(
        downloads() - written,
        2,
        "once to judge its instance, once for the jobs' sync and the retries' sweep together: {answer}"
    );
    app.stop().await;
}
