//! Google's own Python libraries inside a script, with no other configuration than what the
//! emulator gives every script: google-auth detects Compute Engine through the metadata server,
//! takes its project and an access token and fetches an identity token; google-cloud-storage
//! writes, lists and reads objects (against the emulator's store and fake-gcs-server, one test
//! body). Skipped with the reason printed when the packages cannot be installed with pip, unless
//! CI=true or REQUIRE_GOOGLE_LIBRARIES=1.

use std::process::{Command, Stdio};

use super::*;

const AUTH_SCRIPT: &str = r#"set -eu
python3 - <<'PY'
import google.auth
import google.auth.jwt
import google.auth.transport.requests
from google.oauth2 import id_token

request = google.auth.transport.requests.Request()
credentials, project = google.auth.default()
credentials.refresh(request)
print("project", project)
print("kind", type(credentials).__module__)
print("account", credentials.service_account_email)
print("token", credentials.token[:5])
token = id_token.fetch_id_token(request, "https://service.test")
claims = google.auth.jwt.decode(token, verify=False)
print("identity", claims["aud"], claims["email"], claims["google"]["compute_engine"]["instance_name"])
PY
"#;

/// Writes an object, lists it and reads its own script back, with google-cloud-storage.
const STORAGE_SCRIPT: &str = r#"set -eu
python3 - <<'PY'
from google.cloud import storage

client = storage.Client(project="p")
bucket = client.bucket("scripts")
bucket.blob("py/written.txt").upload_from_string(b"written by python", content_type="text/plain")
print("listed", [blob.name for blob in client.list_blobs("scripts", prefix="py/")])
print("read", bucket.blob("py/startup.sh").download_as_bytes().splitlines()[0].decode())
print("size", bucket.get_blob("py/written.txt").size)
PY
"#;

const PACKAGES: [&str; 3] = ["google-auth", "requests", "google-cloud-storage"];

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("REQUIRE_GOOGLE_LIBRARIES").is_ok_and(|v| v == "1")
}

fn importable() -> bool {
    Command::new("python3")
        .args(["-c", "import google.auth, requests, google.cloud.storage"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the packages with pip when they are missing; `Err` says why they cannot be had.
fn google_libraries() -> Result<(), String> {
    if importable() {
        return Ok(());
    }
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet"])
        .args(PACKAGES)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("python3 -m pip cannot run: {e}"))?;
    if status.success() && importable() {
        Ok(())
    } else {
        Err(format!("pip install {}: {status}", PACKAGES.join(" ")))
    }
}

/// `false` (with the reason printed) when the test is to be skipped.
fn available() -> bool {
    match google_libraries() {
        Ok(()) => true,
        Err(reason) => {
            assert!(
                !required(),
                "Google's Python libraries are required: {reason}"
            );
            eprintln!("skipped: Google's Python libraries are not available ({reason})");
            false
        }
    }
}

#[tokio::test]
async fn googles_python_auth_library_finds_the_metadata_server() {
    if !available() {
        return;
    }
    let workbench = Workbench::start(Storage::Local, true).await;
    workbench.create("py", AUTH_SCRIPT, json!({})).await;
    workbench.clock.advance(PROVISION);
    let console = workbench
        .console_until("py", "notebooks-emulator: post-startup-script")
        .await;
    for line in [
        "project p\n",
        "kind google.auth.compute_engine.credentials\n",
        "account runner@p.iam.gserviceaccount.com\n",
        "token ya29.\n",
        "identity https://service.test runner@p.iam.gserviceaccount.com py\n",
    ] {
        assert!(
            console.contains(line),
            "no `{}` on the console:\n{console}",
            line.trim_end()
        );
    }
    workbench.emulator.shutdown().await;
}

async fn googles_python_storage_library_reads_and_writes(backend: Storage) {
    let workbench = Workbench::start(backend, true).await;
    workbench.create("py", STORAGE_SCRIPT, json!({})).await;
    workbench.clock.advance(PROVISION);
    let console = workbench
        .console_until("py", "notebooks-emulator: post-startup-script")
        .await;
    for line in [
        "listed ['py/startup.sh', 'py/written.txt']\n",
        "read set -eu\n",
        "size 17\n",
    ] {
        assert!(
            console.contains(line),
            "no `{}` on the console:\n{console}",
            line.trim_end()
        );
    }
    let written = workbench
        .storage
        .download(BUCKET, "py/written.txt")
        .await
        .unwrap();
    assert_eq!(written, b"written by python");
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn googles_python_storage_library_works_against_the_emulators_storage() {
    if available() {
        googles_python_storage_library_reads_and_writes(Storage::Local).await;
    }
}

#[tokio::test]
async fn googles_python_storage_library_works_against_fake_gcs_server() {
    if !available() {
        return;
    }
    if let Some(fake) = Storage::fake().await {
        googles_python_storage_library_reads_and_writes(fake).await;
    }
}
