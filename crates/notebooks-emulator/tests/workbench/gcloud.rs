//! Google's gcloud against the emulator: `compute instances get-serial-port-output` reads an
//! instance's console and `storage cat` the file its script wrote; `secrets` creates a secret,
//! grants an account and reads it back. Nothing but endpoint overrides. Skipped with the
//! reason printed when gcloud is missing, unless CI=true or REQUIRE_GCLOUD=1.

use super::*;
use crate::gcloud_support;

/// gcloud with Compute Engine, Cloud Storage and Secret Manager overridden; its stdout.
async fn gcloud(base: &str, config: &std::path::Path, args: &[&str]) -> String {
    let overrides = [
        ("COMPUTE", format!("{base}/compute/v1/")),
        ("STORAGE", format!("{base}/storage/v1/")),
        ("SECRETMANAGER", format!("{base}/secretmanager/")),
    ];
    gcloud_support::run(config, &overrides, args).await
}

#[tokio::test]
async fn gcloud_reads_the_console_and_the_file_the_script_wrote() {
    if !gcloud_support::here() {
        return;
    }
    let workbench = Workbench::start(Storage::Local, true).await;
    let script = "echo console line\necho file contents > out.txt\n\
        curl -sSf -o /dev/null --data-binary @out.txt \
        \"$STORAGE_EMULATOR_HOST/upload/storage/v1/b/scripts/o?uploadType=media&name=out/nb.txt\"\n";
    workbench.create("nb", script, json!({})).await;
    workbench.clock.advance(PROVISION);
    workbench.console_until("nb", "finished").await;

    let config = gcloud_support::Config::new();
    let config = &config.0;
    let base = workbench.emulator.base_url();
    let console = gcloud(
        &base,
        config,
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
        config,
        &["storage", "cat", "gs://scripts/out/nb.txt"],
    )
    .await;
    assert_eq!(file, "file contents\n");
    workbench.emulator.shutdown().await;
}

/// What deploy.sh does for a run's secret, and what the runner then reads: gcloud's own
/// checks of the answers (the payload's CRC32C among them) pass.
#[tokio::test]
async fn gcloud_creates_grants_and_reads_a_secret() {
    if !gcloud_support::here() {
        return;
    }
    let workbench = Workbench::start(Storage::Local, false).await;
    let config = gcloud_support::Config::new();
    let config = &config.0;
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
    gcloud(&base, config, &create).await;
    let member = "--member=serviceAccount:runner@p.iam.gserviceaccount.com";
    let role = "--role=roles/secretmanager.secretAccessor";
    let grant = [
        "secrets",
        "add-iam-policy-binding",
        "projects/p/secrets/db",
        member,
        role,
    ];
    gcloud(&base, config, &grant).await;
    let policy = gcloud(
        &base,
        config,
        &["secrets", "get-iam-policy", "db", "--format=json"],
    )
    .await;
    assert!(
        policy.contains("serviceAccount:runner@p.iam.gserviceaccount.com"),
        "{policy}"
    );
    let access = ["secrets", "versions", "access", "latest", "--secret=db"];
    assert_eq!(gcloud(&base, config, &access).await, "pa$$ word\n");
    let _ = std::fs::remove_file(&data);
    workbench.emulator.shutdown().await;
}
