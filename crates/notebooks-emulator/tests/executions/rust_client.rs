//! Google's own Vertex AI client, `google-cloud-aiplatform-v1` (its `notebook-service` only),
//! against the emulator, changed only in its endpoint and credentials: it writes enums as
//! numbers, adds `$alt=json;enum-encoding=int`, checks the `@type` of an operation's response
//! and metadata, and waits with its own poller. Create until done, get, list by item, delete.

use google_cloud_aiplatform_v1::client::NotebookService;
use google_cloud_aiplatform_v1::model::notebook_execution_job::{
    CustomEnvironmentSpec, GcsNotebookSource,
};
use google_cloud_aiplatform_v1::model::{
    AcceleratorType, JobState, MachineSpec, NotebookExecutionJob,
};
use google_cloud_auth::credentials::anonymous;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::paginator::ItemPaginator as _;
use google_cloud_lro::Poller as _;

use super::*;

async fn client(api: &Api) -> NotebookService {
    NotebookService::builder()
        .with_endpoint(api.emulator.base_url())
        .with_credentials(anonymous::Builder::new().build())
        .build()
        .await
        .expect("the client builds")
}

fn execution(display_name: &str) -> NotebookExecutionJob {
    let machine = MachineSpec::new()
        .set_machine_type("n1-standard-4")
        .set_accelerator_type(AcceleratorType::NvidiaL4)
        .set_accelerator_count(1);
    NotebookExecutionJob::new()
        .set_display_name(display_name)
        .set_gcs_notebook_source(GcsNotebookSource::new().set_uri("gs://notebooks/nb.ipynb"))
        .set_gcs_output_uri("gs://outputs/runs")
        .set_execution_timeout(google_cloud_wkt::Duration::clamp(3600, 0))
        .set_service_account("runner@p.iam.gserviceaccount.com")
        .set_kernel_name("python3")
        .set_labels([("profile", "daily")])
        .set_custom_environment_spec(CustomEnvironmentSpec::new().set_machine_spec(machine))
}

#[tokio::test]
async fn googles_client_creates_gets_lists_and_deletes() {
    let api = Api::plain().await;
    let client = client(&api).await;
    let created = client
        .create_notebook_execution_job()
        .set_parent(REGION)
        .set_notebook_execution_job_id("rust-1")
        .set_notebook_execution_job(execution("from rust"))
        .poller()
        .until_done()
        .await
        .expect("the create finishes");
    let name = format!("{REGION}/notebookExecutionJobs/rust-1");
    assert_eq!(created.name, name);
    assert_eq!(created.job_state, JobState::Pending);
    assert_eq!(created.execution_timeout.map(|t| t.seconds()), Some(3600));
    // The client wrote the accelerator as its number (11); the emulator kept its name.
    let sent = &api.emulator.execution_create_requests()[0];
    assert_eq!(sent.api_version, "v1");
    assert_eq!(
        sent.body["customEnvironmentSpec"]["machineSpec"]["acceleratorType"],
        11
    );
    assert_eq!(
        api.emulator.executions()[0]["customEnvironmentSpec"]["machineSpec"]["acceleratorType"],
        "NVIDIA_L4"
    );

    api.emulator
        .set_execution_state(&name, "JOB_STATE_SUCCEEDED", None)
        .unwrap();
    let got = client
        .get_notebook_execution_job()
        .set_name(&name)
        .send()
        .await
        .expect("get");
    assert_eq!(got.job_state, JobState::Succeeded);

    let conflict = client
        .create_notebook_execution_job()
        .set_parent(REGION)
        .set_notebook_execution_job_id("rust-1")
        .set_notebook_execution_job(execution("again"))
        .send()
        .await
        .expect_err("a second create of the id conflicts");
    assert_eq!(conflict.status().map(|s| s.code), Some(Code::AlreadyExists));

    for id in ["rust-2", "rust-3"] {
        client
            .create_notebook_execution_job()
            .set_parent(REGION)
            .set_notebook_execution_job_id(id)
            .set_notebook_execution_job(execution(id))
            .send()
            .await
            .expect("create");
    }
    let mut items = client
        .list_notebook_execution_jobs()
        .set_parent(REGION)
        .set_page_size(2)
        .by_item();
    let mut listed = Vec::new();
    while let Some(job) = items.next().await {
        listed.push(job.expect("a listed job").display_name);
    }
    assert_eq!(listed, ["from rust", "rust-2", "rust-3"]);

    client
        .delete_notebook_execution_job()
        .set_name(&name)
        .poller()
        .until_done()
        .await
        .expect("the delete finishes");
    let gone = client
        .get_notebook_execution_job()
        .set_name(&name)
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(gone.status().map(|s| s.code), Some(Code::NotFound));
    api.emulator.shutdown().await;
}
