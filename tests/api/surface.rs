//! The HTTP surface: routes, methods, limits, refusals.

use crate::helpers::{json, spawn_app};

#[tokio::test]
async fn healthz_answers_without_upstream() {
    let app = spawn_app(&[]).await;
    app.emulator.set_fault_rate(1.0);
    let response = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        app.emulator.request_count(),
        0,
        "healthz must not call the API"
    );
}

#[tokio::test]
async fn other_methods_on_root_are_405() {
    let app = spawn_app(&[]).await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let response = app
            .http
            .request(method.clone(), &app.address)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method}");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_create_nothing() {
    let app = spawn_app(&[("MAX_BODY_BYTES", "4096")]).await;
    let big = format!(r#"{{"data":"{}"}}"#, "A".repeat(8192));
    assert_eq!(app.post(&big).await.status().as_u16(), 413);
    assert!(app.instances().is_empty());
}

#[tokio::test]
async fn malformed_requests_are_400_with_the_field_named() {
    let app = spawn_app(&[]).await;
    let cases = [
        ("not json", "not JSON"),
        ("[]", "`message`"),
        (r#"{"message":{"data":42}}"#, "message.data"),
        (r#"{"message":{"data":"%%%"}}"#, "message.data"),
        (
            r#"{"message":{"messageId":"1","publishTime":"noon"}}"#,
            "message.publishTime",
        ),
    ];
    for (body, needle) in cases {
        let (status, answer) = json(app.post(body).await).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            answer["error"].as_str().unwrap().contains(needle),
            "{body}: {answer}"
        );
    }
    assert!(app.instances().is_empty());
    assert_eq!(app.emulator.request_count(), 0);
}

#[tokio::test]
async fn overrides_are_refused_unless_allowed() {
    let app = spawn_app(&[("ALLOWED_OVERRIDES", "machine_type")]).await;
    let (status, answer) = json(
        app.post(&crate::helpers::push_body(
            "1",
            r#"{"container_image":"evil/img"}"#,
        ))
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("container_image"),
        "{answer}"
    );
    let (status, answer) = json(
        app.post(&crate::helpers::push_body(
            "2",
            r#"{"machine_type":"NOT VALID"}"#,
        ))
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("machine_type"),
        "{answer}"
    );
    let (status, answer) = json(
        app.post(&crate::helpers::push_body("3", r#"{"profile":"nope"}"#))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("profile `nope`"),
        "{answer}"
    );
    assert!(app.instances().is_empty());
}
