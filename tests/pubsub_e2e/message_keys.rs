//! The product's keys as Pub/Sub attributes, through Google's Pub/Sub emulator: published by
//! the service binary and by `gcloud pubsub topics publish --attribute`, pushed to the service,
//! and read there, while the data, whose keys are named as the product's, reaches the notebook
//! whole as its `event` parameter.

use std::time::Duration;

use serde_json::{Value, json};

use crate::pubsub_emulator::PubSubEmulator;
use crate::service::Service;
use crate::topology::{Backoff, Topology};
use crate::{PROJECT, cli, eventually, notebooks};

/// `gcloud pubsub topics publish` against the emulator, in a configuration of its own, bounded
/// in time; the process is killed if the test fails.
async fn gcloud_publish(pubsub: &PubSubEmulator, args: &[&str]) -> std::process::Output {
    let config = tempfile::tempdir().expect("a gcloud configuration directory");
    let child = tokio::process::Command::new("gcloud")
        .args(["pubsub", "topics", "publish"])
        .args(args)
        .env("CLOUDSDK_CONFIG", config.path())
        .env("CLOUDSDK_CORE_PROJECT", PROJECT)
        .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
        .env(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB",
            format!("http://{}/", pubsub.host),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("gcloud runs");
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("gcloud publishes within 60 s")
        .expect("gcloud's output")
}

/// The parameters of each create the emulator received, parsed.
fn created_parameters(notebooks: &notebooks_emulator::Emulator) -> Vec<Value> {
    notebooks
        .create_requests()
        .iter()
        .map(|create| {
            let raw = create.body["gceSetup"]["metadata"]["notebook-trigger-parameters"]
                .as_str()
                .expect("a run's create carries its parameters");
            serde_json::from_str(raw).expect("the parameters are JSON")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_carry_the_product_keys_and_the_data_reaches_the_notebook_whole() {
    let Some(pubsub) = PubSubEmulator::start(PROJECT) else {
        return;
    };
    let notebooks = notebooks(Duration::from_millis(200)).await;
    // The bucket of the notebook and of the run records, in the emulator's Cloud Storage; the
    // notebook declares `rows`, as the launch's pre-flight checks.
    notebooks
        .state()
        .local_storage()
        .expect("the emulator serves Cloud Storage")
        .put(
            "runs-bucket",
            "nb/seed.ipynb",
            "application/json",
            crate::runs::notebook("rows = 1", &["print(rows)"]),
        );
    let storage = notebooks.storage_url();
    let service = Service::start(
        &notebooks,
        &[
            ("POST_STARTUP_SCRIPT", ""),
            ("NOTEBOOK", "gs://runs-bucket/nb/seed.ipynb"),
            ("NOTEBOOK_OUTPUT", "gs://runs-bucket/runs/"),
            ("NOTEBOOK_PARAMETERS", r#"{"rows": 3}"#),
            ("SERVICE_URL", "https://trigger.example"),
            ("RUNNER_SCRIPT", "gs://runs-bucket/runner.sh"),
            ("STORAGE_EMULATOR_HOST", &storage),
            ("ALLOWED_OVERRIDES", "parameters"),
        ],
    );
    let _topology = Topology::create(&pubsub, &service.endpoint(), 5, Backoff::Exponential).await;

    let app_event = r#"{"profile": "premium", "action": "upload"}"#;
    let output = cli(
        &pubsub,
        &[
            "publish",
            "--topic",
            "trigger",
            "--attribute",
            "profile=default",
            "--attribute",
            r#"parameters={"rows": 10}"#,
            app_event,
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let gcloud_event = r#"{"Profile": "x", "dry_run": "maybe"}"#;
    let output = gcloud_publish(
        &pubsub,
        &[
            "trigger",
            r#"--attribute=parameters={"rows": 7}"#,
            &format!("--message={gcloud_event}"),
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    eventually(Duration::from_secs(30), "both messages launch", || {
        notebooks.create_requests().len() == 2
    })
    .await;
    let mut parameters = created_parameters(&notebooks);
    parameters.sort_by_key(|p| p["rows"].as_i64());
    let event = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    assert_eq!(
        parameters,
        [
            json!({"rows": 7, "event": event(gcloud_event)}),
            json!({"rows": 10, "event": event(app_event)}),
        ]
    );
    notebooks.shutdown().await;
}
