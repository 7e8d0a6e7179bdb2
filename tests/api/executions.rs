//! Runs that execute as notebook execution jobs (`BACKEND=execution`), against the emulator's
//! `notebookExecutionJobs`: a launch creates one job from the parameterized copy by its
//! generation, a redelivery (or the same message twice at once) finds the same job, the reap
//! ends a run when its job ends (once, however many reaps race, and again after one that read
//! the job and wrote nothing), retries a failed one, and a cancel deletes the job.

use serde_json::{Value, json};

use notebooks_emulator::storage::StorageClient;

use crate::helpers::{EMULATOR_STORAGE, PROJECT, TestApp, json, spawn_app};
use crate::operate::{OPERATOR, act, operators};
use crate::run_launch::{notebook, record, upload};
use crate::tokens::Issuer;

/// The variables of a deployment whose runs execute `gs://runs-bucket/nb/seed.ipynb` (which
/// declares `rows` and `label`) as jobs in us-central1; `extra` adds or replaces variables.
async fn spawn_executions(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("BACKEND", "execution"),
        ("POST_STARTUP_SCRIPT", ""),
        ("NOTEBOOK", "gs://runs-bucket/nb/seed.ipynb"),
        ("NOTEBOOK_OUTPUT", "gs://runs-bucket/runs/"),
        ("NOTEBOOK_PARAMETERS", r#"{"rows": 3, "label": "default"}"#),
        ("MAX_RUN_TIME", "20m"),
        ("STORAGE_EMULATOR_HOST", EMULATOR_STORAGE),
    ];
    vars.extend_from_slice(extra);
    let app = spawn_app(&vars).await;
    upload(
        &app,
        "nb/seed.ipynb",
        notebook(Some("rows = 1\nlabel = 'x'")),
    );
    app
}

fn storage(app: &TestApp) -> StorageClient {
    StorageClient::new(reqwest::Url::parse(&app.emulator.storage_url()).unwrap())
}

/// The job of run `run`'s name.
fn job_name(run: &str) -> String {
    format!("projects/{PROJECT}/locations/us-central1/notebookExecutionJobs/notebook-{run}")
}

/// Pushes message `id` and returns its run id, checking it was answered `outcome`.
async fn launch(app: &TestApp, id: &str, outcome: &str) -> String {
    let (status, answer) = app.push(id, "{}").await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some(outcome)),
        "{answer}"
    );
    answer["run_id"].as_str().unwrap().to_owned()
}

/// Moves run `run`'s job to `state` with a status of `code` and `message`.
fn end_job(app: &TestApp, run: &str, state: &str, code: i32, message: &str) {
    app.emulator
        .set_execution_state(
            &job_name(run),
            state,
            Some(json!({"code": code, "message": message})),
        )
        .unwrap();
}

/// Pushes a reap message `id`: its answer.
async fn reap(app: &TestApp, id: &str, dry_run: bool) -> Value {
    let data = json!({"action": "reap", "dry_run": dry_run}).to_string();
    let (status, answer) = app.push(id, &data).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_creates_one_job_from_the_parameterized_copy_and_a_redelivery_finds_it() {
    let app = spawn_executions(&[("INSTANCE_LABELS", "team=ml")]).await;
    let run = launch(&app, "7001", "created").await;
    let creates = app.emulator.execution_create_requests();
    assert_eq!(creates.len(), 1);
    let sent = &creates[0];
    assert_eq!(
        sent.parent,
        format!("projects/{PROJECT}/locations/us-central1")
    );
    assert_eq!(
        sent.job_id.as_deref(),
        Some(format!("notebook-{run}").as_str())
    );
    let body = &sent.body;
    let copy = format!("notebook-trigger-records/runs/{run}.ipynb");
    assert_eq!(
        body["gcsNotebookSource"]["uri"],
        format!("gs://runs-bucket/{copy}"),
        "{body}"
    );
    let metadata = storage(&app).metadata("runs-bucket", &copy).await.unwrap();
    assert_eq!(
        body["gcsNotebookSource"]["generation"], metadata["generation"],
        "the job runs the copy by its generation: {body}"
    );
    let written: Value =
        serde_json::from_slice(&storage(&app).download("runs-bucket", &copy).await.unwrap())
            .unwrap();
    let injected = &written["cells"][1];
    assert_eq!(
        injected["metadata"]["tags"],
        json!(["injected-parameters"]),
        "{written}"
    );
    let source: String = serde_json::from_value::<Vec<String>>(injected["source"].clone())
        .map(|lines| lines.concat())
        .unwrap_or_else(|_| injected["source"].as_str().unwrap_or_default().to_owned());
    assert!(
        source.contains("rows = 3") && source.contains("label = \"default\""),
        "{source}"
    );
    assert_eq!(body["gcsOutputUri"], format!("gs://runs-bucket/runs/{run}"));
    assert_eq!(body["kernelName"], "python3");
    assert_eq!(body["executionTimeout"], "1200s");
    assert_eq!(body["displayName"], run.as_str());
    assert_eq!(body["labels"]["run-id"], run.as_str());
    assert_eq!(body["labels"]["managed-by"], "notebook-trigger");
    assert_eq!(body["labels"]["team"], "ml");
    let recorded = record(&app, &run).await;
    assert_eq!(recorded["execution"], job_name(&run), "{recorded}");
    assert!(recorded.get("instance").is_none(), "{recorded}");
    assert!(app.instances().is_empty(), "no instance for an execution");

    launch(&app, "7001", "already-launched").await;
    assert_eq!(
        app.emulator.executions().len(),
        1,
        "the redelivery created nothing"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pushes_of_one_message_at_once_create_one_job() {
    let app = spawn_executions(&[]).await;
    let (first, second) = tokio::join!(app.push("7002", "{}"), app.push("7002", "{}"));
    let mut outcomes = vec![first.1["outcome"].clone(), second.1["outcome"].clone()];
    outcomes.sort_by_key(Value::to_string);
    assert_eq!((first.0, second.0), (200, 200), "{first:?} {second:?}");
    assert_eq!(outcomes, [json!("already-launched"), json!("created")]);
    assert_eq!(app.emulator.executions().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_another_run_under_the_id_is_not_adopted() {
    let app = spawn_executions(&[("ALLOWED_OVERRIDES", "dry_run")]).await;
    let (_, dry) = app.push("7003", r#"{"dry_run": true}"#).await;
    let run = dry["run_id"].as_str().unwrap().to_owned();
    let planted = json!({
        "displayName": "someone else's",
        "gcsNotebookSource": {"uri": "gs://runs-bucket/nb/seed.ipynb"},
        "gcsOutputUri": "gs://runs-bucket/elsewhere",
        "labels": {"managed-by": "notebook-trigger", "run-id": run.as_str(), "trigger-key": "0000000000000000"}
    });
    let url = format!(
        "{}/v1/projects/{PROJECT}/locations/us-central1/notebookExecutionJobs?notebookExecutionJobId=notebook-{run}",
        app.emulator.base_url()
    );
    let made = reqwest::Client::new()
        .post(url)
        .json(&planted)
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{:?}", made.text().await);
    let (status, answer) = app.push("7003", "{}").await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("not this run's"),
        "{answer}"
    );
    let recorded = record(&app, &run).await;
    assert_eq!(recorded["state"], "failed", "{recorded}");
    assert_eq!(
        app.emulator.executions()[0]["displayName"],
        "someone else's"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_the_job_and_creates_nothing() {
    let app = spawn_executions(&[("ALLOWED_OVERRIDES", "dry_run")]).await;
    let (status, dry) = app.push("7005", r#"{"dry_run": true}"#).await;
    assert_eq!(
        (status, dry["outcome"].as_str()),
        (200, Some("dry-run")),
        "{dry}"
    );
    let shown = &dry["request"];
    let run = dry["run_id"].as_str().unwrap();
    assert_eq!(
        shown["url"],
        format!(
            "{}/v1/projects/{PROJECT}/locations/us-central1/notebookExecutionJobs?notebookExecutionJobId=notebook-{run}",
            app.emulator.base_url()
        ),
        "{dry}"
    );
    assert_eq!(shown["body"]["displayName"], run, "{dry}");
    assert!(app.emulator.executions().is_empty());
    assert!(app.emulator.execution_create_requests().is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reap_ends_a_succeeded_run_succeeded_and_a_failed_one_failed_with_its_message() {
    let app = spawn_executions(&[]).await;
    let won = launch(&app, "7010", "created").await;
    let lost = launch(&app, "7011", "created").await;
    let going = launch(&app, "7012", "created").await;
    upload(
        &app,
        &format!("runs/{won}/notebook-{won}/seed.ipynb"),
        b"{}".to_vec(),
    );
    end_job(&app, &won, "JOB_STATE_SUCCEEDED", 0, "");
    end_job(
        &app,
        &lost,
        "JOB_STATE_FAILED",
        2,
        "ValueError: rows must be positive",
    );
    let reaped = reap(&app, "reap-7010", false).await;
    let ended = reaped["executions"].as_array().unwrap();
    assert_eq!(ended.len(), 2, "{reaped}");
    assert!(ended.iter().all(|e| e["result"] == "done"), "{reaped}");
    let succeeded = record(&app, &won).await;
    assert_eq!(succeeded["state"], "succeeded", "{succeeded}");
    assert_eq!(
        succeeded["outputs"],
        json!([format!(
            "gs://runs-bucket/runs/{won}/notebook-{won}/seed.ipynb"
        )]),
        "the run's files are its folder's: {succeeded}"
    );
    let failed = record(&app, &lost).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error"], "ValueError: rows must be positive");
    assert_eq!(record(&app, &going).await["state"], "launched");
    let again = reap(&app, "reap-7011", false).await;
    assert_eq!(again["executions"], json!([]), "ended once: {again}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_is_retried_as_its_profile_says() {
    let app = spawn_executions(&[("RETRIES", "1"), ("RETRY_DELAY", "0s")]).await;
    let run = launch(&app, "7020", "created").await;
    end_job(&app, &run, "JOB_STATE_FAILED", 2, "boom");
    let reaped = reap(&app, "reap-7020", false).await;
    assert_eq!(reaped["executions"][0]["state"], "failed", "{reaped}");
    let failed = record(&app, &run).await;
    assert!(failed["next_attempt"].is_object(), "{failed}");
    let mut jobs = app.emulator.executions().len();
    for attempt in 0..20 {
        if jobs == 2 {
            break;
        }
        reap(&app, &format!("reap-7020-{attempt}"), false).await;
        jobs = app.emulator.executions().len();
    }
    assert_eq!(jobs, 2, "the retry is a job of its own");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reaps_at_once_end_a_run_once() {
    let app = spawn_executions(&[]).await;
    let run = launch(&app, "7030", "created").await;
    end_job(&app, &run, "JOB_STATE_SUCCEEDED", 0, "");
    let (first, second) = tokio::join!(
        reap(&app, "reap-7030-a", false),
        reap(&app, "reap-7030-b", false)
    );
    let done: Vec<&Value> = [&first, &second]
        .iter()
        .flat_map(|r| r["executions"].as_array().unwrap())
        .filter(|e| e["result"] == "done")
        .collect();
    assert_eq!(done.len(), 1, "{first} {second}");
    assert_eq!(record(&app, &run).await["state"], "succeeded");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reap_that_read_the_job_and_wrote_nothing_is_repaired_by_the_next() {
    let app = spawn_executions(&[("ALLOWED_OVERRIDES", "dry_run")]).await;
    let run = launch(&app, "7040", "created").await;
    end_job(&app, &run, "JOB_STATE_FAILED", 4, "deadline exceeded");
    // A dry run reads the job and writes nothing: what a reap that died between the read and
    // the write leaves behind.
    let read_only = reap(&app, "reap-7040-a", true).await;
    assert_eq!(
        read_only["executions"][0]["result"], "dry-run",
        "{read_only}"
    );
    assert_eq!(record(&app, &run).await["state"], "launched");
    let repaired = reap(&app, "reap-7040-b", false).await;
    assert_eq!(repaired["executions"][0]["result"], "done", "{repaired}");
    assert_eq!(record(&app, &run).await["state"], "timed_out");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_deleted_from_outside_makes_its_run_lost() {
    let app = spawn_executions(&[("RUN_LOST_AFTER", "2s"), ("POLL_TIMEOUT", "1500ms")]).await;
    let run = launch(&app, "7050", "created").await;
    let url = format!("{}/v1/{}", app.emulator.base_url(), job_name(&run));
    let deleted = reqwest::Client::new().delete(url).send().await.unwrap();
    assert!(deleted.status().is_success(), "{deleted:?}");
    // Within RUN_LOST_AFTER of its launch a job not there may still be in the making (a
    // launch writes the record, then the copy, then creates): the run goes on.
    let early = reap(&app, "reap-7049", false).await;
    assert_eq!(early["executions"], json!([]), "{early}");
    assert_eq!(record(&app, &run).await["state"], "launched");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let reaped = reap(&app, "reap-7050", false).await;
    assert_eq!(reaped["executions"][0]["state"], "lost", "{reaped}");
    assert_eq!(record(&app, &run).await["state"], "lost");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_deletes_the_job_and_records_the_run_cancelled() {
    let issuer = Issuer::start().await;
    let vars = operators(&issuer);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_executions(&vars).await;
    let run = launch(&app, "7060", "created").await;
    let path = format!("/runs/{run}/cancel");
    let (status, answer) = act(&app, &path, OPERATOR, json!({}), &[]).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["instance"], job_name(&run), "{answer}");
    assert!(
        app.emulator
            .executions()
            .iter()
            .all(|job| job["name"] != job_name(&run))
    );
    let recorded = record(&app, &run).await;
    assert_eq!(recorded["state"], "cancelled", "{recorded}");
    assert!(
        recorded["error"].as_str().unwrap().contains(OPERATOR),
        "{recorded}"
    );
    let (status, again) = act(&app, &path, OPERATOR, json!({}), &[]).await;
    assert_eq!(status, 409, "an ended run is left as it is: {again}");
    app.stop().await;
}

/// `GET path` as JSON.
async fn read(app: &TestApp, path: &str) -> Value {
    let response = app.http.get(format!("{}{path}", app.address)).send();
    json(response.await.unwrap()).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runs_listing_shows_the_state_of_each_job_still_going() {
    let app = spawn_executions(&[("RUNS_AUTH", "off")]).await;
    let going = launch(&app, "7030", "created").await;
    let done = launch(&app, "7031", "created").await;
    app.emulator
        .set_execution_state(&job_name(&going), "JOB_STATE_RUNNING", None)
        .unwrap();
    end_job(&app, &done, "JOB_STATE_SUCCEEDED", 0, "");
    let listing = read(&app, "/runs").await;
    let row = |run: &str| {
        listing["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["run_id"] == run)
            .cloned()
            .unwrap_or_else(|| panic!("no {run} in {listing}"))
    };
    let running = row(&going);
    assert_eq!(running["status"], "running", "{running}");
    assert_eq!(running["instance_state"], "JOB_STATE_RUNNING", "{running}");
    // Ended on Google's side, not yet recorded: shown as it is until a reap records it.
    let ended = row(&done);
    assert_eq!(ended["status"], "launched", "{ended}");
    assert_eq!(ended["instance_state"], "JOB_STATE_SUCCEEDED", "{ended}");
    reap(&app, "reap-7030", false).await;
    let shown = read(&app, &format!("/runs/{done}")).await;
    assert_eq!(shown["status"], "succeeded", "{shown}");
    assert!(shown.get("instance_state").is_none(), "{shown}");
    app.stop().await;
}
