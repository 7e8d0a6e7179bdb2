//! Launch behaviour end to end: create, poll, idempotency, failures, shutdown.

use std::time::{Duration, Instant};

use notebooks_emulator::EmulatorConfig;

use crate::helpers::{PROJECT, ZONE, json, push_body, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_push_creates_one_active_instance_with_the_configured_parameters() {
    let app = spawn_app(&[]).await;
    let (status, answer) = app.push("4001", "TweetiNoteStartTopic").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "created");
    assert_eq!(answer["state"], "ACTIVE");
    assert_eq!(answer["trigger"], "TweetiNoteStartTopic");
    let instances = app.instances();
    assert_eq!(instances.len(), 1);
    let instance = &instances[0];
    let name = instance["name"].as_str().unwrap();
    assert!(
        name.starts_with(&format!(
            "projects/{PROJECT}/locations/{ZONE}/instances/notebook-20261122-0600-"
        )),
        "{name}"
    );
    assert_eq!(instance["state"], "ACTIVE");
    assert_eq!(
        instance["gceSetup"]["containerImage"]["repository"],
        "europe-west3-docker.pkg.dev/tweetiment-xyz/tweetimentrep/python-docker"
    );
    assert_eq!(
        instance["gceSetup"]["metadata"]["post-startup-script"],
        "gs://socialsenti/default-startup-script.sh"
    );
    assert_eq!(instance["gceSetup"]["machineType"], "n1-standard-4");
    assert_eq!(instance["labels"]["managed-by"], "notebook-trigger");
    assert_eq!(instance["labels"]["trigger-source"], "pubsub");
    assert_eq!(instance["labels"]["trigger-profile"], "default");
}

#[tokio::test]
async fn redelivery_of_the_same_message_still_makes_one_instance() {
    let app = spawn_app(&[]).await;
    let body = push_body("4002", "TweetiNoteStartTopic");
    let (first, second) = tokio::join!(app.post(&body), app.post(&body));
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(second.status().as_u16(), 200);
    let (status, answer) = json(app.post(&body).await).await;
    assert_eq!(status, 200);
    assert!(
        ["created", "already-launched"].contains(&answer["outcome"].as_str().unwrap()),
        "{answer}"
    );
    assert_eq!(app.instances().len(), 1, "three deliveries, one instance");
}

#[tokio::test]
async fn after_the_request_id_is_forgotten_the_labels_recognise_our_own_instance() {
    let app = spawn_app(&[("NOTEBOOKS_API_VERSION", "v1")]).await;
    // v1 has no requestId: a redelivery meets 409 and must be recognised by its labels.
    let app_v1 = app;
    let body = push_body("4003", "x");
    let (status, answer) = json(app_v1.post(&body).await).await;
    assert_eq!(
        status, 422,
        "v1 create is refused like production: {answer}"
    );
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("NOTEBOOKS_API_VERSION=v2"),
        "{answer}"
    );
    assert!(app_v1.instances().is_empty());

    let legacy = EmulatorConfig {
        provision_time: Duration::from_millis(200),
        v1_legacy: true,
        ..EmulatorConfig::default()
    };
    let app = spawn_app_with(legacy, &[("NOTEBOOKS_API_VERSION", "v1")]).await;
    let (status, answer) = json(app.post(&body).await).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("created")),
        "{answer}"
    );
    let (status, answer) = json(app.post(&body).await).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("already-launched")),
        "{answer}"
    );
    let instances = app.instances();
    assert_eq!(instances.len(), 1);
    assert_eq!(
        instances[0]["postStartupScript"],
        "gs://socialsenti/default-startup-script.sh"
    );
    let created = app.emulator.create_requests();
    assert_eq!(
        created[0].body["containerImage"]["repository"],
        "europe-west3-docker.pkg.dev/tweetiment-xyz/tweetimentrep/python-docker"
    );
}

#[tokio::test]
async fn manual_messages_have_no_id_so_each_is_a_new_launch() {
    let app = spawn_app(&[]).await;
    for _ in 0..2 {
        let (status, answer) = json(app.post(r#"{"data":"TweetiNoteStartTopic"}"#).await).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["trigger"], "TweetiNoteStartTopic");
    }
    assert_eq!(app.instances().len(), 2);
    assert!(
        app.instances()
            .iter()
            .all(|i| i["labels"]["trigger-source"] == "manual")
    );
}

#[tokio::test]
async fn cloud_events_dedupe_on_source_and_id() {
    let app = spawn_app(&[]).await;
    let headers = [
        ("ce-type", "google.cloud.pubsub.topic.v1.messagePublished"),
        ("ce-id", "1096434104173400"),
        (
            "ce-source",
            "//pubsub.googleapis.com/projects/test-project/topics/notebook-trigger",
        ),
        ("ce-specversion", "1.0"),
    ];
    for _ in 0..2 {
        let (status, answer) = json(
            app.post_with(&push_body("ignored-id", "go"), &headers)
                .await,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(app.instances().len(), 1);
    assert_eq!(app.instances()[0]["labels"]["trigger-source"], "cloudevent");
    let foreign = [
        ("ce-type", "google.cloud.storage.object.v1.finalized"),
        ("ce-id", "1"),
        ("ce-source", "//x"),
    ];
    assert_eq!(
        app.post_with(&push_body("1", "go"), &foreign)
            .await
            .status()
            .as_u16(),
        400
    );
}

#[tokio::test]
async fn profiles_and_allowed_overrides_shape_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.toml");
    std::fs::write(&path, "[profiles.gpu]\naccelerator_type = \"NVIDIA_TESLA_T4\"\nmachine_type = \"n1-standard-8\"\n").unwrap();
    let app = spawn_app(&[
        ("PROFILES_FILE", path.to_str().unwrap()),
        ("ALLOWED_OVERRIDES", "labels,boot_disk_size_gb"),
    ])
    .await;
    let payload = r#"{"profile":"gpu","labels":{"run":"nightly"},"boot_disk_size_gb":200}"#;
    let (status, answer) = app.push("4004", payload).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["profile"], "gpu");
    let instance = &app.instances()[0];
    assert_eq!(instance["gceSetup"]["machineType"], "n1-standard-8");
    assert_eq!(
        instance["gceSetup"]["acceleratorConfigs"][0]["type"],
        "NVIDIA_TESLA_T4"
    );
    assert_eq!(instance["gceSetup"]["bootDisk"]["diskSizeGb"], "200");
    assert_eq!(instance["labels"]["run"], "nightly");
    assert_eq!(instance["labels"]["trigger-profile"], "gpu");
}

#[tokio::test]
async fn injected_unavailability_is_503_then_the_retry_succeeds() {
    let app = spawn_app(&[]).await;
    app.emulator.set_fault_rate(1.0);
    let body = push_body("4005", "x");
    let response = app.post(&body).await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(app.instances().is_empty());
    app.emulator.set_fault_rate(0.0);
    let (status, answer) = json(app.post(&body).await).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.instances().len(), 1);
}

#[tokio::test]
async fn an_operation_that_fails_for_good_is_422_with_googles_message() {
    let app = spawn_app(&[]).await;
    app.emulator.set_operation_failure(1.0, "PERMISSION_DENIED");
    let (status, answer) = app.push("4006", "x").await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("PERMISSION_DENIED"),
        "{answer}"
    );
    assert!(
        app.instances().is_empty(),
        "a failed create leaves nothing behind"
    );
}

#[tokio::test]
async fn a_quota_failure_is_transient() {
    let app = spawn_app(&[]).await;
    app.emulator
        .set_operation_failure(1.0, "RESOURCE_EXHAUSTED");
    let (status, answer) = app.push("4007", "x").await;
    assert_eq!(status, 503, "{answer}");
    app.emulator
        .set_operation_failure(0.0, "RESOURCE_EXHAUSTED");
    let (status, answer) = app.push("4007", "x").await;
    assert_eq!(status, 200, "the redelivery tries again: {answer}");
    assert_eq!(app.instances().len(), 1);
}

#[tokio::test]
async fn poll_timeout_is_503_and_the_redelivery_resumes_the_same_operation() {
    let slow = EmulatorConfig {
        provision_time: Duration::from_millis(1500),
        ..EmulatorConfig::default()
    };
    let app = spawn_app_with(slow, &[("POLL_TIMEOUT", "300ms")]).await;
    let body = push_body("4008", "x");
    let (status, answer) = json(app.post(&body).await).await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("POLL_TIMEOUT"),
        "{answer}"
    );
    assert_eq!(app.instances()[0]["state"], "PROVISIONING");
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let (status, answer) = json(app.post(&body).await).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.instances().len(), 1);
    assert_eq!(
        app.emulator.create_requests().len(),
        2,
        "the redelivery sent the same request again"
    );
}

#[tokio::test]
async fn fixed_instance_id_of_another_trigger_is_skipped_by_default() {
    let app = spawn_app(&[("INSTANCE_ID", "notetweeti")]).await;
    let (status, first) = app.push("5001", "x").await;
    assert_eq!(
        (status, first["outcome"].as_str()),
        (200, Some("created")),
        "{first}"
    );
    let (status, second) = app.push("5002", "x").await;
    assert_eq!(
        (status, second["outcome"].as_str()),
        (200, Some("skipped")),
        "{second}"
    );
    assert_eq!(app.instances().len(), 1);
    assert_eq!(
        app.instances()[0]["name"],
        format!("projects/{PROJECT}/locations/{ZONE}/instances/notetweeti")
    );
}

#[tokio::test]
async fn fixed_instance_id_of_another_trigger_is_replaced_when_asked() {
    let app = spawn_app(&[("INSTANCE_ID", "notetweeti"), ("ON_EXISTING", "replace")]).await;
    assert_eq!(
        app.post(&push_body("5003", "x")).await.status().as_u16(),
        200
    );
    let first_key = app.instances()[0]["labels"]["trigger-key"].clone();
    let (status, answer) = app.push("5004", "x").await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("replaced")),
        "{answer}"
    );
    let instances = app.instances();
    assert_eq!(instances.len(), 1);
    assert_ne!(
        instances[0]["labels"]["trigger-key"], first_key,
        "the new instance belongs to the new message"
    );
    assert_eq!(instances[0]["state"], "ACTIVE");
}

#[tokio::test]
async fn shutdown_mid_poll_answers_503_at_once() {
    let slow = EmulatorConfig {
        provision_time: Duration::from_secs(60),
        ..EmulatorConfig::default()
    };
    let app = spawn_app_with(slow, &[]).await;
    let cancel = app.cancel.clone();
    let started = Instant::now();
    let body = push_body("4009", "x");
    let (response, ()) = tokio::join!(app.post(&body), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
    });
    assert_eq!(response.status().as_u16(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    app.stop().await;
}

/// An API that takes the connection and never answers: the create itself is cut at
/// `POLL_TIMEOUT`, as a poll would be, instead of holding the push for the whole
/// `HTTP_REQUEST_TIMEOUT`; Pub/Sub redelivers the 503.
#[tokio::test]
async fn a_create_that_never_answers_is_cut_at_the_poll_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let app = spawn_app(&[
        ("NOTEBOOKS_EMULATOR_HOST", &silent_addr),
        ("POLL_TIMEOUT", "500ms"),
        ("HTTP_REQUEST_TIMEOUT", "60s"),
    ])
    .await;
    let started = Instant::now();
    let (status, answer) = json(app.post(&push_body("4010", "x")).await).await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("POLL_TIMEOUT"),
        "{answer}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    holder.abort();
}
