//! The job a run creates, from a validated profile: the fields both backends share keep their
//! meaning (machine, accelerator, disk, network, service account, container, labels, time
//! limit), and the compute is the runtime template's when the profile names one.

use std::collections::BTreeMap;

use crate::executions::{
    ContainerImage, CustomEnvironmentSpec, GcsNotebookSource, Job, MachineSpec, NetworkSpec,
    PersistentDiskSpec, WorkbenchRuntime,
};
use crate::profile::{ExecutionSpec, LaunchSpec, RunTarget};

/// What a job is made of besides its profile.
#[derive(Debug, Clone, Copy)]
pub struct JobOf<'a> {
    /// The run id, the job's display name.
    pub run_id: &'a str,
    /// The parameterized copy the job runs (`gs://…ipynb`); its generation is set once it is
    /// written.
    pub copy: &'a str,
    /// The run's folder, `gs://B/PREFIX/{run id}/`.
    pub folder: &'a str,
}

/// The job for `of` under the profile `spec` (an execution's, `execution`) running `target`,
/// with `labels`.
pub fn job(
    spec: &LaunchSpec,
    execution: &ExecutionSpec,
    target: &RunTarget,
    labels: BTreeMap<String, String>,
    of: JobOf<'_>,
) -> Job {
    let mut job = Job {
        display_name: of.run_id.to_owned(),
        gcs_notebook_source: Some(GcsNotebookSource {
            uri: of.copy.to_owned(),
            generation: None,
        }),
        gcs_output_uri: Some(of.folder.trim_end_matches('/').to_owned()),
        execution_timeout: Some(format!("{}s", target.max_run_time.as_secs())),
        service_account: spec.service_account.clone(),
        labels,
        ..Job::default()
    };
    match &execution.runtime_template {
        Some(template) => job.notebook_runtime_template_resource_name = Some(template.clone()),
        None => {
            job.custom_environment_spec = Some(environment(spec));
            job.workbench_runtime = Some(WorkbenchRuntime {
                custom_container_image: Some(ContainerImage {
                    repository: spec.container_repository.clone(),
                    tag: Some(spec.container_tag.clone()),
                }),
            });
        }
    }
    job
}

/// The machine, disk and network of a profile without a runtime template.
fn environment(spec: &LaunchSpec) -> CustomEnvironmentSpec {
    let machine_spec = MachineSpec {
        machine_type: Some(spec.machine_type.clone()),
        accelerator_type: spec.accelerator.as_ref().map(|a| a.kind.clone()),
        accelerator_count: spec.accelerator.as_ref().map(|a| a.count),
    };
    let persistent_disk_spec = spec.boot_disk.as_ref().map(|disk| PersistentDiskSpec {
        disk_type: disk.kind.as_deref().map(disk_type),
        disk_size_gb: disk.size_gb.map(|size| size.to_string()),
    });
    let networked = spec.network.is_some() || spec.subnet.is_some() || spec.disable_public_ip;
    let network_spec = networked.then(|| NetworkSpec {
        enable_internet_access: Some(!spec.disable_public_ip),
        network: spec.network.clone(),
        subnetwork: spec.subnet.clone(),
    });
    CustomEnvironmentSpec {
        machine_spec: Some(machine_spec),
        persistent_disk_spec,
        network_spec,
    }
}

/// A Workbench disk type (`PD_SSD`) as a job's persistent disk names it (`pd-ssd`).
fn disk_type(kind: &str) -> String {
    kind.to_ascii_lowercase().replace('_', "-")
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
