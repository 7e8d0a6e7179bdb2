//! gcloud as the emulator's tests run it: a throwaway configuration, no credentials, and
//! endpoint overrides that send Google's real requests to the emulator. Where gcloud is
//! missing a test is skipped with the reason printed, unless CI=true or REQUIRE_GCLOUD=1.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Whether gcloud is on PATH; where it is required and missing, the test fails instead.
pub fn here() -> bool {
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("REQUIRE_GCLOUD").is_ok_and(|v| v == "1");
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("gcloud").is_file()));
    assert!(found || !required, "gcloud is required but not on PATH");
    if !found {
        eprintln!("skipped: gcloud is not on PATH");
    }
    found
}

/// A throwaway gcloud configuration directory, removed when dropped.
pub struct Config(pub PathBuf);

impl Config {
    pub fn new() -> Config {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("gcloud-{}-{nanos}", std::process::id());
        Config(std::env::temp_dir().join(name))
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs gcloud under `config` with no credentials, each `(API, URL)` of `overrides` as its
/// `CLOUDSDK_API_ENDPOINT_OVERRIDES_API`; its stdout, once it succeeded within 120 s.
pub async fn run(config: &Path, overrides: &[(&str, String)], args: &[&str]) -> String {
    let mut command = tokio::process::Command::new("gcloud");
    command
        .args(args)
        .env("CLOUDSDK_CONFIG", config)
        .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
        .env("CLOUDSDK_CORE_PROJECT", "p")
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (api, url) in overrides {
        command.env(format!("CLOUDSDK_API_ENDPOINT_OVERRIDES_{api}"), url);
    }
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("gcloud {args:?} did not finish within 120 s"))
        .expect("gcloud runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "gcloud {args:?}: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}
