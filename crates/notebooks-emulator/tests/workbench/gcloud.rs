//! Google's gcloud against the emulator: `compute instances get-serial-port-output` reads an
//! instance's console and `storage cat` the file its script wrote; `secrets` creates a secret,
//! grants an account and reads it back. Nothing but endpoint overrides. Skipped with the
//! reason printed when gcloud is missing, unless CI=true or REQUIRE_GCLOUD=1.

use std::process::Stdio;

use super::*;

fn gcloud_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("REQUIRE_GCLOUD").is_ok_and(|v| v == "1")
}

fn gcloud_on_path() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("gcloud").is_file()))
}

/// Runs gcloud with a throwaway configuration and no credentials; returns stdout.
async fn gcloud(base: &str, config: &std::path::Path, args: &[&str]) -> String {
    let run = tokio::process::Command::new("gcloud")
        .args(args)
        .env("CLOUDSDK_CONFIG", config)
        .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
        .env("CLOUDSDK_CORE_PROJECT", "p")
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true")
        .env(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE",
            format!("{base}/compute/v1/"),
        )
        .env(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE",
            format!("{base}/storage/v1/"),
        )
        .env(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
            format!("{base}/secretmanager/"),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("gcloud {args:?} did not finish within 120 s"))
        .expect("gcloud runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "gcloud {args:?}: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn gcloud_reads_the_console_and_the_file_the_script_wrote() {
    if !gcloud_on_path() {
        assert!(!gcloud_required(), "gcloud is required but not on PATH");
        eprintln!("skipped: gcloud is not on PATH");
        return;
    }
    let workbench = Workbench::start(Storage::Local, true).await;
    let script = "echo console line\necho file contents > out.txt\n\
        curl -sSf -o /dev/null --data-binary @out.txt \
        \"$STORAGE_EMULATOR_HOST/upload/storage/v1/b/scripts/o?uploadType=media&name=out/nb.txt\"\n";
    workbench.create("nb", script, json!({})).await;
    workbench.clock.advance(PROVISION);
    workbench.console_until("nb", "finished").await;

    let config = std::env::temp_dir().join(format!("gcloud-{}", uuid_like()));
    let base = workbench.emulator.base_url();
    let console = gcloud(
        &base,
        &config,
        &[
            "compute",
            "instances",
            "get-serial-port-output",
            "nb",
            "--zone=us-central1-a",
        ],
    )
    .await;
    assert!(console.contains("console line\n"), "{console}");
    let file = gcloud(
        &base,
        &config,
        &["storage", "cat", "gs://scripts/out/nb.txt"],
    )
    .await;
    assert_eq!(file, "file contents\n");
    let _ = std::fs::remove_dir_all(&config);
    workbench.emulator.shutdown().await;
}

/// What deploy.sh does for a run's secret, and what the runner then reads: gcloud's own
/// checks of the answers (the payload's CRC32C among them) pass.
#[tokio::test]
async fn gcloud_creates_grants_and_reads_a_secret() {
    if !gcloud_on_path() {
        assert!(!gcloud_required(), "gcloud is required but not on PATH");
        eprintln!("skipped: gcloud is not on PATH");
        return;
    }
    let workbench = Workbench::start(Storage::Local, false).await;
    let config = std::env::temp_dir().join(format!("gcloud-{}", uuid_like()));
    let data = config.with_extension("secret");
    std::fs::write(&data, "pa$$ word\n").unwrap();
    let base = workbench.emulator.base_url();
    let data_file = format!("--data-file={}", data.display());
    let create = [
        "secrets",
        "create",
        "db",
        "--replication-policy=automatic",
        &data_file,
    ];
    gcloud(&base, &config, &create).await;
    let member = "--member=serviceAccount:runner@p.iam.gserviceaccount.com";
    let role = "--role=roles/secretmanager.secretAccessor";
    let grant = [
        "secrets",
        "add-iam-policy-binding",
        "projects/p/secrets/db",
        member,
        role,
    ];
    gcloud(&base, &config, &grant).await;
    let policy = gcloud(
        &base,
        &config,
        &["secrets", "get-iam-policy", "db", "--format=json"],
    )
    .await;
    assert!(
        policy.contains("serviceAccount:runner@p.iam.gserviceaccount.com"),
        "{policy}"
    );
    let access = ["secrets", "versions", "access", "latest", "--secret=db"];
    assert_eq!(gcloud(&base, &config, &access).await, "pa$$ word\n");
    let _ = std::fs::remove_dir_all(&config);
    let _ = std::fs::remove_file(&data);
    workbench.emulator.shutdown().await;
}

/// A name unique to this run, for the throwaway gcloud configuration.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}
