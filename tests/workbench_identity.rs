//! An emulated instance's identity token passes the service's push-token verifier with the
//! emulator's JWKS, as a Compute Engine token passes it with Google's: the script takes the
//! token from its metadata server and writes it to Cloud Storage, the test verifies it.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use notebook_trigger::notebooks::client::Timeouts;
use notebook_trigger::push_auth::{PushAuth, VerifySettings};
use notebooks_emulator::storage::StorageClient;
use notebooks_emulator::{Emulator, EmulatorConfig};
use serde_json::json;

const AUDIENCE: &str = "https://notebook-trigger.example.test";
const ACCOUNT: &str = "runner@p.iam.gserviceaccount.com";

const SCRIPT: &str = r#"set -eu
curl -sSf -H 'Metadata-Flavor: Google' \
  "http://$GCE_METADATA_HOST/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://notebook-trigger.example.test&format=full" \
  | curl -sSf -o /dev/null --data-binary @- "$STORAGE_EMULATOR_HOST/upload/storage/v1/b/b/o?uploadType=media&name=token.jwt"
"#;

fn verifier(audience: &str, jwks_url: String) -> PushAuth {
    let settings = VerifySettings {
        audience: audience.to_owned(),
        service_accounts: [ACCOUNT.to_owned()].into(),
        jwks_url,
    };
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_secs(10),
    };
    PushAuth::new(&settings, timeouts).expect("a verifier")
}

#[tokio::test]
async fn an_instance_identity_token_passes_the_services_verifier() {
    let config = EmulatorConfig {
        provision_time: Duration::from_millis(100),
        run_scripts: true,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("emulator starts");
    let storage = StorageClient::new(emulator.storage_url().parse().unwrap());
    storage.ensure_bucket("p", "b").await.unwrap();
    storage
        .upload("b", "s.sh", "text/x-sh", SCRIPT.as_bytes().to_vec())
        .await
        .unwrap();
    let body = json!({"gceSetup": {
        "metadata": {"post-startup-script": "gs://b/s.sh"},
        "serviceAccounts": [{"email": ACCOUNT}],
    }});
    let created = reqwest::Client::new()
        .post(format!(
            "{}/v2/projects/p/locations/us-central1-a/instances?instanceId=nb",
            emulator.base_url()
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());

    let deadline = Instant::now() + Duration::from_secs(20);
    let token = loop {
        if let Ok(token) = storage.download("b", "token.jwt").await {
            break String::from_utf8(token).unwrap();
        }
        let console = emulator.console("projects/p/locations/us-central1-a/instances/nb");
        assert!(Instant::now() < deadline, "no token written:\n{console}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut headers = HeaderMap::new();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    headers.insert(header::AUTHORIZATION, bearer);

    let accepted = verifier(AUDIENCE, emulator.jwks_url())
        .check(&headers)
        .await;
    assert_eq!(accepted.as_deref(), Ok(ACCOUNT));
    let other_audience = verifier("https://elsewhere.test", emulator.jwks_url())
        .check(&headers)
        .await;
    assert!(other_audience.is_err(), "{other_audience:?}");
    emulator.shutdown().await;
}
