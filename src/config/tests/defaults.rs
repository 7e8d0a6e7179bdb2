//! What `--help` says of each variable and profile field holds: every field is documented, and
//! a documented default is what an unset variable does.

use super::*;

#[test]
fn every_profile_field_is_documented() {
    for field in Field::ALL {
        assert!(
            VARIABLES.iter().any(|v| v.name == field.env_var()),
            "{} missing from VARIABLES",
            field.env_var()
        );
    }
}

/// `--help`'s `[default: …]` of every variable, read back from the rendered text.
fn help_defaults() -> HashMap<String, String> {
    variables_help()
        .lines()
        .skip(1)
        .map(|line| {
            let name = line.split_whitespace().next().expect("a name");
            let (_, default) = line.rsplit_once("[default: ").expect("a default");
            let default = default.strip_suffix(']').expect("a closed default");
            (name.to_owned(), default.to_owned())
        })
        .collect()
}

/// Setting a variable to the default `--help` shows changes nothing: the value the parser
/// uses for an unset variable is the documented one.
#[test]
fn a_documented_default_is_the_value_used_when_unset() {
    let help = help_defaults();
    // A project, a launchable default profile and token checks, so that every variable with
    // a default is read.
    let base = [
        ("GOOGLE_CLOUD_PROJECT", "p"),
        ("NOTEBOOK_LOCATION", "us-central1-a"),
        ("CONTAINER_IMAGE", "us-docker.pkg.dev/p/r/img"),
        ("PUSH_AUTH_AUDIENCE", "https://trigger.example"),
        (
            "PUSH_AUTH_SERVICE_ACCOUNTS",
            "push@p.iam.gserviceaccount.com",
        ),
    ];
    let unset = settings(&base).unwrap();
    let mut checked = Vec::new();
    for variable in VARIABLES {
        let WhenUnset::Value(_) = variable.unset else {
            continue;
        };
        // The log filter reads RUST_LOG itself, from the process environment; start-up hands
        // it the declared default (src/commands.rs).
        if variable.name == "RUST_LOG" {
            continue;
        }
        let default = help[variable.name].as_str();
        let mut with = base.to_vec();
        with.push((variable.name, default));
        let set = settings(&with).unwrap_or_else(|e| panic!("{}={default}: {e}", variable.name));
        if Field::ALL.iter().any(|f| f.env_var() == variable.name) {
            // A profile's defaults apply when the layered profile becomes a launch.
            assert_eq!(
                LaunchSpec::parse(&set.default_profile, "p"),
                LaunchSpec::parse(&unset.default_profile, "p"),
                "{}={default}",
                variable.name
            );
        } else {
            assert_eq!(
                format!("{set:?}"),
                format!("{unset:?}"),
                "{}={default}",
                variable.name
            );
        }
        checked.push(variable.name);
    }
    for name in ["PORT", "POLL_TIMEOUT", "MACHINE_TYPE", "PUSH_AUTH_JWKS_URL"] {
        assert!(checked.contains(&name), "{name} not checked: {checked:?}");
    }
}

/// A variable without a value for a default does what its `--help` default says. Every such
/// variable is named here, so a new one cannot go unchecked.
#[test]
fn an_unset_variable_does_what_its_documented_default_says() {
    let nothing = settings(&[]).unwrap();
    let launch =
        |vars: &[(&str, &str)]| LaunchSpec::parse(&settings(vars).unwrap().default_profile, "p");
    let location = ("NOTEBOOK_LOCATION", "us-central1-a");
    let image = ("CONTAINER_IMAGE", "us-docker.pkg.dev/p/r/img");
    let minimal = launch(&[location, image]).unwrap();
    let gpu = launch(&[location, image, ("ACCELERATOR_TYPE", "NVIDIA_TESLA_T4")])
        .unwrap()
        .accelerator
        .expect("an accelerator");
    assert!(nothing.default_profile.present().is_empty());
    for variable in VARIABLES {
        let name = variable.name;
        if let WhenUnset::Value(_) = variable.unset {
            continue;
        }
        let field = Field::ALL.into_iter().find(|f| f.env_var() == name);
        match (field, name) {
            (Some(Field::Location), _) => {
                assert_eq!(launch(&[image]).unwrap_err().field, Field::Location);
            }
            (Some(Field::ContainerImage), _) => {
                assert_eq!(
                    launch(&[location]).unwrap_err().field,
                    Field::ContainerImage
                );
            }
            (Some(Field::PostStartupScript), _) => assert_eq!(minimal.post_startup_script, None),
            (Some(Field::PostStartupScriptBehavior), _) => {
                assert_eq!(minimal.post_startup_script_behavior, None);
            }
            // Left out of the create request, so the API applies its own.
            (Some(Field::IdleTimeoutSeconds), _) => assert_eq!(minimal.idle_timeout_seconds, None),
            (Some(Field::ServiceAccount), _) => assert_eq!(minimal.service_account, None),
            (Some(Field::Network), _) => assert_eq!(minimal.network, None),
            (Some(Field::Subnet), _) => assert_eq!(minimal.subnet, None),
            (Some(Field::AcceleratorType), _) => assert_eq!(minimal.accelerator, None),
            (Some(Field::AcceleratorCount), _) => assert_eq!(gpu.count, 1),
            (Some(Field::InstallGpuDriver), _) => assert!(gpu.install_driver),
            (Some(Field::BootDiskType | Field::BootDiskSizeGb), _) => {
                assert_eq!(minimal.boot_disk, None);
            }
            (Some(Field::Labels), _) => assert!(minimal.labels.is_empty()),
            (Some(Field::Metadata), _) => assert!(minimal.metadata.is_empty()),
            (Some(Field::InstanceId), _) => assert_eq!(minimal.instance_id, None),
            (Some(Field::RuntimeTemplate), _) => {
                assert_eq!(minimal.backend, crate::profile::Backend::Instance);
            }
            (Some(Field::MaxConcurrentRuns), _) => assert_eq!(minimal.concurrency, None),
            (Some(Field::Notebook | Field::Parameters), _) => assert_eq!(minimal.run, None),
            (Some(Field::Secrets), _) => {
                let run = [
                    location,
                    image,
                    ("NOTEBOOK", "/home/jupyter/seed.ipynb"),
                    ("NOTEBOOK_OUTPUT", "gs://bkt/runs"),
                ];
                let secrets = |spec: LaunchSpec| spec.run.expect("a run").secrets;
                assert!(secrets(launch(&run).unwrap()).is_empty());
                let version = "projects/p/secrets/db/versions/latest";
                let pair = format!("DB_PASSWORD={version}");
                let named = [&run[..], &[(name, pair.as_str())]].concat();
                assert_eq!(secrets(launch(&named).unwrap())["DB_PASSWORD"], version);
            }
            (Some(Field::Notify | Field::ExpectedDuration), _) => {
                let none = crate::run::notify::parse_rules(&nothing.default_profile, &|_| None);
                assert_eq!(none, Ok(Vec::new()), "no webhook");
                let run = [
                    ("NOTEBOOK", "/n/a.ipynb"),
                    ("NOTEBOOK_OUTPUT", "gs://bkt/o"),
                ];
                let run = launch(&[location, image, run[0], run[1]]).unwrap().run;
                assert_eq!(run.unwrap().expected_duration, None, "never overdue");
            }
            (Some(Field::KeepRuns), _) => {
                let profiles = crate::profile::Profiles::new(nothing.default_profile.clone());
                assert!(profiles.retention().unwrap().is_empty(), "kept forever");
            }
            (Some(Field::Output), _) => {
                let notebook = ("NOTEBOOK", "/home/jupyter/seed.ipynb");
                assert_eq!(
                    launch(&[location, image, notebook]).unwrap_err().field,
                    Field::Output
                );
            }
            // Start-up asks the credentials for their project.
            (None, "GOOGLE_CLOUD_PROJECT") => {
                let on_cloud_run = settings(&[("K_SERVICE", "trigger")]).unwrap();
                assert_eq!(on_cloud_run.project, None);
                assert_eq!(on_cloud_run.backend, Backend::Google);
            }
            (None, "NOTEBOOKS_EMULATOR_HOST" | "NOTEBOOKS_ENDPOINT") => {
                let s = settings(&[("GOOGLE_CLOUD_PROJECT", "p")]).unwrap();
                assert_eq!(s.backend, Backend::Google);
            }
            (None, "PUSH_AUTH_AUDIENCE" | "PUSH_AUTH") => {
                assert_eq!(nothing.push_auth, PushAuthMode::Unset);
            }
            (None, "RUNS_READERS" | "RUNS_OPERATORS" | "RUNS_AUTH") => {
                assert_eq!(nothing.runs_auth, RunsAuthMode::Unset);
            }
            (None, "PUSH_AUTH_SERVICE_ACCOUNTS") => {
                let error = settings(&[("PUSH_AUTH_AUDIENCE", "https://x")]).unwrap_err();
                assert_eq!(error.variables(), [name]);
            }
            (None, "SERVICE_URL") => {
                assert_eq!(nothing.runs.service_url, None);
                let pushed = settings(&[
                    ("PUSH_AUTH_AUDIENCE", "https://trigger.example/"),
                    (
                        "PUSH_AUTH_SERVICE_ACCOUNTS",
                        "push@p.iam.gserviceaccount.com",
                    ),
                ])
                .unwrap();
                assert_eq!(
                    pushed.runs.service_url.as_deref(),
                    Some("https://trigger.example")
                );
            }
            (None, "RUNNER_SCRIPT") => assert_eq!(nothing.runs.runner_script, None),
            (None, "STORAGE_EMULATOR_HOST") => {
                assert_eq!(nothing.runs.storage_emulator, None);
                let error = settings(&[("STORAGE_EMULATOR_HOST", "ftp://x")]).unwrap_err();
                assert_eq!(error.variables(), [name]);
            }
            (None, "RUN_EVENTS_TOPIC" | "PUBSUB_EMULATOR_HOST") => {
                assert_eq!(nothing.runs.events_topic, None);
                assert_eq!(nothing.runs.pubsub_emulator, None);
                let bad = if name == "RUN_EVENTS_TOPIC" {
                    "projects/p/subscriptions/s"
                } else {
                    "http://127.0.0.1:8085/"
                };
                assert_eq!(settings(&[(name, bad)]).unwrap_err().variables(), [name]);
            }
            (None, "PROFILES_FILE") => assert_eq!(nothing.profiles_file, None),
            (None, "HOST") => {
                assert_eq!(nothing.backend, Backend::Embedded);
                assert_eq!(nothing.host.to_string(), "127.0.0.1");
                let served = settings(&[("GOOGLE_CLOUD_PROJECT", "p")]).unwrap();
                assert_eq!(served.host.to_string(), "0.0.0.0");
            }
            (None, "ALLOWED_OVERRIDES") => assert_eq!(nothing.policy.allowed().count(), 0),
            (None, "ALLOWED_PARAMETERS") => {
                let any = settings(&[("ALLOWED_OVERRIDES", "parameters")]).unwrap();
                let request = crate::payload::parse(
                    &crate::push::Data::Text(r#"{"parameters":{"whatever":1}}"#.into()),
                    &std::collections::BTreeMap::new(),
                    &any.policy,
                );
                assert!(request.is_ok(), "{request:?}");
            }
            (None, "ALLOWED_IMAGE_PREFIXES") => {
                assert_eq!(nothing.policy, OverridePolicy::default());
            }
            (None, "LOG_FORMAT") => {
                assert_eq!(nothing.log_format, LogFormat::Text);
                let on_cloud_run = settings(&[("K_SERVICE", "trigger")]).unwrap();
                assert_eq!(on_cloud_run.log_format, LogFormat::Json);
            }
            _ => panic!(
                "{name}: say here what its default `{}` means",
                variable.unset.shown()
            ),
        }
    }
}
