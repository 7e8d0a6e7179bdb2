//! A secret in the emulator's Secret Manager, seeded as `gcloud secrets create --data-file`
//! does, for a test of what reads it.

use base64::Engine as _;
use serde_json::json;

/// Creates secret `id` of `project` holding `value` as its first version, at the Secret
/// Manager whose root is `secret_manager` (the emulator's `secretmanager_url()`).
pub async fn seed_secret(secret_manager: &str, project: &str, id: &str, value: &str) {
    let http = reqwest::Client::new();
    let secrets = format!("{secret_manager}v1/projects/{project}/secrets");
    let data = base64::engine::general_purpose::STANDARD.encode(value);
    for (url, body) in [
        (
            format!("{secrets}?secretId={id}"),
            json!({"replication": {"automatic": {}}}),
        ),
        (
            format!("{secrets}/{id}:addVersion"),
            json!({"payload": {"data": data}}),
        ),
    ] {
        let answer = http.post(&url).json(&body).send().await.unwrap();
        let status = answer.status();
        assert!(
            status.is_success(),
            "{url}: {status} {}",
            answer.text().await.unwrap_or_default()
        );
    }
}
