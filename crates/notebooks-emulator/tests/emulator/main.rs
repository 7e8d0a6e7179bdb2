//! The Notebooks API emulator over real sockets: every endpoint, every validation error,
//! lifecycle, idempotency, faults and Google's error shape; and its Secret Manager.

use std::time::{Duration, Instant};

use notebooks_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

mod faults;
mod lifecycle;
mod secrets;
mod surface;
mod system;
mod v1;
mod validation;

const ZONE: &str = "projects/p/locations/us-central1-a";

pub struct Api {
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
            &format!("/v2/{ZONE}/instances/nb:upgrade"),
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
