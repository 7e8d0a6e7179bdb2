//! Vertex AI notebook executions on the emulator, over real sockets: the REST surface and its
//! errors, hostile input and racing creates; Google's own Rust client and gcloud against it;
//! and, with `--run-scripts`, notebooks that really run with papermill.

mod gcloud;
#[path = "../support/gcloud.rs"]
mod gcloud_support;
mod hostile;
#[path = "../../../../tests/support/papermill.rs"]
mod papermill;
mod runs;
mod rust_client;
mod surface;

use std::time::Duration;

use notebooks_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

pub const REGION: &str = "projects/p/locations/us-central1";

/// An emulator and a plain HTTP client for it.
pub struct Api {
    pub emulator: Emulator,
    client: reqwest::Client,
}

impl Api {
    pub async fn start(config: EmulatorConfig) -> Api {
        let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), config)
            .await
            .expect("emulator starts");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Api { emulator, client }
    }

    pub async fn plain() -> Api {
        Api::start(EmulatorConfig::default()).await
    }

    /// Sends `method path` with an optional JSON body; the status and the JSON answer.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|body| body.to_string().into_bytes());
        self.call_raw(method, path, body).await
    }

    pub async fn call_raw(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.emulator.base_url()));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Creates job `id` from `body`; the answer.
    pub async fn create(&self, id: &str, body: Value) -> (u16, Value) {
        let path = format!("/v1/{REGION}/notebookExecutionJobs?notebookExecutionJobId={id}");
        self.call("POST", &path, Some(body)).await
    }
}

/// A job as the product's execution backend creates one.
pub fn job(display_name: &str) -> Value {
    json!({
        "displayName": display_name,
        "gcsNotebookSource": {"uri": "gs://notebooks/nb.ipynb", "generation": "12"},
        "gcsOutputUri": "gs://outputs/runs/r1",
        "executionTimeout": "3600s",
        "serviceAccount": "runner@p.iam.gserviceaccount.com",
        "kernelName": "python3",
        "labels": {"created-by": "notebook-trigger", "profile": "daily"},
        "customEnvironmentSpec": {
            "machineSpec": {"machineType": "n1-standard-4", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1},
            "persistentDiskSpec": {"diskType": "pd-balanced", "diskSizeGb": "100"},
            "networkSpec": {"enableInternetAccess": true},
        },
        "workbenchRuntime": {"customContainerImage": {"repository": "us-docker.pkg.dev/p/r/img", "tag": "v1"}},
    })
}

/// The field a 400 names, from its `google.rpc.BadRequest` detail.
pub fn violated_field(answer: &Value) -> &str {
    answer["error"]["details"][0]["fieldViolations"][0]["field"]
        .as_str()
        .unwrap_or_default()
}
