//! gcloud against the emulator: `gcloud beta workbench executions` and `gcloud colab
//! executions` create, describe, list and delete, with nothing but an endpoint override. Both
//! speak Vertex AI `v1beta1` (gcloud 528 picks `v1` for neither track). Skipped with the reason printed when gcloud is missing, unless CI=true
//! or REQUIRE_GCLOUD=1.

use std::path::Path;

use super::*;
use crate::gcloud_support;

/// gcloud with the Vertex AI endpoint overridden; its stdout.
async fn gcloud(api: &Api, config: &Path, args: &[&str]) -> String {
    let aiplatform = ("AIPLATFORM", format!("{}/", api.emulator.base_url()));
    gcloud_support::run(config, &[aiplatform], args).await
}

#[tokio::test]
async fn gcloud_beta_workbench_executions_create_describe_list_and_delete() {
    if !gcloud_support::here() {
        return;
    }
    let api = Api::plain().await;
    let config = gcloud_support::Config::new();
    let region = "--region=us-central1";
    gcloud(
        &api,
        &config.0,
        &[
            "beta",
            "workbench",
            "executions",
            "create",
            "--execution-job-id=wb-1",
            region,
            "--display-name=from gcloud",
            "--gcs-notebook-uri=gs://notebooks/nb.ipynb",
            "--gcs-output-uri=gs://outputs/runs",
            "--service-account=runner@p.iam.gserviceaccount.com",
            "--machine-type=n1-standard-4",
            "--execution-timeout=1h",
        ],
    )
    .await;
    let sent = &api.emulator.execution_create_requests()[0];
    assert_eq!(sent.api_version, "v1beta1");
    assert_eq!(sent.job_id.as_deref(), Some("wb-1"));
    assert_eq!(sent.body["executionTimeout"], "3600s");
    assert_eq!(sent.body["kernelName"], "python3");
    assert_eq!(
        sent.body["customEnvironmentSpec"]["machineSpec"]["machineType"],
        "n1-standard-4"
    );

    let described = gcloud(
        &api,
        &config.0,
        &[
            "beta",
            "workbench",
            "executions",
            "describe",
            "wb-1",
            region,
            "--format=json",
        ],
    )
    .await;
    let described: Value = serde_json::from_str(&described).unwrap();
    assert_eq!(
        described["name"],
        format!("{REGION}/notebookExecutionJobs/wb-1")
    );
    assert_eq!(described["jobState"], "JOB_STATE_PENDING");
    let listed = gcloud(
        &api,
        &config.0,
        &[
            "beta",
            "workbench",
            "executions",
            "list",
            region,
            "--format=value(name)",
        ],
    )
    .await;
    assert!(listed.contains("wb-1"), "{listed}");
    gcloud(
        &api,
        &config.0,
        &["beta", "workbench", "executions", "delete", "wb-1", region],
    )
    .await;
    assert!(api.emulator.executions().is_empty());
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn gcloud_colab_executions_create_describe_list_and_delete() {
    if !gcloud_support::here() {
        return;
    }
    let api = Api::plain().await;
    let config = gcloud_support::Config::new();
    let region = "--region=us-central1";
    gcloud(
        &api,
        &config.0,
        &[
            "colab",
            "executions",
            "create",
            "--execution-job-id=co-1",
            region,
            "--display-name=colab run",
            "--notebook-runtime-template=any-template",
            "--gcs-notebook-uri=gs://notebooks/nb.ipynb",
            "--gcs-output-uri=gs://outputs/colab",
            "--service-account=runner@p.iam.gserviceaccount.com",
        ],
    )
    .await;
    let sent = &api.emulator.execution_create_requests()[0];
    assert_eq!(sent.api_version, "v1beta1");
    assert_eq!(
        sent.body["notebookRuntimeTemplateResourceName"],
        format!("{REGION}/notebookRuntimeTemplates/any-template")
    );
    let described = gcloud(
        &api,
        &config.0,
        &[
            "colab",
            "executions",
            "describe",
            "co-1",
            region,
            "--format=json",
        ],
    )
    .await;
    let described: Value = serde_json::from_str(&described).unwrap();
    assert_eq!(described["displayName"], "colab run");
    let listed = gcloud(
        &api,
        &config.0,
        &[
            "colab",
            "executions",
            "list",
            region,
            "--format=value(name)",
        ],
    )
    .await;
    assert!(listed.contains("co-1"), "{listed}");
    gcloud(
        &api,
        &config.0,
        &["colab", "executions", "delete", "co-1", region],
    )
    .await;
    assert!(api.emulator.executions().is_empty());
    api.emulator.shutdown().await;
}
