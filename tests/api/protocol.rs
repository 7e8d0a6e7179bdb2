//! The HTTP the service speaks to `NOTEBOOKS_EMULATOR_HOST`: HTTP/1.1 to a server that speaks
//! only that, as most local fakes, recorders and proxies do, and h2c to the emulator, which
//! serves both on one port.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::task::JoinHandle;

use crate::helpers::{PROJECT, ZONE, json, push_body, spawn_app};

/// One request as the recorder received it.
#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    /// Path and query.
    uri: String,
    version: Version,
    body: Vec<u8>,
}

type Requests = Arc<Mutex<Vec<Recorded>>>;

/// A Notebooks API on a free loopback port that speaks HTTP/1.1 only and records every request
/// it can read. A create is answered with a done operation holding the instance, as the
/// emulator answers once the instance is provisioned; anything else is 404. Stopped when
/// dropped, with every connection: they are served inside its task.
struct Recorder {
    addr: std::net::SocketAddr,
    requests: Requests,
    task: JoinHandle<()>,
}

impl Recorder {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Requests::default();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(requests.clone());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let service = TowerToHyperService::new(app.clone());
                connections.spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(requests): State<Requests>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let uri = parts.uri.to_string();
    requests.lock().unwrap().push(Recorded {
        method: parts.method.clone(),
        uri: uri.clone(),
        version: parts.version,
        body: body.to_vec(),
    });
    let instance_id = parts.uri.query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("instanceId="))
    });
    match (parts.method, instance_id) {
        (Method::POST, Some(id)) if parts.uri.path().ends_with("/instances") => {
            let parent = parts.uri.path().trim_start_matches("/v2/");
            let parent = parent.trim_end_matches("/instances");
            let mut instance: serde_json::Value = serde_json::from_slice(&body).unwrap();
            instance["name"] = format!("{parent}/instances/{id}").into();
            instance["state"] = "ACTIVE".into();
            instance["@type"] = "type.googleapis.com/google.cloud.notebooks.v2.Instance".into();
            axum::Json(serde_json::json!({
                "name": format!("{parent}/operations/operation-1"),
                "done": true,
                "response": instance,
            }))
            .into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            [("content-type", "application/json")],
            Body::from(r#"{"error":{"code":404,"message":"not here","status":"NOT_FOUND"}}"#),
        )
            .into_response(),
    }
}

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Captures the log lines of this thread until the guard is dropped. A test's runtime runs
    /// on its thread, the service's tasks included.
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish(),
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The first line holding `needle`.
    fn line(&self, needle: &str) -> String {
        let text = self.text();
        text.lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{text}"))
            .to_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// With the default, the service finds that the server does not speak HTTP/2, says so, and
/// creates over HTTP/1.1: the server receives the create body the service built.
#[tokio::test]
async fn an_http1_only_api_gets_the_create_and_the_launch_succeeds() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let recorder = Recorder::start().await;
    let app = spawn_app(&[("NOTEBOOKS_EMULATOR_HOST", &recorder.addr.to_string())]).await;
    let (status, answer) = json(app.post(&push_body("4020", "x")).await).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "created", "{answer}");
    app.stop().await;
    let requests = recorder.requests();
    let creates: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.method == Method::POST)
        .collect();
    assert_eq!(creates.len(), 1, "{requests:?}");
    let create = creates[0];
    assert_eq!(create.version, Version::HTTP_11);
    assert!(
        create.uri.starts_with(&format!(
            "/v2/projects/{PROJECT}/locations/{ZONE}/instances?instanceId=notebook-20261122-0600-"
        )) && create.uri.contains("&requestId="),
        "{}",
        create.uri
    );
    let body: serde_json::Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(
        body["gceSetup"]["containerImage"]["repository"],
        "europe-west3-docker.pkg.dev/tweetiment-xyz/tweetimentrep/python-docker"
    );
    assert_eq!(body["gceSetup"]["machineType"], "n1-standard-4");
    assert_eq!(body["labels"]["managed-by"], "notebook-trigger");
    let chosen = logs.line("does not speak HTTP/2");
    assert!(chosen.contains(&recorder.addr.to_string()), "{chosen}");
}

/// The emulator answers HTTP/2 with prior knowledge, so the default speaks h2c to it.
#[tokio::test]
async fn the_emulator_is_spoken_to_in_h2c_by_default() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let app = spawn_app(&[]).await;
    let (status, answer) = app.push("4021", "x").await;
    assert_eq!(status, 200, "{answer}");
    app.stop().await;
    logs.line("speaks HTTP/2 (h2c)");
    assert!(!logs.text().contains("does not speak HTTP/2"));
}

/// Forced, HTTP/1.1 reaches the emulator too (it serves both on one port).
#[tokio::test]
async fn forced_http1_reaches_the_emulator() {
    let app = spawn_app(&[("NOTEBOOKS_EMULATOR_PROTOCOL", "http1")]).await;
    let (status, answer) = app.push("4022", "x").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.instances().len(), 1);
    app.stop().await;
}

/// Forced h2c against a server without HTTP/2: both the 503 and the log line say what was
/// spoken and how the connection failed (the server hangs up on the HTTP/2 preface, or answers
/// it with text that is no frame, whichever the client notices first), not only that a request
/// could not be sent; no request arrives.
#[tokio::test]
async fn forced_h2c_to_an_http1_only_api_is_503_naming_the_protocol_error() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let recorder = Recorder::start().await;
    let app = spawn_app(&[
        ("NOTEBOOKS_EMULATOR_HOST", &recorder.addr.to_string()),
        ("NOTEBOOKS_EMULATOR_PROTOCOL", "h2c"),
    ])
    .await;
    let (status, answer) = json(app.post(&push_body("4023", "x")).await).await;
    assert_eq!(status, 503, "{answer}");
    let error = answer["error"].as_str().unwrap();
    let told = |text: &str| {
        text.contains("cannot reach the Notebooks API over h2c")
            && ["http2 error", "connection error", "connection closed"]
                .iter()
                .any(|cause| text.contains(cause))
    };
    assert!(told(error), "{answer}");
    app.stop().await;
    let line = logs.line("not launched yet");
    assert!(told(&line), "{line}");
    assert!(recorder.requests().is_empty(), "{:?}", recorder.requests());
}
