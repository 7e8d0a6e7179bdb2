//! `cargo run` with nothing configured: the manual message creates an instance in the embedded
//! emulator. With papermill installed it is a run of the demo notebook, whose record and output
//! land in the emulator's Cloud Storage; without, the demo's shell script writes a file there,
//! as the README's "A whole run on one machine" shows.

use std::time::{Duration, Instant};

use notebook_trigger::config::Settings;
use notebook_trigger::startup::Application;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

#[path = "support/papermill.rs"]
mod papermill;

#[tokio::test]
async fn the_demo_instance_runs_its_script_and_writes_a_file() {
    let settings = Settings::from_env(&|name| (name == "PORT").then(|| "0".to_owned()))
        .expect("nothing configured is the demo");
    let cancel = CancellationToken::new();
    let app = Application::build(settings, cancel.clone())
        .await
        .expect("the demo builds");
    let port = app.port();
    let emulator_url = app.embedded().expect("demo mode").base_url();
    let storage = reqwest::Url::parse(&emulator_url).unwrap();
    let server = tokio::spawn(app.run_until_stopped());

    let answer: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .body(r#"{"data":"TweetiNoteStartTopic"}"#)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .unwrap();
    assert_eq!(answer["state"], "ACTIVE", "{answer}");
    let id = answer["instance"]
        .as_str()
        .and_then(|name| name.rsplit('/').next())
        .expect("the answer names the instance")
        .to_owned();

    let client = notebooks_emulator::storage::StorageClient::new(storage);
    let download = |object: String| {
        let client = client.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                if let Ok(bytes) = client.download("demo-bucket", &object).await {
                    break String::from_utf8(bytes).unwrap();
                }
                assert!(Instant::now() < deadline, "no gs://demo-bucket/{object}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    match answer["run_id"].as_str() {
        // papermill is installed: the launch is a run of the demo notebook.
        Some(run_id) => {
            let record = download(format!(
                "{}/runs/{run_id}.json",
                notebook_trigger::run::RECORDS_PREFIX
            ))
            .await;
            // Written at launch; the run may have ended already by the time it is read.
            let record: serde_json::Value = serde_json::from_str(&record).unwrap();
            assert_eq!(record["run_id"], run_id, "{record}");
            assert!(
                matches!(record["state"].as_str(), Some("launched" | "succeeded")),
                "{record}"
            );
            let output = download(format!("runs/{run_id}/outputs/output.csv")).await;
            assert!(output.starts_with("Text,Output\n"), "{output}");
        }
        None => {
            let hello = download(format!("runs/{id}/hello.txt")).await;
            assert!(
                hello.starts_with(&format!("Hello from {id} in project demo-project.")),
                "{hello}"
            );
            assert!(
                hello.contains("\"iss\":\"https://accounts.google.com\""),
                "{hello}"
            );
        }
    }
    cancel.cancel();
    server.await.unwrap().expect("the demo stops cleanly");
}

/// `runs start|cancel|rerun --service URL` against the serving demo, whose loopback callers
/// are its operators: each prints what it did, as the service did it (the README's section
/// "Acting on runs: rerun, cancel, run now").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_at_a_terminal_acts_through_the_demos_api() {
    if !papermill::papermill() {
        return;
    }
    let settings = Settings::from_env(&|name| (name == "PORT").then(|| "0".to_owned()))
        .expect("nothing configured is the demo");
    let cancel = CancellationToken::new();
    let app = Application::build(settings, cancel.clone())
        .await
        .expect("the demo builds");
    let service = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run_until_stopped());
    let runs = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_notebook-trigger"));
        command
            .arg("runs")
            .args(args)
            .args(["--service", &service])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .kill_on_drop(true);
        async move {
            let output = tokio::time::timeout(Duration::from_secs(60), command.output())
                .await
                .expect("runs finishes within 60 s")
                .unwrap();
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stdout).trim().to_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
    };
    let (ok, started, stderr) = runs(&["start", "default", "--parameters", "{}"]).await;
    assert!(ok, "{stderr}");
    let run = notebook_trigger::run::RunId::parse(&started).expect("the new run's id");
    let (ok, said, stderr) = runs(&["cancel", run.as_str()]).await;
    // The demo notebook takes seconds: the cancel comes while it runs, or says how it ended.
    if ok {
        assert!(
            said.contains(&format!("cancel of {run} asked by loopback")),
            "{said}"
        );
    } else {
        assert!(stderr.contains("has ended already"), "{stderr}");
    }
    let (ok, rerun, stderr) = runs(&["rerun", run.as_str()]).await;
    assert!(ok, "{stderr}");
    assert!(
        notebook_trigger::run::RunId::parse(&rerun).is_ok_and(|r| r != run),
        "{rerun}"
    );
    let (ok, _, stderr) = runs(&["cancel", "r0123456789abcdef"]).await;
    assert!(!ok && stderr.contains("404"), "{stderr}");
    cancel.cancel();
    server.await.unwrap().expect("the demo stops cleanly");
}
