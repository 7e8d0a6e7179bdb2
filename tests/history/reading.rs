//! A short listing over many records: `runs --limit N` reads the newest writes first and
//! stops once no record left unread can hold a newer run. The records are written on the
//! emulator's clock at their runs' ends, so each object's `updated` time is what production
//! shows, and long runs launched early are written last.

use notebook_trigger::run::RECORDS_PREFIX;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use notebooks_emulator::storage::StorageClient;
use notebooks_emulator::{Emulator, EmulatorConfig, ManualClock};
use serde_json::json;

use super::{BUCKET, OUTPUTS, PROJECT, ids, listing, test_log};

/// More records than one read batch holds.
const RUNS: u64 = 150;
/// Long runs, launched first and written last: more than one read batch holds.
const LONG: u64 = 70;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_listing_stops_reading_with_the_newest_runs_in_hand() {
    test_log::init();
    let now = Timestamp::now();
    let start = now - SignedDuration::from_hours(24 * 30);
    let clock = Arc::new(ManualClock::new(start));
    let emulator = Emulator::start_with_clock(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        EmulatorConfig::default(),
        clock.clone(),
    )
    .await
    .unwrap();
    let storage = StorageClient::new(emulator.storage_url().parse().unwrap());
    storage.ensure_bucket(PROJECT, BUCKET).await.unwrap();

    // Run i is launched i hours after the start. The first LONG runs are still going until
    // the last hour, so the newest writes are theirs, more than a read batch of them; the
    // others end 10 minutes after their launch. The newest runs are among those.
    let mut runs: Vec<(String, Timestamp, Timestamp)> = (0..RUNS)
        .map(|i| {
            let launched = start + SignedDuration::from_hours(i as i64);
            let written = if i < LONG {
                now - SignedDuration::from_mins((LONG - i) as i64)
            } else {
                launched + SignedDuration::from_mins(10)
            };
            (format!("r{i:016x}"), launched, written)
        })
        .collect();
    runs.sort_by_key(|(_, _, written)| *written);
    let mut at = start;
    for (run, launched, written) in &runs {
        clock.advance(Duration::try_from(*written - at).unwrap());
        at = *written;
        let record = json!({
            "schema": 1, "run_id": run, "trigger": "pubsub", "profile": "default",
            "notebook": format!("gs://{BUCKET}/nb/seed.ipynb"),
            "instance": format!("projects/{PROJECT}/locations/us-central1-a/instances/nb-{run}"),
            "output": format!("gs://{BUCKET}/{}/{run}/", OUTPUTS[0].1),
            "launched": launched.to_string(), "state": "succeeded",
            "started": launched.to_string(), "finished": written.to_string(), "exit_code": 0,
        });
        storage
            .upload(
                BUCKET,
                &format!("{RECORDS_PREFIX}/{}/{run}.json", OUTPUTS[0].1),
                "application/json",
                serde_json::to_vec(&record).unwrap(),
            )
            .await
            .unwrap();
    }
    let mut newest = runs.clone();
    newest.sort_by_key(|(_, launched, _)| std::cmp::Reverse(*launched));
    let newest: Vec<String> = newest.into_iter().map(|(run, _, _)| run).collect();

    let address = emulator.storage_url();
    let (short, _) = listing(&emulator, &address, &["--limit", "5"]);
    assert_eq!(ids(&short), newest[..5], "{short:#}");
    assert_eq!(short["complete"], false, "reading stopped early: {short:#}");
    assert!(
        short["matched"].as_u64().unwrap() < RUNS,
        "fewer records read than there are: {short:#}"
    );

    let (all, _) = listing(&emulator, &address, &["--limit", "0"]);
    assert_eq!(ids(&all), newest);
    assert_eq!(
        (all["complete"].clone(), all["matched"].clone()),
        (json!(true), json!(RUNS))
    );

    emulator.shutdown().await;
}
