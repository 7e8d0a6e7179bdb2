//! A run ends exactly once: the record moves by compare-and-swap, so reports, reapers and
//! crashes between two steps can neither lose an outcome nor clean up twice, and what a run's
//! VM can write cannot stand in for its record. Over real sockets, against the emulator's
//! Cloud Storage, which honours generation preconditions as Google does.

use std::time::Duration;

use notebook_trigger::run::RECORDS_PREFIX;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::reap::{reaper, reaper_losing_after, wait_active};
use crate::run_launch::spawn_runs;
use crate::runs::{
    BUCKET, create_instance, instance_name, record, record_object, report, run_id, runs_app, send,
    state_of, storage, token, write_record,
};

/// Writes run `run`'s record as it would be after some steps: the launched record with
/// `changes` over it.
async fn put_record(app: &TestApp, run: &str, instance: &str, changes: Value) {
    write_record(app, run, instance).await;
    let mut now = record(app, run).await;
    for (key, value) in changes.as_object().unwrap() {
        now[key] = value.clone();
    }
    storage(app)
        .upload(
            BUCKET,
            &record_object(run),
            "application/json",
            serde_json::to_vec(&now).unwrap(),
        )
        .await
        .unwrap();
}

fn gone_or_going(state: Option<&str>) -> bool {
    matches!(state, None | Some("DELETING" | "DELETED"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_reports_sent_at_once_one_is_taken_and_the_other_is_a_repeat() {
    let app = runs_app(&[]).await;
    let run = run_id(0x21);
    create_instance(&app, "nb-twice", &run, true, true).await;
    write_record(&app, &run, "nb-twice").await;
    let token = token(&app, "nb-twice", "service").await;
    let body = report(&run, "succeeded");
    let (first, second) = tokio::join!(
        send(&app, &run, Some(&token), &body),
        send(&app, &run, Some(&token), &body)
    );
    assert_eq!((first.0, second.0), (200, 200), "{first:?} {second:?}");
    let mut repeated = [first.1["repeated"].clone(), second.1["repeated"].clone()];
    repeated.sort_by_key(|r| r.as_bool());
    assert_eq!(
        repeated,
        [json!(false), json!(true)],
        "{first:?} {second:?}"
    );
    let recorded = record(&app, &run).await;
    assert_eq!(recorded["state"], "succeeded", "{recorded}");
    assert_eq!(recorded["cleanup"]["by"], "report", "{recorded}");
    assert!(recorded["cleanup"].get("error").is_none(), "{recorded}");
    assert!(gone_or_going(state_of(&app, "nb-twice").as_deref()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_repeated_after_a_crash_between_outcome_and_cleanup_does_the_cleanup() {
    let app = runs_app(&[]).await;
    let run = run_id(0x22);
    create_instance(&app, "nb-crashed", &run, true, true).await;
    // The service wrote the outcome and died before the cleanup.
    put_record(
        &app,
        &run,
        "nb-crashed",
        json!({"state": "succeeded", "exit_code": 0}),
    )
    .await;
    let token = token(&app, "nb-crashed", "service").await;
    let (status, answer) = send(&app, &run, Some(&token), &report(&run, "succeeded")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["repeated"], true, "{answer}");
    assert_eq!(answer["cleanup"]["action"], "delete", "{answer}");
    let recorded = record(&app, &run).await;
    assert_eq!(recorded["cleanup"]["by"], "report", "{recorded}");
    assert!(gone_or_going(state_of(&app, "nb-crashed").as_deref()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_planted_in_the_runs_folder_is_not_the_runs_record() {
    let app = runs_app(&[]).await;
    let run = run_id(0x23);
    create_instance(&app, "nb-planted", &run, true, true).await;
    write_record(&app, &run, "nb-planted").await;
    // What the VM's grant lets it write: an object in its run's folder, named as records
    // once were, claiming success and asking to be kept.
    let planted = json!({
        "schema": 1, "run_id": run, "trigger": "pubsub", "profile": "default",
        "notebook": "gs://x/y.ipynb", "instance": instance_name("nb-planted"),
        "output": format!("gs://{BUCKET}/runs/{run}/"), "launched": "2026-12-01T10:00:00Z",
        "state": "succeeded", "cleanup": {"action": "keep", "at": "2026-12-01T10:00:00Z", "by": "report"},
    });
    storage(&app)
        .upload(
            BUCKET,
            &format!("runs/{run}/run.json"),
            "application/json",
            serde_json::to_vec(&planted).unwrap(),
        )
        .await
        .unwrap();
    let token = token(&app, "nb-planted", "service").await;
    let (status, answer) = send(&app, &run, Some(&token), &report(&run, "failed")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["repeated"], false, "{answer}");
    assert_eq!(answer["state"], "failed", "{answer}");
    assert_eq!(record(&app, &run).await["state"], "failed");
    assert_eq!(
        state_of(&app, "nb-planted")
            .as_deref()
            .map(|s| s.starts_with("STOP")),
        Some(true)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_instance_is_gone_is_recorded_lost_once() {
    let app = runs_app(&[]).await;
    let run = run_id(0x24);
    // Its instance was deleted from outside, or never made: the run can never report.
    write_record(&app, &run, "nb-vanished").await;
    let losing = reaper_losing_after(&app, Duration::ZERO);
    let dry = losing.reap(jiff::Timestamp::now(), true).await;
    assert_eq!(dry.lost.len(), 1, "{dry:?}");
    assert_eq!(dry.lost[0].result, "dry-run");
    assert_eq!(
        record(&app, &run).await["state"],
        "launched",
        "a dry run writes nothing"
    );
    let reaped = losing.reap(jiff::Timestamp::now(), false).await;
    assert_eq!(reaped.lost.len(), 1, "{reaped:?}");
    assert_eq!(reaped.lost[0].result, "done", "{reaped:?}");
    let recorded = record(&app, &run).await;
    assert_eq!(recorded["state"], "lost", "{recorded}");
    assert!(
        recorded["error"]
            .as_str()
            .unwrap()
            .contains("is gone and it never reported"),
        "{recorded}"
    );
    let again = losing.reap(jiff::Timestamp::now(), false).await;
    assert!(again.lost.is_empty(), "{again:?}");
    // A run that is young, or whose instance is up, is not lost.
    let young = run_id(0x25);
    write_record(&app, &young, "nb-young").await;
    assert!(
        reaper(&app)
            .reap(jiff::Timestamp::now(), false)
            .await
            .lost
            .is_empty()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_reapers_at_once_stop_a_stray_once_and_record_no_false_failure() {
    let app = runs_app(&[]).await;
    let run = run_id(0x26);
    create_instance(&app, "nb-raced", &run, true, false).await;
    write_record(&app, &run, "nb-raced").await;
    wait_active(&app, &["nb-raced"]).await;
    // Past max_run_time (1 s) and RUN_GRACE (1 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reaper = reaper(&app);
    let now = jiff::Timestamp::now();
    let racing: Vec<_> = (0..8)
        .map(|_| {
            let reaper = reaper.clone();
            tokio::spawn(async move { reaper.reap(now, false).await })
        })
        .collect();
    let mut reaps = Vec::new();
    for reap in racing {
        reaps.push(reap.await.unwrap());
    }
    for reap in &reaps {
        for verdict in &reap.verdicts {
            assert!(!verdict.result.starts_with("failed"), "{reaps:#?}");
        }
    }
    let recorded = record(&app, &run).await;
    assert_eq!(recorded["state"], "unreported", "{recorded}");
    assert_eq!(recorded["cleanup"]["by"], "reaper", "{recorded}");
    assert!(recorded["cleanup"].get("error").is_none(), "{recorded}");
    assert!(matches!(
        state_of(&app, "nb-raced").as_deref(),
        Some("STOPPING" | "STOPPED")
    ));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reap_message_asking_for_a_dry_run_changes_nothing() {
    let app = runs_app(&[("ALLOWED_OVERRIDES", "dry_run"), ("RUN_GRACE", "1s")]).await;
    let run = run_id(0x27);
    create_instance(&app, "nb-dry", &run, true, false).await;
    write_record(&app, &run, "nb-dry").await;
    wait_active(&app, &["nb-dry"]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, answer) = app
        .push("reap-dry", r#"{"action":"reap","dry_run":true}"#)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["dry_run"], true, "{answer}");
    assert_eq!(answer["verdicts"][0]["result"], "dry-run", "{answer}");
    assert_eq!(state_of(&app, "nb-dry").as_deref(), Some("ACTIVE"));
    assert_eq!(record(&app, &run).await["state"], "launched");
    app.stop().await;

    let closed = runs_app(&[]).await;
    let (status, answer) = closed
        .push("reap-dry", r#"{"action":"reap","dry_run":true}"#)
        .await;
    assert_eq!(status, 400, "dry_run is not allowed: {answer}");
    closed.stop().await;
}

#[tokio::test]
async fn a_create_refused_for_good_ends_the_runs_record() {
    let app = spawn_runs(&[]).await;
    app.emulator.set_operation_failure(1.0, "PERMISSION_DENIED");
    let (status, answer) = app.push("2101", "go").await;
    assert_eq!(status, 422, "{answer}");
    let storage = storage(&app);
    let prefix = format!("{RECORDS_PREFIX}/runs/");
    let names = storage.list("runs-bucket", &prefix).await.unwrap();
    assert_eq!(names.len(), 1, "{names:?}");
    let recorded: Value =
        serde_json::from_slice(&storage.download("runs-bucket", &names[0]).await.unwrap()).unwrap();
    assert_eq!(recorded["state"], "failed", "{recorded}");
    assert!(
        recorded["error"]
            .as_str()
            .unwrap()
            .starts_with("not launched: "),
        "{recorded}"
    );
    // A redelivery of the same message finds the run ended and creates nothing.
    app.emulator.set_operation_failure(0.0, "PERMISSION_DENIED");
    let (status, again) = app.push("2101", "go").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["outcome"], "ended", "{again}");
    assert!(app.instances().is_empty(), "{:?}", app.instances());
    app.stop().await;
}

/// Sixteen writers change one record at once, each adding its own mark: with every write a
/// compare-and-swap, none is lost. Against the emulator's Cloud Storage, and against
/// fake-gcs-server where it is installed (a Cloud Storage emulator that is not ours).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writers_lose_no_update() {
    let app = runs_app(&[]).await;
    racing_writers(&app.emulator.storage_url(), BUCKET).await;
    app.stop().await;
    if let Some(gcs) = crate::fake_gcs::FakeGcs::start().await {
        let client = notebooks_emulator::storage::StorageClient::new(gcs.url.parse().unwrap());
        client.ensure_bucket("p", "race-bucket").await.unwrap();
        racing_writers(&gcs.url, "race-bucket").await;
    }
}

async fn racing_writers(storage_url: &str, bucket: &str) {
    use notebook_trigger::credentials::Credentials;
    use notebook_trigger::run::{Created, RunRecord, RunStore, Updated};
    let store = RunStore::new(
        notebooks_emulator::storage::StorageClient::new(storage_url.parse().unwrap()),
        Credentials::Anonymous,
    );
    let run = run_id(0x28);
    let mut record: RunRecord = serde_json::from_value(json!({
        "schema": 1, "run_id": run, "trigger": "pubsub", "profile": "default",
        "notebook": "gs://x/y.ipynb", "instance": instance_name("nb-race"),
        "output": format!("gs://{bucket}/runs/{run}/"), "launched": "2026-12-01T10:00:00Z",
        "state": "launched",
    }))
    .unwrap();
    assert!(matches!(store.create(&record).await.unwrap(), Created::New));
    record.profile = "second".into();
    assert!(
        matches!(store.create(&record).await.unwrap(), Created::Existing(r) if r.profile == "default"),
        "a second create leaves the first record"
    );
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let (store, folder) = (store.clone(), record.output.clone());
            tokio::spawn(async move {
                store
                    .update(&folder, |now| {
                        let mut next = now.clone();
                        next.parameters.insert(format!("w{i}"), json!(i));
                        Some(next)
                    })
                    .await
            })
        })
        .collect();
    for writer in writers {
        assert!(matches!(
            writer.await.unwrap().unwrap(),
            Some(Updated::Written { .. })
        ));
    }
    let after = store.read(&record.output).await.unwrap().unwrap();
    assert_eq!(after.parameters.len(), 16, "{:?}", after.parameters);
}
