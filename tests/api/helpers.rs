//! Test harness: the real service on a free port, against the Notebooks emulator on another.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use notebook_trigger::config::Settings;
use notebook_trigger::startup::Application;
use notebooks_emulator::{Emulator, EmulatorConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const PROJECT: &str = "test-project";
pub const ZONE: &str = "us-central1-a";
/// A variable's value that stands for the emulator's own Cloud Storage URL, known only once
/// the emulator runs.
pub const EMULATOR_STORAGE: &str = "(the emulator's storage)";

/// The service and its emulator; both stop when this is dropped.
pub struct TestApp {
    pub address: String,
    pub emulator: Emulator,
    pub cancel: CancellationToken,
    pub http: reqwest::Client,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Variables every test app gets; a test adds or replaces some.
fn base_env(emulator: &Emulator) -> HashMap<String, String> {
    [
        ("PORT", "0".to_owned()),
        ("NOTEBOOKS_EMULATOR_HOST", emulator.local_addr().to_string()),
        ("GOOGLE_CLOUD_PROJECT", PROJECT.to_owned()),
        ("NOTEBOOK_LOCATION", ZONE.to_owned()),
        (
            "CONTAINER_IMAGE",
            "europe-west3-docker.pkg.dev/tweetiment-xyz/tweetimentrep/python-docker".to_owned(),
        ),
        (
            "POST_STARTUP_SCRIPT",
            "gs://socialsenti/default-startup-script.sh".to_owned(),
        ),
        ("POLL_INITIAL_DELAY", "20ms".to_owned()),
        ("POLL_MAX_DELAY", "100ms".to_owned()),
        ("POLL_TIMEOUT", "10s".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub async fn spawn_app(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_with(
        EmulatorConfig {
            provision_time: Duration::from_millis(200),
            ..EmulatorConfig::default()
        },
        vars,
    )
    .await
}

pub async fn spawn_app_with(config: EmulatorConfig, vars: &[(&str, &str)]) -> TestApp {
    spawn_app_around(config, |emulator| {
        vars.iter()
            .map(|(k, v)| {
                let value = if *v == EMULATOR_STORAGE {
                    emulator.storage_url()
                } else {
                    (*v).to_owned()
                };
                ((*k).to_owned(), value)
            })
            .collect()
    })
    .await
}

/// Like [`spawn_app_with`], with variables that name the emulator (its JWKS, its storage).
pub async fn spawn_app_around(
    config: EmulatorConfig,
    vars: impl FnOnce(&Emulator) -> Vec<(String, String)>,
) -> TestApp {
    crate::test_log::init();
    let emulator = Emulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .expect("emulator starts");
    let mut env = base_env(&emulator);
    env.extend(vars(&emulator));
    let settings =
        Settings::from_env(&move |name| env.get(name).cloned()).expect("test settings are valid");
    let cancel = CancellationToken::new();
    let app = Application::build(settings, cancel.clone())
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        emulator,
        cancel,
        http: reqwest::Client::new(),
        server: Some(server),
    }
}

/// Start-up with exactly `vars` (and a free port, against a fresh emulator): the error it
/// stops with, with its causes.
pub async fn refused_start(vars: &[(&str, &str)]) -> String {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    refused_start_around(|_| vars).await
}

/// Like [`refused_start`], with variables that name the emulator (or objects put in its
/// Cloud Storage first).
pub async fn refused_start_around(vars: impl FnOnce(&Emulator) -> Vec<(String, String)>) -> String {
    let emulator = Emulator::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        EmulatorConfig::default(),
    )
    .await
    .expect("emulator starts");
    let mut vars = vars(&emulator);
    vars.push(("PORT".into(), "0".into()));
    vars.push((
        "NOTEBOOKS_EMULATOR_HOST".into(),
        emulator.local_addr().to_string(),
    ));
    let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let settings = Settings::from_env(&env).expect("the settings parse");
    let error = Application::build(settings, CancellationToken::new())
        .await
        .err()
        .expect("start-up is refused");
    emulator.shutdown().await;
    format!("{error:#}")
}

impl TestApp {
    pub async fn post(&self, body: &str) -> reqwest::Response {
        self.post_with(body, &[]).await
    }

    pub async fn post_with(&self, body: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.address)
            .body(body.to_owned())
            .header("content-type", "application/json");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        tokio::time::timeout(Duration::from_secs(30), request.send())
            .await
            .expect("the service answers within 30 s")
            .expect("the request reaches the service")
    }

    /// Pushes `data` as Pub/Sub message `message_id`: the status and the answer.
    pub async fn push(&self, message_id: &str, data: &str) -> (u16, serde_json::Value) {
        json(self.post(&push_body(message_id, data)).await).await
    }

    /// Pushes a message of `data` (none when `None`) and `attributes`.
    pub async fn push_with(
        &self,
        message_id: &str,
        data: Option<&str>,
        attributes: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let body = push_body_with(message_id, data, attributes);
        json(self.post(&body).await).await
    }

    /// Instances in the emulator (all states).
    pub fn instances(&self) -> Vec<serde_json::Value> {
        self.emulator.instances()
    }

    /// Stops the service and waits for it to exit.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("server stops")
                .expect("no panic")
                .expect("clean exit");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A Pub/Sub push envelope as production (and the emulator) sends it: both spellings.
pub fn push_body(message_id: &str, data: &str) -> String {
    push_body_with(message_id, Some(data), &[("origin", "scheduler")])
}

/// A push envelope with `attributes`, and with no `data` at all when it is `None`.
pub fn push_body_with(message_id: &str, data: Option<&str>, attributes: &[(&str, &str)]) -> String {
    use base64::Engine as _;
    let attributes: serde_json::Map<String, serde_json::Value> = attributes
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    let mut message = serde_json::json!({
        "messageId": message_id, "message_id": message_id,
        "publishTime": "2026-11-22T06:00:00.123Z", "publish_time": "2026-11-22T06:00:00.123Z",
        "attributes": attributes
    });
    if let Some(data) = data {
        message["data"] = base64::engine::general_purpose::STANDARD
            .encode(data)
            .into();
    }
    serde_json::json!({
        "message": message,
        "subscription": "projects/test-project/subscriptions/notebook-trigger-push"
    })
    .to_string()
}

pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}
