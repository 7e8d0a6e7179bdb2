//! Where a message carries the product's keys, over a real socket: in attributes, the data is
//! the app's event, whole, whatever its keys are named; a key or attribute that only looks like
//! the product's is refused with 400 naming both, before the Notebooks API is called; and a
//! deployment with `MESSAGE_EVENTS=refuse` takes no events.

use serde_json::{Value, json};

use crate::run_launch::{created, spawn_runs};

/// A message's attributes, as key and value.
type Attributes<'a> = &'a [(&'a str, &'a str)];

/// The parameters the one create carried.
fn parameters(app: &crate::helpers::TestApp) -> Value {
    let raw = created(app)["gceSetup"]["metadata"]["notebook-trigger-parameters"]
        .as_str()
        .expect("the create carries the parameters")
        .to_owned();
    serde_json::from_str(&raw).expect("the value is JSON")
}

#[tokio::test]
async fn with_the_product_keys_in_attributes_the_apps_data_reaches_the_notebook_whole() {
    let app = spawn_runs(&[("ALLOWED_OVERRIDES", "parameters")]).await;
    let data = r#"{"profile": "premium", "action": "upload", "parameters": {"rows": 99}}"#;
    let (status, answer) = app.push("k-data", data).await;
    assert_eq!(status, 400, "without attributes the data is read: {answer}");
    let attributes = [
        ("profile", "default"),
        ("parameters", r#"{"rows": 10}"#),
        ("origin", "webapp"),
    ];
    let (status, answer) = app.push_with("k-attr", Some(data), &attributes).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        parameters(&app),
        json!({"rows": 10, "label": "default", "event": serde_json::from_str::<Value>(data).unwrap()})
    );
}

#[tokio::test]
async fn attributes_alone_are_a_request() {
    let app = spawn_runs(&[("ALLOWED_OVERRIDES", "dry_run")]).await;
    let (status, answer) = app
        .push_with(
            "k-only",
            None,
            &[("profile", "default"), ("dry_run", "true")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "dry-run", "{answer}");
    let (status, answer) = app
        .push_with(
            "k-text",
            Some("TweetiNoteStartTopic"),
            &[("action", "reap")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "reaped", "{answer}");
    assert!(app.emulator.create_requests().is_empty());
}

#[tokio::test]
async fn keys_that_only_look_like_the_products_and_bad_attributes_are_400_naming_them() {
    let app = spawn_runs(&[
        ("ALLOWED_OVERRIDES", "parameters,metadata,dry_run"),
        ("ALLOWED_PARAMETERS", "rows,city"),
    ])
    .await;
    let none: Attributes<'_> = &[];
    let cases: [(&str, Attributes<'_>, &str); 14] = [
        (
            r#"{"profile": "default", "paramters": {"city": "Paris"}}"#,
            none,
            "`paramters`: did you mean `parameters`?",
        ),
        (
            r#"{"parameters": {"city": "Paris"}, "Profile": "default"}"#,
            none,
            "`Profile`: did you mean `profile`?",
        ),
        (
            r#"{"profile": "default", "dry-run": true}"#,
            none,
            "`dry-run`: did you mean `dry_run`?",
        ),
        (
            "TweetiNoteStartTopic",
            &[("dryrun", "true")],
            "attribute `dryrun`: did you mean `dry_run`?",
        ),
        (
            "{}",
            &[("parameters", r#"{"city": "Paris""#)],
            "attribute `parameters`: is not JSON text",
        ),
        (
            "{}",
            &[("dry_run", "yes")],
            "attribute `dry_run`: `yes` is not true or false",
        ),
        (
            "{}",
            &[("profile", "default"), ("machine_type", "n1-standard-8")],
            "attribute `machine_type` is a profile field",
        ),
        (
            r#"{"upload": "x"}"#,
            &[("parameters", r#"{"date": "d"}"#)],
            "parameter `date` is not in ALLOWED_PARAMETERS",
        ),
        (
            "{}",
            &[("parameters", r#"{"__builtins__": {}}"#)],
            "`__builtins__`",
        ),
        (
            "{}",
            &[("overrides", r#"{"metadata": {"startup-script": "reboot"}}"#)],
            "metadata key `startup-script` cannot be set by a message",
        ),
        (
            "{}",
            &[("overrides", r#"{"machine_type": "n1-standard-8"}"#)],
            "field `machine_type` is not in ALLOWED_OVERRIDES",
        ),
        (
            "{}",
            &[("overrides", r#"{"labels": {"a": "b"}, "network": "x"}"#)],
            "is not in ALLOWED_OVERRIDES",
        ),
        (
            "{}",
            &[("profile", "premium")],
            "profile `premium` does not exist",
        ),
        ("{}", &[("action", "delete-all")], "not an action"),
    ];
    for (n, (data, attributes, said)) in cases.iter().enumerate() {
        let (status, answer) = app
            .push_with(&format!("k-{n}"), Some(data), attributes)
            .await;
        assert_eq!(status, 400, "{data} {attributes:?}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(said), "{said}: {error}");
    }
    assert_eq!(
        app.emulator.request_count(),
        0,
        "a refusal reached the Notebooks API"
    );
    let event = r#"{"profile": "default", "upload": "gs://b/new.csv", "option": 1, "user": "ann"}"#;
    let (status, answer) = app.push("k-event", event).await;
    assert_eq!(
        status, 200,
        "an event far from the product's keys: {answer}"
    );
    assert_eq!(
        parameters(&app)["event"],
        serde_json::from_str::<Value>(event).unwrap()
    );
}

#[tokio::test]
async fn a_deployment_that_refuses_events_names_the_key() {
    let app = spawn_runs(&[
        ("MESSAGE_EVENTS", "refuse"),
        ("ALLOWED_OVERRIDES", "parameters"),
    ])
    .await;
    for (n, (data, attributes, said)) in [
        (r#"{"upload": "gs://b/new.csv"}"#, &[][..], "key `upload`"),
        (
            r#"{"profile": "default", "start": true}"#,
            &[][..],
            "key `start`",
        ),
        (
            r#"{"upload": "gs://b/new.csv"}"#,
            &[("profile", "default")][..],
            "key `upload`",
        ),
    ]
    .iter()
    .enumerate()
    {
        let (status, answer) = app
            .push_with(&format!("r-{n}"), Some(data), attributes)
            .await;
        assert_eq!(status, 400, "{data}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(said) && error.contains("MESSAGE_EVENTS=refuse"),
            "{error}"
        );
    }
    assert!(app.emulator.create_requests().is_empty());
    let (status, answer) = app
        .push(
            "r-ok",
            r#"{"profile": "default", "parameters": {"rows": 5}}"#,
        )
        .await;
    assert_eq!(status, 200, "the product's keys alone: {answer}");
    assert_eq!(parameters(&app), json!({"rows": 5, "label": "default"}));
}
