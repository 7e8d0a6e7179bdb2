//! The fields a profile can set: one layer of optional values, read from the environment,
//! from profile files and from messages, and stacked with [`Fields::overlay`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

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
    pub(super) fn new(field: Field, reason: impl Into<String>) -> Self {
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
