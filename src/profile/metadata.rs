//! The instance metadata keys that Compute Engine, Workbench and notebook-trigger itself give a
//! meaning to, declared once, and who may set each.
//!
//! Instance metadata is not only data: Compute Engine's guest environment runs the
//! `startup-script` it finds there as root on every boot, installs the `ssh-keys` it lists, and
//! Workbench reads its own keys to decide how JupyterLab, the proxy and the container run. A
//! message that could set them would own the VM and the service account it runs as, so **a
//! message can never set any key of [`RESERVED_KEYS`]**, whatever `ALLOWED_OVERRIDES` says: a
//! message that may set `metadata` may set the deployment's own keys only.
//!
//! The deployment's profile (`INSTANCE_METADATA`, `PROFILES_FILE`) is trusted more, but not
//! with everything. It may choose the documented settings of Workbench and Compute Engine
//! ([`KeyClass::Setting`]: `notebook-disable-root`, `jupyter-user`, `enable-guest-attributes`,
//! …), which only change how the instance is served. It may never set a key that runs code or
//! decides who logs in ([`KeyClass::Code`], [`KeyClass::Access`]): code reaches an instance
//! through one door, the profile's `post_startup_script` (a checked `gs://` object) or the
//! runner when the profile runs a notebook; a `startup-script` would run as root before
//! Workbench sets the instance up and again on every restart, outside the runner's time limit
//! and report, and SSH or OS Login keys are the project's access management, not a launch
//! setting. Keys with a profile field of their own, keys Workbench overwrites and the runner's
//! keys are refused everywhere too, since a value there would be ignored or would contradict
//! the field.
//!
//! Keys are matched without regard to case (`Startup-Script` is refused like `startup-script`),
//! and by prefix where Google names a family (`windows-startup-script-ps1`, `-cmd`, `-bat`,
//! `-url`): a spelling Google does not read costs nothing to refuse, one it does read must not
//! slip through.
//!
//! Sources. Read in stored copies: Compute Engine's "Predefined metadata keys"
//! (<https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys>); the keys with
//! special meanings that `gcloud compute instances create --help` lists under `--metadata`
//! (`startup-script(-url)`, `windows-startup-script-{url,cmd,bat,ps1}`,
//! `sysprep-specialize-script-{url,cmd,bat,ps1}`); Workbench's "Manage features through
//! metadata" (the settings, the order `startup-script` → `startup-script-url` → post-startup
//! script, the protected keys:
//! <https://cloud.google.com/vertex-ai/docs/workbench/instances/manage-metadata>); the keys the
//! Workbench service gives an instance itself, as Terraform's provider lists them
//! (`WorkbenchInstanceProvidedMetadata` in GoogleCloudPlatform/magic-modules,
//! `mmv1/templates/terraform/constants/workbench_instance.go.tmpl`); cloud-init's GCE data
//! source (`user-data`:
//! <https://cloudinit.readthedocs.io/en/latest/reference/datasources/gce.html>).
//! The pages each family is documented on:
//! - startup and shutdown scripts:
//!   <https://cloud.google.com/compute/docs/instances/startup-scripts/linux>,
//!   <https://cloud.google.com/compute/docs/instances/startup-scripts/windows>,
//!   <https://cloud.google.com/compute/docs/shutdownscript>
//! - SSH keys in metadata (`ssh-keys`, `sshKeys`, `block-project-ssh-keys`):
//!   <https://cloud.google.com/compute/docs/connect/add-ssh-keys>
//! - OS Login (`enable-oslogin`, `enable-oslogin-2fa`, `enable-oslogin-sk`):
//!   <https://cloud.google.com/compute/docs/oslogin/set-up-oslogin>
//! - Container-Optimized OS's container declaration (`gce-container-declaration`):
//!   <https://cloud.google.com/compute/docs/containers/deploying-containers>

use super::fields::Field;
use crate::runner::KEY_PREFIX;

/// Why a key is reserved, which decides who may set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// Runs code on the VM: never, from a message or a profile.
    Code,
    /// Decides who can log in to the VM: never.
    Access,
    /// Has a profile field of its own, which writes it: set the field instead.
    Field(Field),
    /// Written by Workbench or Compute Engine itself, which overwrites any value sent: never.
    Managed,
    /// Carries a run to the runner; notebook-trigger writes it from the profile: never.
    Runner,
    /// A documented setting of Workbench or Compute Engine: a profile may, a message never.
    Setting,
}

/// How a pattern of [`RESERVED_KEYS`] meets a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Exact,
    /// The key starts with the pattern: a family of keys Google names by prefix.
    Prefix,
}

/// One reserved key, or one family of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedKey {
    /// In lower case: keys are lowered before they are compared.
    pattern: &'static str,
    how: Match,
    pub class: KeyClass,
    /// What reads it, for the refusal's message.
    pub owner: &'static str,
}

const fn key(pattern: &'static str, class: KeyClass, owner: &'static str) -> ReservedKey {
    ReservedKey {
        pattern,
        how: Match::Exact,
        class,
        owner,
    }
}

const fn family(pattern: &'static str, class: KeyClass, owner: &'static str) -> ReservedKey {
    ReservedKey {
        pattern,
        how: Match::Prefix,
        class,
        owner,
    }
}

const CE: &str = "Compute Engine";
const GUEST: &str = "Compute Engine's guest environment";
const WB: &str = "Workbench";

/// Every reserved key, declared once (sources in the module's documentation).
pub const RESERVED_KEYS: &[ReservedKey] = &[
    // Code on the VM, as root.
    key("startup-script", KeyClass::Code, GUEST),
    key("startup-script-url", KeyClass::Code, GUEST),
    key("shutdown-script", KeyClass::Code, GUEST),
    key("shutdown-script-url", KeyClass::Code, GUEST),
    family("windows-startup-script-", KeyClass::Code, GUEST),
    family("windows-shutdown-script-", KeyClass::Code, GUEST),
    family("sysprep-specialize-script-", KeyClass::Code, GUEST),
    family("user-data", KeyClass::Code, "cloud-init"),
    key(
        "gce-container-declaration",
        KeyClass::Code,
        "Container-Optimized OS",
    ),
    // Who logs in.
    key("ssh-keys", KeyClass::Access, GUEST),
    // Google spells it `sshKeys` (the project-level key of old); matched in any case.
    key("sshkeys", KeyClass::Access, GUEST),
    key("block-project-ssh-keys", KeyClass::Access, GUEST),
    family("enable-oslogin", KeyClass::Access, "OS Login"),
    key("windows-keys", KeyClass::Access, GUEST),
    key("enable-windows-ssh", KeyClass::Access, GUEST),
    key("serial-port-enable", KeyClass::Access, CE),
    // Workbench keys that a profile field writes.
    key(
        "post-startup-script",
        KeyClass::Field(Field::PostStartupScript),
        WB,
    ),
    key(
        "post-startup-script-behavior",
        KeyClass::Field(Field::PostStartupScriptBehavior),
        WB,
    ),
    key(
        "idle-timeout-seconds",
        KeyClass::Field(Field::IdleTimeoutSeconds),
        WB,
    ),
    // Written by the services themselves.
    key("serial-port-logging-enable", KeyClass::Managed, CE),
    family("custom-container-", KeyClass::Managed, WB),
    key("container", KeyClass::Managed, WB),
    key("install-nvidia-driver", KeyClass::Managed, WB),
    key("nvidia-driver-gcs-path", KeyClass::Managed, WB),
    family("proxy-", KeyClass::Managed, WB),
    family("notebooks-", KeyClass::Managed, WB),
    family("dataproc-", KeyClass::Managed, WB),
    family("agent-health-check-", KeyClass::Managed, WB),
    family("generate-diagnostics-", KeyClass::Managed, WB),
    key("data-disk-uri", KeyClass::Managed, WB),
    key("disable-check-xsrf", KeyClass::Managed, WB),
    key("disable-swap-binaries", KeyClass::Managed, WB),
    key("framework", KeyClass::Managed, WB),
    key("gcs-data-bucket", KeyClass::Managed, WB),
    key("image-url", KeyClass::Managed, WB),
    key("install-monitoring-agent", KeyClass::Managed, WB),
    key("installed-extensions", KeyClass::Managed, WB),
    key("report-container-health", KeyClass::Managed, WB),
    key("report-notebook-metrics", KeyClass::Managed, WB),
    key("report-system-health", KeyClass::Managed, WB),
    key("report-system-status", KeyClass::Managed, WB),
    key("restriction", KeyClass::Managed, WB),
    key("title", KeyClass::Managed, WB),
    key("use-collaborative", KeyClass::Managed, WB),
    key("version", KeyClass::Managed, WB),
    // The runner's.
    family(KEY_PREFIX, KeyClass::Runner, "notebook-trigger's runner"),
    // Settings a deployment may choose for its instances.
    key("container-allow-fuse", KeyClass::Setting, WB),
    key("container-custom-params", KeyClass::Setting, WB),
    key("container-env-file", KeyClass::Setting, WB),
    key("jupyter-user", KeyClass::Setting, WB),
    key("notebook-disable-root", KeyClass::Setting, WB),
    key("notebook-disable-terminal", KeyClass::Setting, WB),
    key("notebook-disable-downloads", KeyClass::Setting, WB),
    key("notebook-disable-nbconvert", KeyClass::Setting, WB),
    key("notebook-enable-delete-to-trash", KeyClass::Setting, WB),
    key("notebook-upgrade-schedule", KeyClass::Setting, WB),
    key("disable-mixer", KeyClass::Setting, WB),
    key("install-unattended-upgrades", KeyClass::Setting, WB),
    key("report-event-health", KeyClass::Setting, WB),
    key("enable-jupyterlab4", KeyClass::Setting, WB),
    key("enable-guest-attributes", KeyClass::Setting, CE),
    key("disable-legacy-endpoints", KeyClass::Setting, CE),
    key("enable-os-inventory", KeyClass::Setting, CE),
    key("enable-osconfig", KeyClass::Setting, CE),
    family("osconfig-", KeyClass::Setting, CE),
    key("google-logging-enable", KeyClass::Setting, CE),
    key("google-monitoring-enable", KeyClass::Setting, CE),
    key("vmdnssetting", KeyClass::Setting, CE),
    key("disable-account-manager", KeyClass::Setting, GUEST),
    key("disable-address-manager", KeyClass::Setting, GUEST),
    key("disable-agent-updates", KeyClass::Setting, GUEST),
    key("enable-diagnostics", KeyClass::Setting, GUEST),
    key("enable-wsfc", KeyClass::Setting, GUEST),
    family("wsfc-", KeyClass::Setting, GUEST),
    key(
        "cos-update-strategy",
        KeyClass::Setting,
        "Container-Optimized OS",
    ),
];

impl ReservedKey {
    /// Whether `key`, already in lower case, is this one (or of this family).
    fn matches(&self, key: &str) -> bool {
        match self.how {
            Match::Exact => key == self.pattern,
            Match::Prefix => key.starts_with(self.pattern),
        }
    }

    /// Whether the deployment's own profile may set it (see the module's documentation).
    pub fn profile_may_set(&self) -> bool {
        self.class == KeyClass::Setting
    }

    /// Why nobody but its owner (or the profile, for a setting) may set it.
    pub fn why(&self) -> String {
        let owner = self.owner;
        match self.class {
            KeyClass::Code => format!("{owner} runs it as code on the VM, as root"),
            KeyClass::Access => format!("{owner} reads it to decide who can log in to the VM"),
            KeyClass::Field(field) => {
                format!("the profile field `{field}` writes it; set that field instead")
            }
            KeyClass::Managed => format!("{owner} writes it itself and overwrites what is sent"),
            KeyClass::Runner => {
                "it carries the run to the runner; notebook-trigger writes it from the profile's notebook fields".to_owned()
            }
            KeyClass::Setting => format!(
                "it is a {owner} setting of the instance, which only the deployment's profile may choose"
            ),
        }
    }
}

/// The reserved key (or family) `key` is, if any.
pub fn reserved_key(key: &str) -> Option<&'static ReservedKey> {
    let key = key.to_ascii_lowercase();
    RESERVED_KEYS.iter().find(|reserved| reserved.matches(&key))
}

/// A key of a profile's `metadata`: of the form Compute Engine takes, and reserved only as a
/// setting the profile may choose.
pub(super) fn check_metadata_key(key: &str) -> Result<(), String> {
    if let Some(reserved) = reserved_key(key).filter(|r| !r.profile_may_set()) {
        return Err(format!(
            "metadata key `{}` cannot be set by a profile: {}",
            key.escape_debug(),
            reserved.why()
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
            "`{}` is not a metadata key ([A-Za-z0-9_-]{{1,128}})",
            key.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_lower_case_and_none_hides_another() {
        for (i, entry) in RESERVED_KEYS.iter().enumerate() {
            assert_eq!(entry.pattern, entry.pattern.to_ascii_lowercase());
            let first = reserved_key(entry.pattern).unwrap();
            assert_eq!(
                first, entry,
                "{} is shadowed by {}",
                entry.pattern, first.pattern
            );
            for later in &RESERVED_KEYS[i + 1..] {
                assert_ne!(entry.pattern, later.pattern, "declared twice");
            }
        }
    }

    #[test]
    fn keys_match_in_any_case_and_families_by_prefix() {
        for (key, class) in [
            ("startup-script", KeyClass::Code),
            ("STARTUP-SCRIPT", KeyClass::Code),
            ("Startup-Script-Url", KeyClass::Code),
            ("windows-startup-script-ps1", KeyClass::Code),
            ("sysprep-specialize-script-url", KeyClass::Code),
            ("user-data-encoding", KeyClass::Code),
            ("sshKeys", KeyClass::Access),
            ("enable-oslogin-2fa", KeyClass::Access),
            ("proxy-mode", KeyClass::Managed),
            ("notebook-trigger-parameters", KeyClass::Runner),
            (
                "post-startup-script",
                KeyClass::Field(Field::PostStartupScript),
            ),
            ("notebook-disable-root", KeyClass::Setting),
        ] {
            assert_eq!(reserved_key(key).map(|r| r.class), Some(class), "{key}");
        }
        for free in [
            "team",
            "startup",
            "my-startup-script",
            "script",
            "data-user",
        ] {
            assert_eq!(reserved_key(free), None, "{free}");
        }
    }

    #[test]
    fn a_profile_may_choose_settings_but_never_code_access_or_what_others_write() {
        for ok in [
            "team",
            "notebook-disable-root",
            "jupyter-user",
            "Enable-Guest-Attributes",
        ] {
            assert_eq!(check_metadata_key(ok), Ok(()), "{ok}");
        }
        for (key, said) in [
            ("startup-script", "as code on the VM, as root"),
            ("windows-startup-script-cmd", "as code on the VM"),
            ("ssh-keys", "who can log in"),
            ("ENABLE-OSLOGIN", "who can log in"),
            ("post-startup-script", "`post_startup_script`"),
            ("idle-timeout-seconds", "`idle_timeout_seconds`"),
            ("proxy-mode", "overwrites"),
            ("notebook-trigger-run-id", "runner"),
            ("a b", "not a metadata key"),
            ("", "not a metadata key"),
        ] {
            let error = check_metadata_key(key).unwrap_err();
            assert!(error.contains(said), "{key}: {error}");
        }
    }
}
