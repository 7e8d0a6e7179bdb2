//! The service deployed as the runs' tests need it: a profiles file, the runs' environment on
//! a port chosen beforehand (the service knows its own URL, where runners report), and the
//! push subscription to it; and what those tests read back, the run records of the bucket.

use std::time::{Duration, Instant};

use serde_json::Value;
use storage_client::StorageClient;

use crate::fake_gcs::FakeGcs;
use crate::papermill::papermill;
use crate::pubsub_emulator::PubSubEmulator;
use crate::runs::{BUCKET, free_port, run_env};
use crate::service::Service;
use crate::topology::{Backoff, Topology};
use crate::{PROJECT, cli};

/// fake-gcs-server and Google's Pub/Sub emulator, started where papermill is here too, for a
/// test of runs through Pub/Sub; `None` where one is missing and not required (the reason is
/// printed, and the test passes by).
pub async fn emulators() -> Option<(FakeGcs, PubSubEmulator)> {
    if !papermill() {
        return None;
    }
    let gcs = FakeGcs::start().await?;
    let pubsub = PubSubEmulator::start(PROJECT)?;
    Some((gcs, pubsub))
}

/// The service, its profiles file and, unless the test makes its own, its subscription; each
/// lives as long as the deployment.
pub struct Deployment {
    pub service: Service,
    _topology: Option<Topology>,
    _profiles: tempfile::NamedTempFile,
}

impl Deployment {
    /// `profiles` (TOML) as `PROFILES_FILE`, the runs' environment with `extra` over it (an
    /// empty value unsets a variable), and a push subscription of five attempts with
    /// exponential backoff.
    pub async fn start(
        gcs: &FakeGcs,
        notebooks: &notebooks_emulator::Emulator,
        pubsub: &PubSubEmulator,
        profiles: &str,
        extra: &[(&'static str, String)],
    ) -> Self {
        let mut deployment = Self::unsubscribed(gcs, notebooks, profiles, extra);
        let endpoint = deployment.service.endpoint();
        deployment._topology =
            Some(Topology::create(pubsub, &endpoint, 5, Backoff::Exponential).await);
        deployment
    }

    /// Like [`start`](Self::start), for a test that subscribes the service itself.
    pub fn unsubscribed(
        gcs: &FakeGcs,
        notebooks: &notebooks_emulator::Emulator,
        profiles: &str,
        extra: &[(&'static str, String)],
    ) -> Self {
        let file = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
        std::fs::write(file.path(), profiles).unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let mut env = run_env(gcs, notebooks, &url, file.path());
        env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        env.extend(extra.iter().filter(|(_, v)| !v.is_empty()).cloned());
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let service = tokio::task::block_in_place(|| Service::start_on(port, notebooks, &env));
        Self {
            service,
            _topology: None,
            _profiles: file,
        }
    }
}

/// Publishes `data` to the trigger topic as `notebook-trigger publish` does.
pub async fn publish(pubsub: &PubSubEmulator, data: &str) {
    let published = cli(pubsub, &["publish", "--topic", "trigger", data]).await;
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
}

/// Ended, with the cleanup it called for done and recorded.
pub fn finished(record: &Value) -> bool {
    record["state"] != "launched" && record["cleanup"].is_object()
}

/// Every run record under the runs' output (`gs://BUCKET/out`), skipping one deleted while
/// it was listed (and the parameterized notebooks of executions kept beside them).
pub async fn records(storage: &StorageClient) -> Vec<Value> {
    let prefix = format!("{}/out/", notebook_trigger::run::RECORDS_PREFIX);
    let mut records = Vec::new();
    let names = storage.list(BUCKET, &prefix).await.unwrap_or_default();
    for name in names.iter().filter(|name| name.ends_with(".json")) {
        if let Ok(bytes) = storage.download(BUCKET, name).await {
            records.push(serde_json::from_slice(&bytes).unwrap());
        }
    }
    records
}

/// The record of the run of `profile` still `launched`, once there is one.
pub async fn launched_record(storage: &StorageClient, profile: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let records = records(storage).await;
        let launched = |r: &&Value| r["profile"] == profile && r["state"] == "launched";
        if let Some(record) = records.iter().find(launched) {
            return record.clone();
        }
        assert!(Instant::now() < deadline, "no launched run of {profile}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
