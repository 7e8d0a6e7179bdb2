//! A run's secrets: read from the emulator's Secret Manager with the instance's own token, given
//! to the kernel as environment variables, and found nowhere else: not in the metadata, the
//! console, the log, the report or any object the run left (records and events are the
//! service's, which only ever holds the secrets' names). One the instance may not read fails
//! the run before papermill starts, naming the variable and the secret.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use notebook_trigger::run::Outcome;
use serde_json::json;

use crate::{BUCKET, Bench, Finished, Job, PROJECT, notebook, run_id};

/// The instances' account (see [`Bench::launch`]).
const ACCOUNT: &str = "runner@runner-project.iam.gserviceaccount.com";

/// A value no output could hold by chance, with what a shell or JSON would mangle: quotes, a
/// backslash, a `$`, and a trailing newline.
fn password() -> (String, String) {
    let marker = format!("pw-{}", uuid::Uuid::new_v4().simple());
    (format!("{marker} 'q\"\\ $HOME\n"), marker)
}

/// Creates secret `id` holding `value`, readable by the instances' account when `granted`.
async fn seed(bench: &Bench, id: &str, value: &str, granted: bool) {
    let root = format!(
        "{}v1/projects/{PROJECT}/secrets",
        bench.emulator.secretmanager_url()
    );
    let client = reqwest::Client::new();
    let mut calls = vec![
        (
            format!("{root}?secretId={id}"),
            json!({"replication": {"automatic": {}}}),
        ),
        (
            format!("{root}/{id}:addVersion"),
            json!({"payload": {"data": STANDARD.encode(value)}}),
        ),
    ];
    if granted {
        let binding = json!({"role": "roles/secretmanager.secretAccessor",
            "members": [format!("serviceAccount:{ACCOUNT}")]});
        calls.push((
            format!("{root}/{id}:setIamPolicy"),
            json!({"policy": {"bindings": [binding]}}),
        ));
    }
    for (url, body) in calls {
        let answer = client.post(&url).json(&body).send().await.unwrap();
        let status = answer.status();
        assert!(
            status.is_success(),
            "{url}: {status} {}",
            answer.text().await.unwrap()
        );
    }
}

/// Runs a notebook that writes its `DB_PASSWORD` reversed to `derived.txt`, with that
/// variable holding the latest version of secret `id`.
async fn run_with_secret(bench: &Bench, n: u8, id: &str) -> Finished {
    let object = format!("nb/secret-{n}/reader.ipynb");
    let cell = "import os\nopen('derived.txt', 'w').write(os.environ['DB_PASSWORD'][::-1])";
    bench.upload(&object, notebook("x = 1", &[cell])).await;
    let run = run_id(n);
    let mut job = Job::new(&run, &object);
    job.secrets = BTreeMap::from([(
        "DB_PASSWORD".to_owned(),
        format!("projects/{PROJECT}/secrets/{id}/versions/latest"),
    )]);
    bench.run(job, Duration::from_secs(180)).await
}

/// Everything the run left where people and services look: neither `marker` nor the value's
/// base64 (an API answer logged whole) may be in any of it.
async fn assert_nowhere(bench: &Bench, finished: &Finished, value: &str, marker: &str) {
    let encoded = STANDARD.encode(value);
    let mut places = vec![
        ("console".to_owned(), finished.console.clone()),
        (
            "report".to_owned(),
            String::from_utf8_lossy(&finished.body).into_owned(),
        ),
        (
            "instances and their metadata".to_owned(),
            serde_json::to_string(&bench.emulator.instances()).unwrap(),
        ),
    ];
    for name in bench.objects("").await {
        let bytes = bench.object(&name).await;
        places.push((
            format!("gs://{BUCKET}/{name}"),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    assert!(
        places
            .iter()
            .any(|(place, _)| place.ends_with("/runner.log"))
    );
    for (place, text) in places {
        assert!(
            !text.contains(marker) && !text.contains(&encoded),
            "the secret's value is in {place}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_reaches_the_kernel_and_nothing_else() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let (value, marker) = password();
    seed(&bench, "db-password", &value, true).await;
    let finished = run_with_secret(&bench, 40, "db-password").await;
    let report = &finished.report;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.log_tail);
    let derived = bench
        .object(&format!("out/{}/outputs/derived.txt", run_id(40)))
        .await;
    let reversed: String = value.chars().rev().collect();
    assert_eq!(String::from_utf8(derived).unwrap(), reversed, "every byte");
    assert!(
        finished
            .console
            .contains("runner: secrets for the kernel: DB_PASSWORD"),
        "{}",
        finished.console
    );
    assert_nowhere(&bench, &finished, &value, &marker).await;
    bench.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_the_instance_may_not_read_fails_the_run_before_papermill() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let (value, marker) = password();
    seed(&bench, "not-granted", &value, false).await;
    let finished = run_with_secret(&bench, 41, "not-granted").await;
    let report = &finished.report;
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.log_tail);
    assert_eq!(report.exit_code, -1, "papermill never ran");
    let secret = format!("projects/{PROJECT}/secrets/not-granted/versions/latest");
    assert_eq!(
        report.error,
        format!(
            "cannot read DB_PASSWORD from {secret} (HTTP 403): PERMISSION_DENIED: Permission 'secretmanager.versions.access' denied for resource '{secret}' (or it may not exist)."
        )
    );
    assert!(
        !finished.console.contains("runner: papermill "),
        "{}",
        finished.console
    );
    assert_eq!(
        bench.objects(&format!("out/{}/", run_id(41))).await,
        [format!("out/{}/runner.log", run_id(41))]
    );
    assert_nowhere(&bench, &finished, &value, &marker).await;
    bench.stop().await;
}
