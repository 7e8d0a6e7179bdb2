//! An instance's metadata server as its script sees it: Compute Engine's paths, header rules
//! and answers.

use super::*;

/// Prints `label=answer` lines for the console to be checked against.
const PROBE: &str = r#"m="http://$GCE_METADATA_HOST/computeMetadata/v1"
get() { curl -s -H 'Metadata-Flavor: Google' "$m/$1"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
echo "bare=$(code "$m/instance/name")"
echo "wrong=$(code -H 'Metadata-Flavor: Foo' "$m/instance/name")"
echo "forwarded=$(code -H 'Metadata-Flavor: Google' -H 'X-Forwarded-For: 1.2.3.4' "$m/instance/name")"
echo "flavor=$(curl -s -D - -o /dev/null "$m/instance/name" | tr -d '\r' | grep -i '^metadata-flavor:')"
echo "name=$(get instance/name)"
echo "id=$(get instance/id)"
echo "numeric=$(get project/numeric-project-id)"
echo "zone=$(get instance/zone)"
echo "keys=$(get instance/attributes/ | tr '\n' ,)"
echo "recursive=$(get 'instance/attributes/?recursive=true')"
echo "accounts=$(get instance/service-accounts/ | tr '\n' ,)"
echo "info=$(get 'instance/service-accounts/default/?recursive=true')"
echo "by-email=$(get instance/service-accounts/runner@p.iam.gserviceaccount.com/email)"
echo "scopes=$(get instance/service-accounts/default/scopes)"
echo "no-audience=$(code -H 'Metadata-Flavor: Google' "$m/instance/service-accounts/default/identity")"
echo "unknown=$(code -H 'Metadata-Flavor: Google' "$m/instance/attributes/nope")"
echo "ping=$(curl -s -D - -o /dev/null -H 'Metadata-Flavor: Google' "http://$GCE_METADATA_IP/" | tr -d '\r' | head -1)"
"#;

/// The value after `label=` on the console.
fn answer<'c>(console: &'c str, label: &str) -> &'c str {
    console
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{label}=")))
        .unwrap_or_else(|| panic!("no {label}= on the console:\n{console}"))
}

#[tokio::test]
async fn the_metadata_server_answers_like_compute_engines() {
    let workbench = Workbench::start(Storage::Local, true).await;
    workbench
        .create("probe", PROBE, json!({"greeting": "hi", "team": "data"}))
        .await;
    workbench.clock.advance(PROVISION);
    let console = workbench.console_until("probe", "ping=").await;
    let answer = |label| answer(&console, label);
    assert_eq!(answer("bare"), "403");
    assert_eq!(answer("wrong"), "403");
    assert_eq!(answer("forwarded"), "403");
    assert_eq!(
        answer("flavor").to_ascii_lowercase(),
        "metadata-flavor: google"
    );
    assert_eq!(answer("name"), "probe");
    assert!(answer("id").parse::<u64>().is_ok(), "{console}");
    let number = answer("numeric");
    assert_eq!(number.len(), 12, "{console}");
    assert_eq!(
        answer("zone"),
        format!("projects/{number}/zones/us-central1-a")
    );
    assert_eq!(answer("keys"), "greeting,post-startup-script,team,");
    let recursive: Value = serde_json::from_str(answer("recursive")).unwrap();
    assert_eq!(recursive["team"], "data");
    assert_eq!(
        answer("accounts"),
        "default/,runner@p.iam.gserviceaccount.com/,"
    );
    let info: Value = serde_json::from_str(answer("info")).unwrap();
    assert_eq!(info["email"], "runner@p.iam.gserviceaccount.com");
    assert_eq!(info["aliases"], json!(["default"]));
    assert_eq!(answer("by-email"), "runner@p.iam.gserviceaccount.com");
    assert_eq!(
        answer("scopes"),
        "https://www.googleapis.com/auth/cloud-platform"
    );
    assert_eq!(answer("no-audience"), "400");
    assert_eq!(answer("unknown"), "404");
    assert_eq!(answer("ping"), "HTTP/1.1 200 OK");
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn the_console_is_served_at_computes_serial_port_path() {
    let workbench = Workbench::start(Storage::Local, true).await;
    workbench
        .create("nb", "echo one\necho two", json!({}))
        .await;
    workbench.clock.advance(PROVISION);
    workbench.console_until("nb", "finished").await;
    let url = format!(
        "{}/compute/v1/projects/p/zones/us-central1-a/instances/nb/serialPort",
        workbench.emulator.base_url()
    );
    let get = |url: String| {
        let http = workbench.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let output: Value = get(url.clone()).await.json().await.unwrap();
    assert_eq!(output["kind"], "compute#serialPortOutput");
    assert_eq!(output["start"], "0");
    let contents = output["contents"].as_str().unwrap();
    assert!(contents.contains("one\ntwo\n"), "{contents}");
    let next = output["next"].as_str().unwrap();
    assert_eq!(next, contents.len().to_string());
    let later: Value = get(format!("{url}?start={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(later["contents"], "");
    let missing = get(url.replace("/nb/", "/none/")).await;
    assert_eq!(missing.status().as_u16(), 404);
    workbench.emulator.shutdown().await;
}
