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
mod defaults;

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

/// A profile's field error names where the field was set: the default profile's variable, or
/// the profile in `PROFILES_FILE`.
#[test]
fn a_profile_field_error_names_where_the_field_was_set() {
    let error = || crate::profile::FieldError::new(Field::Notify, "rule 1: bad");
    assert_eq!(
        profile_field_error("default", error()).to_string(),
        "NOTIFY: rule 1: bad"
    );
    assert_eq!(
        profile_field_error("nightly", error()).to_string(),
        "PROFILES_FILE: profile `nightly`: field `notify`: rule 1: bad"
    );
}
