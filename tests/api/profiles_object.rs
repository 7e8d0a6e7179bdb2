//! `PROFILES_FILE=gs://…`: the named profiles are read at start-up from Cloud Storage (here the
//! emulator's, through `STORAGE_EMULATOR_HOST`), so a deployment changes them without an
//! image; an object that is missing or unusable stops start-up naming the variable and the
//! object.

use std::time::Duration;

use notebooks_emulator::{Emulator, EmulatorConfig};

use crate::helpers::{refused_start_around, spawn_app_around};

const BUCKET: &str = "runs-bucket";
const OBJECT: &str = "notebook-trigger-config/profiles-0123456789ab.toml";

const PROFILES: &str =
    "[profiles.gpu]\nmachine_type = \"n1-standard-8\"\naccelerator_type = \"NVIDIA_TESLA_T4\"\n";

/// The variables of a service whose profiles are `gs://BUCKET/object`, in the emulator's
/// storage, which holds `content` there unless it is `None`.
fn with_profiles(
    emulator: &Emulator,
    object: &str,
    content: Option<&str>,
) -> Vec<(String, String)> {
    if let Some(content) = content {
        let storage = emulator
            .state()
            .local_storage()
            .expect("the emulator's own Cloud Storage");
        storage.put(BUCKET, object, "application/toml", content.into());
    }
    vec![
        ("STORAGE_EMULATOR_HOST".into(), emulator.storage_url()),
        ("PROFILES_FILE".into(), format!("gs://{BUCKET}/{object}")),
    ]
}

#[tokio::test]
async fn a_profile_in_cloud_storage_shapes_the_instance() {
    let config = EmulatorConfig {
        provision_time: Duration::from_millis(200),
        ..EmulatorConfig::default()
    };
    let app = spawn_app_around(config, |emulator| {
        with_profiles(emulator, OBJECT, Some(PROFILES))
    })
    .await;
    let (status, answer) = app.push("9101", r#"{"profile":"gpu"}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["profile"], "gpu");
    let instance = &app.instances()[0];
    assert_eq!(instance["gceSetup"]["machineType"], "n1-standard-8");
    assert_eq!(
        instance["gceSetup"]["acceleratorConfigs"][0]["type"],
        "NVIDIA_TESLA_T4"
    );
    let (status, answer) = app.push("9102", r#"{"profile":"nightly"}"#).await;
    assert_eq!(status, 400, "only the object's profiles exist: {answer}");
    app.stop().await;
}

/// The variables every refused start-up here has besides the profiles: a launchable default.
fn deployment() -> Vec<(String, String)> {
    [
        ("GOOGLE_CLOUD_PROJECT", "p"),
        ("NOTEBOOK_LOCATION", "us-central1-a"),
        ("CONTAINER_IMAGE", "us-docker.pkg.dev/p/r/img"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test]
async fn a_missing_profiles_object_stops_start_up_naming_it() {
    let absent = "notebook-trigger-config/absent.toml";
    let said = refused_start_around(|emulator| {
        let mut vars = deployment();
        vars.extend(with_profiles(emulator, absent, None));
        vars
    })
    .await;
    assert!(
        said.starts_with(&format!(
            "PROFILES_FILE: gs://{BUCKET}/{absent} does not exist"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "gcloud storage cp profiles.toml gs://{BUCKET}/{absent}"
        )) && said.contains("404"),
        "how to fix it, and Cloud Storage's answer: {said}"
    );
}

#[tokio::test]
async fn an_unparsable_profiles_object_stops_start_up_naming_it() {
    let said = refused_start_around(|emulator| {
        let mut vars = deployment();
        vars.extend(with_profiles(emulator, OBJECT, Some("[profiles.gpu\n")));
        vars
    })
    .await;
    assert!(said.starts_with("PROFILES_FILE cannot be used"), "{said}");
    assert!(
        said.contains(&format!("gs://{BUCKET}/{OBJECT}: TOML parse error")),
        "the object and the parser's account: {said}"
    );
}
