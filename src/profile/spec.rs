//! The launch a profile describes, parsed once into types that cannot hold an invalid value.
//!
//! The request builders take a [`LaunchSpec`] and never validate anything: every rule that
//! ties fields together (a tag in the image or in its own field, a GPU driver needing a GPU,
//! short network names expanded under the project) is applied here.

use std::collections::BTreeMap;

use super::backend::{Backend, parse_backend, region_of};
use super::checks::{
    ACCELERATOR_TYPES, DISK_TYPES, check_gcs_uri, check_machine_type, check_service_account,
    check_tag, expand_resource, parse_zone, split_image,
};
use super::concurrency::{Concurrency, parse_concurrency};
use super::fields::{DEFAULT_CONTAINER_TAG, DEFAULT_MACHINE_TYPE, Field, FieldError, Fields};
use super::metadata::check_metadata_key;
use super::run::{RunTarget, parse_run};
use crate::naming::{self, InstanceId};

/// When the post-startup script runs (the `post-startup-script-behavior` metadata key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptBehavior {
    RunOnce,
    RunEveryStart,
    DownloadAndRunEveryStart,
}

impl ScriptBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptBehavior::RunOnce => "run_once",
            ScriptBehavior::RunEveryStart => "run_every_start",
            ScriptBehavior::DownloadAndRunEveryStart => "download_and_run_every_start",
        }
    }

    /// The inverse of [`ScriptBehavior::as_str`], kept beside it so that the two spellings
    /// cannot drift apart.
    pub(super) fn parse(text: &str) -> Result<ScriptBehavior, String> {
        match text {
            "run_once" => Ok(ScriptBehavior::RunOnce),
            "run_every_start" => Ok(ScriptBehavior::RunEveryStart),
            "download_and_run_every_start" => Ok(ScriptBehavior::DownloadAndRunEveryStart),
            other => Err(format!(
                "`{other}` is not one of run_once, run_every_start, download_and_run_every_start"
            )),
        }
    }
}

/// A GPU attached to the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accelerator {
    pub kind: String,
    pub count: u32,
    pub install_driver: bool,
}

/// The boot disk, when the profile sets one (otherwise the API's defaults apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootDisk {
    pub kind: Option<String>,
    pub size_gb: Option<u32>,
}

/// A fully validated launch: every value here is one the API accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec {
    pub location: String,
    pub container_repository: String,
    pub container_tag: String,
    pub machine_type: String,
    pub post_startup_script: Option<String>,
    pub post_startup_script_behavior: Option<ScriptBehavior>,
    /// `Some(0)` disables idle shutdown; `None` leaves the API's default (180 min).
    pub idle_timeout_seconds: Option<u32>,
    pub service_account: Option<String>,
    /// Full resource names (`projects/P/global/networks/N`), expanded from short names.
    pub network: Option<String>,
    pub subnet: Option<String>,
    pub disable_public_ip: bool,
    pub accelerator: Option<Accelerator>,
    pub boot_disk: Option<BootDisk>,
    pub labels: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub instance_id: Option<InstanceId>,
    /// The notebook every launch of this profile runs; `None`: the instance is the result.
    pub run: Option<RunTarget>,
    /// How many of its runs may go at once; `None`: no cap.
    pub concurrency: Option<Concurrency>,
    /// Where its runs execute: on an instance, or as notebook execution jobs.
    pub backend: Backend,
}

impl LaunchSpec {
    /// Parses layered fields into a launch; `project` expands short network names.
    ///
    /// # Errors
    /// The first [`FieldError`], naming the field and the expected form.
    pub fn parse(fields: &Fields, project: &str) -> Result<LaunchSpec, FieldError> {
        let backend = parse_backend(fields)?;
        let location = parse_location(fields, &backend)?;
        let (container_repository, container_tag) = parse_container(fields)?;
        let machine_type = parse_machine_type(fields)?;
        let (post_startup_script, post_startup_script_behavior) = parse_post_startup(fields)?;
        check_idle_timeout(fields.idle_timeout_seconds)?;
        let service_account = parse_service_account(fields)?;
        let (network, subnet) = parse_network(fields, project, &location)?;
        let accelerator = parse_accelerator(fields)?;
        let boot_disk = parse_boot_disk(fields)?;
        let labels = parse_labels(fields)?;
        let metadata = parse_metadata(fields)?;
        let instance_id = parse_instance_id(fields)?;
        let run = parse_run(fields)?;
        if instance_id.is_some() && run.as_ref().is_some_and(|run| run.retry.is_some()) {
            return Err(FieldError::new(
                Field::Retries,
                "each attempt runs on an instance of its own, which a fixed instance_id cannot name: unset instance_id, or set retries = 0",
            ));
        }
        let concurrency = parse_concurrency(fields, run.is_some())?;
        Ok(LaunchSpec {
            location,
            container_repository,
            container_tag,
            machine_type,
            post_startup_script,
            post_startup_script_behavior,
            idle_timeout_seconds: fields.idle_timeout_seconds,
            service_account,
            network,
            subnet,
            disable_public_ip: fields.disable_public_ip.unwrap_or(false),
            accelerator,
            boot_disk,
            labels,
            metadata,
            instance_id,
            run,
            concurrency,
            backend,
        })
    }
}

/// A zone; an execution's region is read from it, or may be given as the location itself.
fn parse_location(fields: &Fields, backend: &Backend) -> Result<String, FieldError> {
    let location = required(
        &fields.location,
        Field::Location,
        "a zone such as us-central1-a",
    )?;
    match backend {
        Backend::Execution(_) => Ok(location.to_owned()),
        Backend::Instance => parse_zone(location).map_err(|e| FieldError::new(Field::Location, e)),
    }
}

/// The repository and the tag: the API takes them apart, while a profile may write the tag
/// in the image (`repo:tag`) or in its own field, but not in both, since one would silently
/// win over the other.
fn parse_container(fields: &Fields) -> Result<(String, String), FieldError> {
    let image = required(
        &fields.container_image,
        Field::ContainerImage,
        "a container repository such as us-docker.pkg.dev/PROJECT/REPO/IMAGE",
    )?;
    let (repository, tag_in_image) =
        split_image(image).map_err(|e| FieldError::new(Field::ContainerImage, e))?;
    let tag = match (tag_in_image, &fields.container_tag) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                Field::ContainerTag,
                "the image already names a tag; set the tag in one place only",
            ));
        }
        (Some(tag), None) => tag,
        (None, Some(tag)) => tag.clone(),
        (None, None) => DEFAULT_CONTAINER_TAG.to_owned(),
    };
    check_tag(&tag).map_err(|e| FieldError::new(Field::ContainerTag, e))?;
    Ok((repository, tag))
}

fn parse_machine_type(fields: &Fields) -> Result<String, FieldError> {
    let machine_type = fields
        .machine_type
        .clone()
        .unwrap_or_else(|| DEFAULT_MACHINE_TYPE.to_owned());
    check_machine_type(&machine_type).map_err(|e| FieldError::new(Field::MachineType, e))?;
    Ok(machine_type)
}

/// The post-startup script and when it runs; whether a notebook leaves room for a script of
/// the profile's own is the run's rule, judged with the run.
fn parse_post_startup(
    fields: &Fields,
) -> Result<(Option<String>, Option<ScriptBehavior>), FieldError> {
    let script = fields
        .post_startup_script
        .as_deref()
        .map(|s| check_gcs_uri(s).map(|()| s.to_owned()))
        .transpose()
        .map_err(|e| FieldError::new(Field::PostStartupScript, e))?;
    let behavior = fields
        .post_startup_script_behavior
        .as_deref()
        .map(ScriptBehavior::parse)
        .transpose()
        .map_err(|e| FieldError::new(Field::PostStartupScriptBehavior, e))?;
    Ok((script, behavior))
}

/// 0 is not out of range: it is how a profile turns idle shutdown off.
fn check_idle_timeout(seconds: Option<u32>) -> Result<(), FieldError> {
    if let Some(seconds) = seconds {
        if seconds != 0 && !(600..=86_400).contains(&seconds) {
            return Err(FieldError::new(
                Field::IdleTimeoutSeconds,
                format!(
                    "{seconds} is outside 600–86400 seconds (10 min to 24 h; 0 disables idle shutdown)"
                ),
            ));
        }
    }
    Ok(())
}

fn parse_service_account(fields: &Fields) -> Result<Option<String>, FieldError> {
    fields
        .service_account
        .as_deref()
        .map(|s| check_service_account(s).map(|()| s.to_owned()))
        .transpose()
        .map_err(|e| FieldError::new(Field::ServiceAccount, e))
}

/// The network and the subnet as full resource names, as gcloud expands short ones: the
/// network under `project`, the subnet under the region of the zone `location`.
fn parse_network(
    fields: &Fields,
    project: &str,
    location: &str,
) -> Result<(Option<String>, Option<String>), FieldError> {
    let region = region_of(location).unwrap_or_else(|| location.to_owned());
    let network = fields
        .network
        .as_deref()
        .map(|n| expand_resource(n, &format!("projects/{project}/global/networks/")))
        .transpose()
        .map_err(|e| FieldError::new(Field::Network, e))?;
    let subnet = fields
        .subnet
        .as_deref()
        .map(|s| {
            expand_resource(
                s,
                &format!("projects/{project}/regions/{region}/subnetworks/"),
            )
        })
        .transpose()
        .map_err(|e| FieldError::new(Field::Subnet, e))?;
    Ok((network, subnet))
}

/// A profile may not set the provenance labels: they tell notebook-trigger's own instances
/// (and runs) apart, so a profile that set them could pass another instance off as one.
fn parse_labels(fields: &Fields) -> Result<BTreeMap<String, String>, FieldError> {
    let labels = fields.labels.clone().unwrap_or_default();
    for (key, value) in &labels {
        naming::check_label(key, value).map_err(|e| FieldError::new(Field::Labels, e))?;
        if naming::is_provenance_label(key) {
            return Err(FieldError::new(
                Field::Labels,
                format!("label `{key}` is set by notebook-trigger itself (provenance)"),
            ));
        }
    }
    Ok(labels)
}

fn parse_metadata(fields: &Fields) -> Result<BTreeMap<String, String>, FieldError> {
    let metadata = fields.metadata.clone().unwrap_or_default();
    for key in metadata.keys() {
        check_metadata_key(key).map_err(|e| FieldError::new(Field::Metadata, e))?;
    }
    Ok(metadata)
}

fn parse_instance_id(fields: &Fields) -> Result<Option<InstanceId>, FieldError> {
    fields
        .instance_id
        .as_deref()
        .map(InstanceId::parse)
        .transpose()
        .map_err(|e| FieldError::new(Field::InstanceId, e.to_string()))
}

fn required<'a>(
    value: &'a Option<String>,
    field: Field,
    form: &str,
) -> Result<&'a str, FieldError> {
    value
        .as_deref()
        .ok_or_else(|| FieldError::new(field, format!("is required: expected {form}")))
}

fn parse_accelerator(fields: &Fields) -> Result<Option<Accelerator>, FieldError> {
    match (&fields.accelerator_type, fields.accelerator_count) {
        (None, None) => {
            if fields.install_gpu_driver == Some(true) {
                return Err(FieldError::new(
                    Field::InstallGpuDriver,
                    "a GPU driver needs an accelerator: set accelerator_type too",
                ));
            }
            Ok(None)
        }
        (None, Some(_)) => Err(FieldError::new(
            Field::AcceleratorCount,
            "an accelerator count needs accelerator_type too",
        )),
        (Some(kind), count) => {
            if !ACCELERATOR_TYPES.contains(&kind.as_str()) {
                return Err(FieldError::new(
                    Field::AcceleratorType,
                    format!("`{kind}` is not one of {}", ACCELERATOR_TYPES.join(", ")),
                ));
            }
            let count = count.unwrap_or(1);
            if !(1..=16).contains(&count) {
                return Err(FieldError::new(
                    Field::AcceleratorCount,
                    format!("{count} is outside 1–16"),
                ));
            }
            Ok(Some(Accelerator {
                kind: kind.clone(),
                count,
                install_driver: fields.install_gpu_driver.unwrap_or(true),
            }))
        }
    }
}

fn parse_boot_disk(fields: &Fields) -> Result<Option<BootDisk>, FieldError> {
    if let Some(kind) = &fields.boot_disk_type {
        if !DISK_TYPES.contains(&kind.as_str()) {
            return Err(FieldError::new(
                Field::BootDiskType,
                format!("`{kind}` is not one of {}", DISK_TYPES.join(", ")),
            ));
        }
    }
    if let Some(size) = fields.boot_disk_size_gb {
        if !(150..=64_000).contains(&size) {
            return Err(FieldError::new(
                Field::BootDiskSizeGb,
                format!(
                    "{size} GB is outside 150–64000 (Workbench boot disks are at least 150 GB)"
                ),
            ));
        }
    }
    Ok(
        (fields.boot_disk_type.is_some() || fields.boot_disk_size_gb.is_some()).then(|| BootDisk {
            kind: fields.boot_disk_type.clone(),
            size_gb: fields.boot_disk_size_gb,
        }),
    )
}
