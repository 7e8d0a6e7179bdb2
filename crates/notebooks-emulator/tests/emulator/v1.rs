//! v1 (user-managed notebooks) as production answers it, and concurrent creates.

use notebooks_emulator::{ApiVersion, EmulatorConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

use super::*;

fn v1_body() -> Value {
    json!({
        "machineType": "n1-standard-4",
        "containerImage": {"repository": "gcr.io/p/img", "tag": "latest"},
        "postStartupScript": "gs://b/s.sh",
        "bootDiskSizeGb": 100,
    })
}

#[tokio::test]
async fn v1_create_is_refused_like_production_unless_legacy() {
    let api = Api::fast().await;
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/{ZONE}/instances?instanceId=old"),
            Some(v1_body()),
        )
        .await;
    assert_eq!(
        google_error(status, &body, 400, "FAILED_PRECONDITION"),
        "Vertex AI Workbench user-managed notebooks have been deprecated and new instances cannot be created. \
         We recommend using Vertex AI Workbench instances instead."
    );
    assert_eq!(
        api.emulator.create_requests()[0].api_version,
        ApiVersion::V1
    );
    // The v1 shape is still validated first, and v2 fields are unknown to it.
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/{ZONE}/instances?instanceId=old"),
            Some(container_body()),
        )
        .await;
    assert!(
        google_error(status, &body, 400, "INVALID_ARGUMENT").contains("Unknown name \"gceSetup\"")
    );
    api.emulator.shutdown().await;

    let api = Api::start(EmulatorConfig {
        provision_time: Duration::from_millis(100),
        v1_legacy: true,
        ..EmulatorConfig::default()
    })
    .await;
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/{ZONE}/instances?instanceId=old&requestId=x"),
            Some(v1_body()),
        )
        .await;
    assert!(
        google_error(status, &body, 400, "INVALID_ARGUMENT").contains("Unknown name \"requestId\"")
    );
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/{ZONE}/instances?instanceId=old"),
            Some(json!({"containerImage": {"repository": "r"}})),
        )
        .await;
    assert!(google_error(status, &body, 400, "INVALID_ARGUMENT").contains("machine_type"));
    let (status, operation) = api
        .call(
            "POST",
            &format!("/v1/{ZONE}/instances?instanceId=old"),
            Some(v1_body()),
        )
        .await;
    assert_eq!(status, 200, "{operation}");
    assert_eq!(
        operation["metadata"]["@type"],
        "type.googleapis.com/google.cloud.notebooks.v1.OperationMetadata"
    );
    let (_, instance) = api
        .call("GET", &format!("/v1/{ZONE}/instances/old"), None)
        .await;
    assert_eq!(instance["state"], "PROVISIONING");
    let done = api.wait("v1", &operation).await;
    assert_eq!(
        done["response"]["@type"],
        "type.googleapis.com/google.cloud.notebooks.v1.Instance"
    );
    assert_eq!(done["response"]["postStartupScript"], "gs://b/s.sh");
    assert_eq!(done["response"]["bootDiskSizeGb"], "100");
    assert_eq!(done["response"]["state"], "ACTIVE");
    // v1 and v2 are separate collections.
    let (status, body) = api
        .call("GET", &format!("/v2/{ZONE}/instances/old"), None)
        .await;
    google_error(status, &body, 404, "NOT_FOUND");
    let (_, list) = api
        .call("GET", &format!("/v1/{ZONE}/instances"), None)
        .await;
    assert_eq!(list["instances"].as_array().unwrap().len(), 1);
    let (_, stop) = api
        .call(
            "POST",
            &format!("/v1/{ZONE}/instances/old:stop"),
            Some(json!({})),
        )
        .await;
    assert_eq!(api.wait("v1", &stop).await["response"]["state"], "STOPPED");
    let (_, delete) = api
        .call("DELETE", &format!("/v1/{ZONE}/instances/old"), None)
        .await;
    api.wait("v1", &delete).await;
    assert!(api.emulator.instances().is_empty());
    api.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_are_all_served() {
    let api = Api::start(EmulatorConfig::default()).await;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..500 {
        let client = api.client.clone();
        let url = format!(
            "{}/v2/{ZONE}/instances?instanceId=nb-{i}",
            api.emulator.base_url()
        );
        tasks.spawn(async move {
            client
                .post(url)
                .json(&container_body())
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap(), 200);
    }
    let elapsed = started.elapsed();
    eprintln!("500 concurrent creates answered in {elapsed:?}");
    assert_eq!(api.emulator.instances().len(), 500);
    assert!(
        api.emulator
            .instances()
            .iter()
            .all(|i| i["state"] == "PROVISIONING")
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "500 creates took {elapsed:?}"
    );

    // Reads from 8 concurrent pollers: the kind of load the product's pollers create.
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let client = api.client.clone();
        let base = api.emulator.base_url();
        tasks.spawn(async move {
            for i in 0..250 {
                let url = format!("{base}/v2/{ZONE}/instances/nb-{}", (worker * 250 + i) % 500);
                assert_eq!(client.get(url).send().await.unwrap().status(), 200);
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "2000 reads answered in {elapsed:?} ({:.0}/s)",
        2000.0 / elapsed.as_secs_f64()
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "2000 reads took {elapsed:?}"
    );
    api.emulator.shutdown().await;
}
