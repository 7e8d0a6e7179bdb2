//! An instance's script reads a secret with its own token, as the runner does: refused in
//! Google's shape until the secret's policy grants the instance's account, then read.

use super::*;

/// Reads the latest version of `projects/p/secrets/db` with the instance's token and prints
/// the answer and its HTTP status.
const READER: &str = r#"set -eu
token=$(curl -sSf -H 'Metadata-Flavor: Google' \
  "http://$GCE_METADATA_HOST/computeMetadata/v1/instance/service-accounts/default/token" |
  sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
curl -sS -w ' HTTP %{http_code}\n' -H "Authorization: Bearer $token" \
  "${CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER}v1/projects/p/secrets/db/versions/latest:access"
"#;

#[tokio::test]
async fn an_instance_reads_a_secret_once_its_account_is_granted() {
    let workbench = Workbench::start(Storage::Local, true).await;
    let secrets = "/secretmanager/v1/projects/p/secrets";
    workbench
        .call(
            "POST",
            &format!("{secrets}?secretId=db"),
            json!({"replication": {"automatic": {}}}),
        )
        .await;
    workbench
        .call(
            "POST",
            &format!("{secrets}/db:addVersion"),
            json!({"payload": {"data": "czNjcjN0Cg=="}}),
        )
        .await;

    workbench.create("denied", READER, json!({})).await;
    workbench.clock.advance(PROVISION);
    let console = workbench.console_until("denied", " HTTP ").await;
    assert!(
        console.contains(r#""status":"PERMISSION_DENIED""#) && console.contains(" HTTP 403"),
        "{console}"
    );
    assert!(!console.contains("czNjcjN0"), "{console}");

    let binding = json!({"role": "roles/secretmanager.secretAccessor",
        "members": ["serviceAccount:runner@p.iam.gserviceaccount.com"]});
    workbench
        .call(
            "POST",
            &format!("{secrets}/db:setIamPolicy"),
            json!({"policy": {"bindings": [binding]}}),
        )
        .await;
    workbench.create("granted", READER, json!({})).await;
    workbench.clock.advance(PROVISION);
    let console = workbench.console_until("granted", " HTTP ").await;
    assert!(
        console.contains(r#""data":"czNjcjN0Cg==""#) && console.contains(" HTTP 200"),
        "{console}"
    );
    workbench.emulator.shutdown().await;
}
