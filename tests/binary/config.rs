//! The configuration as the executable reads it: every bad value named at once by each command
//! that reads it, a near miss of a variable's name warned about, the address it listens on.

use std::time::Duration;

use serde_json::Value;

use crate::child::run_bounded;
use crate::{cloud_run_start_up_logs, command};

#[test]
fn a_bad_value_stops_start_up_naming_the_variable() {
    let home = tempfile::tempdir().unwrap();
    for (variable, value) in [
        ("POLL_TIMEOUT", "forever"),
        ("NOTEBOOK_LOCATION", "us-central1"),
        ("ALLOWED_OVERRIDES", "everything"),
    ] {
        let mut command = command(home.path());
        command
            .env("GOOGLE_CLOUD_PROJECT", "p")
            .env("NOTEBOOKS_EMULATOR_HOST", "127.0.0.1:9")
            .env("CONTAINER_IMAGE", "img")
            .env("NOTEBOOK_LOCATION", "us-central1-a")
            .env(variable, value);
        let output = run_bounded(&mut command, Duration::from_secs(10));
        assert!(
            !output.status.success(),
            "{variable}={value} must stop start-up"
        );
        let stderr = &output.stderr;
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}

/// `serve` and each command that reads the service's configuration name every bad value in
/// one message, one per line, before doing anything else.
#[test]
fn every_command_that_reads_settings_names_every_bad_value_at_once() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &[][..],
        &["serve"],
        &["launch", "--dry-run", "go"],
        &["reap", "--dry-run"],
        &["runs"],
    ] {
        let mut command = command(home.path());
        command
            .args(args)
            .env("PORT", "http")
            .env("DISABLE_PUBLIC_IP", "maybe")
            .env("LOG_FORMAT", "xml");
        let output = run_bounded(&mut command, Duration::from_secs(10));
        assert!(!output.status.success(), "{args:?}");
        let lines: Vec<&str> = output.stderr.lines().collect();
        assert_eq!(
            lines,
            [
                "error: 3 settings cannot be used:",
                "  PORT: `http` is not a port number (0-65535)",
                "  DISABLE_PUBLIC_IP: `maybe` is not true or false",
                "  LOG_FORMAT: `xml` is not text or json",
            ],
            "{args:?}: {}",
            output.stderr
        );
    }
}

/// The message of each log line at `severity`.
fn messages<'a>(lines: &'a [Value], severity: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|line| line["severity"] == severity)
        .filter_map(|line| line["message"].as_str())
        .collect()
}

/// A near miss of a variable's name is a warning, and start-up goes on; the platform's own
/// variables (`HOME` is set here, two letters from `HOST`) are no near miss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_variable_is_a_warning_at_start_up() {
    let lines = cloud_run_start_up_logs(&[("MACHNE_TYPE", "n1-standard-8")]).await;
    let warnings = messages(&lines, "WARNING");
    let near_misses: Vec<&str> = warnings
        .into_iter()
        .filter(|m| m.contains("did you mean"))
        .collect();
    assert_eq!(
        near_misses,
        ["MACHNE_TYPE is set, but no setting has that name: did you mean MACHINE_TYPE?"],
        "{lines:?}"
    );
}

/// The "listening" line's address.
fn listening_on(lines: &[Value]) -> String {
    let listening = lines.last().expect("the listening line");
    listening["address"]
        .as_str()
        .unwrap_or_else(|| panic!("an address: {listening}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_listens_where_host_says() {
    let served = listening_on(&cloud_run_start_up_logs(&[]).await);
    assert!(served.starts_with("0.0.0.0:"), "{served}");
    let chosen = listening_on(&cloud_run_start_up_logs(&[("HOST", "127.0.0.1")]).await);
    assert!(chosen.starts_with("127.0.0.1:"), "{chosen}");
}
