//! Runs ending: a runner's report over a real socket, with the identity token the emulated
//! instance's metadata server issues, and the forgeries that must change nothing.

use notebook_trigger::run::RECORDS_PREFIX;
use std::time::{Duration, Instant};

use notebooks_emulator::EmulatorConfig;
use notebooks_emulator::storage::StorageClient;
use serde_json::{Value, json};

use crate::helpers::{PROJECT, TestApp, ZONE, spawn_app_around};
use crate::tokens;

pub const SERVICE: &str = "https://notebook-trigger-runs.test";
pub const ACCOUNT: &str = "runner@test-project.iam.gserviceaccount.com";
pub const BUCKET: &str = "run-outputs";

/// The instance's script: two identity tokens (for the service, and for another audience)
/// written where the test can read them, named after the instance's `token-name` attribute.
const TOKEN_SCRIPT: &str = r#"set -eu
MD="http://$GCE_METADATA_HOST/computeMetadata/v1/instance"
NAME=$(curl -sSf -H 'Metadata-Flavor: Google' "$MD/attributes/token-name")
for pair in "service=https://notebook-trigger-runs.test" "other=https://elsewhere.test"; do
  curl -sSf -H 'Metadata-Flavor: Google' \
    "$MD/service-accounts/default/identity?audience=${pair#*=}&format=full" \
    | curl -sSf -o /dev/null --data-binary @- \
      "$STORAGE_EMULATOR_HOST/upload/storage/v1/b/run-outputs/o?uploadType=media&name=tokens/$NAME.${pair%%=*}"
done
"#;

/// The service with run reports on, its tokens checked against the emulator's JWKS.
pub async fn runs_app(extra: &[(&str, &str)]) -> TestApp {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let config = EmulatorConfig {
        provision_time: Duration::from_millis(100),
        run_scripts: true,
        ..EmulatorConfig::default()
    };
    let app = spawn_app_around(config, |emulator| {
        let mut vars = vec![
            ("SERVICE_URL".to_owned(), SERVICE.to_owned()),
            ("RUN_TOKEN_JWKS_URL".to_owned(), emulator.jwks_url()),
            ("STORAGE_EMULATOR_HOST".to_owned(), emulator.storage_url()),
        ];
        vars.extend(extra);
        vars
    })
    .await;
    let storage = storage(&app);
    storage.ensure_bucket(PROJECT, BUCKET).await.unwrap();
    storage
        .upload(BUCKET, "token.sh", "text/x-sh", TOKEN_SCRIPT.into())
        .await
        .unwrap();
    app
}

pub fn storage(app: &TestApp) -> StorageClient {
    StorageClient::new(app.emulator.storage_url().parse().unwrap())
}

/// A run id of the product's form, distinct per `n`.
pub fn run_id(n: u8) -> String {
    format!("r{n:016x}")
}

pub fn instance_name(id: &str) -> String {
    format!("projects/{PROJECT}/locations/{ZONE}/instances/{id}")
}

/// Creates instance `id` for run `run` the way a launch does (labels, metadata, account);
/// `managed: false` leaves the managed-by label off. With `script`, it writes its tokens.
pub async fn create_instance(app: &TestApp, id: &str, run: &str, managed: bool, script: bool) {
    let mut labels = json!({"run-id": run});
    if managed {
        labels["managed-by"] = json!("notebook-trigger");
    }
    let mut metadata = json!({
        "token-name": id,
        "notebook-trigger-run-id": run,
        "notebook-trigger-output": format!("gs://{BUCKET}/runs"),
        "notebook-trigger-max-run-time": "1",
    });
    if script {
        metadata["post-startup-script"] = json!(format!("gs://{BUCKET}/token.sh"));
        metadata["notebook-trigger-max-run-time"] = json!("3600");
    }
    let body = json!({
        "labels": labels,
        "gceSetup": {"metadata": metadata, "serviceAccounts": [{"email": ACCOUNT}]},
    });
    let created = app
        .http
        .post(format!(
            "{}/v2/projects/{PROJECT}/locations/{ZONE}/instances?instanceId={id}",
            app.emulator.base_url()
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
}

/// Writes run `run`'s launched record, as the launch does.
pub async fn write_record(app: &TestApp, run: &str, instance: &str) {
    let record = json!({
        "schema": 1, "run_id": run, "trigger": "pubsub", "message_id": "1",
        "profile": "default", "notebook": format!("gs://{BUCKET}/nb/seed.ipynb"),
        "parameters": {}, "instance": instance_name(instance),
        "output": format!("gs://{BUCKET}/runs/{run}/"),
        "launched": "2026-12-01T10:00:00Z", "state": "launched",
    });
    storage(app)
        .upload(
            BUCKET,
            &record_object(run),
            "application/json",
            serde_json::to_vec(&record).unwrap(),
        )
        .await
        .unwrap();
}

/// Where the record of run `run` under `gs://BUCKET/runs` is.
pub fn record_object(run: &str) -> String {
    format!("{RECORDS_PREFIX}/runs/{run}.json")
}

pub async fn record(app: &TestApp, run: &str) -> Value {
    let bytes = storage(app)
        .download(BUCKET, &record_object(run))
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn state_of(app: &TestApp, id: &str) -> Option<String> {
    let name = instance_name(id);
    app.instances()
        .into_iter()
        .find(|i| i["name"] == name.as_str())
        .and_then(|i| i["state"].as_str().map(str::to_owned))
}

/// The token instance `id` wrote for `audience` (`service` or `other`).
pub async fn token(app: &TestApp, id: &str, audience: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let object = format!("tokens/{id}.{audience}");
        if let Ok(bytes) = storage(app).download(BUCKET, &object).await {
            return String::from_utf8(bytes).unwrap();
        }
        let console = app.emulator.console(&instance_name(id));
        assert!(Instant::now() < deadline, "no token from {id}:\n{console}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn report(run: &str, outcome: &str) -> String {
    json!({
        "run_id": run, "outcome": outcome,
        "exit_code": if outcome == "succeeded" { 0 } else { 1 },
        "started": "2026-12-01T10:01:00Z", "finished": "2026-12-01T10:05:00Z",
        "outputs": [format!("gs://{BUCKET}/runs/{run}/seed.ipynb")],
        "error": if outcome == "succeeded" { "" } else { "papermill exited with 1" },
        "log_tail": "done",
    })
    .to_string()
}

pub async fn send(app: &TestApp, run: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}/runs/{run}/complete", app.address))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    crate::helpers::json(request.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_runs_own_instance_completes_it_and_its_cleanup_follows_the_outcome() {
    let app = runs_app(&[]).await;
    let (run_a, run_b, run_c) = (run_id(0xa), run_id(0xb), run_id(0xc));
    create_instance(&app, "nb-a", &run_a, true, true).await;
    create_instance(&app, "nb-b", &run_b, true, true).await;
    for (run, id) in [(&run_a, "nb-a"), (&run_b, "nb-b"), (&run_c, "nb-c")] {
        write_record(&app, run, id).await;
    }
    let token_a = token(&app, "nb-a", "service").await;
    let token_b = token(&app, "nb-b", "service").await;
    let elsewhere_a = token(&app, "nb-a", "other").await;
    let vm_a = json!({"google": {"compute_engine": {
        "instance_name": "nb-a", "zone": ZONE, "project_id": PROJECT, "instance_id": "1"}},
        "aud": SERVICE, "email": ACCOUNT});
    let unpublished_key = tokens::google(&tokens::claims_with(vm_a.clone()));
    let foreign_key = tokens::foreign(&tokens::claims_with(vm_a), "emulator-kid");
    let success = report(&run_a, "succeeded");
    let launched = record(&app, &run_a).await;

    let forgeries: [(&str, Option<&str>, &str, u16); 7] = [
        ("no token", None, &run_a, 401),
        ("another audience", Some(&elsewhere_a), &run_a, 401),
        (
            "a key the JWKS does not publish",
            Some(&unpublished_key),
            &run_a,
            401,
        ),
        (
            "a foreign key under a made-up id",
            Some(&foreign_key),
            &run_a,
            401,
        ),
        ("another instance's token", Some(&token_b), &run_a, 403),
        (
            "a run that is not the instance's",
            Some(&token_a),
            &run_c,
            403,
        ),
        ("a path that is no run id", Some(&token_a), "nb-a", 400),
    ];
    for (what, token, run, expected) in forgeries {
        let body = report(run, "succeeded");
        let (status, answer) = send(&app, run, token, &body).await;
        assert_eq!(status, expected, "{what}: {answer}");
        assert!(answer["error"].is_string(), "{what}: {answer}");
    }
    let (status, answer) = send(&app, &run_a, Some(&token_a), "{not json").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        record(&app, &run_a).await,
        launched,
        "a refusal changes no record"
    );
    assert_eq!(record(&app, &run_c).await["state"], "launched");
    assert_eq!(state_of(&app, "nb-a").as_deref(), Some("ACTIVE"));
    assert_eq!(state_of(&app, "nb-b").as_deref(), Some("ACTIVE"));

    let (status, answer) = send(&app, &run_b, Some(&token_b), &report(&run_b, "failed")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["state"], "failed");
    assert_eq!(answer["repeated"], false);
    let failed = record(&app, &run_b).await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["exit_code"], 1);
    assert_eq!(failed["cleanup"]["action"], "stop");
    assert_eq!(failed["cleanup"]["by"], "report");
    assert!(failed["cleanup"].get("error").is_none(), "{failed}");
    let stopped = state_of(&app, "nb-b");
    assert!(
        matches!(stopped.as_deref(), Some("STOPPING" | "STOPPED")),
        "{stopped:?}"
    );

    let (status, answer) = send(&app, &run_b, Some(&token_b), &report(&run_b, "succeeded")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["repeated"], true);
    assert_eq!(
        record(&app, &run_b).await,
        failed,
        "a repeated report changes nothing"
    );

    let (status, answer) = send(&app, &run_a, Some(&token_a), &success).await;
    assert_eq!(status, 200, "{answer}");
    let succeeded = record(&app, &run_a).await;
    assert_eq!(succeeded["state"], "succeeded");
    assert_eq!(
        succeeded["outputs"][0],
        format!("gs://{BUCKET}/runs/{run_a}/seed.ipynb")
    );
    assert_eq!(succeeded["cleanup"]["action"], "delete");
    let deleted = state_of(&app, "nb-a");
    assert!(
        matches!(deleted.as_deref(), None | Some("DELETED")),
        "{deleted:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_service_url_there_is_no_report_route() {
    let app = crate::helpers::spawn_app(&[]).await;
    let (status, _) = send(&app, &run_id(1), None, "{}").await;
    assert_eq!(status, 404);
    app.stop().await;
}

/// Tokens from an issuer the test controls, to reach what the emulator's tokens cannot: an
/// expired token, and a valid one for another account. The valid token for the instance's own
/// account is taken, so the refusals are not the test's doing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_or_another_account_changes_nothing() {
    let issuer = tokens::Issuer::start().await;
    let app = runs_app(&[("RUN_TOKEN_JWKS_URL", issuer.jwks_url.as_str())]).await;
    let run = run_id(0xd);
    create_instance(&app, "nb-d", &run, true, false).await;
    write_record(&app, &run, "nb-d").await;
    let launched = record(&app, &run).await;
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let vm = |changes: Value| {
        let mut claims = json!({"google": {"compute_engine": {
            "instance_name": "nb-d", "zone": ZONE, "project_id": PROJECT, "instance_id": "4"}},
            "aud": SERVICE, "email": ACCOUNT});
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        tokens::google(&tokens::claims_with(claims))
    };
    let expired = vm(json!({"exp": now - 3600, "iat": now - 7200}));
    let other_account = vm(json!({"email": "someone@test-project.iam.gserviceaccount.com"}));
    let body = report(&run, "succeeded");
    let (status, answer) = send(&app, &run, Some(&expired), &body).await;
    assert_eq!(status, 401, "expired: {answer}");
    let (status, answer) = send(&app, &run, Some(&other_account), &body).await;
    assert_eq!(status, 403, "another account: {answer}");
    assert_eq!(
        record(&app, &run).await,
        launched,
        "a refusal changes no record"
    );
    let (status, answer) = send(&app, &run, Some(&vm(json!({}))), &body).await;
    assert_eq!(status, 200, "the instance's own account, in time: {answer}");
    assert_eq!(record(&app, &run).await["state"], "succeeded");
    app.stop().await;
}
