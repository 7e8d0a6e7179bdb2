//! Messages to finished executions, on one machine: Google's Pub/Sub emulator pushes to the
//! service binary, whose profile runs its notebook as a notebook execution job on the
//! Notebooks emulator (which runs it with real papermill against fake-gcs-server); the
//! executed notebook lands in the run's folder, and a reap message (as Cloud Scheduler sends
//! one) records the run's end: succeeded, or failed with the failing cell's error.

use std::time::{Duration, Instant};

use serde_json::Value;
use storage_client::StorageClient;

use crate::deployment::{Deployment, emulators, publish, records};
use crate::pubsub_emulator::PubSubEmulator;
use crate::runs::{BUCKET, notebook, stage};
use crate::service::Service;

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
    loop {
        let records = records(storage).await;
        let ended = |r: &&Value| r["state"] != "launched" && r["profile"] == what;
        if let Some(record) = records.iter().find(ended) {
            return record.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no ended run ({what}) within {limit:?}: {records:#?}; the service said:\n{:#?}",
            service.log_lines()
        );
        publish(pubsub, r#"{"action": "reap"}"#).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_becomes_an_execution_whose_end_the_reap_records() {
    let Some((gcs, pubsub)) = emulators().await else {
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
    let profiles =
        format!("[profiles.failing]\nnotebook = \"gs://{BUCKET}/nb/failing/failing.ipynb\"\n");
    let extra = [
        ("BACKEND", "execution".to_owned()),
        (
            "NOTEBOOK",
            format!("gs://{BUCKET}/nb/counted/counted.ipynb"),
        ),
        ("NOTEBOOK_PARAMETERS", r#"{"label": "ab"}"#.to_owned()),
        ("ALLOWED_OVERRIDES", "parameters".to_owned()),
        ("MAX_RUN_TIME", "2m".to_owned()),
        ("POLL_TIMEOUT", "60s".to_owned()),
        // No runner reports on an execution.
        ("RUNNER_SCRIPT", String::new()),
        ("SERVICE_URL", String::new()),
    ];
    let deployed = Deployment::start(&gcs, &notebooks, &pubsub, &profiles, &extra).await;
    let service = &deployed.service;

    publish(&pubsub, r#"{"parameters": {"rows": 4}}"#).await;
    let succeeded = ended_record(
        &pubsub,
        &storage,
        service,
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
    let page = reqwest::Client::new()
        .get(format!("{}runs/{run}", service.endpoint()))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"notebook\"") && page.contains("abababab"),
        "the run's page shows the notebook the job ran: {page}"
    );

    publish(&pubsub, r#"{"profile": "failing"}"#).await;
    let failed = ended_record(
        &pubsub,
        &storage,
        service,
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
    drop(deployed);
    notebooks.shutdown().await;
}
