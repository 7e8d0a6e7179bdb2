//! `cargo run` with nothing configured: the manual message creates an instance in the embedded
//! emulator. With papermill installed it is a run of the demo notebook, whose record and output
//! land in the emulator's Cloud Storage; without, the demo's shell script writes a file there,
//! as the README's "A whole run on one machine" shows.

use std::time::{Duration, Instant};

use notebook_trigger::config::Settings;
use notebook_trigger::startup::Application;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

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
