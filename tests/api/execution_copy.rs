//! An execution's parameterized copy is written from the generation of the notebook that
//! pre-flight checked, never from a newer one: a notebook replaced between the check and the
//! copy (a writer racing the launch, here a proxy in front of Cloud Storage that replaces it
//! just before the copy's download) makes the launch answer 503 naming the replacement, and
//! the redelivery checks the new notebook and runs a copy of it.

use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use notebooks_emulator::storage::StorageClient;

use crate::helpers::spawn_app_around;
use crate::local_server::LocalServer;
use crate::run_launch::{notebook, upload};

/// Forwards every request to the emulator's Cloud Storage; before the second download of
/// `nb/seed.ipynb` (the first is the check's, the second the copy's), writes `replacement`
/// over it.
#[derive(Default)]
struct Racing {
    target: OnceLock<String>,
    replacement: Mutex<Option<Vec<u8>>>,
    downloads: Mutex<u32>,
    http: reqwest::Client,
}

async fn forward(State(racing): State<Arc<Racing>>, request: Request) -> Response {
    let target = racing.target.get().expect("the emulator's storage").clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let second = path.contains("seed.ipynb") && path.contains("alt=media") && {
        let mut downloads = racing.downloads.lock().unwrap();
        *downloads += 1;
        *downloads == 2
    };
    let replacement = racing.replacement.lock().unwrap().take_if(|_| second);
    if let Some(bytes) = replacement {
        StorageClient::new(target.parse().unwrap())
            .upload(
                "runs-bucket",
                "nb/seed.ipynb",
                "application/x-ipynb+json",
                bytes,
            )
            .await
            .unwrap();
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut forwarded = racing
        .http
        .request(parts.method, format!("{target}{path}"))
        .body(body);
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n != header::HOST) {
        forwarded = forwarded.header(name, value);
    }
    let answer = forwarded.send().await.unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    response
        .body(Body::from(answer.bytes().await.unwrap()))
        .unwrap()
        .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notebook_replaced_between_its_check_and_its_copy_is_never_run_unchecked() {
    let racing = Arc::new(Racing::default());
    let proxy =
        LocalServer::start(Router::new().fallback(forward).with_state(racing.clone())).await;
    let proxy_url = proxy.url("");
    let vars = [
        ("BACKEND", "execution"),
        ("POST_STARTUP_SCRIPT", ""),
        ("NOTEBOOK", "gs://runs-bucket/nb/seed.ipynb"),
        ("NOTEBOOK_OUTPUT", "gs://runs-bucket/runs/"),
        ("NOTEBOOK_PARAMETERS", r#"{"rows": 3}"#),
        ("MAX_RUN_TIME", "20m"),
    ];
    let config = notebooks_emulator::EmulatorConfig {
        provision_time: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let app = spawn_app_around(config, |emulator| {
        racing.target.set(emulator.storage_url()).unwrap();
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([("STORAGE_EMULATOR_HOST".to_owned(), proxy_url.clone())])
            .collect()
    })
    .await;
    upload(&app, "nb/seed.ipynb", notebook(Some("rows = 1")));
    let replaced = notebook(Some("rows = 1\nversion = 2"));
    *racing.replacement.lock().unwrap() = Some(replaced);

    let (status, answer) = app.push("7101", "{}").await;
    assert_eq!(status, 503, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains("was replaced after generation"), "{answer}");
    assert!(
        app.emulator.executions().is_empty(),
        "no job of the unchecked notebook"
    );

    let (status, answer) = app.push("7101", "{}").await;
    assert_eq!(
        (status, &answer["outcome"]),
        (200, &"created".into()),
        "{answer}"
    );
    let run = answer["run_id"].as_str().unwrap();
    let copy = format!("notebook-trigger-records/runs/{run}.ipynb");
    let storage = StorageClient::new(app.emulator.storage_url().parse().unwrap());
    let written: Value =
        serde_json::from_slice(&storage.download("runs-bucket", &copy).await.unwrap()).unwrap();
    assert!(
        written.to_string().contains("version = 2"),
        "the copy is of the notebook the redelivery checked: {written}"
    );
    app.stop().await;
}
