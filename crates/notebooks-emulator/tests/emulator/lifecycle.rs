//! Lifecycle over real sockets: idempotent create, create-stop-start-delete, list.

use notebooks_emulator::EmulatorConfig;
use serde_json::json;
use std::time::Duration;

use super::*;

#[tokio::test]
async fn request_id_replays_the_operation_and_a_second_id_conflicts() {
    let api = Api::fast().await;
    let path = format!(
        "/v2/{ZONE}/instances?instanceId=nb&requestId=6f1c0a52-0000-4000-8000-000000000001"
    );
    let (status, first) = api.call("POST", &path, Some(container_body())).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = api.call("POST", &path, Some(container_body())).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(first["name"], again["name"]);
    let (status, body) = api.create("nb", container_body()).await;
    assert!(
        google_error(status, &body, 409, "ALREADY_EXISTS")
            .contains(&format!("{ZONE}/instances/nb"))
    );
    api.wait("v2", &first).await;
    let (status, replay) = api.call("POST", &path, Some(container_body())).await;
    assert_eq!(
        (status, replay["done"].clone(), replay["name"].clone()),
        (200, json!(true), first["name"].clone())
    );
    assert_eq!(api.emulator.instances().len(), 1);
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn lifecycle_create_stop_start_delete() {
    let api = Api::fast().await;
    let (status, operation) = api.create("nb", container_body()).await;
    assert_eq!(status, 200);
    assert_eq!(operation["done"], false);
    let metadata = &operation["metadata"];
    assert_eq!(
        metadata["@type"],
        "type.googleapis.com/google.cloud.notebooks.v2.OperationMetadata"
    );
    assert_eq!(metadata["verb"], "create");
    assert_eq!(metadata["apiVersion"], "v2");
    assert_eq!(metadata["target"], format!("{ZONE}/instances/nb"));
    assert!(metadata["createTime"].as_str().unwrap().ends_with('Z'));
    let instance_path = format!("/v2/{ZONE}/instances/nb");
    let (_, instance) = api.call("GET", &instance_path, None).await;
    assert_eq!(instance["state"], "PROVISIONING");

    let done = api.wait("v2", &operation).await;
    let response = &done["response"];
    assert_eq!(
        response["@type"],
        "type.googleapis.com/google.cloud.notebooks.v2.Instance"
    );
    assert_eq!(response["name"], format!("{ZONE}/instances/nb"));
    assert_eq!(response["state"], "ACTIVE");
    assert_eq!(
        response["gceSetup"]["metadata"]["post-startup-script"],
        "gs://b/s.sh"
    );
    assert_eq!(response["labels"]["team"], "data");
    for field in ["createTime", "updateTime", "creator"] {
        assert!(response[field].is_string(), "{field} in {response}");
    }
    assert!(done["metadata"]["endTime"].is_string());
    let (_, instance) = api.call("GET", &instance_path, None).await;
    assert_eq!(instance["state"], "ACTIVE");

    let (status, body) = api
        .call("POST", &format!("{instance_path}:start"), None)
        .await;
    google_error(status, &body, 400, "FAILED_PRECONDITION");
    let (status, stop) = api
        .call("POST", &format!("{instance_path}:stop"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{stop}");
    assert_eq!(stop["metadata"]["verb"], "stop");
    let (_, instance) = api.call("GET", &instance_path, None).await;
    assert_eq!(instance["state"], "STOPPING");
    let (status, body) = api.call("DELETE", &instance_path, None).await;
    google_error(status, &body, 400, "FAILED_PRECONDITION");
    assert_eq!(api.wait("v2", &stop).await["response"]["state"], "STOPPED");
    let (_, instance) = api.call("GET", &instance_path, None).await;
    assert_eq!(instance["state"], "STOPPED");

    let (_, start) = api
        .call("POST", &format!("{instance_path}:start"), Some(json!({})))
        .await;
    let (_, instance) = api.call("GET", &instance_path, None).await;
    assert_eq!(instance["state"], "STARTING");
    assert_eq!(api.wait("v2", &start).await["response"]["state"], "ACTIVE");

    let (status, delete) = api.call("DELETE", &instance_path, None).await;
    assert_eq!(status, 200);
    let (_, instance) = api.call("GET", &instance_path, None).await;
    assert_eq!(instance["state"], "DELETED");
    let done = api.wait("v2", &delete).await;
    assert_eq!(
        done["response"],
        json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
    );
    let (status, body) = api.call("GET", &instance_path, None).await;
    google_error(status, &body, 404, "NOT_FOUND");
    assert!(api.emulator.instances().is_empty());
    // The id is free again.
    assert_eq!(api.create("nb", container_body()).await.0, 200);
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn list_paginates_and_filters_on_labels() {
    let api = Api::start(EmulatorConfig {
        provision_time: Duration::ZERO,
        ..EmulatorConfig::default()
    })
    .await;
    for i in 0..5 {
        let mut body = container_body();
        body["labels"] = json!({"team": if i % 2 == 0 { "even" } else { "odd" }});
        assert_eq!(api.create(&format!("nb-{i}"), body).await.0, 200);
    }
    let mut names = Vec::new();
    let mut token = String::new();
    for _ in 0..10 {
        let (status, page) = api
            .call(
                "GET",
                &format!("/v2/{ZONE}/instances?pageSize=2&pageToken={token}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let instances = page["instances"].as_array().unwrap();
        assert!(instances.len() <= 2);
        names.extend(instances.iter().map(|i| {
            i["name"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        }));
        match page["nextPageToken"].as_str() {
            Some(next) => token = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(names, ["nb-0", "nb-1", "nb-2", "nb-3", "nb-4"]);

    let (_, page) = api
        .call(
            "GET",
            &format!("/v2/{ZONE}/instances?filter=labels.team%3Deven"),
            None,
        )
        .await;
    assert_eq!(page["instances"].as_array().unwrap().len(), 3);
    let (_, page) = api
        .call(
            "GET",
            "/v2/projects/p/locations/-/instances?filter=labels.team:odd%20AND%20state=ACTIVE",
            None,
        )
        .await;
    assert_eq!(page["instances"].as_array().unwrap().len(), 2);
    let (status, page) = api
        .call("GET", "/v2/projects/other/locations/-/instances", None)
        .await;
    assert_eq!((status, page), (200, json!({})));
    let (status, body) = api
        .call(
            "GET",
            &format!("/v2/{ZONE}/instances?pageToken=garbage!"),
            None,
        )
        .await;
    google_error(status, &body, 400, "INVALID_ARGUMENT");
    let (status, body) = api
        .call(
            "GET",
            &format!("/v2/{ZONE}/instances?filter=labels.team"),
            None,
        )
        .await;
    google_error(status, &body, 400, "INVALID_ARGUMENT");
    let (status, body) = api
        .call("GET", &format!("/v2/{ZONE}/instances?pageSize=lots"), None)
        .await;
    google_error(status, &body, 400, "INVALID_ARGUMENT");
    api.emulator.shutdown().await;
}
