//! The Scheduler part of `deploy/deploy.sh`: real gcloud against a local Cloud Scheduler API
//! that records the Job bodies it is sent, over three deploys (nothing exists, nothing
//! changed, one field changed).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::{PROJECT, Sandbox, have_gcloud, succeeded};

/// What gcloud sent, and the jobs as the fake API holds them.
#[derive(Default)]
struct Recorder {
    requests: Vec<(Method, String, Value)>,
    jobs: HashMap<String, Value>,
}

/// A tiny Cloud Scheduler: create, list, patch, pause and resume, answering as the API does.
async fn scheduler_api(
    State(recorder): State<Arc<Mutex<Recorder>>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut recorder = recorder.lock().expect("lock");
    recorder
        .requests
        .push((method.clone(), uri.to_string(), body.clone()));
    let path = uri.path().trim_start_matches("/v1/").to_owned();
    let answer = if method == Method::GET && path.ends_with("/jobs") {
        let mut jobs: Vec<Value> = recorder.jobs.values().cloned().collect();
        jobs.sort_by_key(|j| j["name"].as_str().unwrap_or_default().to_owned());
        json!({ "jobs": jobs })
    } else if method == Method::POST && path.ends_with("/jobs") {
        let mut job = body;
        job["state"] = "ENABLED".into();
        let name = job["name"].as_str().unwrap_or_default().to_owned();
        recorder.jobs.insert(name, job.clone());
        job
    } else if method == Method::POST && (path.ends_with(":pause") || path.ends_with(":resume")) {
        let (name, verb) = path.rsplit_once(':').expect("verb");
        let Some(job) = recorder.jobs.get_mut(name) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        job["state"] = if verb == "pause" { "PAUSED" } else { "ENABLED" }.into();
        job.clone()
    } else if method == Method::PATCH {
        let Some(job) = recorder.jobs.get_mut(&path) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        if let Some(schedule) = body.get("schedule") {
            job["schedule"] = schedule.clone();
        }
        job.clone()
    } else {
        return StatusCode::NOT_IMPLEMENTED.into_response();
    };
    axum::Json(answer).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_part_sends_the_planned_jobs() {
    if !have_gcloud() {
        return;
    }
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address: SocketAddr = listener.local_addr().expect("address");
    let app = Router::new()
        .fallback(scheduler_api)
        .with_state(Arc::clone(&recorder));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let sandbox = Arc::new(Sandbox::new(""));
    let tricky = "it's \"quoted\", $HOME `id` and\na second line ✓";
    let file = |schedule: &str| {
        format!(
            "jobs:\n  - name: morning\n    schedule: \"{schedule}\"\n    time_zone: Europe/Berlin\n    payload: {}\n    attributes: {{source: scheduler, list: \"a,b\"}}\n    description: Every morning\n    retry: {{count: 3, min_backoff: 10s, max_backoff: 5m}}\n  - name: weekly-gpu\n    schedule: \"0 7 * * MON\"\n    payload: {{profile: gpu}}\n    paused: true\n",
            serde_json::to_string(tricky).expect("YAML string")
        )
    };
    let jobs_file = sandbox.path("scheduler.yaml");
    let env = vec![
        ("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true".to_owned()),
        ("CLOUDSDK_CORE_PROJECT", PROJECT.to_owned()),
        (
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDSCHEDULER",
            format!("http://{address}/"),
        ),
        ("SCHEDULER_FILE", jobs_file.display().to_string()),
    ];
    let run = |env: Vec<(&'static str, String)>| {
        let sandbox = Arc::clone(&sandbox);
        tokio::task::spawn_blocking(move || {
            sandbox.run("deploy.sh", &["--only", "scheduler"], &env)
        })
    };
    let take = |recorder: &Arc<Mutex<Recorder>>| {
        std::mem::take(&mut recorder.lock().expect("lock").requests)
    };

    // 1. Nothing exists: two creates and a pause.
    std::fs::write(&jobs_file, file("0 6 * * *")).expect("jobs file");
    let outcome = run(env.clone()).await.expect("joined");
    succeeded(&outcome);
    let sent = take(&recorder);
    let base = format!("/v1/projects/{PROJECT}/locations/europe-west3/jobs");
    let creates: Vec<&Value> = sent
        .iter()
        .filter(|(m, uri, _)| *m == Method::POST && uri.starts_with(&format!("{base}?")))
        .map(|(_, _, body)| body)
        .collect();
    assert_eq!(creates.len(), 2, "{sent:?}");
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    assert_eq!(
        creates[0],
        &json!({
            "name": format!("projects/{PROJECT}/locations/europe-west3/jobs/morning"),
            "schedule": "0 6 * * *",
            "timeZone": "Europe/Berlin",
            "description": "Every morning",
            "pubsubTarget": {
                "topicName": format!("projects/{PROJECT}/topics/notebook-trigger"),
                "data": b64(tricky),
                "attributes": {"source": "scheduler", "list": "a,b"}
            },
            "retryConfig": {"retryCount": 3, "minBackoffDuration": "10s", "maxBackoffDuration": "300s", "maxDoublings": 5}
        })
    );
    assert_eq!(creates[1]["schedule"], "0 7 * * MON");
    assert_eq!(creates[1]["timeZone"], "Etc/UTC");
    assert_eq!(
        creates[1]["pubsubTarget"]["data"],
        b64(r#"{"profile":"gpu"}"#)
    );
    assert_eq!(creates[1]["retryConfig"]["retryCount"], 0);
    assert!(
        sent.iter().any(|(m, uri, _)| *m == Method::POST
            && uri.starts_with(&format!("{base}/weekly-gpu:pause"))),
        "{sent:?}"
    );

    // 2. Unchanged file: only the list.
    let outcome = run(env.clone()).await.expect("joined");
    succeeded(&outcome);
    let sent = take(&recorder);
    assert!(sent.iter().all(|(m, _, _)| *m == Method::GET), "{sent:?}");
    assert!(
        outcome.stdout.contains("already match"),
        "{}",
        outcome.stdout
    );

    // 3. A changed schedule: one PATCH of just that field.
    std::fs::write(&jobs_file, file("30 5 * * MON-FRI")).expect("jobs file");
    let outcome = run(env.clone()).await.expect("joined");
    succeeded(&outcome);
    let sent = take(&recorder);
    let patches: Vec<&(Method, String, Value)> = sent
        .iter()
        .filter(|(m, _, _)| *m == Method::PATCH)
        .collect();
    assert_eq!(patches.len(), 1, "{sent:?}");
    assert!(
        patches[0].1.starts_with(&format!("{base}/morning?")),
        "{}",
        patches[0].1
    );
    assert!(
        patches[0].1.contains("updateMask=schedule"),
        "{}",
        patches[0].1
    );
    assert_eq!(patches[0].2["schedule"], "30 5 * * MON-FRI");
    assert_eq!(sent.len(), 2, "a list and the patch: {sent:?}");

    server.abort();
}
