//! Launch profiles: what an instance is made of, and who may change which part of it.
//!
//! A profile is a set of optional [`Fields`]. The default profile comes from environment
//! variables; `PROFILES_FILE` adds named profiles, each layered over the default so it only
//! states what differs; a message may then override the fields the deployment lists in
//! `ALLOWED_OVERRIDES`. The layered result is parsed once into a [`LaunchSpec`], whose types
//! cannot hold an invalid value: the request builders never validate anything.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::naming::{self, InstanceId};

/// Every field a profile (or an allowed override) can set, with its environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Location,
    ContainerImage,
    ContainerTag,
    MachineType,
    PostStartupScript,
    PostStartupScriptBehavior,
    IdleTimeoutSeconds,
    ServiceAccount,
    Network,
    Subnet,
    DisablePublicIp,
    AcceleratorType,
    AcceleratorCount,
    InstallGpuDriver,
    BootDiskType,
    BootDiskSizeGb,
    Labels,
    Metadata,
    InstanceId,
}

impl Field {
    pub const ALL: [Field; 19] = [
        Field::Location,
        Field::ContainerImage,
        Field::ContainerTag,
        Field::MachineType,
        Field::PostStartupScript,
        Field::PostStartupScriptBehavior,
        Field::IdleTimeoutSeconds,
        Field::ServiceAccount,
        Field::Network,
        Field::Subnet,
        Field::DisablePublicIp,
        Field::AcceleratorType,
        Field::AcceleratorCount,
        Field::InstallGpuDriver,
        Field::BootDiskType,
        Field::BootDiskSizeGb,
        Field::Labels,
        Field::Metadata,
        Field::InstanceId,
    ];

    /// The name used in profile files, JSON payloads and `ALLOWED_OVERRIDES`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Location => "location",
            Field::ContainerImage => "container_image",
            Field::ContainerTag => "container_tag",
            Field::MachineType => "machine_type",
            Field::PostStartupScript => "post_startup_script",
            Field::PostStartupScriptBehavior => "post_startup_script_behavior",
            Field::IdleTimeoutSeconds => "idle_timeout_seconds",
            Field::ServiceAccount => "service_account",
            Field::Network => "network",
            Field::Subnet => "subnet",
            Field::DisablePublicIp => "disable_public_ip",
            Field::AcceleratorType => "accelerator_type",
            Field::AcceleratorCount => "accelerator_count",
            Field::InstallGpuDriver => "install_gpu_driver",
            Field::BootDiskType => "boot_disk_type",
            Field::BootDiskSizeGb => "boot_disk_size_gb",
            Field::Labels => "labels",
            Field::Metadata => "metadata",
            Field::InstanceId => "instance_id",
        }
    }

    /// The environment variable that sets this field in the default profile.
    pub fn env_var(self) -> &'static str {
        match self {
            Field::Location => "NOTEBOOK_LOCATION",
            Field::ContainerImage => "CONTAINER_IMAGE",
            Field::ContainerTag => "CONTAINER_TAG",
            Field::MachineType => "MACHINE_TYPE",
            Field::PostStartupScript => "POST_STARTUP_SCRIPT",
            Field::PostStartupScriptBehavior => "POST_STARTUP_SCRIPT_BEHAVIOR",
            Field::IdleTimeoutSeconds => "IDLE_TIMEOUT_SECONDS",
            Field::ServiceAccount => "INSTANCE_SERVICE_ACCOUNT",
            Field::Network => "NETWORK",
            Field::Subnet => "SUBNET",
            Field::DisablePublicIp => "DISABLE_PUBLIC_IP",
            Field::AcceleratorType => "ACCELERATOR_TYPE",
            Field::AcceleratorCount => "ACCELERATOR_COUNT",
            Field::InstallGpuDriver => "INSTALL_GPU_DRIVER",
            Field::BootDiskType => "BOOT_DISK_TYPE",
            Field::BootDiskSizeGb => "BOOT_DISK_SIZE_GB",
            Field::Labels => "INSTANCE_LABELS",
            Field::Metadata => "INSTANCE_METADATA",
            Field::InstanceId => "INSTANCE_ID",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A field whose value cannot be launched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct FieldError {
    pub field: Field,
    pub reason: String,
}

impl FieldError {
    fn new(field: Field, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// One layer of a profile: every field optional, so layers can be stacked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    pub location: Option<String>,
    pub container_image: Option<String>,
    pub container_tag: Option<String>,
    pub machine_type: Option<String>,
    pub post_startup_script: Option<String>,
    pub post_startup_script_behavior: Option<String>,
    pub idle_timeout_seconds: Option<u32>,
    pub service_account: Option<String>,
    pub network: Option<String>,
    pub subnet: Option<String>,
    pub disable_public_ip: Option<bool>,
    pub accelerator_type: Option<String>,
    pub accelerator_count: Option<u32>,
    pub install_gpu_driver: Option<bool>,
    pub boot_disk_type: Option<String>,
    pub boot_disk_size_gb: Option<u32>,
    pub labels: Option<BTreeMap<String, String>>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub instance_id: Option<String>,
}

impl Fields {
    /// `top` over `self`: a field set in `top` wins; label and metadata maps are merged.
    pub fn overlay(&self, top: &Fields) -> Fields {
        fn pick<T: Clone>(base: &Option<T>, top: &Option<T>) -> Option<T> {
            top.clone().or_else(|| base.clone())
        }
        fn merge(
            base: &Option<BTreeMap<String, String>>,
            top: &Option<BTreeMap<String, String>>,
        ) -> Option<BTreeMap<String, String>> {
            match (base, top) {
                (Some(base), Some(top)) => {
                    let mut merged = base.clone();
                    merged.extend(top.clone());
                    Some(merged)
                }
                _ => pick(base, top),
            }
        }
        Fields {
            location: pick(&self.location, &top.location),
            container_image: pick(&self.container_image, &top.container_image),
            container_tag: pick(&self.container_tag, &top.container_tag),
            machine_type: pick(&self.machine_type, &top.machine_type),
            post_startup_script: pick(&self.post_startup_script, &top.post_startup_script),
            post_startup_script_behavior: pick(
                &self.post_startup_script_behavior,
                &top.post_startup_script_behavior,
            ),
            idle_timeout_seconds: pick(&self.idle_timeout_seconds, &top.idle_timeout_seconds),
            service_account: pick(&self.service_account, &top.service_account),
            network: pick(&self.network, &top.network),
            subnet: pick(&self.subnet, &top.subnet),
            disable_public_ip: pick(&self.disable_public_ip, &top.disable_public_ip),
            accelerator_type: pick(&self.accelerator_type, &top.accelerator_type),
            accelerator_count: pick(&self.accelerator_count, &top.accelerator_count),
            install_gpu_driver: pick(&self.install_gpu_driver, &top.install_gpu_driver),
            boot_disk_type: pick(&self.boot_disk_type, &top.boot_disk_type),
            boot_disk_size_gb: pick(&self.boot_disk_size_gb, &top.boot_disk_size_gb),
            labels: merge(&self.labels, &top.labels),
            metadata: merge(&self.metadata, &top.metadata),
            instance_id: pick(&self.instance_id, &top.instance_id),
        }
    }

    /// The fields this layer sets, to check them against `ALLOWED_OVERRIDES`.
    pub fn present(&self) -> Vec<Field> {
        let set = [
            self.location.is_some(),
            self.container_image.is_some(),
            self.container_tag.is_some(),
            self.machine_type.is_some(),
            self.post_startup_script.is_some(),
            self.post_startup_script_behavior.is_some(),
            self.idle_timeout_seconds.is_some(),
            self.service_account.is_some(),
            self.network.is_some(),
            self.subnet.is_some(),
            self.disable_public_ip.is_some(),
            self.accelerator_type.is_some(),
            self.accelerator_count.is_some(),
            self.install_gpu_driver.is_some(),
            self.boot_disk_type.is_some(),
            self.boot_disk_size_gb.is_some(),
            self.labels.is_some(),
            self.metadata.is_some(),
            self.instance_id.is_some(),
        ];
        Field::ALL
            .into_iter()
            .zip(set)
            .filter_map(|(field, set)| set.then_some(field))
            .collect()
    }

    /// Reads the default profile from environment variables (see [`Field::env_var`]).
    ///
    /// # Errors
    /// A [`FieldError`] for a value of the wrong form; the caller names the variable.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Fields, FieldError> {
        let text = |field: Field| env(field.env_var()).filter(|v| !v.trim().is_empty());
        let number = |field: Field| -> Result<Option<u32>, FieldError> {
            text(field)
                .map(|v| {
                    v.trim()
                        .parse::<u32>()
                        .map_err(|_| FieldError::new(field, format!("`{v}` is not a whole number")))
                })
                .transpose()
        };
        let flag = |field: Field| -> Result<Option<bool>, FieldError> {
            text(field)
                .map(|v| {
                    parse_bool(&v).ok_or_else(|| {
                        FieldError::new(field, format!("`{v}` is not true or false"))
                    })
                })
                .transpose()
        };
        let map = |field: Field| -> Result<Option<BTreeMap<String, String>>, FieldError> {
            text(field)
                .map(|v| parse_pairs(&v).map_err(|e| FieldError::new(field, e)))
                .transpose()
        };
        Ok(Fields {
            location: text(Field::Location),
            container_image: text(Field::ContainerImage),
            container_tag: text(Field::ContainerTag),
            machine_type: text(Field::MachineType),
            post_startup_script: text(Field::PostStartupScript),
            post_startup_script_behavior: text(Field::PostStartupScriptBehavior),
            idle_timeout_seconds: number(Field::IdleTimeoutSeconds)?,
            service_account: text(Field::ServiceAccount),
            network: text(Field::Network),
            subnet: text(Field::Subnet),
            disable_public_ip: flag(Field::DisablePublicIp)?,
            accelerator_type: text(Field::AcceleratorType),
            accelerator_count: number(Field::AcceleratorCount)?,
            install_gpu_driver: flag(Field::InstallGpuDriver)?,
            boot_disk_type: text(Field::BootDiskType),
            boot_disk_size_gb: number(Field::BootDiskSizeGb)?,
            labels: map(Field::Labels)?,
            metadata: map(Field::Metadata)?,
            instance_id: text(Field::InstanceId),
        })
    }
}

/// `true/false`, `1/0`, `yes/no`, `on/off`, in any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `k=v,k2=v2` (the form gcloud's `--labels` and `--metadata` take).
fn parse_pairs(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(format!("`{pair}` is not KEY=VALUE (expected k=v,k2=v2)")),
        })
        .collect()
}

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
}

pub const DEFAULT_MACHINE_TYPE: &str = "n1-standard-4";
pub const DEFAULT_CONTAINER_TAG: &str = "latest";

/// Accelerator types the v2 API lists (discovery `AcceleratorConfig.type`).
const ACCELERATOR_TYPES: &[&str] = &[
    "NVIDIA_TESLA_P100",
    "NVIDIA_TESLA_V100",
    "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_T4",
    "NVIDIA_TESLA_A100",
    "NVIDIA_A100_80GB",
    "NVIDIA_L4",
    "NVIDIA_H100_80GB",
    "NVIDIA_H100_MEGA_80GB",
    "NVIDIA_H200_141GB",
    "NVIDIA_TESLA_T4_VWS",
    "NVIDIA_TESLA_P100_VWS",
    "NVIDIA_TESLA_P4_VWS",
    "NVIDIA_B200",
    "NVIDIA_RTX6000",
];

/// Disk types the v2 API lists (discovery `BootDisk.diskType`).
const DISK_TYPES: &[&str] = &[
    "PD_STANDARD",
    "PD_SSD",
    "PD_BALANCED",
    "PD_EXTREME",
    "HYPERDISK_BALANCED",
    "HYPERDISK_EXTREME",
    "HYPERDISK_THROUGHPUT",
    "HYPERDISK_BALANCED_HIGH_AVAILABILITY",
    "HYPERDISK_ML",
];

/// Metadata keys with a dedicated field, or that Workbench overwrites anyway.
const RESERVED_METADATA: &[&str] = &[
    "post-startup-script",
    "post-startup-script-behavior",
    "idle-timeout-seconds",
    "custom-container-image",
    "custom-container-payload",
    "proxy-mode",
    "shutdown-script",
    "serial-port-logging-enable",
    "install-nvidia-driver",
    "notebooks-api",
    "version",
];

impl LaunchSpec {
    /// Parses layered fields into a launch; `project` expands short network names.
    ///
    /// # Errors
    /// The first [`FieldError`], naming the field and the expected form.
    pub fn parse(fields: &Fields, project: &str) -> Result<LaunchSpec, FieldError> {
        let location = required(
            &fields.location,
            Field::Location,
            "a zone such as us-central1-a",
        )?;
        let location = parse_zone(location).map_err(|e| FieldError::new(Field::Location, e))?;
        let image = required(
            &fields.container_image,
            Field::ContainerImage,
            "a container repository such as us-docker.pkg.dev/PROJECT/REPO/IMAGE",
        )?;
        let (container_repository, tag_in_image) =
            split_image(image).map_err(|e| FieldError::new(Field::ContainerImage, e))?;
        let container_tag = match (tag_in_image, &fields.container_tag) {
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
        check_tag(&container_tag).map_err(|e| FieldError::new(Field::ContainerTag, e))?;
        let machine_type = fields
            .machine_type
            .clone()
            .unwrap_or_else(|| DEFAULT_MACHINE_TYPE.to_owned());
        check_machine_type(&machine_type).map_err(|e| FieldError::new(Field::MachineType, e))?;
        let post_startup_script = fields
            .post_startup_script
            .as_deref()
            .map(|s| check_gcs_uri(s).map(|()| s.to_owned()))
            .transpose()
            .map_err(|e| FieldError::new(Field::PostStartupScript, e))?;
        let post_startup_script_behavior = fields
            .post_startup_script_behavior
            .as_deref()
            .map(parse_behavior)
            .transpose()
            .map_err(|e| FieldError::new(Field::PostStartupScriptBehavior, e))?;
        if let Some(seconds) = fields.idle_timeout_seconds {
            if seconds != 0 && !(600..=86_400).contains(&seconds) {
                return Err(FieldError::new(
                    Field::IdleTimeoutSeconds,
                    format!(
                        "{seconds} is outside 600–86400 seconds (10 min to 24 h; 0 disables idle shutdown)"
                    ),
                ));
            }
        }
        let service_account = fields
            .service_account
            .as_deref()
            .map(|s| check_service_account(s).map(|()| s.to_owned()))
            .transpose()
            .map_err(|e| FieldError::new(Field::ServiceAccount, e))?;
        let region = location
            .rsplit_once('-')
            .map_or(location.as_str(), |(r, _)| r);
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
        let accelerator = parse_accelerator(fields)?;
        let boot_disk = parse_boot_disk(fields)?;
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
        let metadata = fields.metadata.clone().unwrap_or_default();
        for key in metadata.keys() {
            check_metadata_key(key).map_err(|e| FieldError::new(Field::Metadata, e))?;
        }
        let instance_id = fields
            .instance_id
            .as_deref()
            .map(InstanceId::parse)
            .transpose()
            .map_err(|e| FieldError::new(Field::InstanceId, e.to_string()))?;
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
        })
    }
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

fn parse_zone(text: &str) -> Result<String, String> {
    let ok = text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && text.split('-').count() >= 3
        && text
            .rsplit('-')
            .next()
            .is_some_and(|z| z.len() == 1 && z.chars().all(|c| c.is_ascii_lowercase()));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a zone: Workbench instances live in a zone such as us-central1-a, not a region"
        ))
    }
}

/// `repo[:tag]`; a digest cannot be expressed in the API's `ContainerImage`.
fn split_image(image: &str) -> Result<(String, Option<String>), String> {
    if image.is_empty() || image.chars().any(char::is_whitespace) || image.contains("://") {
        return Err(format!(
            "`{image}` is not a container repository (expected e.g. us-docker.pkg.dev/PROJECT/REPO/IMAGE, no scheme)"
        ));
    }
    if image.contains('@') {
        return Err(format!(
            "`{image}` names a digest; the Notebooks API takes a repository and a tag"
        ));
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => {
            let repository = &image[..image.len() - tag.len() - 1];
            Ok((repository.to_owned(), Some(tag.to_owned())))
        }
        None => Ok((image.to_owned(), None)),
    }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = tag.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "`{tag}` is not a container tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
        ))
    }
}

fn check_machine_type(text: &str) -> Result<(), String> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a machine type (expected e.g. n1-standard-4, e2-highmem-8)"
        ))
    }
}

/// `gs://bucket/object`: Workbench only runs post-startup scripts from Cloud Storage.
pub fn check_gcs_uri(text: &str) -> Result<(), String> {
    let ok = text.strip_prefix("gs://").is_some_and(|rest| {
        rest.split_once('/').is_some_and(|(bucket, object)| {
            bucket.len() >= 3
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
                && !object.is_empty()
                && !object.chars().any(|c| c.is_control())
        })
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a Cloud Storage object URI (expected gs://BUCKET/path/script.sh)"
        ))
    }
}

fn parse_behavior(text: &str) -> Result<ScriptBehavior, String> {
    match text {
        "run_once" => Ok(ScriptBehavior::RunOnce),
        "run_every_start" => Ok(ScriptBehavior::RunEveryStart),
        "download_and_run_every_start" => Ok(ScriptBehavior::DownloadAndRunEveryStart),
        other => Err(format!(
            "`{other}` is not one of run_once, run_every_start, download_and_run_every_start"
        )),
    }
}

fn check_service_account(text: &str) -> Result<(), String> {
    match text.split_once('@') {
        Some((name, domain))
            if !name.is_empty()
                && domain.contains('.')
                && !text.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`{text}` is not a service account email (expected NAME@PROJECT.iam.gserviceaccount.com)"
        )),
    }
}

/// Short names become full resource names under `prefix`, as gcloud does.
fn expand_resource(text: &str, prefix: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{text}` is not a resource name"));
    }
    if text.starts_with("projects/") {
        Ok(text.to_owned())
    } else if text.contains('/') {
        Err(format!(
            "`{text}` is neither a short name nor a full name starting with projects/"
        ))
    } else {
        Ok(format!("{prefix}{text}"))
    }
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

fn check_metadata_key(key: &str) -> Result<(), String> {
    if RESERVED_METADATA.contains(&key) {
        return Err(format!(
            "metadata key `{key}` has its own setting or is overwritten by Workbench; use the dedicated field"
        ));
    }
    let ok = !key.is_empty()
        && key.len() <= 128
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{key}` is not a metadata key ([A-Za-z0-9_-]{{1,128}})"
        ))
    }
}

/// Named profiles from `PROFILES_FILE`, each already layered over the default profile.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    default: Fields,
    named: BTreeMap<String, Fields>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    profiles: BTreeMap<String, Fields>,
}

/// A profiles file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfilesError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Syntax { path: String, reason: String },
    #[error("{path}: {reason} (expected a .toml, .yaml or .yml file)")]
    Format { path: String, reason: String },
    #[error("{path}: profile `{profile}`: field `{field}`: {reason}")]
    Invalid {
        path: String,
        profile: String,
        field: Field,
        reason: String,
    },
    #[error(
        "{path}: profile name `{name}` is not allowed: names are 1–63 of [a-z0-9_-], starting with a letter"
    )]
    BadName { path: String, name: String },
}

impl Profiles {
    pub fn new(default: Fields) -> Self {
        Self {
            default,
            named: BTreeMap::new(),
        }
    }

    /// Loads `path` (TOML or YAML, by extension) with a `profiles` table of named [`Fields`].
    ///
    /// # Errors
    /// [`ProfilesError`] naming the file, the profile and the field.
    pub fn load(default: Fields, path: &Path, project: &str) -> Result<Self, ProfilesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ProfilesError::Read {
            path: shown.clone(),
            source,
        })?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        let file: ProfilesFile = match extension {
            "toml" => toml::from_str(&text).map_err(|e| ProfilesError::Syntax {
                path: shown.clone(),
                reason: e.to_string(),
            })?,
            "yaml" | "yml" => {
                serde_yaml_ng::from_str(&text).map_err(|e| ProfilesError::Syntax {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?
            }
            other => {
                return Err(ProfilesError::Format {
                    path: shown,
                    reason: format!("unknown extension `{other}`"),
                });
            }
        };
        let mut named = BTreeMap::new();
        for (name, fields) in file.profiles {
            if !naming::is_label_value(&name)
                || name.is_empty()
                || !name.starts_with(|c: char| c.is_ascii_lowercase())
            {
                return Err(ProfilesError::BadName { path: shown, name });
            }
            let layered = default.overlay(&fields);
            LaunchSpec::parse(&layered, project).map_err(|e| ProfilesError::Invalid {
                path: shown.clone(),
                profile: name.clone(),
                field: e.field,
                reason: e.reason,
            })?;
            named.insert(name, layered);
        }
        Ok(Self { default, named })
    }

    /// The layered fields of a profile (`None` selects the default profile).
    pub fn get(&self, name: Option<&str>) -> Option<&Fields> {
        match name {
            None | Some("default") => Some(&self.default),
            Some(name) => self.named.get(name),
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once("default").chain(self.named.keys().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Fields {
        Fields {
            location: Some("us-central1-a".into()),
            container_image: Some("us-docker.pkg.dev/p/r/img".into()),
            post_startup_script: Some("gs://bucket/script.sh".into()),
            ..Fields::default()
        }
    }

    #[test]
    fn minimal_profile_gets_the_documented_defaults() {
        let spec = LaunchSpec::parse(&base(), "p").unwrap();
        assert_eq!(spec.container_tag, "latest");
        assert_eq!(spec.machine_type, "n1-standard-4");
        assert_eq!(spec.idle_timeout_seconds, None);
        assert!(!spec.disable_public_ip);
    }

    #[test]
    fn tag_may_come_with_the_image_but_not_twice() {
        let mut f = base();
        f.container_image = Some("localhost:5000/img:v2".into());
        let spec = LaunchSpec::parse(&f, "p").unwrap();
        assert_eq!(
            (
                spec.container_repository.as_str(),
                spec.container_tag.as_str()
            ),
            ("localhost:5000/img", "v2")
        );
        f.container_tag = Some("v3".into());
        assert_eq!(
            LaunchSpec::parse(&f, "p").unwrap_err().field,
            Field::ContainerTag
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases: Vec<(Fields, Field)> = vec![
            (
                Fields {
                    location: None,
                    ..base()
                },
                Field::Location,
            ),
            (
                Fields {
                    location: Some("us-central1".into()),
                    ..base()
                },
                Field::Location,
            ),
            (
                Fields {
                    container_image: None,
                    ..base()
                },
                Field::ContainerImage,
            ),
            (
                Fields {
                    container_image: Some("https://x/y".into()),
                    ..base()
                },
                Field::ContainerImage,
            ),
            (
                Fields {
                    container_tag: Some("-bad".into()),
                    ..base()
                },
                Field::ContainerTag,
            ),
            (
                Fields {
                    machine_type: Some("N1 STANDARD".into()),
                    ..base()
                },
                Field::MachineType,
            ),
            (
                Fields {
                    post_startup_script: Some("/tmp/s.sh".into()),
                    ..base()
                },
                Field::PostStartupScript,
            ),
            (
                Fields {
                    post_startup_script_behavior: Some("sometimes".into()),
                    ..base()
                },
                Field::PostStartupScriptBehavior,
            ),
            (
                Fields {
                    idle_timeout_seconds: Some(5),
                    ..base()
                },
                Field::IdleTimeoutSeconds,
            ),
            (
                Fields {
                    service_account: Some("nobody".into()),
                    ..base()
                },
                Field::ServiceAccount,
            ),
            (
                Fields {
                    network: Some("a/b".into()),
                    ..base()
                },
                Field::Network,
            ),
            (
                Fields {
                    accelerator_type: Some("TPU".into()),
                    ..base()
                },
                Field::AcceleratorType,
            ),
            (
                Fields {
                    accelerator_count: Some(2),
                    ..base()
                },
                Field::AcceleratorCount,
            ),
            (
                Fields {
                    install_gpu_driver: Some(true),
                    ..base()
                },
                Field::InstallGpuDriver,
            ),
            (
                Fields {
                    boot_disk_type: Some("FLOPPY".into()),
                    ..base()
                },
                Field::BootDiskType,
            ),
            (
                Fields {
                    boot_disk_size_gb: Some(10),
                    ..base()
                },
                Field::BootDiskSizeGb,
            ),
            (
                Fields {
                    labels: Some([("Bad".into(), "x".into())].into()),
                    ..base()
                },
                Field::Labels,
            ),
            (
                Fields {
                    labels: Some([("managed-by".into(), "me".into())].into()),
                    ..base()
                },
                Field::Labels,
            ),
            (
                Fields {
                    metadata: Some([("post-startup-script".into(), "x".into())].into()),
                    ..base()
                },
                Field::Metadata,
            ),
            (
                Fields {
                    instance_id: Some("../x".into()),
                    ..base()
                },
                Field::InstanceId,
            ),
        ];
        for (fields, field) in cases {
            let error = LaunchSpec::parse(&fields, "p").expect_err(&format!("{field} should fail"));
            assert_eq!(error.field, field, "{error}");
        }
    }

    #[test]
    fn short_network_names_are_expanded_like_gcloud() {
        let f = Fields {
            network: Some("default".into()),
            subnet: Some("sub".into()),
            ..base()
        };
        let spec = LaunchSpec::parse(&f, "proj").unwrap();
        assert_eq!(
            spec.network.as_deref(),
            Some("projects/proj/global/networks/default")
        );
        assert_eq!(
            spec.subnet.as_deref(),
            Some("projects/proj/regions/us-central1/subnetworks/sub")
        );
    }

    #[test]
    fn overlay_prefers_the_top_and_merges_maps() {
        let bottom = Fields {
            machine_type: Some("a".into()),
            labels: Some([("x".into(), "1".into())].into()),
            ..Fields::default()
        };
        let top = Fields {
            machine_type: Some("b".into()),
            labels: Some([("y".into(), "2".into())].into()),
            ..Fields::default()
        };
        let merged = bottom.overlay(&top);
        assert_eq!(merged.machine_type.as_deref(), Some("b"));
        assert_eq!(merged.labels.unwrap().len(), 2);
        assert_eq!(top.present(), vec![Field::MachineType, Field::Labels]);
    }

    #[test]
    fn env_values_of_the_wrong_form_name_the_field() {
        let env = |name: &str| match name {
            "ACCELERATOR_COUNT" => Some("two".to_owned()),
            _ => None,
        };
        assert_eq!(
            Fields::from_env(&env).unwrap_err().field,
            Field::AcceleratorCount
        );
        let env = |name: &str| (name == "INSTANCE_LABELS").then(|| "team=ml,broken".to_owned());
        assert_eq!(Fields::from_env(&env).unwrap_err().field, Field::Labels);
        let env = |name: &str| (name == "INSTANCE_LABELS").then(|| "team=ml, env=dev".to_owned());
        assert_eq!(
            Fields::from_env(&env).unwrap().labels.unwrap()["env"],
            "dev"
        );
    }

    #[test]
    fn profiles_file_in_toml_and_yaml_layers_over_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("p.toml");
        std::fs::write(&toml_path, "[profiles.gpu]\naccelerator_type = \"NVIDIA_TESLA_T4\"\nmachine_type = \"n1-standard-8\"\n").unwrap();
        let profiles = Profiles::load(base(), &toml_path, "p").unwrap();
        let gpu = profiles.get(Some("gpu")).unwrap();
        assert_eq!(
            gpu.container_image,
            base().container_image,
            "inherits the default"
        );
        assert_eq!(gpu.machine_type.as_deref(), Some("n1-standard-8"));
        assert_eq!(profiles.names().collect::<Vec<_>>(), ["default", "gpu"]);

        let yaml_path = dir.path().join("p.yaml");
        std::fs::write(&yaml_path, "profiles:\n  big:\n    boot_disk_size_gb: 10\n").unwrap();
        let error = Profiles::load(base(), &yaml_path, "p")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("profile `big`") && error.contains("boot_disk_size_gb"),
            "{error}"
        );

        std::fs::write(&yaml_path, "profiles:\n  big:\n    colour: red\n").unwrap();
        let error = Profiles::load(base(), &yaml_path, "p")
            .unwrap_err()
            .to_string();
        assert!(error.contains("colour"), "{error}");
    }
}
