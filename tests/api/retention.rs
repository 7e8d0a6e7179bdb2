//! Retention over real sockets, against the emulator's Cloud Storage (which honours a delete's
//! generation precondition as Google does): only runs that ended, were cleaned up and were
//! last written more than `keep_runs` ago lose their folder and record; a dry run deletes
//! nothing; a reap that died between the folder and the record is finished by the next; two
//! reaps at once delete each run once and fail none; a record written since it was judged is
//! not deleted; and start-up refuses profiles of one output that disagree.

use std::collections::BTreeSet;
use std::time::Duration;

use notebook_trigger::profile::Retention;
use notebook_trigger::reap::Reaper;
use notebook_trigger::run::{RecordDeleted, RunStore};
use notebooks_emulator::storage::StorageClient;
use serde_json::{Value, json};

use crate::helpers::{TestApp, refused_start};
use crate::reap::reaper;
use crate::runs::{BUCKET, record, record_object, run_id, runs_app, storage, write_record};

const KEEP: Duration = Duration::from_secs(2);

fn keeping(app: &TestApp) -> Reaper {
    reaper(app).with_retention(Retention::from([(format!("gs://{BUCKET}/runs"), KEEP)]))
}

fn store(app: &TestApp) -> RunStore {
    RunStore::new(
        StorageClient::new(app.emulator.storage_url().parse().unwrap()),
        notebook_trigger::credentials::Credentials::Anonymous,
    )
}

fn folder(run: &str) -> String {
    format!("gs://{BUCKET}/runs/{run}/")
}

/// Run `run`'s record with `changes` over its launched one, and `files` objects in its folder.
async fn put_run(app: &TestApp, run: &str, changes: Value, files: usize) {
    write_record(app, run, &format!("nb-{run}")).await;
    let mut now = record(app, run).await;
    for (key, value) in changes.as_object().unwrap() {
        now[key] = value.clone();
    }
    let storage = storage(app);
    let body = serde_json::to_vec(&now).unwrap();
    storage
        .upload(BUCKET, &record_object(run), "application/json", body)
        .await
        .unwrap();
    for i in 0..files {
        let name = format!("runs/{run}/outputs/file-{i}.csv");
        storage
            .upload(BUCKET, &name, "text/csv", b"a,b\n".to_vec())
            .await
            .unwrap();
    }
}

fn done() -> Value {
    json!({"state": "succeeded", "exit_code": 0,
           "cleanup": {"action": "delete", "at": "2026-12-01T10:05:00Z", "by": "report"}})
}

async fn objects(app: &TestApp, run: &str) -> Vec<String> {
    storage(app)
        .list(BUCKET, &format!("runs/{run}/"))
        .await
        .unwrap()
}

async fn has_record(app: &TestApp, run: &str) -> bool {
    storage(app)
        .download(BUCKET, &record_object(run))
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_only_runs_that_ended_were_cleaned_up_and_are_old() {
    let app = runs_app(&[]).await;
    let (old, going, owed, recent) = (run_id(0x61), run_id(0x62), run_id(0x63), run_id(0x64));
    put_run(&app, &old, done(), 3).await;
    put_run(&app, &going, json!({}), 1).await;
    let refused = json!({"state": "failed", "exit_code": 1,
        "cleanup": {"action": "stop", "at": "2026-12-01T10:05:00Z", "by": "report", "error": "UNAVAILABLE"}});
    put_run(&app, &owed, refused, 1).await;
    tokio::time::sleep(KEEP + Duration::from_millis(500)).await;
    put_run(&app, &recent, done(), 1).await;

    let dry = keeping(&app).reap(jiff::Timestamp::now(), true).await;
    assert_eq!(dry.expired.len(), 1, "{dry:?}");
    assert_eq!(
        (dry.expired[0].run_id.as_str(), dry.expired[0].objects),
        (old.as_str(), 3)
    );
    assert_eq!(dry.expired[0].result, "dry-run");
    let line = dry.lines().last().unwrap();
    assert!(
        line.starts_with(&format!(
            "delete run {old} ({}: 3 objects and its record): ended succeeded",
            folder(&old)
        )) && line.ends_with("more than keep_runs (2s) ago (dry-run)"),
        "{line}"
    );
    assert_eq!(
        objects(&app, &old).await.len(),
        3,
        "a dry run deletes nothing"
    );

    let reaped = keeping(&app).reap(jiff::Timestamp::now(), false).await;
    let expired: Vec<(&str, usize, &str)> = reaped
        .expired
        .iter()
        .map(|e| (e.run_id.as_str(), e.objects, e.result.as_str()))
        .collect();
    assert_eq!(expired, [(old.as_str(), 3, "done")], "{reaped:?}");
    assert!(objects(&app, &old).await.is_empty());
    assert!(!has_record(&app, &old).await);
    for kept in [&going, &owed, &recent] {
        assert!(has_record(&app, kept).await, "{kept}");
        assert_eq!(objects(&app, kept).await.len(), 1, "{kept}");
    }
    // Without keep_runs, nothing is ever deleted.
    put_run(&app, &run_id(0x65), done(), 1).await;
    tokio::time::sleep(KEEP + Duration::from_millis(500)).await;
    let forever = reaper(&app).reap(jiff::Timestamp::now(), false).await;
    assert!(forever.expired.is_empty(), "{forever:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reap_that_died_between_the_folder_and_the_record_is_finished_by_the_next() {
    let app = runs_app(&[]).await;
    let (emptied, halfway) = (run_id(0x66), run_id(0x67));
    // One reap deleted the folder and died before the record; another died halfway through
    // the folder.
    put_run(&app, &emptied, done(), 0).await;
    put_run(&app, &halfway, done(), 4).await;
    let first = objects(&app, &halfway).await[0].clone();
    storage(&app).delete(BUCKET, &first, None).await.unwrap();
    tokio::time::sleep(KEEP + Duration::from_millis(500)).await;
    let reaped = keeping(&app).reap(jiff::Timestamp::now(), false).await;
    let mut expired: Vec<(&str, usize, &str)> = reaped
        .expired
        .iter()
        .map(|e| (e.run_id.as_str(), e.objects, e.result.as_str()))
        .collect();
    expired.sort();
    let mut want = [(emptied.as_str(), 0, "done"), (halfway.as_str(), 3, "done")];
    want.sort();
    assert_eq!(expired, want, "{reaped:?}");
    for run in [&emptied, &halfway] {
        assert!(!has_record(&app, run).await && objects(&app, run).await.is_empty());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reaps_at_once_delete_each_old_run_once_and_fail_none() {
    let app = runs_app(&[]).await;
    let runs: Vec<String> = (0x70..0x76).map(run_id).collect();
    for run in &runs {
        put_run(&app, run, done(), 5).await;
    }
    tokio::time::sleep(KEEP + Duration::from_millis(500)).await;
    let (a, b) = (keeping(&app), keeping(&app));
    let now = jiff::Timestamp::now();
    let (first, second) = tokio::join!(a.reap(now, false), b.reap(now, false));
    let results: Vec<_> = first.expired.iter().chain(&second.expired).collect();
    let seen: BTreeSet<&str> = results.iter().map(|e| e.run_id.as_str()).collect();
    assert_eq!(
        seen,
        runs.iter().map(String::as_str).collect(),
        "{results:#?}"
    );
    for expired in &results {
        assert!(
            ["done", "done by another reap"].contains(&expired.result.as_str()),
            "{expired:?}"
        );
    }
    let deleted_by_one = results.iter().filter(|e| e.result == "done").count();
    assert_eq!(
        deleted_by_one,
        runs.len(),
        "each record is deleted once: {results:#?}"
    );
    for run in &runs {
        assert!(!has_record(&app, run).await && objects(&app, run).await.is_empty());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_written_since_it_was_judged_is_not_deleted() {
    let app = runs_app(&[]).await;
    let run = run_id(0x68);
    put_run(&app, &run, done(), 0).await;
    let store = store(&app);
    let (_, judged) = store
        .read_with_generation(&folder(&run))
        .await
        .unwrap()
        .unwrap();
    // A late report kept beside the outcome, written after the judgement.
    put_run(&app, &run, done(), 0).await;
    let deleted = store.delete_record(&folder(&run), judged).await.unwrap();
    assert_eq!(deleted, RecordDeleted::Changed);
    assert!(has_record(&app, &run).await);
    let (_, now) = store
        .read_with_generation(&folder(&run))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.delete_record(&folder(&run), now).await.unwrap(),
        RecordDeleted::Deleted
    );
    assert_eq!(
        store.delete_record(&folder(&run), now).await.unwrap(),
        RecordDeleted::Gone
    );
    app.stop().await;
}

#[tokio::test]
async fn start_up_refuses_a_keep_runs_it_cannot_honour_naming_where_it_is() {
    let profiles = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    std::fs::write(
        profiles.path(),
        "[profiles.forever]\nkeep_runs = \"400d\"\n",
    )
    .unwrap();
    let base = [
        ("GOOGLE_CLOUD_PROJECT", "p"),
        ("NOTEBOOK_LOCATION", "us-central1-a"),
        ("CONTAINER_IMAGE", "us-docker.pkg.dev/p/r/img"),
        ("NOTEBOOK", "/home/jupyter/seed.ipynb"),
        ("NOTEBOOK_OUTPUT", "gs://bkt/runs"),
        ("RUNNER_SCRIPT", "gs://bkt/runner.sh"),
        ("SERVICE_URL", "https://trigger.example"),
    ];
    let bad = refused_start(&[&base[..], &[("KEEP_RUNS", "3 months")]].concat()).await;
    assert!(
        bad.contains("KEEP_RUNS") && bad.contains("`3 months`"),
        "{bad}"
    );
    let file = profiles.path().to_str().unwrap();
    let disagree =
        refused_start(&[&base[..], &[("KEEP_RUNS", "90d"), ("PROFILES_FILE", file)]].concat())
            .await;
    assert!(
        disagree.contains("PROFILES_FILE")
            && disagree.contains("profiles `default` and `forever` both write runs to gs://bkt/runs but keep them for 90d and 400d"),
        "{disagree}"
    );
}
