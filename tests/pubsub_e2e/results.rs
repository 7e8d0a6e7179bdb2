//! A run's result and its retention, end to end: Google's Pub/Sub emulator pushes to the
//! service binary, the emulated instance runs the shipped runner with real papermill against
//! fake-gcs-server. A notebook that writes `outputs/result.json` has it in its record and, as
//! indented JSON and text only, on its page; with `KEEP_RUNS`, `reap --dry-run` names a run
//! that ended longer ago, the scheduler's reap message deletes its folder and record, and a run
//! still going is kept. Skipped with the reason printed where papermill, fake-gcs-server or the
//! Cloud SDK is missing, unless required.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use storage_client::StorageClient;

use crate::deployment::{Deployment, emulators, publish, records};
use crate::runs::{BUCKET, finished_record, notebook, stage};

/// What the result notebook leaves: a hostile string among plain values.
fn result() -> Value {
    json!({"rows": 3, "table": "sales", "note": "<script>alert(1)</script>"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_the_notebook_writes_is_in_its_record_and_on_its_page() {
    let Some((gcs, pubsub)) = emulators().await else {
        return;
    };
    let object = "nb/result/result.ipynb";
    let cell = format!(
        "import json, os\nos.makedirs('outputs', exist_ok=True)\n\
         json.dump(json.loads({:?}), open('outputs/result.json', 'w'))",
        result().to_string()
    );
    let (storage, notebooks) = stage(&gcs, vec![(object, notebook("x = 1", &[&cell]))]).await;
    let notebook_uri = format!("gs://{BUCKET}/{object}");
    let profiles = "[profiles.none]\n";
    let extra = [("NOTEBOOK", notebook_uri)];
    let deployed = Deployment::start(&gcs, &notebooks, &pubsub, profiles, &extra).await;
    let service = &deployed.service;
    publish(&pubsub, r#"{"day": "monday"}"#).await;
    let record = finished_record(&storage, Duration::from_secs(120), "default").await;
    assert_eq!(record["state"], "succeeded", "{record:#}");
    assert_eq!(record["result"], result(), "{record:#}");
    assert!(record.get("result_error").is_none(), "{record:#}");
    let folder = record["output"].as_str().unwrap();
    let saved = folder.trim_start_matches(&format!("gs://{BUCKET}/"));
    let file = storage
        .download(BUCKET, &format!("{saved}outputs/outputs/result.json"))
        .await
        .expect("the result file is among the run's outputs");
    assert_eq!(serde_json::from_slice::<Value>(&file).unwrap(), result());

    let run = record["run_id"].as_str().unwrap();
    let page = reqwest::Client::new()
        .get(format!("{}runs/{run}", service.endpoint()))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let shown = "<h2>Result</h2><pre id=\"result\">{\n  &quot;note&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;,\n  &quot;rows&quot;: 3,\n  &quot;table&quot;: &quot;sales&quot;\n}</pre>";
    assert!(html.contains(shown), "{html}");
    assert!(!html.contains("<script>"), "{html}");

    // The history table shows it as compact JSON, cut to its column.
    let table = crate::operate::runs_here(service, &["--limit", "1"]).await;
    let header = table.lines().next().unwrap_or_default();
    assert!(header.contains(" RESULT "), "{table}");
    assert!(
        table.contains(r#"{"note":"<script>alert(1)</script>","ro…"#),
        "{table}"
    );
}

/// Whether run `run`'s record is still in the bucket.
async fn has_record(storage: &StorageClient, run: &str) -> bool {
    let object = format!("{}/out/{run}.json", notebook_trigger::run::RECORDS_PREFIX);
    storage.download(BUCKET, &object).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_a_run_that_ended_long_enough_ago_and_keeps_one_still_going() {
    let Some((gcs, pubsub)) = emulators().await else {
        return;
    };
    let slow = (
        "nb/slow/slow.ipynb",
        notebook("x = 1", &["import time\ntime.sleep(120)"]),
    );
    let (storage, notebooks) = stage(&gcs, vec![slow]).await;
    let profiles = format!(
        "[profiles.slow]\nnotebook = \"gs://{BUCKET}/nb/slow/slow.ipynb\"\nmax_run_time = \"5m\"\n"
    );
    let keep = Duration::from_secs(4);
    let extra = [("KEEP_RUNS", "4s".to_owned())];
    let deployed = Deployment::start(&gcs, &notebooks, &pubsub, &profiles, &extra).await;
    let service = &deployed.service;
    publish(&pubsub, r#"{"profile": "slow"}"#).await;
    publish(&pubsub, r#"{"upload": "gs://b/new.csv"}"#).await;
    let ended = finished_record(&storage, Duration::from_secs(120), "default").await;
    assert_eq!(ended["state"], "succeeded", "{ended:#}");
    let run = ended["run_id"].as_str().unwrap();
    let folder = format!("out/{run}/");
    assert!(!storage.list(BUCKET, &folder).await.unwrap().is_empty());
    tokio::time::sleep(keep + Duration::from_secs(1)).await;

    // A person asks first what a reap would delete: the run that ended, nothing else.
    let dry = tokio::task::block_in_place(|| {
        service
            .reap_cli_with(&["--dry-run"])
            .wait_with_output()
            .unwrap()
    });
    let said = String::from_utf8_lossy(&dry.stdout);
    let deletions: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("delete run"))
        .collect();
    assert_eq!(deletions.len(), 1, "{said}");
    assert!(
        deletions[0].starts_with(&format!("delete run {run} (gs://{BUCKET}/{folder}: "))
            && deletions[0].ends_with("more than keep_runs (4s) ago (dry-run)"),
        "{said}"
    );
    assert!(has_record(&storage, run).await, "a dry run deletes nothing");

    // The scheduler's message: the service reaps.
    publish(&pubsub, r#"{"action": "reap"}"#).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while has_record(&storage, run).await {
        assert!(Instant::now() < deadline, "the old run is still there");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(storage.list(BUCKET, &folder).await.unwrap().is_empty());
    let left = records(&storage).await;
    assert_eq!(left.len(), 1, "{left:#?}");
    let going = &left[0];
    assert_eq!(
        (going["profile"].as_str(), going["state"].as_str()),
        (Some("slow"), Some("launched")),
        "{going:#}"
    );
    let instance = going["instance"].as_str().unwrap();
    let up = notebooks
        .instances()
        .iter()
        .any(|i| i["name"] == instance && i["state"] == "ACTIVE");
    assert!(
        up,
        "the run still going keeps its instance: {:?}",
        notebooks.instances()
    );
}
