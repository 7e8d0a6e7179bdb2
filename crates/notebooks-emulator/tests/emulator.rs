//! The Notebooks API emulator over real sockets: every endpoint, every validation error,
//! lifecycle, idempotency, faults and Google's error shape.

use std::time::{Duration, Instant};

use notebooks_emulator::{ApiVersion, Emulator, EmulatorConfig};
use serde_json::{Value, json};

const ZONE: &str = "projects/p/locations/us-central1-a";

struct Api {
    emulator: Emulator,
    client: reqwest::Client,
}

impl Api {
    async fn start(config: EmulatorConfig) -> Api {
        let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), config)
            .await
            .expect("emulator starts");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Api { emulator, client }
    }

    async fn fast() -> Api {
        Api::start(EmulatorConfig {
            provision_time: Duration::from_millis(200),
            ..EmulatorConfig::default()
        })
        .await
    }

    /// Sends `method path` with an optional JSON body; returns the status and the JSON answer.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.emulator.base_url()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn raw(&self, method: &str, path: &str, body: &'static str) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = self
            .client
            .request(method, format!("{}{path}", self.emulator.base_url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn create(&self, id: &str, body: Value) -> (u16, Value) {
        self.call(
            "POST",
            &format!("/v2/{ZONE}/instances?instanceId={id}"),
            Some(body),
        )
        .await
    }

    /// Polls an operation until done, at most 5 s.
    async fn wait(&self, version: &str, operation: &Value) -> Value {
        let name = operation["name"].as_str().expect("operation has a name");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (status, operation) = self.call("GET", &format!("/{version}/{name}"), None).await;
            assert_eq!(status, 200, "{operation}");
            if operation["done"] == true {
                return operation;
            }
            assert!(Instant::now() < deadline, "operation {name} not done in 5s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn container_body() -> Value {
    json!({
        "gceSetup": {
            "machineType": "n1-standard-4",
            "containerImage": {"repository": "us-docker.pkg.dev/p/r/img", "tag": "latest"},
            "metadata": {"post-startup-script": "gs://b/s.sh"},
        },
        "labels": {"team": "data"},
    })
}

/// Asserts Google's error shape and returns the message.
fn google_error(status: u16, body: &Value, http: u16, code: &str) -> String {
    assert_eq!(status, http, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], http, "{body}");
    assert_eq!(error["status"], code, "{body}");
    error["message"]
        .as_str()
        .expect("error has a message")
        .to_owned()
}

#[tokio::test]
async fn readiness_and_google_shaped_errors_for_unknown_paths_and_methods() {
    let api = Api::fast().await;
    let response = api
        .client
        .get(api.emulator.base_url())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");

    let (status, body) = api.call("POST", "/", None).await;
    google_error(status, &body, 405, "UNIMPLEMENTED");
    for path in [
        "/nothing",
        "/v3/projects/p/locations/z/instances",
        "/v2/projects/p/instances",
        "/v2",
    ] {
        let (status, body) = api.call("GET", path, None).await;
        google_error(status, &body, 404, "NOT_FOUND");
    }
    let (status, body) = api
        .call("PUT", &format!("/v2/{ZONE}/instances"), Some(json!({})))
        .await;
    assert!(google_error(status, &body, 405, "UNIMPLEMENTED").contains("GET, POST"));
    let (status, body) = api
        .call("GET", &format!("/v2/{ZONE}/instances/nb:stop"), None)
        .await;
    google_error(status, &body, 405, "UNIMPLEMENTED");
    let (status, body) = api
        .call(
            "POST",
            &format!("/v2/{ZONE}/instances/nb:reset"),
            Some(json!({})),
        )
        .await;
    google_error(status, &body, 501, "UNIMPLEMENTED");
    let (status, body) = api
        .call(
            "POST",
            &format!("/v2/{ZONE}/instances/nb:explode"),
            Some(json!({})),
        )
        .await;
    google_error(status, &body, 404, "NOT_FOUND");
    let (status, body) = api
        .call("GET", &format!("/v2/{ZONE}/instances/missing"), None)
        .await;
    assert!(google_error(status, &body, 404, "NOT_FOUND").contains("missing"));
    let (status, body) = api
        .call("GET", &format!("/v2/{ZONE}/operations/operation-1"), None)
        .await;
    google_error(status, &body, 404, "NOT_FOUND");
    let (status, body) = api
        .call("DELETE", &format!("/v2/{ZONE}/instances/missing"), None)
        .await;
    google_error(status, &body, 404, "NOT_FOUND");
    assert_eq!(api.emulator.request_count(), 13);
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn every_validation_error_is_a_400_in_google_wording() {
    let api = Api::fast().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"colour": "red"}),
            "Invalid JSON payload received. Unknown name \"colour\" at 'instance': Cannot find field.",
            "instance",
        ),
        (
            json!({"gceSetup": {"machineTyp": "n1"}}),
            "Invalid JSON payload received. Unknown name \"machineTyp\" at 'instance.gce_setup': Cannot find field.",
            "instance.gce_setup",
        ),
        (
            json!({"gceSetup": {"machineType": 123}}),
            "Invalid value at 'instance.gce_setup.machine_type' (TYPE_STRING), 123",
            "instance.gce_setup.machine_type",
        ),
        (
            json!({"gceSetup": {"metadata": {"idle-timeout-seconds": 600}}}),
            "Invalid value at 'instance.gce_setup.metadata[0].value' (TYPE_STRING), 600",
            "instance.gce_setup.metadata[0].value",
        ),
        (
            json!({"labels": {"n": 1}}),
            "Invalid value at 'instance.labels[0].value' (TYPE_STRING), 1",
            "instance.labels[0].value",
        ),
        (
            json!({"gceSetup": {"bootDisk": {"diskSizeGb": "big"}}}),
            "Invalid value at 'instance.gce_setup.boot_disk.disk_size_gb' (TYPE_INT64), \"big\"",
            "instance.gce_setup.boot_disk.disk_size_gb",
        ),
        (
            json!({"gceSetup": {"bootDisk": {"diskType": "FLOPPY"}}}),
            "Invalid value at 'instance.gce_setup.boot_disk.disk_type' (TYPE_ENUM), \"FLOPPY\"",
            "instance.gce_setup.boot_disk.disk_type",
        ),
        (
            json!({"gceSetup": {"containerImage": {"tag": "latest"}}}),
            "Field 'instance.gce_setup.container_image.repository' is required when a container image is set.",
            "instance.gce_setup.container_image.repository",
        ),
    ];
    for (body, message, field) in cases {
        let (status, answer) = api.create("nb", body.clone()).await;
        assert_eq!(
            google_error(status, &answer, 400, "INVALID_ARGUMENT"),
            message,
            "{body}"
        );
        let details = &answer["error"]["details"][0];
        assert_eq!(
            details["@type"],
            "type.googleapis.com/google.rpc.BadRequest"
        );
        assert_eq!(details["fieldViolations"][0]["field"], field);
    }
    // int64 as a decimal string or as a number is fine; output-only fields are ignored.
    let mut body = container_body();
    body["gceSetup"]["bootDisk"] = json!({"diskSizeGb": 200});
    body["gceSetup"]["dataDisks"] = json!([{"diskSizeGb": "100"}]);
    body["state"] = json!("STOPPED");
    body["creator"] = json!("someone@else");
    let (status, operation) = api.create("ok", body).await;
    assert_eq!(status, 200, "{operation}");
    let done = api.wait("v2", &operation).await;
    assert_eq!(
        done["response"]["gceSetup"]["bootDisk"]["diskSizeGb"],
        "200"
    );
    assert_eq!(done["response"]["state"], "ACTIVE");
    assert_ne!(done["response"]["creator"], "someone@else");

    let (status, answer) = api
        .raw(
            "POST",
            &format!("/v2/{ZONE}/instances?instanceId=nb"),
            "{not json",
        )
        .await;
    assert!(
        google_error(status, &answer, 400, "INVALID_ARGUMENT")
            .starts_with("Invalid JSON payload received.")
    );
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v2/{ZONE}/instances"),
            Some(container_body()),
        )
        .await;
    assert!(google_error(status, &answer, 400, "INVALID_ARGUMENT").contains("instance_id"));
    for bad in ["1abc", "Upper", "ends-", "a_b", &"a".repeat(64)] {
        let (status, answer) = api.create(bad, container_body()).await;
        assert!(
            google_error(status, &answer, 400, "INVALID_ARGUMENT").contains("Invalid instance_id"),
            "{bad}"
        );
    }
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v2/{ZONE}/instances?instanceId=nb&colour=red"),
            Some(json!({})),
        )
        .await;
    assert!(
        google_error(status, &answer, 400, "INVALID_ARGUMENT")
            .contains("Cannot bind query parameter")
    );
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v2/{ZONE}/instances/ok:stop"),
            Some(json!({"force": true})),
        )
        .await;
    assert_eq!(
        google_error(status, &answer, 400, "INVALID_ARGUMENT"),
        "Invalid JSON payload received. Unknown name \"force\": Cannot find field."
    );

    // Every create that reached validation is on record, valid or not.
    let creates = api.emulator.create_requests();
    assert_eq!(creates.len(), 8 + 1 + 1 + 1 + 5 + 1);
    assert_eq!(creates[0].api_version, ApiVersion::V2);
    assert_eq!(creates[0].parent, ZONE);
    assert_eq!(creates[0].instance_id.as_deref(), Some("nb"));
    assert_eq!(creates[0].body, json!({"colour": "red"}));
    assert_eq!(
        creates[9].body,
        Value::Null,
        "malformed JSON is recorded as null"
    );
    assert_eq!(creates[10].instance_id, None);
    api.emulator.shutdown().await;
}

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

/// Statuses of 60 reads against a fresh emulator with a 30 % fault rate.
async fn fault_sequence(seed: u64) -> Vec<u16> {
    let api = Api::start(EmulatorConfig {
        fault_rate: 0.3,
        seed,
        ..EmulatorConfig::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let (status, body) = api
            .call("GET", &format!("/v2/{ZONE}/instances"), None)
            .await;
        match status {
            503 => assert_eq!(body["error"]["status"], "UNAVAILABLE"),
            429 => assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED"),
            200 => {}
            other => panic!("unexpected {other}: {body}"),
        }
        statuses.push(status);
        // Readiness probes do not shift the fault sequence.
        api.client
            .get(api.emulator.base_url())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(api.emulator.request_count(), 120);
    api.emulator.shutdown().await;
    statuses
}

#[tokio::test]
async fn injected_faults_are_deterministic_under_the_seed_and_touch_no_state() {
    let first = fault_sequence(11).await;
    assert_eq!(first, fault_sequence(11).await);
    assert_ne!(first, fault_sequence(12).await);
    let faults = first.iter().filter(|s| **s != 200).count();
    assert!((5..=35).contains(&faults), "{faults} faults of 60");

    let api = Api::fast().await;
    api.emulator.set_fault_rate(1.0);
    for i in 0..10 {
        let (status, _) = api.create(&format!("nb-{i}"), container_body()).await;
        assert!(status == 503 || status == 429, "{status}");
    }
    assert!(api.emulator.instances().is_empty());
    assert!(api.emulator.create_requests().is_empty());
    api.emulator.set_fault_rate(0.0);
    assert_eq!(api.create("nb-0", container_body()).await.0, 200);
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn failing_operations_end_with_a_status_and_leave_no_instance() {
    let api = Api::start(EmulatorConfig {
        provision_time: Duration::from_millis(100),
        operation_failure_rate: 1.0,
        ..EmulatorConfig::default()
    })
    .await;
    let (status, operation) = api.create("quota", container_body()).await;
    assert_eq!(status, 200);
    let done = api.wait("v2", &operation).await;
    assert_eq!(done["error"]["code"], 8);
    assert!(
        done["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Quota exceeded for quota metric 'CPUS'")
    );
    assert!(done.get("response").is_none());
    assert!(api.emulator.instances().is_empty());

    api.emulator.set_operation_failure(1.0, "PERMISSION_DENIED");
    let (_, operation) = api.create("denied", container_body()).await;
    assert_eq!(api.wait("v2", &operation).await["error"]["code"], 7);

    // Which operations fail is a function of (seed, verb, name): the same names fail again.
    let pick = |rate| EmulatorConfig {
        provision_time: Duration::ZERO,
        operation_failure_rate: rate,
        seed: 5,
        ..EmulatorConfig::default()
    };
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let api = Api::start(pick(0.5)).await;
        let mut failed = Vec::new();
        for i in 0..20 {
            let (_, operation) = api.create(&format!("nb-{i}"), container_body()).await;
            failed.push(api.wait("v2", &operation).await.get("error").is_some());
        }
        outcomes.push(failed);
        api.emulator.shutdown().await;
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(
        outcomes[0].contains(&true) && outcomes[0].contains(&false),
        "{:?}",
        outcomes[0]
    );
    api.emulator.shutdown().await;
}

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
