//! `deploy/deploy.sh` without a cloud: `--dry-run` prints the whole chain; the Pub/Sub part runs
//! for real against Google's Pub/Sub emulator (twice: idempotent); the Scheduler part runs real
//! gcloud against a local server that records the Job bodies it sends (`deploy/scheduler.rs`);
//! the image build context is checked against the manifests (`deploy/image.rs`); what the
//! profiles' notifications need is deployed with a gcloud that records its calls
//! (`deploy/notify.rs`).
//!
//! Tests that need gcloud are skipped with the reason printed unless `REQUIRE_GCLOUD=1`; the
//! Pub/Sub emulator helper honours `REQUIRE_PUBSUB_EMULATOR=1` the same way.

#[path = "support/child.rs"]
mod child;
#[path = "support/fake_gcs.rs"]
mod fake_gcs;
#[path = "deploy/grants.rs"]
mod grants;
#[path = "deploy/image.rs"]
mod image;
#[path = "deploy/notify.rs"]
mod notify;
#[path = "deploy/profiles.rs"]
mod profiles;
#[path = "support/pubsub_emulator.rs"]
mod pubsub_emulator;
#[path = "deploy/scheduler.rs"]
mod scheduler;
#[path = "support/test_log.rs"]
mod test_log;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use child::{Finished, run_bounded};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_notebook-trigger");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);
const PROJECT: &str = "deploy-test";

/// A throwaway directory with a config file, a gcloud config and the script's output files.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new(extra_config: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("config.env"),
            format!(
                "PROJECT=\"{PROJECT}\"\nREGION=\"europe-west3\"\nNOTEBOOK_LOCATION=\"europe-west3-a\"\nCONTAINER_IMAGE=\"europe-west3-docker.pkg.dev/{PROJECT}/nb/python-docker\"\nPOST_STARTUP_SCRIPT=\"gs://script-bucket/start.sh\"\nINSTANCE_LABELS=\"team=ml,run=nightly\"\n{extra_config}"
            ),
        )
        .expect("config written");
        std::fs::create_dir(dir.path().join("gcloud")).expect("gcloud config dir");
        Sandbox { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs deploy/SCRIPT with a clean environment plus `env`, bounded by [`SCRIPT_TIMEOUT`].
    fn run(&self, script: &str, args: &[&str], env: &[(&str, String)]) -> Finished {
        let mut command = Command::new("bash");
        command
            .arg(Path::new(ROOT).join("deploy").join(script))
            .arg("--config")
            .arg(self.path("config.env"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("NOTEBOOK_TRIGGER", BIN)
            .env("CLOUDSDK_CONFIG", self.path("gcloud"))
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true")
            .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true");
        for (name, value) in env {
            command.env(name, value);
        }
        run_bounded(&mut command, SCRIPT_TIMEOUT)
    }
}

/// Fails the test, with what the script printed, unless it exited 0.
fn succeeded(outcome: &Finished) {
    assert!(
        outcome.status.success(),
        "{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
}

/// gcloud on PATH, or `false` after explaining why the test is skipped.
fn have_gcloud() -> bool {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .any(|dir| dir.join("gcloud").is_file());
    if !found {
        assert!(
            std::env::var("REQUIRE_GCLOUD").as_deref() != Ok("1"),
            "REQUIRE_GCLOUD=1 but no gcloud on PATH"
        );
        eprintln!("skipped: gcloud is not on PATH (set REQUIRE_GCLOUD=1 to make this a failure)");
    }
    found
}

/// The printed command that contains every needle, or a failure showing the output.
fn line_with<'a>(stdout: &'a str, needles: &[&str]) -> &'a str {
    stdout
        .lines()
        .find(|line| needles.iter().all(|needle| line.contains(needle)))
        .unwrap_or_else(|| panic!("no line with {needles:?} in:\n{stdout}"))
}

#[test]
fn dry_run_prints_the_whole_chain_in_order() {
    let sandbox = Sandbox::new("");
    let outcome = sandbox.run("deploy.sh", &["--dry-run"], &[]);
    succeeded(&outcome);
    let out = &outcome.stdout;
    let sa = |name: &str| format!("{name}@{PROJECT}.iam.gserviceaccount.com");
    let chain: Vec<Vec<String>> = vec![
        vec!["+ gcloud services enable run.googleapis.com pubsub.googleapis.com cloudscheduler.googleapis.com notebooks.googleapis.com artifactregistry.googleapis.com cloudbuild.googleapis.com iamcredentials.googleapis.com".into()],
        vec!["gcloud artifacts repositories create notebook-trigger".into(), "--repository-format=docker".into()],
        vec!["gcloud builds submit".into(), format!("--tag=europe-west3-docker.pkg.dev/{PROJECT}/notebook-trigger/notebook-trigger:")],
        vec!["gcloud iam service-accounts create notebook-trigger-run".into()],
        vec!["gcloud iam service-accounts create notebook-trigger-push".into()],
        vec!["gcloud iam service-accounts create notebook-trigger-vm".into()],
        vec!["gcloud projects add-iam-policy-binding".into(), sa("notebook-trigger-run"), "--role=roles/notebooks.runner".into()],
        vec![format!("gcloud iam service-accounts add-iam-policy-binding {}", sa("notebook-trigger-vm")), sa("notebook-trigger-run"), "--role=roles/iam.serviceAccountUser".into()],
        vec!["gcloud projects add-iam-policy-binding".into(), sa("notebook-trigger-vm"), "--role=roles/artifactregistry.reader".into()],
        vec!["gcloud storage buckets add-iam-policy-binding gs://script-bucket".into(), sa("notebook-trigger-vm"), "--role=roles/storage.objectViewer".into()],
        vec![
            "gcloud run deploy notebook-trigger".into(),
            "--no-allow-unauthenticated".into(),
            format!("--service-account={}", sa("notebook-trigger-run")),
            "--timeout=600".into(),
            "--concurrency=10".into(),
            "--use-http2".into(),
            "--cpu-boost".into(),
            "--startup-probe=httpGet.path=/healthz".into(),
            format!("GOOGLE_CLOUD_PROJECT={PROJECT}"),
            "NOTEBOOK_LOCATION=europe-west3-a".into(),
            "POST_STARTUP_SCRIPT=gs://script-bucket/start.sh".into(),
            r"INSTANCE_LABELS=team=ml\,run=nightly".into(),
            format!("INSTANCE_SERVICE_ACCOUNT={}", sa("notebook-trigger-vm")),
            "PUSH_AUTH_AUDIENCE=https://".into(),
            format!("PUSH_AUTH_SERVICE_ACCOUNTS={}", sa("notebook-trigger-push")),
        ],
        vec!["gcloud run services add-iam-policy-binding notebook-trigger".into(), sa("notebook-trigger-push"), "--role=roles/run.invoker".into()],
        vec!["+ gcloud pubsub topics create notebook-trigger ".into()],
        vec!["+ gcloud pubsub topics create notebook-trigger-dead-letter ".into()],
        vec!["gcloud pubsub subscriptions create notebook-trigger-dead-letter-pull --topic=notebook-trigger-dead-letter".into()],
        vec![
            "gcloud pubsub subscriptions create notebook-trigger-push --topic=notebook-trigger".into(),
            "--push-endpoint=https://".into(),
            format!("--push-auth-service-account={}", sa("notebook-trigger-push")),
            "--push-auth-token-audience=https://".into(),
            "--ack-deadline=600".into(),
            "--min-retry-delay=10s".into(),
            "--max-retry-delay=600s".into(),
            "--dead-letter-topic=notebook-trigger-dead-letter".into(),
            "--max-delivery-attempts=5".into(),
        ],
        vec!["gcloud pubsub topics add-iam-policy-binding notebook-trigger-dead-letter".into(), "@gcp-sa-pubsub.iam.gserviceaccount.com".into(), "--role=roles/pubsub.publisher".into()],
        vec!["gcloud pubsub subscriptions add-iam-policy-binding notebook-trigger-push".into(), "@gcp-sa-pubsub.iam.gserviceaccount.com".into(), "--role=roles/pubsub.subscriber".into()],
        vec![
            "+ gcloud scheduler jobs create pubsub tweetinote-morning".into(),
            format!("--topic=projects/{PROJECT}/topics/notebook-trigger"),
            "--message-body=TweetiNoteStartTopic".into(),
        ],
        vec!["Service URL: https://".into()],
        vec![format!("gcloud pubsub topics publish notebook-trigger --project={PROJECT} --message=TweetiNoteStartTopic")],
        vec!["gcloud logging read".into(), "resource.labels.service_name=\"notebook-trigger\"".into()],
    ];
    let lines: Vec<&str> = out.lines().collect();
    let mut position = 0;
    for needles in &chain {
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let found = lines[position..]
            .iter()
            .position(|line| needles.iter().all(|n| line.contains(n)))
            .unwrap_or_else(|| {
                panic!(
                    "step {needles:?} missing (or out of order) after line {position} in:\n{out}"
                )
            });
        position += found + 1;
    }
    // A dry run runs nothing: every gcloud line is printed as `+` (would run) or `?` (check).
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("gcloud "))
            .all(|l| l.starts_with("+ ") || l.starts_with("? ") || l.starts_with("  gcloud ")),
        "{out}"
    );
}

#[test]
fn replace_gets_notebooks_admin_and_unknown_steps_are_refused() {
    let sandbox = Sandbox::new("ON_EXISTING=\"replace\"\n");
    let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", "accounts"], &[]);
    succeeded(&outcome);
    line_with(&outcome.stdout, &["--role=roles/notebooks.admin"]);
    assert!(!outcome.stdout.contains("notebooks.runner"));
    assert!(!outcome.stdout.contains("run deploy"));

    let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", "pubsb"], &[]);
    assert!(!outcome.status.success());
    assert!(
        outcome.stderr.contains("unknown step: pubsb"),
        "{}",
        outcome.stderr
    );
}

/// With `RUNS_BUCKET` the deploy makes the bucket, uploads the runner the binary prints, and
/// grants each account exactly what a run needs of it; without it, it says why it skipped.
#[test]
fn runs_get_their_bucket_the_runner_and_least_privilege() {
    let sa = |name: &str| format!("{name}@{PROJECT}.iam.gserviceaccount.com");
    let skipped = Sandbox::new("").run("deploy.sh", &["--dry-run", "--only", "runs"], &[]);
    assert!(skipped.status.success(), "{}", skipped.stderr);
    line_with(&skipped.stderr, &["runs skipped: set RUNS_BUCKET"]);

    let sandbox = Sandbox::new("RUNS_BUCKET=\"runs-bucket\"\n");
    let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", "runs,service"], &[]);
    succeeded(&outcome);
    let out = &outcome.stdout;
    line_with(
        out,
        &[
            "gcloud run deploy",
            "RUNNER_SCRIPT=gs://runs-bucket/notebook-trigger/runner.sh",
            "SERVICE_URL=https://",
        ],
    );
    line_with(out, &["+ gcloud storage buckets create gs://runs-bucket"]);
    line_with(
        out,
        &[
            "+ gcloud storage cp",
            "gs://runs-bucket/notebook-trigger/runner.sh",
        ],
    );
    for (member, role) in [
        ("notebook-trigger-vm", "--role=roles/storage.objectViewer"),
        ("notebook-trigger-vm", "--role=roles/storage.objectCreator"),
        ("notebook-trigger-vm", "/roles/notebookTriggerRunner"),
        ("notebook-trigger-vm", "--role=roles/run.invoker"),
        ("notebook-trigger-run", "--role=roles/storage.objectUser"),
        ("notebook-trigger-run", "--role=roles/notebooks.admin"),
    ] {
        line_with(out, &[&sa(member), role]);
    }
    line_with(
        out,
        &[
            "gcloud iam roles create notebookTriggerRunner",
            r"--permissions=notebooks.instances.get\,notebooks.instances.stop\,notebooks.operations.get",
        ],
    );
    // The VM's bucket grants stop short of the run records, which it may neither read nor
    // plant; the service's does not.
    let records = "objects/notebook-trigger-records/";
    for role in ["objectViewer", "objectCreator"] {
        line_with(
            out,
            &[
                &sa("notebook-trigger-vm"),
                role,
                "--condition=expression=",
                "!resource.name.startsWith",
                records,
            ],
        );
    }
    assert!(
        !line_with(out, &[&sa("notebook-trigger-run"), "objectUser"]).contains("--condition"),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.contains(&sa("notebook-trigger-vm"))
            && (l.contains("objectAdmin")
                || l.contains("objectUser")
                || l.contains("notebooks.admin"))),
        "the VM account gets nothing broader: {out}"
    );
}

#[test]
fn the_service_gets_every_variable_it_reads() {
    let script = std::fs::read_to_string(Path::new(ROOT).join("deploy/deploy.sh")).expect("read");
    let start = script.find("SERVICE_VARIABLES=(").expect("list");
    let list = &script[start..start + script[start..].find(')').expect("end")];
    for variable in notebook_trigger::config::VARIABLES {
        // PORT is Cloud Run's own, and HOST stays 0.0.0.0 where Cloud Run sends requests;
        // GOOGLE_CLOUD_PROJECT is always the deploy's project.
        if matches!(variable.name, "PORT" | "HOST" | "GOOGLE_CLOUD_PROJECT") {
            continue;
        }
        assert!(
            list.split_whitespace().any(|w| w == variable.name),
            "{} is missing from SERVICE_VARIABLES in deploy/deploy.sh",
            variable.name
        );
    }
}

#[test]
fn teardown_dry_run_deletes_what_deploy_creates() {
    let sandbox = Sandbox::new("");
    let outcome = sandbox.run("teardown.sh", &["--dry-run"], &[]);
    succeeded(&outcome);
    // Checks whose answer a later command needs are shown on stderr.
    let shown = format!("{}{}", outcome.stdout, outcome.stderr);
    for needles in [
        &[
            "gcloud scheduler jobs list",
            "pubsubTarget.topicName=projects/deploy-test/topics/notebook-trigger",
        ][..],
        &["+ gcloud pubsub subscriptions delete notebook-trigger-push"],
        &["+ gcloud pubsub subscriptions delete notebook-trigger-dead-letter-pull"],
        &["+ gcloud pubsub topics delete notebook-trigger "],
        &["+ gcloud pubsub topics delete notebook-trigger-dead-letter"],
        &["+ gcloud run services delete notebook-trigger"],
        &[
            "gcloud projects remove-iam-policy-binding",
            "roles/notebooks.runner",
        ],
        &["gcloud storage buckets remove-iam-policy-binding gs://script-bucket"],
        &[
            "gcloud projects remove-iam-policy-binding",
            "roles/notebookTriggerRunner",
        ],
        &["+ gcloud iam roles delete notebookTriggerRunner"],
        &["+ gcloud iam service-accounts delete notebook-trigger-vm@"],
        &["+ gcloud artifacts repositories delete notebook-trigger"],
    ] {
        line_with(&shown, needles);
    }
}

/// GET on the emulator's REST API.
async fn get_json(url: &str) -> Value {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("emulator answers");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_part_runs_against_the_emulator_twice() {
    if !have_gcloud() {
        return;
    }
    let Some(emulator) = pubsub_emulator::PubSubEmulator::start(PROJECT) else {
        return;
    };
    let sandbox = Arc::new(Sandbox::new("RUN_EVENTS_TOPIC=\"run-events\"\n"));
    let service = "https://notebook-trigger-test-ew.a.run.app";
    let env = vec![
        ("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true".to_owned()),
        ("CLOUDSDK_CORE_PROJECT", PROJECT.to_owned()),
        (
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB",
            format!("http://{}/", emulator.host),
        ),
    ];
    for round in 1..=2 {
        let (sandbox, env) = (Arc::clone(&sandbox), env.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            sandbox.run(
                "deploy.sh",
                &["--only", "pubsub,pubsub-iam", "--service-url", service],
                &env,
            )
        })
        .await
        .expect("joined");
        assert!(
            outcome.status.success(),
            "round {round}:\n{}\n{}",
            outcome.stdout,
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains("Pub/Sub IAM skipped"),
            "{}",
            outcome.stderr
        );
        let creates = outcome
            .stdout
            .matches("+ gcloud pubsub topics create")
            .count()
            + outcome
                .stdout
                .matches("+ gcloud pubsub subscriptions create")
                .count();
        // Round 1 creates three topics (one for run events) and two subscriptions; round 2
        // only re-applies settings.
        assert_eq!(
            creates,
            if round == 1 { 5 } else { 0 },
            "{}",
            outcome.stdout
        );
    }

    for topic in [
        "notebook-trigger",
        "notebook-trigger-dead-letter",
        "run-events",
    ] {
        get_json(&emulator.url(&format!("topics/{topic}"))).await;
    }
    let dead = get_json(&emulator.url("subscriptions/notebook-trigger-dead-letter-pull")).await;
    assert_eq!(
        dead["topic"],
        format!("projects/{PROJECT}/topics/notebook-trigger-dead-letter")
    );
    assert!(
        dead.get("pushConfig")
            .and_then(|p| p.get("pushEndpoint"))
            .is_none(),
        "{dead}"
    );

    let push = get_json(&emulator.url("subscriptions/notebook-trigger-push")).await;
    assert_eq!(
        push["topic"],
        format!("projects/{PROJECT}/topics/notebook-trigger")
    );
    assert_eq!(push["pushConfig"]["pushEndpoint"], format!("{service}/"));
    assert_eq!(
        push["pushConfig"]["oidcToken"],
        json!({"serviceAccountEmail": format!("notebook-trigger-push@{PROJECT}.iam.gserviceaccount.com"), "audience": service})
    );
    assert_eq!(push["ackDeadlineSeconds"], 600);
    assert_eq!(
        push["retryPolicy"],
        json!({"minimumBackoff": "10s", "maximumBackoff": "600s"})
    );
    assert_eq!(
        push["deadLetterPolicy"],
        json!({"deadLetterTopic": format!("projects/{PROJECT}/topics/notebook-trigger-dead-letter"), "maxDeliveryAttempts": 5})
    );
}
