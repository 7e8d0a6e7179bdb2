//! Messages to finished executions, on one machine: Google's Pub/Sub emulator pushes to the
//! service binary, whose profile runs its notebook as a notebook execution job on the
//! Notebooks emulator (which runs it with real papermill against fake-gcs-server); the
//! executed notebook lands in the run's folder, and a reap message (as Cloud Scheduler sends
//! one) records the run's end: succeeded, or failed with the failing cell's error.

use std::time::{Duration, Instant};

use serde_json::Value;
use storage_client::StorageClient;

use crate::fake_gcs::FakeGcs;
use crate::papermill::papermill;
use crate::pubsub_emulator::PubSubEmulator;
use crate::runs::{BUCKET, notebook, stage};
use crate::service::Service;
use crate::topology::{Backoff, Topology};
use crate::{PROJECT, cli};

/// Publishes `data` on the trigger topic.
async fn publish(pubsub: &PubSubEmulator, data: &str) {
    let published = cli(pubsub, &["publish", "--topic", "trigger", data]).await;
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
}

/// The record of the run of profile `what` once it has ended, publishing a reap every second
/// until then, as Cloud Scheduler would at its cadence.
async fn ended_record(
    pubsub: &PubSubEmulator,
    storage: &StorageClient,
    service: &Service,
    what: &str,
    limit: Duration,
) -> Value {
    let deadline = Instant::now() + limit;
    let records = format!("{}/out/", notebook_trigger::run::RECORDS_PREFIX);
    loop {
        let names = storage.list(BUCKET, &records).await.unwrap_or_default();
        for name in names.iter().filter(|name| name.ends_with(".json")) {
            let record: Value =
                serde_json::from_slice(&storage.download(BUCKET, name).await.unwrap()).unwrap();
            if record["state"] != "launched" && record["profile"] == what {
                return record;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no ended run ({what}) within {limit:?}: {names:?}; the service said:\n{:#?}",
            service.log_lines()
        );
        publish(pubsub, r#"{"action": "reap"}"#).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_becomes_an_execution_whose_end_the_reap_records() {
    if !papermill() {
        return;
    }
    let Some(gcs) = FakeGcs::start().await else {
        return;
    };
    let Some(pubsub) = PubSubEmulator::start(PROJECT) else {
        return;
    };
    let (storage, notebooks) = stage(
        &gcs,
        vec![
            (
                "nb/counted/counted.ipynb",
                notebook(
                    "rows = 1\nlabel = 'x'",
                    &["assert rows == 4, rows\nprint(label * rows)"],
                ),
            ),
            (
                "nb/failing/failing.ipynb",
                notebook("label = 'x'", &["raise ValueError('the data is bad')"]),
            ),
        ],
    )
    .await;
    let profiles = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    std::fs::write(
        profiles.path(),
        format!("[profiles.failing]\nnotebook = \"gs://{BUCKET}/nb/failing/failing.ipynb\"\n"),
    )
    .unwrap();
    let env = [
        ("BACKEND", "execution".to_owned()),
        ("POST_STARTUP_SCRIPT", String::new()),
        (
            "NOTEBOOK",
            format!("gs://{BUCKET}/nb/counted/counted.ipynb"),
        ),
        ("NOTEBOOK_PARAMETERS", r#"{"label": "ab"}"#.to_owned()),
        ("NOTEBOOK_OUTPUT", format!("gs://{BUCKET}/out")),
        ("STORAGE_EMULATOR_HOST", gcs.url.clone()),
        ("PROFILES_FILE", profiles.path().display().to_string()),
        ("ALLOWED_OVERRIDES", "parameters".to_owned()),
        ("MAX_RUN_TIME", "2m".to_owned()),
        ("POLL_TIMEOUT", "60s".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let service = Service::start(&notebooks, &env);
    let _topology = Topology::create(&pubsub, &service.endpoint(), 5, Backoff::Exponential).await;

    publish(&pubsub, r#"{"parameters": {"rows": 4}}"#).await;
    let succeeded = ended_record(
        &pubsub,
        &storage,
        &service,
        "default",
        Duration::from_secs(40),
    )
    .await;
    assert_eq!(succeeded["state"], "succeeded", "{succeeded:#}");
    let run = succeeded["run_id"].as_str().unwrap();
    let job = succeeded["execution"].as_str().unwrap();
    assert!(
        job.ends_with(&format!("/notebookExecutionJobs/notebook-{run}")),
        "{job}"
    );
    // Under the job's id, named as the copy it ran (the emulator's reading of where Google
    // writes it; see the emulator's `executions::run`).
    let executed = format!("out/{run}/notebook-{run}/{run}.ipynb");
    assert_eq!(
        succeeded["outputs"],
        serde_json::json!([format!("gs://{BUCKET}/{executed}")]),
        "{succeeded:#}"
    );
    let executed = String::from_utf8(storage.download(BUCKET, &executed).await.unwrap()).unwrap();
    assert!(
        executed.contains("abababab"),
        "the notebook ran with its parameters: {executed}"
    );
    assert!(executed.contains("injected-parameters"), "{executed}");

    publish(&pubsub, r#"{"profile": "failing"}"#).await;
    let failed = ended_record(
        &pubsub,
        &storage,
        &service,
        "failing",
        Duration::from_secs(40),
    )
    .await;
    assert_eq!(failed["state"], "failed", "{failed:#}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("the data is bad"), "{failed:#}");
    assert!(
        notebooks.instances().is_empty(),
        "no instance for an execution"
    );
    drop(service);
    notebooks.shutdown().await;
}
