//! A profile's `max_concurrent_runs` through real Pub/Sub: ten messages published at once
//! against a cap of two, on emulated instances that run a notebook sleeping a few seconds
//! with real papermill. With `queue`, the service answers the messages it has no slot for
//! with 429, Pub/Sub delivers them again, and all ten run, never more than two instances up
//! at once; with `skip`, two run and the other eight are recorded skipped.

use std::time::{Duration, Instant};

use notebooks_emulator::Emulator;
use serde_json::{Value, json};
use storage_client::StorageClient;

use crate::PROJECT;
use crate::deployment::{Deployment, publish, records};
use crate::fake_gcs::FakeGcs;
use crate::papermill::papermill;
use crate::pubsub_emulator::PubSubEmulator;
use crate::runs::{BUCKET, notebook, stage};

const MESSAGES: usize = 10;
const CAP: usize = 2;

/// What ten messages to the capped profile came to.
struct Ran {
    /// Each run's record, once it is over (and cleaned up, for one that ran).
    records: Vec<Value>,
    /// The most instances up (provisioning or active) at any one look.
    peak: usize,
    /// Pushes the service answered 429: no slot.
    busy: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_messages_queue_behind_a_cap_of_two_and_all_run() {
    let Some(ran) = ten_messages("queue").await else {
        return;
    };
    let states: Vec<&Value> = ran.records.iter().map(|r| &r["state"]).collect();
    assert!(
        states.iter().all(|state| **state == "succeeded"),
        "{states:?}"
    );
    assert_eq!(
        ran.peak, CAP,
        "never more than the cap, and the cap reached"
    );
    assert!(ran.busy > 0, "some messages waited in the subscription");
    for record in &ran.records {
        assert!(
            record["lease"]
                .as_str()
                .is_some_and(|l| l.contains("/leases/capped/")),
            "{record:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_messages_against_a_cap_of_two_that_skips_run_two() {
    let Some(ran) = ten_messages("skip").await else {
        return;
    };
    let count = |state: &str| ran.records.iter().filter(|r| r["state"] == state).count();
    assert_eq!(
        (count("succeeded"), count("skipped")),
        (CAP, MESSAGES - CAP),
        "{:#?}",
        ran.records
    );
    assert!(ran.peak <= CAP, "{}", ran.peak);
    assert_eq!(ran.busy, 0, "a skipped message is acknowledged");
}

/// Publishes ten messages to a profile capped at two runs that does `when_busy`, and
/// watches the instances until every run is over; `None` where the tools are missing.
async fn ten_messages(when_busy: &str) -> Option<Ran> {
    if !papermill() {
        return None;
    }
    let gcs = FakeGcs::start().await?;
    let pubsub = PubSubEmulator::start(PROJECT)?;
    let nap = notebook("x = 0", &["import time\ntime.sleep(4)"]);
    let (storage, notebooks) = stage(&gcs, vec![("nb/nap/nap.ipynb", nap)]).await;
    let profiles = format!(
        "[profiles.capped]\nnotebook = \"gs://{BUCKET}/nb/nap/nap.ipynb\"\n\
         max_concurrent_runs = {CAP}\nwhen_busy = \"{when_busy}\"\n"
    );
    let deployed = Deployment::unsubscribed(&gcs, &notebooks, &profiles, &[]);
    let service = &deployed.service;
    subscribe(&pubsub, &service.endpoint()).await;
    for n in 0..MESSAGES {
        let data = json!({"profile": "capped", "parameters": {"x": n}}).to_string();
        publish(&pubsub, &data).await;
    }
    let (records, peak) = watch(&storage, &notebooks, Duration::from_secs(100)).await;
    let busy = service
        .log_lines()
        .iter()
        .filter(|line| line["status"] == 429)
        .count();
    eprintln!("when_busy = {when_busy}: at most {peak} instances up, {busy} pushes answered 429");
    Some(Ran {
        records,
        peak,
        busy,
    })
}

/// The topic and a push subscription to the service with neither a retry policy nor a
/// dead-letter policy: a nacked message is delivered again at once, for as long as it takes
/// (Google's emulator may stop redelivering messages nacked together three times under a
/// retry policy; see the README, "How the emulator differs from production").
async fn subscribe(pubsub: &PubSubEmulator, endpoint: &str) {
    let http = reqwest::Client::new();
    crate::pubsub_pull::put(&http, pubsub, "topics/trigger", json!({})).await;
    let subscription = json!({
        "topic": format!("projects/{PROJECT}/topics/trigger"),
        "pushConfig": {"pushEndpoint": endpoint},
        "ackDeadlineSeconds": 30,
    });
    crate::pubsub_pull::put(&http, pubsub, "subscriptions/trigger-push", subscription).await;
}

/// Looks at the instances every 50 ms until `MESSAGES` runs are over: their records, and the
/// most instances up at one look.
async fn watch(
    storage: &StorageClient,
    notebooks: &Emulator,
    limit: Duration,
) -> (Vec<Value>, usize) {
    let deadline = Instant::now() + limit;
    let mut peak = 0;
    let mut looked = Instant::now();
    loop {
        let up = notebooks
            .instances()
            .iter()
            .filter(|i| matches!(i["state"].as_str(), Some("PROVISIONING" | "ACTIVE")))
            .count();
        peak = peak.max(up);
        if looked.elapsed() > Duration::from_secs(1) {
            looked = Instant::now();
            let records = over(storage).await;
            if records.len() == MESSAGES {
                return (records, peak);
            }
            assert!(
                Instant::now() < deadline,
                "{} of {MESSAGES} runs over within {limit:?}: {records:#?}",
                records.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The records of the runs that are over: skipped, or ended and cleaned up.
async fn over(storage: &StorageClient) -> Vec<Value> {
    let mut records = records(storage).await;
    records.retain(|r| r["state"] == "skipped" || r["cleanup"].is_object());
    records
}
