//! `PROFILES_FILE` in the deploy's config: a local file is shipped to the runs bucket under a
//! name that carries its content's hash, the service's account may read that folder alone, and
//! the service is given the object; a `gs://` object is passed on as it is, with a read grant
//! on that object alone, and read by the deploy for what its profiles need of the service. All
//! of it before the service is deployed, which reads it at start-up.

use crate::fake_gcs::FakeGcs;
use crate::{PROJECT, Sandbox, line_with, succeeded};

/// The service's account, as a member of a binding.
fn runtime() -> String {
    format!("serviceAccount:notebook-trigger-run@{PROJECT}.iam.gserviceaccount.com")
}

/// The dry run of the service step, which must succeed: its stdout.
fn service_step(sandbox: &Sandbox) -> String {
    let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", "service"], &[]);
    succeeded(&outcome);
    outcome.stdout
}

/// The object a local profiles file was shipped to, from the `cp` line.
fn shipped_to(out: &str) -> String {
    let copy = line_with(out, &["+ gcloud storage cp ", "profiles.toml "]);
    copy.split_whitespace()
        .find(|word| word.starts_with("gs://"))
        .expect("a destination")
        .to_owned()
}

#[test]
fn a_local_profiles_file_is_shipped_granted_and_named_before_the_service_starts() {
    let sandbox = Sandbox::new("RUNS_BUCKET=\"runs-bucket\"\n");
    let profiles = sandbox.path("profiles.toml");
    std::fs::write(
        &profiles,
        "[profiles.gpu]\nmachine_type = \"n1-standard-8\"\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(sandbox.path("config.env")).unwrap();
    std::fs::write(
        sandbox.path("config.env"),
        format!("{config}PROFILES_FILE=\"{}\"\n", profiles.display()),
    )
    .unwrap();

    let out = service_step(&sandbox);
    let object = shipped_to(&out);
    let hash = object
        .strip_prefix("gs://runs-bucket/notebook-trigger-config/profiles-")
        .and_then(|rest| rest.strip_suffix(".toml"))
        .unwrap_or_else(|| panic!("shipped to the runs bucket's config folder: {object}"));
    assert!(
        hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{object}"
    );
    let grant = line_with(
        &out,
        &[
            "+ gcloud storage buckets add-iam-policy-binding gs://runs-bucket ",
            &runtime(),
            "--role=roles/storage.objectViewer",
        ],
    );
    assert!(
        grant.contains("--condition=expression=resource.name.startsWith")
            && grant.contains("projects/_/buckets/runs-bucket/objects/notebook-trigger-config/"),
        "the grant is on the config folder alone: {grant}"
    );
    let deploy = line_with(&out, &["+ gcloud run deploy "]);
    assert!(
        deploy.contains(&format!("PROFILES_FILE={object}")),
        "the service reads the shipped object: {deploy}"
    );
    let position = |line: &str| out.find(line).expect("printed");
    assert!(position(grant) < position(deploy), "{out}");

    // The same content is the same object (a second deploy changes nothing); new profiles
    // are a new object, so the running revision keeps its own.
    assert_eq!(shipped_to(&service_step(&sandbox)), object);
    std::fs::write(
        &profiles,
        "[profiles.gpu]\nmachine_type = \"n1-standard-16\"\n",
    )
    .unwrap();
    assert_ne!(shipped_to(&service_step(&sandbox)), object);
}

/// The object is read where the service will read it (here fake-gcs-server, as
/// `STORAGE_EMULATOR_HOST`; on Google Cloud with the deployer's Application Default
/// Credentials): the service step hands the service what its profiles' rules name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profiles_object_is_passed_on_with_a_grant_on_it_alone() {
    let Some(gcs) = FakeGcs::start().await else {
        return;
    };
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/storage/v1/b?project={PROJECT}", gcs.url))
        .json(&serde_json::json!({"name": "team-config"}))
        .send()
        .await
        .expect("fake-gcs-server answers");
    assert!(created.status().is_success(), "{}", created.status());
    let uploaded = http
        .post(format!(
            "{}/upload/storage/v1/b/team-config/o?uploadType=media&name=trigger%2Fprofiles.yaml",
            gcs.url
        ))
        .body("profiles:\n  nightly:\n    notify:\n      - url_env: TEAM_HOOK\n")
        .send()
        .await
        .expect("fake-gcs-server answers");
    assert!(uploaded.status().is_success(), "{}", uploaded.status());

    let object = "gs://team-config/trigger/profiles.yaml";
    let sandbox = Sandbox::new(&format!("PROFILES_FILE=\"{object}\"\n"));
    let env = [
        ("STORAGE_EMULATOR_HOST", gcs.url.clone()),
        (
            "TEAM_HOOK",
            "https://chat.example.test/v1/spaces/AAA/messages?key=k".to_owned(),
        ),
    ];
    let outcome = tokio::task::block_in_place(|| {
        sandbox.run("deploy.sh", &["--dry-run", "--only", "service"], &env)
    });
    succeeded(&outcome);
    let out = &outcome.stdout;
    assert!(!out.contains("gcloud storage cp"), "{out}");
    let grant = line_with(
        out,
        &[
            "+ gcloud storage buckets add-iam-policy-binding gs://team-config ",
            &runtime(),
            "--role=roles/storage.objectViewer",
        ],
    );
    assert!(
        grant.contains(
            r#"resource.name==\"projects/_/buckets/team-config/objects/trigger/profiles.yaml\""#
        ),
        "{grant}"
    );
    line_with(
        out,
        &[
            "+ gcloud run deploy ",
            &format!("PROFILES_FILE={object}"),
            r"##TEAM_HOOK=\<redacted\>",
        ],
    );
}

#[test]
fn a_local_profiles_file_needs_the_runs_bucket_and_to_exist() {
    for (config, said) in [
        (
            "PROFILES_FILE=\"/no/such/profiles.toml\"\nRUNS_BUCKET=\"runs-bucket\"\n".to_owned(),
            "PROFILES_FILE=/no/such/profiles.toml: no such file",
        ),
        (
            format!(
                "PROFILES_FILE=\"{}/Cargo.toml\"\n",
                env!("CARGO_MANIFEST_DIR")
            ),
            "PROFILES_FILE is a local file: set RUNS_BUCKET",
        ),
    ] {
        let sandbox = Sandbox::new(&config);
        let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", "service"], &[]);
        assert!(!outcome.status.success(), "{}", outcome.stdout);
        assert!(outcome.stderr.contains(said), "{}", outcome.stderr);
        assert!(
            !outcome.stdout.contains("gcloud run deploy"),
            "{}",
            outcome.stdout
        );
    }
}
