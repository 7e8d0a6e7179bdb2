//! A local Workbench over real sockets: Cloud Storage (the emulator's own and fake-gcs-server,
//! the same test body against both), instances' metadata servers, and post-startup scripts
//! that run, print to the console, and end with their instance.

mod escapes;
#[path = "../../../../tests/support/fake_gcs.rs"]
mod fake_gcs;
mod gcloud;
#[path = "../support/gcloud.rs"]
mod gcloud_support;
mod google_libraries;
mod metadata;
mod scripts;
mod secrets;
mod storage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use notebooks_emulator::storage::StorageClient;
use notebooks_emulator::{Emulator, EmulatorConfig, ManualClock};
use serde_json::{Value, json};

use fake_gcs::FakeGcs;

pub const ZONE: &str = "projects/p/locations/us-central1-a";
pub const PROVISION: Duration = Duration::from_secs(30);
pub const BUCKET: &str = "scripts";

/// Which Cloud Storage a test runs against.
pub enum Storage {
    /// The emulator's own, in-process.
    Local,
    /// fake-gcs-server; the guard stops it.
    Fake(FakeGcs),
}

impl Storage {
    /// fake-gcs-server, or `None` when the test is to be skipped.
    pub async fn fake() -> Option<Storage> {
        FakeGcs::start().await.map(Storage::Fake)
    }

    fn host(&self) -> Option<String> {
        match self {
            Storage::Local => None,
            Storage::Fake(server) => Some(server.url.clone()),
        }
    }
}

/// An emulator with `--run-scripts` on a manual clock, and a client for it.
pub struct Workbench {
    pub emulator: Emulator,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub storage: StorageClient,
    /// Kept so that fake-gcs-server lives as long as the emulator.
    _backend: Storage,
}

impl Workbench {
    pub async fn start(backend: Storage, run_scripts: bool) -> Workbench {
        let clock = Arc::new(ManualClock::new("2026-06-01T08:00:00Z".parse().unwrap()));
        let config = EmulatorConfig {
            provision_time: PROVISION,
            run_scripts,
            storage_emulator_host: backend.host(),
            ..EmulatorConfig::default()
        };
        let emulator =
            Emulator::start_with_clock("127.0.0.1:0".parse().unwrap(), config, clock.clone())
                .await
                .expect("emulator starts");
        let storage_url = reqwest::Url::parse(&emulator.storage_url()).unwrap();
        let storage = StorageClient::new(storage_url);
        storage.ensure_bucket("p", BUCKET).await.expect("bucket");
        Workbench {
            emulator,
            clock,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            storage,
            _backend: backend,
        }
    }

    pub fn name(id: &str) -> String {
        format!("{ZONE}/instances/{id}")
    }

    /// Uploads `script` and creates instance `id` that runs it, with extra `metadata`.
    pub async fn create(&self, id: &str, script: &str, metadata: Value) -> Value {
        let object = format!("{id}/startup.sh");
        self.storage
            .upload(BUCKET, &object, "text/x-sh", script.as_bytes().to_vec())
            .await
            .expect("the script is uploaded");
        let mut metadata = metadata;
        metadata["post-startup-script"] = json!(format!("gs://{BUCKET}/{object}"));
        self.create_with_metadata(id, metadata).await
    }

    pub async fn create_with_metadata(&self, id: &str, metadata: Value) -> Value {
        let body = json!({"gceSetup": {
            "machineType": "n1-standard-4",
            "metadata": metadata,
            "serviceAccounts": [{"email": "runner@p.iam.gserviceaccount.com"}],
        }});
        self.call(
            "POST",
            &format!("/v2/{ZONE}/instances?instanceId={id}"),
            body,
        )
        .await
    }

    /// `POST /v2/NAME:verb` (stop, start) or `DELETE`.
    pub async fn verb(&self, id: &str, verb: &str) -> Value {
        match verb {
            "delete" => {
                self.call("DELETE", &format!("/v2/{}", Self::name(id)), Value::Null)
                    .await
            }
            verb => {
                self.call("POST", &format!("/v2/{}:{verb}", Self::name(id)), json!({}))
                    .await
            }
        }
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.emulator.base_url()));
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answered");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Polls the console until it contains `needle` (at most 20 s); returns it.
    pub async fn console_until(&self, id: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let console = self.emulator.console(&Self::name(id));
            if console.contains(needle) {
                return console;
            }
            assert!(
                Instant::now() < deadline,
                "console of {id} has no `{needle}` within 20 s:\n{console}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn state(&self, id: &str) -> String {
        self.emulator
            .instances()
            .into_iter()
            .find(|i| i["name"] == Self::name(id))
            .map(|i| i["state"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    }
}

/// Live (not zombie) processes of process group `group`, from /proc.
pub fn live_members(group: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp …`: comm may hold spaces, so split after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2].parse() == Ok(group) {
            members.push(pid);
        }
    }
    members
}
