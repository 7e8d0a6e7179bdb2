//! Wire shapes of `notebookExecutionJobs`, named as the discovery document names them
//! (`GoogleCloudAiplatformV1NotebookExecutionJob*`, camelCase on the wire). The service builds
//! the job it creates from these types and reads back the same type, so a field it sends and
//! a field it reads cannot be spelled two ways.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::notebooks::Code;

/// `GoogleCloudAiplatformV1NotebookExecutionJob`: what is created, and what `get` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Output only: `projects/P/locations/R/notebookExecutionJobs/ID`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs_notebook_source: Option<GcsNotebookSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs_output_uri: Option<String>,
    /// A duration as the API writes one: `"3600s"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook_runtime_template_resource_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_environment_spec: Option<CustomEnvironmentSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workbench_runtime: Option<WorkbenchRuntime>,
    /// Output only: `JOB_STATE_…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_state: Option<String>,
    /// Output only: filled when the job ends; its message says why a job failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<jiff::Timestamp>,
}

impl Job {
    /// Whether a job in `state` is running or about to: queued, pending or running.
    pub fn is_up(state: &str) -> bool {
        matches!(
            state,
            "JOB_STATE_QUEUED" | "JOB_STATE_PENDING" | "JOB_STATE_RUNNING"
        )
    }
}

/// `GoogleCloudAiplatformV1NotebookExecutionJobGcsNotebookSource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcsNotebookSource {
    pub uri: String,
    /// The object generation, as a decimal string; the latest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
}

/// `GoogleCloudAiplatformV1NotebookExecutionJobCustomEnvironmentSpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomEnvironmentSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_spec: Option<MachineSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_disk_spec: Option<PersistentDiskSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_spec: Option<NetworkSpec>,
}

/// `GoogleCloudAiplatformV1MachineSpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator_count: Option<u32>,
}

/// `GoogleCloudAiplatformV1PersistentDiskSpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentDiskSpec {
    /// `pd-standard`, `pd-ssd`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_type: Option<String>,
    /// An int64, which JSON carries as a decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_size_gb: Option<String>,
}

/// `GoogleCloudAiplatformV1NetworkSpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_internet_access: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnetwork: Option<String>,
}

/// `GoogleCloudAiplatformV1NotebookExecutionJobWorkbenchRuntime`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkbenchRuntime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_container_image: Option<ContainerImage>,
}

/// `GoogleCloudAiplatformV1NotebookExecutionJobWorkbenchRuntimeContainerImage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    pub repository: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// `google.rpc.Status` as a job carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    #[serde(default)]
    pub code: i32,
    #[serde(default)]
    pub message: String,
}

impl JobStatus {
    /// The canonical code.
    pub fn code(&self) -> Code {
        Code::from_number(self.code)
    }
}

/// One page of `notebookExecutionJobs.list`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobPage {
    #[serde(default)]
    pub notebook_execution_jobs: Vec<Job>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reads_and_writes_the_discovery_documents_names() {
        let wire = serde_json::json!({
            "name": "projects/p/locations/us-central1/notebookExecutionJobs/j",
            "displayName": "r0123456789abcdef",
            "gcsNotebookSource": {"uri": "gs://b/n.ipynb", "generation": "7"},
            "gcsOutputUri": "gs://b/runs/r0123456789abcdef",
            "executionTimeout": "3600s",
            "serviceAccount": "sa@p.iam.gserviceaccount.com",
            "kernelName": "python3",
            "labels": {"run-id": "r0123456789abcdef"},
            "customEnvironmentSpec": {
                "machineSpec": {"machineType": "n1-standard-4", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1},
                "persistentDiskSpec": {"diskType": "pd-ssd", "diskSizeGb": "200"},
                "networkSpec": {"enableInternetAccess": false, "network": "n", "subnetwork": "s"}
            },
            "workbenchRuntime": {"customContainerImage": {"repository": "r", "tag": "t"}},
            "jobState": "JOB_STATE_FAILED",
            "status": {"code": 4, "message": "deadline"},
            "createTime": "2026-12-01T10:00:00Z"
        });
        let job: Job = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(job.status.as_ref().unwrap().code(), Code::DeadlineExceeded);
        assert_eq!(serde_json::to_value(&job).unwrap(), wire);
    }
}
