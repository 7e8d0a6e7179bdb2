//! Dry runs: the answer shows the exact create (method, URL, query, body) that a launch of the
//! same message then sends, and nothing is created or recorded until that launch.

use std::time::Duration;

use notebooks_emulator::EmulatorConfig;
use notebooks_emulator::storage::StorageClient;
use serde_json::Value;

use crate::helpers::{PROJECT, TestApp, ZONE, spawn_app_with};
use crate::run_launch::{created, record, spawn_runs};

/// The objects under `runs/` in the emulator's Cloud Storage.
async fn run_objects(app: &TestApp) -> Vec<String> {
    StorageClient::new(reqwest::Url::parse(&app.emulator.storage_url()).unwrap())
        .list("runs-bucket", "runs/")
        .await
        .unwrap()
}

/// Checks that `shown` (a dry run's `request`) is the create the emulator received since.
fn assert_shown_was_sent(app: &TestApp, shown: &Value) {
    let creates = app.emulator.create_requests();
    assert_eq!(creates.len(), 1, "one create");
    let sent = &creates[0];
    assert_eq!(shown["method"], "POST", "{shown}");
    assert_eq!(shown["body"], sent.body, "the body shown is the body sent");
    let mut url = format!(
        "{}/{}/{}/instances?instanceId={}",
        app.emulator.base_url(),
        sent.api_version,
        sent.parent,
        sent.instance_id
            .as_deref()
            .expect("the create names its id"),
    );
    let mut query = serde_json::json!({"instanceId": sent.instance_id});
    if let Some(request_id) = &sent.request_id {
        url.push_str(&format!("&requestId={request_id}"));
        query["requestId"] = request_id.as_str().into();
    }
    assert_eq!(shown["url"], url, "{shown}");
    assert_eq!(shown["query"], query, "{shown}");
}

#[tokio::test]
async fn a_dry_run_shows_the_create_a_launch_of_the_message_then_sends() {
    let app = spawn_runs(&[("ALLOWED_OVERRIDES", "dry_run")]).await;
    let (status, dry) = app.push("9001", r#"{"dry_run": true}"#).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["outcome"], "dry-run", "{dry}");
    assert_eq!(dry["state"], "NOT_CREATED", "{dry}");
    let run_id = dry["run_id"].as_str().expect("the run it would start");
    let shown = dry["request"].clone();
    assert!(shown["body"].is_object(), "{dry}");
    assert!(shown["query"]["requestId"].is_string(), "v2: {dry}");
    assert_eq!(
        shown["body"]["gceSetup"]["metadata"]["notebook-trigger-run-id"], run_id,
        "the run's metadata is in the body: {dry}"
    );
    assert!(app.instances().is_empty(), "a dry run creates nothing");
    assert!(app.emulator.create_requests().is_empty());
    assert_eq!(run_objects(&app).await, Vec::<String>::new(), "no record");

    let (status, launched) = app.push("9001", r#"{"dry_run": false}"#).await;
    assert_eq!(status, 200, "{launched}");
    assert_eq!(launched["outcome"], "created", "{launched}");
    assert!(
        launched.get("request").is_none(),
        "only a dry run shows its request: {launched}"
    );
    assert_eq!(launched["instance"], dry["instance"]);
    assert_eq!(launched["run_id"], dry["run_id"]);
    assert_shown_was_sent(&app, &shown);
    assert_eq!(created(&app), shown["body"]);
    assert_eq!(
        record(&app, run_id).await["run_id"],
        run_id,
        "the launch writes the record the dry run did not"
    );
}

#[tokio::test]
async fn a_v1_dry_run_shows_no_request_id_as_the_v1_create_sends_none() {
    let legacy = EmulatorConfig {
        provision_time: Duration::from_millis(200),
        v1_legacy: true,
        ..EmulatorConfig::default()
    };
    let app = spawn_app_with(
        legacy,
        &[
            ("NOTEBOOKS_API_VERSION", "v1"),
            ("ALLOWED_OVERRIDES", "dry_run,machine_type"),
        ],
    )
    .await;
    let payload = |dry: bool| format!(r#"{{"dry_run": {dry}, "machine_type": "n1-standard-8"}}"#);
    let (status, dry) = app.push("9002", &payload(true)).await;
    assert_eq!(status, 200, "{dry}");
    let shown = dry["request"].clone();
    assert!(shown["query"].get("requestId").is_none(), "{dry}");
    assert_eq!(shown["body"]["machineType"], "n1-standard-8", "{dry}");
    assert!(
        shown["url"].as_str().unwrap().contains(&format!(
            "/v1/projects/{PROJECT}/locations/{ZONE}/instances?"
        )),
        "{dry}"
    );
    assert!(app.instances().is_empty());

    let (status, launched) = app.push("9002", &payload(false)).await;
    assert_eq!(status, 200, "{launched}");
    assert_shown_was_sent(&app, &shown);
}

#[tokio::test]
async fn a_dry_run_not_in_allowed_overrides_is_refused_naming_it() {
    let app = spawn_runs(&[("ALLOWED_OVERRIDES", "parameters")]).await;
    let (status, answer) = app.push("9003", r#"{"dry_run": true}"#).await;
    assert_eq!(status, 400, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("dry_run") && error.contains("ALLOWED_OVERRIDES"),
        "{answer}"
    );
    assert!(app.emulator.create_requests().is_empty());
    assert_eq!(run_objects(&app).await, Vec::<String>::new());
}
