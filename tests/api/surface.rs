//! The HTTP surface: routes, methods, limits, refusals.

use crate::helpers::{json, push_body, spawn_app};

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
    let (status, answer) = app.push("1", r#"{"container_image":"evil/img"}"#).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("container_image"),
        "{answer}"
    );
    let (status, answer) = app.push("2", r#"{"machine_type":"NOT VALID"}"#).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("machine_type"),
        "{answer}"
    );
    let (status, answer) = app.push("3", r#"{"profile":"nope"}"#).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("profile `nope`"),
        "{answer}"
    );
    assert!(app.instances().is_empty());
}

#[tokio::test]
async fn launches_beyond_the_limit_are_429_with_retry_after_until_a_permit_frees() {
    let app = spawn_app(&[("MAX_CONCURRENT_LAUNCHES", "1")]).await;
    app.emulator
        .set_provision_time(std::time::Duration::from_millis(1500));
    let first = {
        let request = app
            .http
            .post(&app.address)
            .body(crate::helpers::push_body("c-1", "first"));
        tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
    };
    while app.emulator.request_count() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let busy = app.post(&crate::helpers::push_body("c-2", "second")).await;
    assert_eq!(busy.status().as_u16(), 429);
    assert_eq!(
        busy.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("10")
    );
    assert_eq!(
        first.await.unwrap(),
        200,
        "the running launch is unaffected"
    );
    assert_eq!(
        app.instances().len(),
        1,
        "the refused message created nothing"
    );
    app.emulator
        .set_provision_time(std::time::Duration::from_millis(50));
    let (status, answer) = app.push("c-2", "second").await;
    assert_eq!(
        status, 200,
        "the permit is released after the launch: {answer}"
    );
}

#[tokio::test]
async fn payloads_over_max_payload_bytes_are_413_and_create_nothing() {
    let app = spawn_app(&[("MAX_PAYLOAD_BYTES", "2048")]).await;
    let (status, answer) = app.push("p-1", &"x".repeat(2049)).await;
    assert_eq!(status, 413);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("MAX_PAYLOAD_BYTES"),
        "{answer}"
    );
    assert!(app.instances().is_empty());
    assert_eq!(app.emulator.request_count(), 0);
}

#[tokio::test]
async fn overridden_images_outside_the_allowed_prefixes_are_400() {
    let app = spawn_app(&[
        ("ALLOWED_OVERRIDES", "container_image"),
        (
            "ALLOWED_IMAGE_PREFIXES",
            "europe-docker.pkg.dev/team/notebooks/",
        ),
    ])
    .await;
    let (status, answer) = app
        .push("i-1", r#"{"container_image":"docker.io/evil/miner"}"#)
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("ALLOWED_IMAGE_PREFIXES"),
        "{answer}"
    );
    let (status, answer) = app
        .push(
            "i-2",
            r#"{"container_image":"europe-docker.pkg.dev/team/notebooks/lab:v2"}"#,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        app.instances()[0]["gceSetup"]["containerImage"]["repository"],
        "europe-docker.pkg.dev/team/notebooks/lab"
    );
}

/// Cloud Run forwards pushes as HTTP/2 cleartext when deployed with `--use-http2`, as
/// `deploy/deploy.sh` does, and keeps probing `/healthz` over HTTP/1.1: the same port must take
/// both, and a push over HTTP/2 must launch exactly as one over HTTP/1.1 does.
#[tokio::test]
async fn pushes_over_http2_cleartext_launch_and_probes_over_http1_still_answer() {
    let app = spawn_app(&[]).await;
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2c
        .post(&app.address)
        .header("content-type", "application/json")
        .body(push_body("h2c-1", "TweetiNoteStartTopic"))
        .send()
        .await
        .expect("the service takes HTTP/2 with prior knowledge");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let (status, answer) = json(response).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["state"], "ACTIVE", "{answer}");
    assert_eq!(app.instances().len(), 1);

    let probe = app
        .http
        .get(format!("{}/healthz", app.address))
        .version(reqwest::Version::HTTP_11)
        .send()
        .await
        .unwrap();
    assert_eq!(probe.version(), reqwest::Version::HTTP_11);
    assert_eq!(probe.status().as_u16(), 200);
}

#[tokio::test]
async fn without_an_audience_requests_need_no_token() {
    let app = spawn_app(&[]).await;
    let (status, answer) = app.push("open-1", "x").await;
    assert_eq!(status, 200, "{answer}");
}
