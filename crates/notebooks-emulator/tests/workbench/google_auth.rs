//! Google's own Python auth library (google-auth) inside a script: it detects Compute Engine
//! through the metadata server, takes its project and an access token, and fetches an identity
//! token, with no other configuration than what the emulator gives every script. Skipped with
//! the reason printed when google-auth cannot be installed, unless CI=true or
//! REQUIRE_GOOGLE_AUTH=1.

use std::process::{Command, Stdio};

use super::*;

const SCRIPT: &str = r#"set -eu
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

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("REQUIRE_GOOGLE_AUTH").is_ok_and(|v| v == "1")
}

fn importable() -> bool {
    Command::new("python3")
        .args(["-c", "import google.auth, requests"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs google-auth with pip when it is missing; `Err` says why it cannot be had.
fn google_auth() -> Result<(), String> {
    if importable() {
        return Ok(());
    }
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "google-auth", "requests"])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("python3 -m pip cannot run: {e}"))?;
    if status.success() && importable() {
        Ok(())
    } else {
        Err(format!("pip install google-auth requests: {status}"))
    }
}

#[tokio::test]
async fn googles_python_auth_library_finds_the_metadata_server() {
    if let Err(reason) = google_auth() {
        assert!(!required(), "google-auth is required: {reason}");
        eprintln!("skipped: google-auth is not available ({reason})");
        return;
    }
    let workbench = Workbench::start(Storage::Local, true).await;
    workbench.create("py", SCRIPT, json!({})).await;
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
