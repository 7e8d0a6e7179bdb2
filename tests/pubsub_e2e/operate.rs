//! An operator's acts on real runs: a message's run rerun with new parameters from the
//! terminal (the new run's notebook writes the new value), and a running notebook cancelled
//! (its runner traps the stop's signal and reports `cancelled`; the record says who; the
//! instance is stopped). The service binary, Google's Pub/Sub emulator, emulated instances
//! running the shipped runner with real papermill, and fake-gcs-server.

use std::process::Stdio;
use std::time::{Duration, Instant};

use notebooks_emulator::Emulator;
use serde_json::Value;
use storage_client::StorageClient;

use crate::BIN;
use crate::deployment::{Deployment, emulators, finished, publish};
use crate::runs::{BUCKET, notebook, stage};
use crate::service::Service;

/// A notebook that writes its parameter `rows` to `rows.txt`, and one that sleeps.
pub fn notebooks() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "nb/param/param.ipynb",
            notebook("rows = 1", &["open('rows.txt', 'w').write(str(rows))"]),
        ),
        (
            "nb/slow/slow.ipynb",
            notebook("x = 1", &["import time\ntime.sleep(300)"]),
        ),
    ]
}

/// The profiles of those notebooks.
pub fn profiles() -> String {
    format!(
        "[profiles.param]\nnotebook = \"gs://{BUCKET}/nb/param/param.ipynb\"\n\
         [profiles.slow]\nnotebook = \"gs://{BUCKET}/nb/slow/slow.ipynb\"\nmax_run_time = \"10m\"\n"
    )
}

/// The record of run `run`, once `done` holds of it.
pub async fn record_when(
    storage: &StorageClient,
    run: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let object = format!("{}/out/{run}.json", notebook_trigger::run::RECORDS_PREFIX);
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(bytes) = storage.download(BUCKET, &object).await {
            let record: Value = serde_json::from_slice(&bytes).unwrap();
            if done(&record) {
                return record;
            }
            assert!(
                Instant::now() < deadline,
                "run {run} within {limit:?}: {record:#}"
            );
        }
        assert!(
            Instant::now() < deadline,
            "no record of {run} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `notebook-trigger runs ARGS` with the service's configuration, as an operator at a
/// terminal (`USER=tester`): its stdout, which must say it succeeded.
pub async fn runs_here(service: &Service, args: &[&str]) -> String {
    let child = tokio::process::Command::new(BIN)
        .arg("runs")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("USER", "tester")
        .envs(service.env().filter(|(k, _)| *k != "PORT"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("runs finishes within 60 s")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "runs {args:?}: {stderr}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_rerun_with_new_parameters_and_a_running_notebook_is_cancelled() {
    let Some((gcs, pubsub)) = emulators().await else {
        return;
    };
    let (storage, notebooks) = stage(&gcs, notebooks()).await;
    let deployed = Deployment::start(&gcs, &notebooks, &pubsub, &profiles(), &[]).await;
    let service = &deployed.service;

    // A message's run, then its rerun with new parameters from the terminal.
    publish(
        &pubsub,
        r#"{"profile": "param", "parameters": {"rows": 2}}"#,
    )
    .await;
    let first = crate::runs::finished_record(&storage, Duration::from_secs(120), "param").await;
    assert_eq!(first["state"], "succeeded", "{first:#}");
    let old = first["run_id"].as_str().unwrap();
    let new = runs_here(service, &["rerun", old, "--parameters", r#"{"rows": 7}"#]).await;
    assert_ne!(new, old);
    let rerun = record_when(&storage, &new, Duration::from_secs(120), finished).await;
    assert_eq!(rerun["state"], "succeeded", "{rerun:#}");
    assert_eq!(rerun["origin"]["kind"], "rerun");
    assert_eq!(rerun["origin"]["of"], old);
    assert_eq!(rerun["origin"]["by"], "cli:tester");
    let written = |run: &str| {
        let storage = &storage;
        let object = format!("out/{run}/outputs/rows.txt");
        async move { storage.download(BUCKET, &object).await.unwrap() }
    };
    assert_eq!(written(old).await, b"2");
    assert_eq!(
        written(&new).await,
        b"7",
        "the rerun ran with the new value"
    );

    // A notebook that runs for minutes, cancelled while papermill runs it.
    let slow = runs_here(service, &["start", "slow"]).await;
    let launched = record_when(&storage, &slow, Duration::from_secs(30), |_| true).await;
    let instance = launched["instance"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !notebooks
        .console(&instance)
        .contains("papermill slow.ipynb")
    {
        assert!(
            Instant::now() < deadline,
            "{}",
            notebooks.console(&instance)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let said = runs_here(service, &["cancel", &slow]).await;
    assert!(said.contains("asked by cli:tester"), "{said}");
    let cancelled = record_when(&storage, &slow, Duration::from_secs(60), finished).await;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled:#}");
    assert_eq!(cancelled["cancel"]["by"], "cli:tester");
    assert_eq!(
        cancelled["cleanup"]["by"], "report",
        "the runner reported it: {cancelled:#}"
    );
    assert!(
        cancelled["log_tail"]
            .as_str()
            .unwrap()
            .contains("stopped by a signal"),
        "{cancelled:#}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(
        state_of(&notebooks, &instance).await.as_str(),
        "STOPPED" | "DELETED"
    ) {
        assert!(
            Instant::now() < deadline,
            "{}",
            state_of(&notebooks, &instance).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Cancelling it again changes nothing, and says how it ended.
    let again = tokio::process::Command::new(BIN)
        .args(["runs", "cancel", &slow])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(service.env().filter(|(k, _)| *k != "PORT"))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(stderr.contains("has ended already (cancelled)"), "{stderr}");
}
