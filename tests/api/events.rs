//! Web-app events and per-message parameters reach the notebook as data: the exact metadata
//! value the emulator recorded, whatever the values hold; what is over a limit or not allowed
//! is refused with its status.

use serde_json::{Value, json};

use crate::run_launch::{created, spawn_runs};

/// The parameters the create carried, parsed, and the raw metadata value.
fn parameters(body: &Value) -> (Value, String) {
    let raw = body["gceSetup"]["metadata"]["notebook-trigger-parameters"]
        .as_str()
        .expect("the create carries the parameters")
        .to_owned();
    (serde_json::from_str(&raw).expect("the value is JSON"), raw)
}

#[tokio::test]
async fn a_web_app_event_starts_a_run_and_reaches_the_notebook_as_event() {
    let app = spawn_runs(&[]).await;
    let (status, answer) = app.push("8001", r#"{"upload": "gs://b/new.csv"}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["run_id"].is_string(), "{answer}");
    let (parameters, _) = parameters(&created(&app));
    assert_eq!(
        parameters,
        json!({"rows": 3, "label": "default", "event": {"upload": "gs://b/new.csv"}})
    );
}

#[tokio::test]
async fn message_parameters_go_over_the_profiles_and_the_event_over_both() {
    let app = spawn_runs(&[("ALLOWED_OVERRIDES", "parameters")]).await;
    let payload = r#"{"parameters": {"rows": 10, "event": "mine"}, "start": true}"#;
    let (status, answer) = app.push("8002", payload).await;
    assert_eq!(status, 200, "{answer}");
    let (parameters, _) = parameters(&created(&app));
    assert_eq!(
        parameters,
        json!({"rows": 10, "label": "default", "event": serde_json::from_str::<Value>(payload).unwrap()})
    );
}

#[tokio::test]
async fn hostile_values_are_carried_byte_exact_as_data() {
    let app = spawn_runs(&[("MAX_PAYLOAD_BYTES", "262144")]).await;
    let mut deep = json!("bottom");
    for _ in 0..20 {
        deep = json!({ "d": deep });
    }
    let event = json!({
        "quote": "it's \"quoted\" ' \"",
        "subst": "$(touch /tmp/pwned) ${HOME} `id`",
        "lines": "a\nb\r\nc\t\u{0}d\u{1b}[31m",
        "unicode": "zürich 東京 \u{202e}",
        "big": "x".repeat(64 * 1024),
        "deep": deep,
    });
    let (status, answer) = app.push("8003", &event.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let (parameters, raw) = parameters(&created(&app));
    assert_eq!(
        parameters["event"], event,
        "the event arrives as it was sent"
    );
    let mut expected = serde_json::Map::new();
    expected.insert("event".into(), event);
    expected.insert("label".into(), json!("default"));
    expected.insert("rows".into(), json!(3));
    assert_eq!(raw, Value::Object(expected).to_string(), "the exact value");
}

#[tokio::test]
async fn refusals_name_the_field_and_are_dead_lettered() {
    let app = spawn_runs(&[
        ("ALLOWED_OVERRIDES", "machine_type,parameters"),
        ("ALLOWED_PARAMETERS", "rows,label"),
    ])
    .await;
    let big = format!(
        r#"{{"parameters": {{"label": "{}"}}}}"#,
        "x".repeat(40 * 1024)
    );
    let deep = format!(r#"{{"upload": {}1{}}}"#, "[".repeat(40), "]".repeat(40));
    let cases = [
        (
            r#"{"overrides": {"machine_typo": "n1-standard-8"}}"#.to_owned(),
            400,
            "overrides.machine_typo",
        ),
        (
            r#"{"overrides": {"network": "evil"}}"#.to_owned(),
            400,
            "ALLOWED_OVERRIDES",
        ),
        (
            r#"{"parameters": {"date": "x"}}"#.to_owned(),
            400,
            "ALLOWED_PARAMETERS",
        ),
        (
            r#"{"parameters": {"rows": 1}, "overrides": {"parameters": {"rows": 2}}}"#.to_owned(),
            400,
            "set it once",
        ),
        (big, 400, "at most 32768"),
        (deep, 400, "deeper than 32"),
        (
            r#"{"action": "delete-everything"}"#.to_owned(),
            400,
            "not an action",
        ),
        (r#"{"dry_run": true}"#.to_owned(), 400, "dry_run"),
        (
            format!(r#"{{"upload": "{}"}}"#, "x".repeat(70 * 1024)),
            413,
            "MAX_PAYLOAD_BYTES",
        ),
    ];
    for (index, (payload, status, said)) in cases.iter().enumerate() {
        let (got, answer) = app.push(&format!("81{index:02}"), payload).await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(
            got,
            *status,
            "{}: {answer}",
            &payload[..payload.len().min(80)]
        );
        assert!(error.contains(said), "{said}: {error}");
    }
    assert!(
        app.emulator.create_requests().is_empty(),
        "nothing refused was created"
    );
}

#[tokio::test]
async fn parameter_names_that_would_be_code_are_refused() {
    let app = spawn_runs(&[("ALLOWED_OVERRIDES", "parameters")]).await;
    for (index, name) in ["x=1;import os", "a b", "class", "é", "x\n"]
        .iter()
        .enumerate()
    {
        let payload = json!({"parameters": {*name: 1}}).to_string();
        let (status, answer) = app.push(&format!("82{index:02}"), &payload).await;
        assert_eq!(status, 400, "{name:?}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("field `parameters`"),
            "{answer}"
        );
    }
    assert!(app.emulator.create_requests().is_empty());
}

#[tokio::test]
async fn a_dry_run_creates_and_writes_nothing() {
    let app = spawn_runs(&[("ALLOWED_OVERRIDES", "dry_run")]).await;
    let (status, answer) = app.push("8301", r#"{"dry_run": true}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "dry-run");
    assert_eq!(answer["state"], "NOT_CREATED");
    assert!(app.emulator.create_requests().is_empty());
    let names = notebooks_emulator::storage::StorageClient::new(
        reqwest::Url::parse(&app.emulator.storage_url()).unwrap(),
    )
    .list("runs-bucket", "runs/")
    .await
    .unwrap();
    assert!(names.is_empty(), "{names:?}");
}

#[tokio::test]
async fn a_reap_action_reaps_and_launches_nothing() {
    let app = spawn_runs(&[]).await;
    let (status, answer) = app.push("8401", r#"{"action": "reap"}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "reaped", "{answer}");
    assert!(app.emulator.create_requests().is_empty());
}
