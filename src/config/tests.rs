use std::collections::HashMap;
use std::time::Duration;

use reqwest::Url;

use super::*;
use crate::http::RunsAuthMode;
use crate::notebooks::protocol::EmulatorProtocol;
use crate::payload::OverridePolicy;
use crate::profile::{Field, LaunchSpec};
use crate::push_token::{self, PushAuthMode};
use crate::telemetry::LogFormat;
use crate::variable::WhenUnset;

mod at_once;

/// The README's configuration table is the `--help` table as Markdown: one row per variable,
/// in the same order, with the same words (a `|` in a cell escaped).
#[test]
fn the_readme_lists_every_variable_as_help_does() {
    let readme = include_str!("../../README.md");
    let cell = |text: &str| text.replace('|', "\\|");
    let expected: Vec<String> = VARIABLES
        .iter()
        .map(|v| {
            format!(
                "| `{}` | {} | {} |",
                v.name,
                cell(v.unset.shown()),
                cell(v.meaning)
            )
        })
        .collect();
    let table = readme
        .split("| Variable | Default | Meaning |\n|---|---|---|\n")
        .nth(1)
        .expect("the README has the configuration table");
    let rows: Vec<&str> = table.lines().take_while(|l| l.starts_with('|')).collect();
    assert_eq!(
        rows,
        expected,
        "README rows; expected:\n{}",
        expected.join("\n")
    );
}

fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingErrors> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_env(&move |name| map.get(name).cloned())
}

#[test]
fn the_emulator_host_becomes_its_url_whatever_the_port() {
    for (host, url) in [
        ("127.0.0.1:8090", "http://127.0.0.1:8090/"),
        ("localhost:80", "http://localhost/"),
        ("[::1]:8090", "http://[::1]:8090/"),
    ] {
        let s = settings(&[
            ("NOTEBOOKS_EMULATOR_HOST", host),
            ("GOOGLE_CLOUD_PROJECT", "p"),
        ])
        .unwrap();
        assert_eq!(
            s.backend,
            Backend::Emulator(Url::parse(url).unwrap(), EmulatorProtocol::Auto),
            "{host}"
        );
    }
}

#[test]
fn the_emulator_protocol_is_asked_unless_forced() {
    let emulator = [
        ("NOTEBOOKS_EMULATOR_HOST", "127.0.0.1:8090"),
        ("GOOGLE_CLOUD_PROJECT", "p"),
    ];
    let url = Url::parse("http://127.0.0.1:8090/").unwrap();
    for (value, protocol) in [
        ("auto", EmulatorProtocol::Auto),
        ("h2c", EmulatorProtocol::H2c),
        (" http1 ", EmulatorProtocol::Http1),
    ] {
        let mut vars = emulator.to_vec();
        vars.push(("NOTEBOOKS_EMULATOR_PROTOCOL", value));
        assert_eq!(
            settings(&vars).unwrap().backend,
            Backend::Emulator(url.clone(), protocol),
            "{value}"
        );
    }
    for vars in [
        &[
            emulator[0],
            emulator[1],
            ("NOTEBOOKS_EMULATOR_PROTOCOL", "h2"),
        ][..],
        &[("NOTEBOOKS_EMULATOR_PROTOCOL", "http1")],
        &[
            ("NOTEBOOKS_ENDPOINT", "https://notebooks.example"),
            ("NOTEBOOKS_EMULATOR_PROTOCOL", "h2c"),
        ],
    ] {
        let error = settings(vars).unwrap_err();
        assert_eq!(
            error.variables(),
            ["NOTEBOOKS_EMULATOR_PROTOCOL"],
            "{vars:?}"
        );
    }
}

#[test]
fn nothing_configured_means_the_embedded_demo() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.backend, Backend::Embedded);
    assert_eq!(s.port, 8080);
    assert_eq!(s.poll.timeout, Duration::from_secs(540));
    assert_eq!(s.log_format, LogFormat::Text);
}

#[test]
fn cloud_run_without_a_project_uses_google_and_json_logs() {
    let s = settings(&[("K_SERVICE", "trigger")]).unwrap();
    assert_eq!(s.backend, Backend::Google);
    assert_eq!(s.log_format, LogFormat::Json);
}

#[test]
fn each_bad_value_names_its_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("PORT", "http")], "PORT"),
        (&[("RUN_LOST_AFTER", "an hour")], "RUN_LOST_AFTER"),
        (
            &[("RUN_LOST_AFTER", "5m"), ("POLL_TIMEOUT", "9m")],
            "RUN_LOST_AFTER",
        ),
        (&[("NOTEBOOKS_API_VERSION", "v3")], "NOTEBOOKS_API_VERSION"),
        (
            &[("NOTEBOOKS_EMULATOR_HOST", "localhost")],
            "NOTEBOOKS_EMULATOR_HOST",
        ),
        (
            &[("NOTEBOOKS_EMULATOR_HOST", "localhost:1")],
            "GOOGLE_CLOUD_PROJECT",
        ),
        (
            &[("NOTEBOOKS_EMULATOR_HOST", "localhost:port")],
            "NOTEBOOKS_EMULATOR_HOST",
        ),
        (
            &[("NOTEBOOKS_EMULATOR_HOST", "localhost:8090/v2")],
            "NOTEBOOKS_EMULATOR_HOST",
        ),
        (
            &[("NOTEBOOKS_ENDPOINT", "notebooks.example")],
            "NOTEBOOKS_ENDPOINT",
        ),
        (&[("NOTEBOOKS_ENDPOINT", "https://")], "NOTEBOOKS_ENDPOINT"),
        (
            &[("NOTEBOOKS_ENDPOINT", "https://exa mple.com")],
            "NOTEBOOKS_ENDPOINT",
        ),
        (&[("ALLOWED_OVERRIDES", "colour")], "ALLOWED_OVERRIDES"),
        (&[("MESSAGE_EVENTS", "deny")], "MESSAGE_EVENTS"),
        (&[("ALLOWED_PARAMETERS", "date")], "ALLOWED_PARAMETERS"),
        (
            &[
                ("ALLOWED_OVERRIDES", "parameters"),
                ("ALLOWED_PARAMETERS", "a b"),
            ],
            "ALLOWED_PARAMETERS",
        ),
        (&[("INSTANCE_ID_PREFIX", "Bad")], "INSTANCE_ID_PREFIX"),
        (&[("ON_EXISTING", "crash")], "ON_EXISTING"),
        (&[("POLL_TIMEOUT", "soon")], "POLL_TIMEOUT"),
        (&[("POLL_INITIAL_DELAY", "20s")], "POLL_MAX_DELAY"),
        (&[("MAX_BODY_BYTES", "12")], "MAX_BODY_BYTES"),
        (&[("MAX_PAYLOAD_BYTES", "-1")], "MAX_PAYLOAD_BYTES"),
        (
            &[("MAX_CONCURRENT_LAUNCHES", "0")],
            "MAX_CONCURRENT_LAUNCHES",
        ),
        (
            &[("ALLOWED_OVERRIDES", "container_image")],
            "ALLOWED_IMAGE_PREFIXES",
        ),
        (
            &[("ALLOWED_IMAGE_PREFIXES", "gcr.io/no-trailing-slash")],
            "ALLOWED_IMAGE_PREFIXES",
        ),
        (&[("LOG_FORMAT", "xml")], "LOG_FORMAT"),
        (&[("PUSH_AUTH", "on")], "PUSH_AUTH"),
        (
            &[("PUSH_AUTH", "off"), ("PUSH_AUTH_AUDIENCE", "https://x")],
            "PUSH_AUTH",
        ),
        (
            &[("PUSH_AUTH_AUDIENCE", "https://x")],
            "PUSH_AUTH_SERVICE_ACCOUNTS",
        ),
        (
            &[
                ("PUSH_AUTH_AUDIENCE", "https://x"),
                ("PUSH_AUTH_SERVICE_ACCOUNTS", "not-an-email"),
            ],
            "PUSH_AUTH_SERVICE_ACCOUNTS",
        ),
        (
            &[("PUSH_AUTH_SERVICE_ACCOUNTS", "a@p.iam.gserviceaccount.com")],
            "PUSH_AUTH_AUDIENCE",
        ),
        (
            &[
                ("PUSH_AUTH_AUDIENCE", "https://x"),
                ("PUSH_AUTH_SERVICE_ACCOUNTS", "a@p.iam.gserviceaccount.com"),
                ("PUSH_AUTH_JWKS_URL", "file:///etc/keys"),
            ],
            "PUSH_AUTH_JWKS_URL",
        ),
        (&[("DISABLE_PUBLIC_IP", "maybe")], "DISABLE_PUBLIC_IP"),
        (&[("BOOT_DISK_SIZE_GB", "big")], "BOOT_DISK_SIZE_GB"),
    ];
    for (vars, variable) in cases {
        let error = settings(vars).expect_err(variable);
        assert_eq!(error.variables(), [*variable], "{error}");
    }
}

#[test]
fn push_auth_modes() {
    assert_eq!(settings(&[]).unwrap().push_auth, PushAuthMode::Unset);
    assert_eq!(
        settings(&[("PUSH_AUTH", "off")]).unwrap().push_auth,
        PushAuthMode::Off
    );
    let verify = settings(&[
        ("PUSH_AUTH_AUDIENCE", "https://trigger-abc-ew.a.run.app"),
        (
            "PUSH_AUTH_SERVICE_ACCOUNTS",
            "push@p.iam.gserviceaccount.com, other@p.iam.gserviceaccount.com",
        ),
    ])
    .unwrap()
    .push_auth;
    let PushAuthMode::Verify(verify) = verify else {
        panic!("{verify:?}")
    };
    assert_eq!(verify.audience, "https://trigger-abc-ew.a.run.app");
    assert_eq!(verify.service_accounts.len(), 2);
    assert_eq!(verify.jwks_url, push_token::GOOGLE_JWKS_URL);
}

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
            (None, "RUNS_READERS" | "RUNS_AUTH") => {
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
