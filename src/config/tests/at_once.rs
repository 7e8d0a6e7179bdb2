//! Every bad value named at once; the address the service listens on; where the profiles are.

use super::settings;
use crate::config::ProfilesFile;

/// Each variable at fault is named, in the order they are read, one per line under a count;
/// a variable read for two settings is named once.
#[test]
fn every_bad_value_is_named_at_once() {
    let error = settings(&[
        ("PORT", "http"),
        ("MACHINE_TYPE", "n1-standard-8"),
        ("DISABLE_PUBLIC_IP", "maybe"),
        ("BOOT_DISK_SIZE_GB", "big"),
        ("ON_EXISTING", "crash"),
        ("PUSH_AUTH_AUDIENCE", "https://trigger.example"),
        (
            "PUSH_AUTH_SERVICE_ACCOUNTS",
            "push@p.iam.gserviceaccount.com",
        ),
        ("RUNS_READERS", "ana@example.com"),
        ("PUSH_AUTH_JWKS_URL", "file:///keys"),
        ("ON_FAILURE", "explode"),
        ("LOG_FORMAT", "xml"),
    ])
    .unwrap_err();
    assert_eq!(
        error.variables(),
        [
            "PORT",
            "DISABLE_PUBLIC_IP",
            "BOOT_DISK_SIZE_GB",
            "ON_EXISTING",
            "PUSH_AUTH_JWKS_URL",
            "LOG_FORMAT",
            "ON_FAILURE",
        ]
    );
    let text = error.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "7 settings cannot be used:", "{text}");
    assert_eq!(lines[1], "  PORT: `http` is not a port number (0-65535)");
    assert!(
        lines[2].starts_with("  DISABLE_PUBLIC_IP: `maybe`"),
        "{text}"
    );
    assert_eq!(lines.len(), 8, "{text}");
}

/// A check between two variables is made once both are readable, and names its variable
/// alongside the others.
#[test]
fn a_check_across_variables_joins_the_others() {
    let error = settings(&[
        ("RUN_LOST_AFTER", "5m"),
        ("POLL_TIMEOUT", "9m"),
        ("LOG_FORMAT", "xml"),
    ])
    .unwrap_err();
    assert_eq!(error.variables(), ["LOG_FORMAT", "RUN_LOST_AFTER"]);
    let error = settings(&[("RUN_LOST_AFTER", "5m"), ("POLL_TIMEOUT", "soon")]).unwrap_err();
    assert_eq!(error.variables(), ["POLL_TIMEOUT"]);
}

#[test]
fn the_service_listens_where_host_says() {
    let host = |vars: &[(&str, &str)]| settings(vars).map(|s| s.host.to_string());
    let served = ("GOOGLE_CLOUD_PROJECT", "p");
    assert_eq!(host(&[served]).unwrap(), "0.0.0.0");
    assert_eq!(host(&[("K_SERVICE", "trigger")]).unwrap(), "0.0.0.0");
    assert_eq!(host(&[]).unwrap(), "127.0.0.1", "the embedded demo");
    assert_eq!(host(&[("HOST", "0.0.0.0")]).unwrap(), "0.0.0.0");
    assert_eq!(host(&[served, ("HOST", " ::1 ")]).unwrap(), "::1");
    for bad in ["localhost", "0.0.0.0:8080", "300.0.0.1"] {
        let error = host(&[served, ("HOST", bad)]).unwrap_err();
        assert_eq!(error.variables(), ["HOST"], "{bad}");
        assert!(
            error.to_string().contains("is not an IP address"),
            "{error}"
        );
    }
}

#[test]
fn profiles_are_a_path_or_a_cloud_storage_object() {
    let file = |value: &str| settings(&[("PROFILES_FILE", value)]).map(|s| s.profiles_file);
    assert_eq!(
        file("/etc/notebook-trigger/profiles.toml").unwrap(),
        Some(ProfilesFile::Local(
            "/etc/notebook-trigger/profiles.toml".into()
        ))
    );
    let Some(ProfilesFile::Object(uri)) = file("gs://runs/notebook-trigger-config/p.toml").unwrap()
    else {
        panic!("an object");
    };
    assert_eq!(
        (uri.bucket.as_str(), uri.object.as_str()),
        ("runs", "notebook-trigger-config/p.toml")
    );
    for bad in ["gs://runs", "gs://runs/", "gs:///p.toml"] {
        let error = file(bad).unwrap_err();
        assert_eq!(error.variables(), ["PROFILES_FILE"], "{bad}");
    }
}
