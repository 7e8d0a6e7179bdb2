//! An execution's parameterized copy is written from the generation of the notebook that
//! pre-flight checked, never from a newer one: a notebook replaced between the check and the
//! copy (a writer racing the launch, placed just before the copy's download) makes the launch
//! answer 503 naming the replacement, and the redelivery checks the new notebook and runs a
//! copy of it. A job deleted between a redelivery's create (409) and its read leaves the run
//! going: the message comes back and creates it again.

use serde_json::Value;

use notebooks_emulator::storage::StorageClient;

use axum::http::Method;

use crate::helpers::{TestApp, spawn_app_around};
use crate::interposer::Interposer;
use crate::run_launch::{notebook, record, upload};

/// An execution deployment whose Cloud Storage (`storage`) or APIs (`apis`) are reached
/// through an interposer.
async fn spawn_through(storage: Option<&Interposer>, apis: Option<&Interposer>) -> TestApp {
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
        let mut vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let storage_host = match storage {
            Some(proxy) => {
                proxy.forward_to(emulator.storage_url());
                format!("http://{}", proxy.host())
            }
            None => emulator.storage_url(),
        };
        vars.push(("STORAGE_EMULATOR_HOST".to_owned(), storage_host));
        if let Some(proxy) = apis {
            proxy.forward_to(format!("http://{}", emulator.local_addr()));
            vars.push(("NOTEBOOKS_EMULATOR_HOST".to_owned(), proxy.host()));
        }
        vars
    })
    .await;
    upload(&app, "nb/seed.ipynb", notebook(Some("rows = 1")));
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notebook_replaced_between_its_check_and_its_copy_is_never_run_unchecked() {
    let storage_proxy = Interposer::start().await;
    let app = spawn_through(Some(&storage_proxy), None).await;
    // The first download of the notebook is the check's, the second the copy's.
    let mut downloads = 0;
    let writer = StorageClient::new(app.emulator.storage_url().parse().unwrap());
    storage_proxy.arm(
        move |_, path| {
            downloads += u32::from(path.contains("seed.ipynb") && path.contains("alt=media"));
            downloads == 2
        },
        async move {
            let replaced = notebook(Some("rows = 1\nversion = 2"));
            writer
                .upload(
                    "runs-bucket",
                    "nb/seed.ipynb",
                    "application/x-ipynb+json",
                    replaced,
                )
                .await
                .unwrap();
        },
    );

    let (status, answer) = app.push("7101", "{}").await;
    assert_eq!(status, 503, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains("was replaced after generation"), "{answer}");
    assert!(
        storage_proxy.fired(),
        "the notebook was replaced before the copy's download"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_deleted_between_a_redeliverys_create_and_its_read_is_created_again() {
    let apis = Interposer::start().await;
    let app = spawn_through(None, Some(&apis)).await;
    let (status, first) = app.push("7102", "{}").await;
    assert_eq!(
        (status, &first["outcome"]),
        (200, &"created".into()),
        "{first}"
    );
    let job = first["instance"].as_str().unwrap().to_owned();
    let run = first["run_id"].as_str().unwrap().to_owned();

    // The redelivery's create finds the id taken (409); the job is deleted before it reads it.
    let delete = format!("http://{}/v1/{job}", app.emulator.local_addr());
    let read = format!("/v1/{job}");
    apis.arm(
        move |method, path| method == Method::GET && path == read,
        async move {
            let deleted = reqwest::Client::new().delete(delete).send().await.unwrap();
            assert!(deleted.status().is_success(), "{deleted:?}");
        },
    );
    let (status, answer) = app.push("7102", "{}").await;
    assert!(apis.fired(), "the job was deleted before its read");
    assert_eq!(status, 503, "the message comes back: {answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("vanished between create and get"),
        "{answer}"
    );
    assert_eq!(
        record(&app, &run).await["state"],
        "launched",
        "the run goes on"
    );

    let (status, again) = app.push("7102", "{}").await;
    assert_eq!(
        (status, &again["outcome"]),
        (200, &"created".into()),
        "{again}"
    );
    assert_eq!(
        app.emulator.executions().len(),
        1,
        "{:?}",
        app.emulator.executions()
    );
    app.stop().await;
}
