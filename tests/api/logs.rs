//! Secrets never reach the logs. The real binary serves with `RUST_LOG=trace`, Google
//! credentials from a service-account key and authenticated push; it takes requests carrying a
//! valid token and several bad ones; then nothing it wrote to stdout or stderr, in either log
//! format, contains a token, a token's signature, the access token it was issued, the assertion
//! it signed for it, or its key.
//!
//! A child process rather than a subscriber in this process: tracing's global subscriber can be
//! set once per process, a thread-local one does not follow tasks onto the runtime's workers,
//! and what is checked here is what the binary writes, its own formatter and filter included.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use notebooks_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

use crate::child::ChildGuard;
use crate::helpers::push_body;
use crate::local_server::LocalServer;
use crate::openssl::service_account_key;
use crate::tokens::{self, Issuer, bearer, claims, claims_with};

const BIN: &str = env!("CARGO_BIN_EXE_notebook-trigger");

/// An assertion the service sent for a token, and the access token it got back.
type Grant = (String, String);

/// A stand-in for Google's OAuth token endpoint: a fresh access token for every grant.
struct TokenEndpoint {
    url: String,
    grants: Arc<Mutex<Vec<Grant>>>,
    _server: LocalServer,
}

async fn grant(State(grants): State<Arc<Mutex<Vec<Grant>>>>, form: String) -> Json<Value> {
    let assertion = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("assertion="))
        .unwrap_or_default()
        .to_owned();
    let access_token = format!("ya29.test-{}", uuid::Uuid::new_v4().simple());
    grants
        .lock()
        .unwrap()
        .push((assertion, access_token.clone()));
    Json(json!({"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"}))
}

impl TokenEndpoint {
    async fn start() -> Self {
        let grants = Arc::default();
        let app = axum::Router::new()
            .route("/token", post(grant))
            .with_state(Arc::clone(&grants));
        let server = LocalServer::start(app).await;
        Self {
            url: server.url("/token"),
            grants,
            _server: server,
        }
    }
}

/// Reads a stream of the service line by line into `lines`, reporting the port it listens on.
fn collect(
    stream: impl Read + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
    port: Sender<u16>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Some(found) = listening_port(&line) {
                let _ = port.send(found);
            }
            lines.lock().unwrap().push(line);
        }
    })
}

/// The port of the "listening" line, in JSON (`"port":N`) or text (`port=N`).
fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("listening") {
        return None;
    }
    if let Ok(json) = serde_json::from_str::<Value>(line) {
        return json["port"].as_u64().and_then(|p| u16::try_from(p).ok());
    }
    let rest = &line[line.find("port=")? + "port=".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The three parts of a JWT: header, claims, signature.
fn parts(token: &str) -> [String; 3] {
    let mut parts = token.split('.').map(str::to_owned);
    [(); 3].map(|()| parts.next().expect("a JWT has three parts"))
}

/// What one run of the service wrote, and every secret it handled.
struct Run {
    lines: Vec<String>,
    secrets: Vec<(String, String)>,
}

/// Serves with `LOG_FORMAT=format` and `RUST_LOG=trace`, sends one request per kind of
/// token, stops the service with SIGTERM and returns all it wrote.
async fn serve_and_capture(format: &str) -> Run {
    let issuer = Issuer::start().await;
    let google = TokenEndpoint::start().await;
    let emulator = Emulator::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        EmulatorConfig {
            provision_time: Duration::from_millis(100),
            ..EmulatorConfig::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (key_file, pem) = service_account_key(dir.path(), "logs-project", &google.url);

    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "trace")
        .env("LOG_FORMAT", format)
        .env("PORT", "0")
        .env("GOOGLE_APPLICATION_CREDENTIALS", &key_file)
        .env("NOTEBOOKS_ENDPOINT", emulator.base_url())
        .env("GOOGLE_CLOUD_PROJECT", "logs-project")
        .env("NOTEBOOK_LOCATION", "us-central1-a")
        .env(
            "CONTAINER_IMAGE",
            "europe-docker.pkg.dev/logs-project/r/img",
        )
        .env("POLL_INITIAL_DELAY", "20ms")
        .env("POLL_MAX_DELAY", "100ms")
        .envs(issuer.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut service = ChildGuard(command.spawn().expect("the binary starts"));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (port_sender, port_receiver) = std::sync::mpsc::channel();
    let readers = [
        collect(
            service.0.stdout.take().unwrap(),
            Arc::clone(&lines),
            port_sender.clone(),
        ),
        collect(
            service.0.stderr.take().unwrap(),
            Arc::clone(&lines),
            port_sender,
        ),
    ];
    let port =
        tokio::task::spawn_blocking(move || port_receiver.recv_timeout(Duration::from_secs(15)))
            .await
            .unwrap()
            .unwrap_or_else(|_| {
                panic!(
                    "the service never said it was listening: {:?}",
                    lines.lock().unwrap()
                )
            });

    let valid = tokens::google(&claims());
    let invalid_signature = tokens::foreign(&claims(), tokens::KID);
    let wrong_audience = tokens::google(&claims_with(json!({"aud": "https://elsewhere.example"})));
    let unknown_kid = tokens::foreign(&claims(), "kid-the-jwks-does-not-have");
    let garbage = format!("garbage-{}", uuid::Uuid::new_v4().simple());
    let basic = STANDARD.encode(format!("push:{}", uuid::Uuid::new_v4().simple()));
    let requests = [
        ("valid token", bearer(&valid), 200),
        ("invalid signature", bearer(&invalid_signature), 401),
        ("wrong audience", bearer(&wrong_audience), 401),
        ("unknown kid", bearer(&unknown_kid), 401),
        ("garbage token", bearer(&garbage), 401),
        ("basic credentials", format!("Basic {basic}"), 401),
    ];
    let http = reqwest::Client::new();
    for (i, (name, authorization, expected)) in requests.iter().enumerate() {
        let response = http
            .post(format!("http://127.0.0.1:{port}/"))
            .header("content-type", "application/json")
            .header("authorization", authorization)
            .body(push_body(
                &format!("logs-{format}-{i}"),
                "TweetiNoteStartTopic",
            ))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("the service answers");
        assert_eq!(response.status().as_u16(), *expected, "{name}");
    }

    assert!(
        Command::new("kill")
            .arg("-TERM")
            .arg(service.0.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while service.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the service did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for reader in readers {
        reader.join().unwrap();
    }
    emulator.shutdown().await;

    let mut secrets = vec![
        ("garbage token".to_owned(), garbage),
        ("basic credentials".to_owned(), basic),
    ];
    for (name, token) in [
        ("valid token", &valid),
        ("invalid signature token", &invalid_signature),
        ("wrong audience token", &wrong_audience),
        ("unknown kid token", &unknown_kid),
    ] {
        let [_, claims, signature] = parts(token);
        secrets.push((name.to_owned(), token.clone()));
        secrets.push((format!("{name}: claims"), claims));
        secrets.push((format!("{name}: signature"), signature));
    }
    let grants = google.grants.lock().unwrap().clone();
    assert!(
        !grants.is_empty(),
        "the service got an access token from the key"
    );
    for (assertion, access_token) in grants {
        let [_, _, signature] = parts(&assertion);
        secrets.push(("access token".to_owned(), access_token));
        secrets.push(("signed assertion".to_owned(), assertion));
        secrets.push(("signed assertion: signature".to_owned(), signature));
    }
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        secrets.push(("private key".to_owned(), line.to_owned()));
    }
    let lines = std::mem::take(&mut *lines.lock().unwrap());
    Run { lines, secrets }
}

fn check(format: &str, run: &Run) {
    let text = run.lines.join("\n");
    let count = |needle: &str| run.lines.iter().filter(|l| l.contains(needle)).count();
    // Without these the test could pass on logs that were never captured.
    assert!(
        count("listening") == 1 && count("gcp_auth") > 0 && count("hyper_util") > 0,
        "{format}: the service's own lines and its libraries' trace lines are captured:\n{text}"
    );
    assert_eq!(
        count("push request authenticated"),
        1,
        "{format}: the debug line of the valid request:\n{text}"
    );
    assert_eq!(
        count("push request refused"),
        5,
        "{format}: one line per refused request:\n{text}"
    );
    assert_eq!(count("instance ready"), 1, "{format}:\n{text}");
    let leaks: Vec<&str> = run
        .secrets
        .iter()
        .filter(|(_, secret)| text.contains(secret.as_str()))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(leaks.is_empty(), "{format} logs contain secrets: {leaks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_signature_access_token_or_key_reaches_the_logs_even_at_trace() {
    for format in ["json", "text"] {
        let run = serve_and_capture(format).await;
        check(format, &run);
    }
}
