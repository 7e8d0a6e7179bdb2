//! The real executable: signals, the `launch` command, configuration errors, and the real
//! credentials path (a service-account key whose token endpoint is a local fake).

#[path = "support/child.rs"]
mod child;
#[path = "binary/config.rs"]
mod config;
#[path = "support/local_server.rs"]
mod local_server;
#[path = "support/openssl.rs"]
mod openssl;
#[path = "support/test_log.rs"]
mod test_log;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use child::{ChildGuard, run_bounded};
use local_server::LocalServer;
use notebooks_emulator::{Emulator, EmulatorConfig};
use openssl::service_account_key;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_notebook-trigger");

/// A command with a clean environment: nothing from the developer's shell leaks in.
fn command(home: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home);
    command
}

async fn emulator(provision: Duration) -> Emulator {
    test_log::init();
    let config = EmulatorConfig {
        provision_time: provision,
        ..EmulatorConfig::default()
    };
    Emulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap()
}

fn service_env(command: &mut Command, emulator: &Emulator) {
    command
        .env("NOTEBOOKS_EMULATOR_HOST", emulator.local_addr().to_string())
        .env("GOOGLE_CLOUD_PROJECT", "bin-project")
        .env("NOTEBOOK_LOCATION", "us-central1-b")
        .env(
            "CONTAINER_IMAGE",
            "europe-west3-docker.pkg.dev/p/r/python-docker",
        )
        .env(
            "POST_STARTUP_SCRIPT",
            "gs://socialsenti/default-startup-script.sh",
        )
        .env("POLL_INITIAL_DELAY", "50ms")
        .env("POLL_MAX_DELAY", "200ms");
}

#[test]
fn help_teaches_every_subcommand_and_variable() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["launch", "--help"],
        vec!["emulator", "--help"],
    ] {
        let mut command = command(home.path());
        command.args(&args);
        let output = run_bounded(&mut command, Duration::from_secs(10));
        assert!(output.status.success(), "{args:?}");
        let text = &output.stdout;
        if args[0] == "serve" || args[0] == "launch" {
            for variable in [
                "GOOGLE_CLOUD_PROJECT",
                "CONTAINER_IMAGE",
                "ALLOWED_OVERRIDES",
                "POLL_TIMEOUT",
                "ON_EXISTING",
            ] {
                assert!(text.contains(variable), "{args:?} --help lacks {variable}");
            }
        }
        if args[0] == "launch" {
            assert!(text.contains("--dry-run") && text.contains("nothing is created"));
        }
        if args[0] == "emulator" {
            for flag in [
                "--provision-time",
                "--fault-rate",
                "--seed",
                "--v1-legacy",
                "--port",
            ] {
                assert!(text.contains(flag), "emulator --help lacks {flag}");
            }
        }
    }
}

/// `runner` prints the shipped post-startup script, its Python and `secrets.sh` in place,
/// which bash can parse.
#[test]
fn runner_prints_the_shipped_script() {
    let home = tempfile::tempdir().unwrap();
    let output = run_bounded(command(home.path()).arg("runner"), Duration::from_secs(10));
    assert!(output.status.success(), "{}", output.stderr);
    assert_eq!(output.stdout, *notebook_trigger::runner::SCRIPT);
    let script = home.path().join("runner.sh");
    std::fs::write(&script, &output.stdout).unwrap();
    let parsed = run_bounded(
        Command::new("bash").arg("-n").arg(&script),
        Duration::from_secs(10),
    );
    assert!(parsed.status.success(), "{}", parsed.stderr);
}

/// A failure after logging is set up (here: the port is taken) is said once, by the log line,
/// not a second time as a bare `error:` line; one before (a bad variable) is said on stderr.
#[test]
fn a_start_up_failure_is_reported_once() {
    let home = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut command = command(home.path());
    command
        .env("GOOGLE_CLOUD_PROJECT", "p")
        .env("NOTEBOOKS_EMULATOR_HOST", "127.0.0.1:9")
        .env("CONTAINER_IMAGE", "img")
        .env("NOTEBOOK_LOCATION", "us-central1-a")
        .env("PORT", &port);
    let output = run_bounded(&mut command, Duration::from_secs(10));
    assert!(!output.status.success(), "a taken port stops start-up");
    let said = format!("{}{}", output.stdout, output.stderr);
    let lines: Vec<&str> = said
        .lines()
        .filter(|line| line.contains(&format!(":{port}")))
        .collect();
    assert_eq!(lines.len(), 1, "the failure is said once: {said}");
    assert!(lines[0].contains("ERROR"), "as a log line: {said}");

    let mut command = self::command(home.path());
    command.env("PORT", "http");
    let output = run_bounded(&mut command, Duration::from_secs(10));
    let said = format!("{}{}", output.stdout, output.stderr);
    assert_eq!(said.matches("PORT").count(), 1, "said once: {said}");
    assert!(output.stderr.starts_with("error: PORT"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_poll_answers_503_quickly_and_exits_zero() {
    let emulator = emulator(Duration::from_secs(120)).await;
    let home = tempfile::tempdir().unwrap();
    let mut command = command(home.path());
    service_env(&mut command, &emulator);
    command
        .env("PORT", "0")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut guard = ChildGuard(command.spawn().unwrap());
    let stdout = guard.0.stdout.take().unwrap();
    let port = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
            assert!(
                line["severity"].is_string(),
                "JSON logs carry severity: {line}"
            );
            if line["message"] == "listening" {
                return line["port"].as_u64().unwrap();
            }
        }
        panic!("the service never said it was listening");
    });
    let port = tokio::time::timeout(Duration::from_secs(10), port)
        .await
        .unwrap()
        .unwrap();
    let body = json!({"message": {"data": "eA==", "messageId": "77", "publishTime": "2026-11-22T06:00:00Z"}, "subscription": "s"}).to_string();
    let request = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/"))
            .body(body)
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let signalled = Instant::now();
    assert!(
        Command::new("kill")
            .arg("-TERM")
            .arg(guard.0.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let response = tokio::time::timeout(Duration::from_secs(5), request)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let pid = guard.0.id();
    let status = tokio::task::spawn_blocking(move || {
        let status = guard.0.wait();
        drop(guard);
        status
    });
    let status = tokio::time::timeout(Duration::from_secs(9), status)
        .await
        .unwrap_or_else(|_| panic!("pid {pid} did not exit"))
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(8),
        "answered and exited in {:?}",
        signalled.elapsed()
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_command_shows_progress_and_the_instance() {
    let emulator = emulator(Duration::from_millis(300)).await;
    let home = tempfile::tempdir().unwrap();
    let mut command = command(home.path());
    service_env(&mut command, &emulator);
    command
        .env("ALLOWED_OVERRIDES", "machine_type")
        .args(["launch", r#"{"machine_type":"n1-standard-8"}"#]);
    let output =
        tokio::task::spawn_blocking(move || run_bounded(&mut command, Duration::from_secs(30)))
            .await
            .unwrap();
    let stderr = &output.stderr;
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("creating") && stderr.contains("provisioning"),
        "{stderr}"
    );
    let launched: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(launched["state"], "ACTIVE");
    assert_eq!(launched["outcome"], "created");
    let instances = emulator.instances();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["gceSetup"]["machineType"], "n1-standard-8");
    assert_eq!(instances[0]["labels"]["trigger-source"], "cli");
    emulator.shutdown().await;
}

/// `launch --dry-run` with nothing configured: the embedded demo's create, shown on stdout.
#[test]
fn launch_dry_run_prints_the_create_request_on_the_embedded_default() {
    let home = tempfile::tempdir().unwrap();
    let mut command = command(home.path());
    command.args(["launch", "--dry-run"]);
    let output = run_bounded(&mut command, Duration::from_secs(30));
    assert!(output.status.success(), "{}", output.stderr);
    assert!(!output.stderr.contains("creating"), "{}", output.stderr);
    let answer: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(answer["outcome"], "dry-run", "{answer}");
    assert_eq!(answer["state"], "NOT_CREATED", "{answer}");
    let request = &answer["request"];
    let instance = answer["instance"].as_str().unwrap();
    let (parent, id) = instance.split_once("/instances/").unwrap();
    assert_eq!(request["method"], "POST", "{answer}");
    assert_eq!(request["query"]["instanceId"], id, "{answer}");
    let request_id = request["query"]["requestId"].as_str().unwrap();
    let url = request["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        url.ends_with(&format!(
            "/v2/{parent}/instances?instanceId={id}&requestId={request_id}"
        )),
        "{url}"
    );
    assert!(request["body"]["gceSetup"].is_object(), "{answer}");
}

/// `--dry-run` needs no `dry_run` in ALLOWED_OVERRIDES; every other check of the policy stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_dry_run_creates_nothing_and_keeps_the_policy() {
    let emulator = emulator(Duration::from_millis(100)).await;
    let home = tempfile::tempdir().unwrap();
    let run = |payload: &str| {
        let mut command = command(home.path());
        service_env(&mut command, &emulator);
        command
            .env("ALLOWED_OVERRIDES", "machine_type")
            .args(["launch", "--dry-run", payload]);
        tokio::task::block_in_place(|| run_bounded(&mut command, Duration::from_secs(30)))
    };
    let output = run(r#"{"dry_run": true, "machine_type": "n1-standard-8"}"#);
    assert!(output.status.success(), "{}", output.stderr);
    let answer: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(
        answer["request"]["body"]["gceSetup"]["machineType"], "n1-standard-8",
        "{answer}"
    );
    let refused = run(r#"{"network": "elsewhere"}"#);
    assert!(!refused.status.success(), "{}", refused.stdout);
    assert!(
        refused.stderr.contains("ALLOWED_OVERRIDES"),
        "{}",
        refused.stderr
    );
    assert!(emulator.create_requests().is_empty(), "nothing was sent");
    assert!(emulator.instances().is_empty());
    emulator.shutdown().await;
}

/// What the fake Google saw.
#[derive(Default)]
struct Seen {
    grants: Vec<String>,
    authorizations: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

async fn token(State(seen): State<Shared>, body: String) -> axum::Json<Value> {
    seen.lock().unwrap().grants.push(body);
    axum::Json(
        json!({"access_token": "fake-access-token", "expires_in": 3600, "token_type": "Bearer"}),
    )
}

async fn create(State(seen): State<Shared>, headers: HeaderMap) -> (StatusCode, axum::Json<Value>) {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.lock().unwrap().authorizations.push(authorization);
    let instance = json!({"name": "projects/key-project/locations/us-central1-a/instances/x", "state": "ACTIVE"});
    (
        StatusCode::OK,
        axum::Json(
            json!({"name": "projects/key-project/locations/us-central1-a/operations/op-1", "done": true, "response": instance}),
        ),
    )
}

async fn operation(State(seen): State<Shared>, headers: HeaderMap) -> axum::Json<Value> {
    create(State(seen), headers).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_key_credentials_reach_the_api_as_a_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let seen: Shared = Arc::default();
    let fake = Router::new()
        .route("/token", post(token))
        .route(
            "/v2/projects/{project}/locations/{zone}/instances",
            post(create),
        )
        .route(
            "/v2/projects/{project}/locations/{zone}/operations/{id}",
            get(operation),
        )
        .with_state(seen.clone());
    let server = LocalServer::start(fake).await;
    let (credentials_path, _) =
        service_account_key(dir.path(), "key-project", &server.url("/token"));

    let mut command = command(dir.path());
    command
        .env("GOOGLE_APPLICATION_CREDENTIALS", &credentials_path)
        .env("NOTEBOOKS_ENDPOINT", server.url(""))
        .env("NOTEBOOK_LOCATION", "us-central1-a")
        .env("CONTAINER_IMAGE", "us-docker.pkg.dev/p/r/img")
        .args(["launch", "go"]);
    let output =
        tokio::task::spawn_blocking(move || run_bounded(&mut command, Duration::from_secs(30)))
            .await
            .unwrap();
    assert!(output.status.success(), "{}", output.stderr);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.grants.len(),
        1,
        "one token for the whole launch (gcp_auth caches it)"
    );
    assert!(
        seen.grants[0].contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{}",
        seen.grants[0]
    );
    assert!(
        seen.grants[0].contains("assertion="),
        "a signed JWT assertion is sent"
    );
    assert_eq!(
        seen.authorizations,
        ["Bearer fake-access-token"],
        "the project came from the key file"
    );
}

/// Starts `serve` as on Cloud Run (`K_SERVICE`) and returns its log lines up to "listening".
async fn cloud_run_start_up_logs(extra: &[(&str, &str)]) -> Vec<Value> {
    let emulator = emulator(Duration::from_secs(1)).await;
    let home = tempfile::tempdir().unwrap();
    let mut command = command(home.path());
    service_env(&mut command, &emulator);
    command
        .env("PORT", "0")
        .env("K_SERVICE", "notebook-trigger")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra {
        command.env(k, v);
    }
    let mut guard = ChildGuard(command.spawn().unwrap());
    let stdout = guard.0.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
            let done = line["message"] == "listening";
            seen.push(line);
            if done {
                return seen;
            }
        }
        panic!("the service never said it was listening: {seen:?}");
    });
    let lines = tokio::time::timeout(Duration::from_secs(10), lines)
        .await
        .unwrap()
        .unwrap();
    drop(guard);
    emulator.shutdown().await;
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_cloud_run_without_push_auth_it_starts_with_a_warning_unless_off_is_stated() {
    let warned = |lines: &[Value]| {
        lines.iter().any(|l| {
            l["severity"] == "WARNING"
                && l["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("only Cloud Run IAM"))
        })
    };
    let unset = cloud_run_start_up_logs(&[]).await;
    assert!(warned(&unset), "{unset:?}");
    let off = cloud_run_start_up_logs(&[("PUSH_AUTH", "off")]).await;
    assert!(!warned(&off), "{off:?}");
    assert!(
        off.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.contains("PUSH_AUTH=off"))),
        "{off:?}"
    );
}
