//! A profile's `max_concurrent_runs` over real sockets: launches racing for the last slot get
//! one run between them, a busy message is answered 429 (Pub/Sub keeps it) or recorded
//! skipped, and a slot a dead process left held is freed by the next launch or reap.

use std::num::NonZeroU32;

use jiff::{SignedDuration, Timestamp};
use notebook_trigger::credentials::Credentials;
use notebook_trigger::run::{Place, RECORDS_PREFIX, RunId, RunStore, Slots, UNRECORDED_AFTER};
use notebooks_emulator::storage::StorageClient;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::run_launch::{record, spawn_runs};

const BUCKET: &str = "runs-bucket";

/// A deployment that runs a notebook with at most `max` runs at once, `when_busy` when busy.
async fn capped(max: &str, when_busy: &str) -> TestApp {
    spawn_runs(&[("MAX_CONCURRENT_RUNS", max), ("WHEN_BUSY", when_busy)]).await
}

fn storage(app: &TestApp) -> StorageClient {
    StorageClient::new(app.emulator.storage_url().parse().unwrap())
}

fn slot_object(number: u32) -> String {
    format!("{RECORDS_PREFIX}/leases/default/{number}.json")
}

/// Slot `number` of the default profile, as its object says.
async fn slot(app: &TestApp, number: u32) -> Value {
    let bytes = storage(app)
        .download(BUCKET, &slot_object(number))
        .await
        .expect("the slot exists");
    serde_json::from_slice(&bytes).unwrap()
}

/// Writes slot `number` as held by `run` since `taken`, as a launch that died after taking
/// it left it.
async fn plant_slot(app: &TestApp, number: u32, run: &RunId, taken: Timestamp) {
    let held = json!({"state": "held", "run_id": run, "folder": folder(run), "taken": taken});
    storage(app)
        .upload(
            BUCKET,
            &slot_object(number),
            "application/json",
            held.to_string().into_bytes(),
        )
        .await
        .unwrap();
}

fn folder(run: &RunId) -> String {
    format!("gs://{BUCKET}/runs/{run}/")
}

/// Writes the record of `run`, ended `succeeded` and cleaned up while holding slot 0: the
/// process died before it gave the slot back.
async fn plant_ended_run(app: &TestApp, run: &RunId) {
    let record = json!({
        "schema": 1, "run_id": run, "trigger": "pubsub", "message_id": "1",
        "profile": "default", "notebook": format!("gs://{BUCKET}/nb/seed.ipynb"),
        "parameters": {}, "instance": "projects/p/locations/z/instances/gone",
        "output": folder(run), "launched": "2026-12-01T10:00:00Z", "state": "succeeded",
        "cleanup": {"action": "delete", "at": "2026-12-01T10:05:00Z", "by": "report"},
        "lease": format!("gs://{BUCKET}/{}", slot_object(0)),
    });
    storage(app)
        .upload(
            BUCKET,
            &format!("{RECORDS_PREFIX}/runs/{run}.json"),
            "application/json",
            record.to_string().into_bytes(),
        )
        .await
        .unwrap();
    plant_slot(app, 0, run, Timestamp::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_launches_racing_for_the_last_slot_start_one_run() {
    let app = capped("2", "queue").await;
    let (status, first) = app.push("8001", "go").await;
    assert_eq!(status, 200, "{first}");
    let (one, two) = tokio::join!(app.push("8002", "go"), app.push("8003", "go"));
    let mut answers = [one, two];
    answers.sort_by_key(|(status, _)| *status);
    let [(won, winner), (waits, busy)] = answers;
    assert_eq!((won, waits), (200, 429), "{winner} {busy}");
    let said = busy["error"].as_str().unwrap();
    assert!(
        said.contains("2 runs of profile `default` are going (max_concurrent_runs)"),
        "{said}"
    );
    assert_eq!(app.emulator.create_requests().len(), 2, "one run each");
    let holders: Vec<Value> = [slot(&app, 0).await, slot(&app, 1).await]
        .into_iter()
        .map(|slot| slot["run_id"].clone())
        .collect();
    for run in [&first["run_id"], &winner["run_id"]] {
        assert!(holders.contains(run), "{holders:?}");
        let recorded = record(&app, run.as_str().unwrap()).await;
        let lease = recorded["lease"].as_str().unwrap_or_default();
        assert!(lease.contains("/leases/default/"), "{recorded}");
    }
    // The queue holds the waiting message while both run; a redelivery of a started run
    // follows it without a slot of its own.
    let started = |id: &str| RunId::derive(&format!("pubsub:{id}")).as_str() == winner["run_id"];
    let waiting = if started("8002") { "8003" } else { "8002" };
    assert_eq!(app.push(waiting, "go").await.0, 429);
    let (status, again) = app.push("8001", "go").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["run_id"], first["run_id"]);
    assert_eq!(app.instances().len(), 2, "{:?}", app.instances());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_skip_a_run_that_finds_no_slot_is_recorded_skipped() {
    let app = capped("1", "skip").await;
    assert_eq!(app.push("8101", "go").await.0, 200);
    let (status, skipped) = app.push("8102", "go").await;
    assert_eq!(status, 200, "acknowledged: {skipped}");
    assert_eq!(skipped["outcome"], "skipped-busy", "{skipped}");
    assert_eq!(skipped["state"], "skipped", "{skipped}");
    let run = skipped["run_id"].as_str().unwrap();
    let recorded = record(&app, run).await;
    assert_eq!(recorded["state"], "skipped", "{recorded}");
    assert!(
        recorded["error"]
            .as_str()
            .unwrap()
            .contains("1 runs of profile `default` were going (max_concurrent_runs)"),
        "{recorded}"
    );
    assert!(recorded.get("lease").is_none(), "{recorded}");
    assert_eq!(app.emulator.create_requests().len(), 1, "nothing created");
    let (status, again) = app.push("8102", "go").await;
    assert_eq!(
        (status, &again["outcome"]),
        (200, &json!("ended")),
        "{again}"
    );
    assert_eq!(again["state"], "skipped");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_whose_launch_died_before_its_record_is_taken_over_later() {
    let app = capped("1", "queue").await;
    let dead = RunId::derive("pubsub:a launch that died");
    plant_slot(&app, 0, &dead, Timestamp::now()).await;
    let (status, answer) = app.push("8201", "go").await;
    assert_eq!(
        status, 429,
        "a launch may still be writing its record: {answer}"
    );
    assert!(app.emulator.create_requests().is_empty());

    let long_ago = Timestamp::now() - SignedDuration::try_from(UNRECORDED_AFTER).unwrap();
    plant_slot(&app, 0, &dead, long_ago).await;
    let (status, answer) = app.push("8201", "go").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(slot(&app, 0).await["run_id"], answer["run_id"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_whose_run_ended_without_giving_it_back_is_freed_by_a_reap_or_a_launch() {
    let app = capped("1", "queue").await;
    let ended = RunId::derive("pubsub:a run that ended");
    plant_ended_run(&app, &ended).await;
    let (status, reaped) = app.push("reap-1", r#"{"action":"reap"}"#).await;
    assert_eq!(status, 200, "{reaped}");
    let freed = reaped["freed"].as_array().unwrap();
    assert_eq!(freed.len(), 1, "{reaped}");
    assert_eq!(freed[0]["run_id"], ended.as_str());
    assert_eq!(freed[0]["result"], "done");
    assert!(
        freed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("has ended (succeeded)"),
        "{reaped}"
    );
    let free = slot(&app, 0).await;
    assert_eq!(
        (&free["state"], &free["was"]),
        (&json!("free"), &json!(ended))
    );

    plant_ended_run(&app, &ended).await;
    let (status, answer) = app.push("8301", "go").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(slot(&app, 0).await["run_id"], answer["run_id"]);
    let (_, again) = app.push("reap-2", r#"{"action":"reap"}"#).await;
    assert_eq!(again["freed"], json!([]), "a running run keeps its slot");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_services_racing_for_two_slots_get_two() {
    let app = capped("2", "queue").await;
    let records = RunStore::new(storage(&app), Credentials::Anonymous);
    let place = Place {
        bucket: BUCKET.to_owned(),
        profile: "racing".to_owned(),
        max: NonZeroU32::new(2).unwrap(),
    };
    let mut racing = tokio::task::JoinSet::new();
    for n in 0..8 {
        let slots = Slots::new(records.clone());
        let place = place.clone();
        racing.spawn(async move {
            let run = RunId::derive(&format!("racer {n}"));
            let taken = slots.take(&place, &run, &folder(&run)).await.unwrap();
            (run, taken)
        });
    }
    let mut won = Vec::new();
    while let Some(done) = racing.join_next().await {
        let (run, taken) = done.unwrap();
        if let Some(lease) = taken {
            won.push((lease, run));
        }
    }
    won.sort();
    assert_eq!(won.len(), 2, "{won:?}");
    assert_ne!(won[0].0, won[1].0, "one run per slot");
    // Each winner gives its own slot back, and only its own.
    let slots = Slots::new(records);
    assert!(!slots.release(&won[0].0, &won[1].1).await.unwrap());
    for (lease, run) in &won {
        assert!(slots.release(lease, run).await.unwrap());
    }
    app.stop().await;
}

#[tokio::test]
async fn a_bad_cap_wait_or_expected_duration_stops_start_up_naming_its_variable() {
    let base = [
        ("GOOGLE_CLOUD_PROJECT", "p"),
        ("NOTEBOOK_LOCATION", "us-central1-a"),
        ("CONTAINER_IMAGE", "us-docker.pkg.dev/p/r/img"),
        ("NOTEBOOK", "/home/jupyter/seed.ipynb"),
        ("NOTEBOOK_OUTPUT", "gs://bkt/runs"),
        ("RUNNER_SCRIPT", "gs://bkt/runner.sh"),
        ("SERVICE_URL", "https://trigger.example"),
    ];
    for (variable, value) in [
        ("MAX_CONCURRENT_RUNS", "0"),
        ("MAX_CONCURRENT_RUNS", "101"),
        ("WHEN_BUSY", "later"),
        ("EXPECTED_DURATION", "soon"),
        ("EXPECTED_DURATION", "2h"),
    ] {
        let said = crate::helpers::refused_start(&[&base[..], &[(variable, value)]].concat()).await;
        assert!(said.contains(variable), "{variable}={value}: {said}");
    }
}
