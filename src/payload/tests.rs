use super::*;
use crate::profile::MAX_PARAMETERS_BYTES;
use proptest::prelude::*;

mod messages;

fn text(t: &str) -> Data {
    Data::Text(t.to_owned())
}

/// A message with `data` and no attributes, read under `policy`.
fn parse(data: &Data, policy: &OverridePolicy) -> Result<LaunchRequest, PayloadError> {
    super::parse(data, &BTreeMap::new(), policy)
}

#[test]
fn non_objects_launch_the_default_profile() {
    let policy = OverridePolicy::default();
    for data in [
        Data::Absent,
        text(""),
        text("TweetiNoteStartTopic"),
        text("[1,2]"),
        text("42"),
        Data::Bytes(vec![0xff, 0]),
    ] {
        assert_eq!(
            parse(&data, &policy),
            Ok(LaunchRequest::default()),
            "{data:?}"
        );
    }
}

#[test]
fn profile_is_always_selectable() {
    let request = parse(&text(r#"{"profile":"gpu"}"#), &OverridePolicy::default()).unwrap();
    assert_eq!(request.profile.as_deref(), Some("gpu"));
    let error = parse(&text(r#"{"profile":7}"#), &OverridePolicy::default()).unwrap_err();
    assert!(error.to_string().contains("`profile`"), "{error}");
}

#[test]
fn overrides_need_the_policy() {
    let data = text(r#"{"machine_type":"n1-standard-8"}"#);
    let error = parse(&data, &OverridePolicy::default()).unwrap_err();
    assert_eq!(
        error,
        PayloadError::NotAllowed {
            field: Field::MachineType,
            allowed: "none".into()
        }
    );
    let policy = OverridePolicy::parse("machine_type, labels").unwrap();
    let request = parse(&data, &policy).unwrap();
    assert_eq!(
        request.overrides.machine_type.as_deref(),
        Some("n1-standard-8")
    );
}

#[test]
fn forbidden_fields_stay_forbidden_when_others_are_allowed() {
    let policy = OverridePolicy::parse("labels").unwrap();
    for field in [
        "container_image",
        "service_account",
        "network",
        "post_startup_script",
    ] {
        let body = format!(r#"{{"{field}":"x"}}"#);
        let error = parse(&text(&body), &policy).unwrap_err();
        assert!(error.to_string().contains(field), "{error}");
    }
}

#[test]
fn unknown_and_mistyped_fields_are_named() {
    let policy = OverridePolicy::parse("machine_type,labels,accelerator_count").unwrap();
    let error = parse(&text(r#"{"overrides":{"machine_typo":"x"}}"#), &policy).unwrap_err();
    assert!(
        matches!(&error, PayloadError::BadField { field, .. } if field == "overrides.machine_typo"),
        "{error}"
    );
    let error = parse(&text(r#"{"accelerator_count":"two"}"#), &policy).unwrap_err();
    assert!(
        matches!(&error, PayloadError::BadField { field, .. } if field == "accelerator_count"),
        "{error}"
    );
    let error = parse(&text(r#"{"labels":{"a":1}}"#), &policy).unwrap_err();
    assert!(
        matches!(&error, PayloadError::BadField { field, .. } if field == "labels.a"),
        "{error}"
    );
    assert!(matches!(
        parse(&text(r#"{"profile":"#), &policy),
        Err(PayloadError::BrokenJson(_))
    ));
}

#[test]
fn policy_parse_names_the_bad_entry() {
    let error = OverridePolicy::parse("machine_type,colour").unwrap_err();
    assert!(
        error.contains("`colour`") && error.contains("machine_type"),
        "{error}"
    );
}

#[test]
fn overridden_images_must_come_from_an_allowed_prefix() {
    let policy = OverridePolicy::parse("container_image")
        .unwrap()
        .with_image_prefixes("europe-docker.pkg.dev/team/notebooks/, localhost:5000/")
        .unwrap();
    let image = |name: &str| text(&format!(r#"{{"container_image":"{name}"}}"#));
    for ok in [
        "europe-docker.pkg.dev/team/notebooks/img:v1",
        "localhost:5000/img",
    ] {
        assert!(parse(&image(ok), &policy).is_ok(), "{ok}");
    }
    for refused in [
        "europe-docker.pkg.dev/team/notebooks-evil/img",
        "europe-docker.pkg.dev/team/notebooks/",
        "europe-docker.pkg.dev/team/notebooks/../other/img",
        "docker.io/evil/img",
    ] {
        assert!(
            matches!(
                parse(&image(refused), &policy),
                Err(PayloadError::ImageNotAllowed { .. })
            ),
            "{refused}"
        );
    }
}

#[test]
fn image_prefixes_are_checked_at_start_up() {
    let allows_image = || OverridePolicy::parse("container_image").unwrap();
    let error = allows_image().with_image_prefixes("").unwrap_err();
    assert!(error.contains("required"), "{error}");
    for bad in [
        "gcr.io/team",
        "https://gcr.io/team/",
        "/x/",
        "gcr.io/../x/",
        "a b/",
    ] {
        assert!(allows_image().with_image_prefixes(bad).is_err(), "{bad}");
    }
    assert!(OverridePolicy::default().with_image_prefixes("").is_ok());
}

#[test]
fn deeply_nested_payloads_are_refused_naming_the_limit() {
    let policy = OverridePolicy::parse("labels").unwrap();
    let deep = format!(r#"{{"labels":{}{}}}"#, "[".repeat(40), "]".repeat(40));
    let error = parse(&text(&deep), &policy).unwrap_err();
    assert_eq!(error, PayloadError::TooDeep);
    assert!(error.to_string().contains("32"), "{error}");
}

#[test]
fn an_object_with_a_key_of_its_own_is_an_event_carried_whole() {
    let policy = OverridePolicy::default();
    let request = parse(
        &text(r#"{"upload":"gs://b/new.csv","machine_type":"x"}"#),
        &policy,
    )
    .unwrap();
    assert_eq!(
        request.event,
        Some(serde_json::json!({"upload": "gs://b/new.csv", "machine_type": "x"}))
    );
    assert_eq!(
        request.overrides,
        Fields::default(),
        "field names in an event are its data"
    );
    let request = parse(&text(r#"{"start":true,"profile":"gpu"}"#), &policy).unwrap();
    assert_eq!(request.profile.as_deref(), Some("gpu"));
    assert!(request.event.is_some());
    let compat = parse(&text(r#"{"profile":"gpu"}"#), &policy).unwrap();
    assert_eq!(compat.event, None);
}

#[test]
fn parameters_need_the_policy_and_may_be_restricted_by_name() {
    let body = text(r#"{"parameters":{"date":"2026-12-01"}}"#);
    let error = parse(&body, &OverridePolicy::default()).unwrap_err();
    assert!(
        matches!(
            error,
            PayloadError::NotAllowed {
                field: Field::Parameters,
                ..
            }
        ),
        "{error}"
    );
    let any = OverridePolicy::parse("parameters").unwrap();
    let request = parse(&body, &any).unwrap();
    assert_eq!(request.overrides.parameters.unwrap()["date"], "2026-12-01");
    let named = any.clone().with_parameter_names("region").unwrap();
    let error = parse(&body, &named).unwrap_err();
    assert_eq!(
        error,
        PayloadError::ParameterNotAllowed {
            name: "date".into(),
            allowed: "region".into()
        }
    );
    let error = parse(&text(r#"{"parameters":[1]}"#), &any).unwrap_err();
    assert!(
        matches!(&error, PayloadError::BadField { field, .. } if field == "parameters"),
        "{error}"
    );
    let big = format!(
        r#"{{"parameters":{{"a":"{}"}}}}"#,
        "x".repeat(MAX_PARAMETERS_BYTES)
    );
    assert!(matches!(
        parse(&text(&big), &any),
        Err(PayloadError::ParametersTooLarge {
            limit: MAX_PARAMETERS_BYTES,
            ..
        })
    ));
    assert!(OverridePolicy::default().with_parameter_names("a").is_err());
    assert!(any.with_parameter_names("a-b").is_err());
}

#[test]
fn overrides_are_strict_and_a_field_is_set_once() {
    let policy = OverridePolicy::parse("machine_type").unwrap();
    let request = parse(
        &text(r#"{"overrides":{"machine_type":"n1-standard-8"},"upload":"x"}"#),
        &policy,
    )
    .unwrap();
    assert_eq!(
        request.overrides.machine_type.as_deref(),
        Some("n1-standard-8")
    );
    assert!(request.event.is_some());
    for (body, field) in [
        (r#"{"overrides":{"labels":{"a":"b"}}}"#, None),
        (r#"{"overrides":"machine_type"}"#, Some("overrides")),
        (
            r#"{"machine_type":"a","overrides":{"machine_type":"b"}}"#,
            Some("machine_type"),
        ),
    ] {
        let error = parse(&text(body), &policy).unwrap_err();
        match field {
            Some(field) => assert!(
                matches!(&error, PayloadError::BadField { field: f, .. } if f == field),
                "{body}: {error}"
            ),
            None => assert!(
                matches!(
                    error,
                    PayloadError::NotAllowed {
                        field: Field::Labels,
                        ..
                    }
                ),
                "{body}: {error}"
            ),
        }
    }
}

#[test]
fn actions_and_dry_runs_are_read_and_checked() {
    let policy = OverridePolicy::default();
    assert_eq!(
        parse(&text(r#"{"action":"reap"}"#), &policy)
            .unwrap()
            .action,
        Some(Action::Reap)
    );
    for body in [r#"{"action":"delete-all"}"#, r#"{"action":1}"#] {
        assert!(
            matches!(parse(&text(body), &policy), Err(PayloadError::BadField { ref field, .. }) if field == "action"),
            "{body}"
        );
    }
    assert_eq!(
        parse(&text(r#"{"dry_run":true}"#), &policy),
        Err(PayloadError::DryRunNotAllowed)
    );
    assert!(
        !parse(&text(r#"{"dry_run":false}"#), &policy)
            .unwrap()
            .dry_run
    );
    let allowed = OverridePolicy::parse("dry_run").unwrap();
    assert!(
        parse(&text(r#"{"dry_run":true}"#), &allowed)
            .unwrap()
            .dry_run
    );
    assert!(parse(&text(r#"{"dry_run":"yes"}"#), &allowed).is_err());
}

/// One key of each kind Google or the runner reads, in the spellings a sender might try.
const RESERVED_SAMPLES: [&str; 24] = [
    "startup-script",
    "STARTUP-SCRIPT",
    "startup-script-url",
    "shutdown-script",
    "shutdown-script-url",
    "windows-startup-script-ps1",
    "windows-shutdown-script-cmd",
    "sysprep-specialize-script-bat",
    "user-data",
    "ssh-keys",
    "sshKeys",
    "block-project-ssh-keys",
    "enable-oslogin",
    "enable-oslogin-2fa",
    "serial-port-enable",
    "post-startup-script",
    "post-startup-script-behavior",
    "idle-timeout-seconds",
    "proxy-mode",
    "install-nvidia-driver",
    "custom-container-image",
    "notebook-disable-root",
    "enable-guest-attributes",
    "notebook-trigger-parameters",
];

#[test]
fn reserved_metadata_keys_are_refused_even_when_metadata_is_allowed() {
    use crate::profile::{KeyClass, reserved_key};
    let policy = OverridePolicy::parse("metadata").unwrap();
    let mut classes = Vec::new();
    for key in RESERVED_SAMPLES {
        classes.push(reserved_key(key).expect("a reserved key").class);
        for body in [
            format!(r#"{{"metadata":{{"team":"ml","{key}":"x"}}}}"#),
            format!(r#"{{"overrides":{{"metadata":{{"{key}":"x"}}}}}}"#),
            format!(r#"{{"overrides":{{"metadata":{{"{key}":"x"}}}},"upload":"gs://b/x"}}"#),
        ] {
            let error = parse(&text(&body), &policy).unwrap_err();
            assert!(
                matches!(&error, PayloadError::ReservedMetadata { key: k, .. } if k == key),
                "{body}: {error:?}"
            );
            let said = error.to_string();
            assert!(
                said.contains(&format!("`{key}`")) && said.contains("cannot be set by a message"),
                "{said}"
            );
        }
    }
    for class in [
        KeyClass::Code,
        KeyClass::Access,
        KeyClass::Field(Field::PostStartupScript),
        KeyClass::Managed,
        KeyClass::Runner,
        KeyClass::Setting,
    ] {
        assert!(classes.contains(&class), "no sample of {class:?}");
    }
    let said = parse(&text(r#"{"metadata":{"startup-script":"x"}}"#), &policy)
        .unwrap_err()
        .to_string();
    assert!(said.contains("as code on the VM, as root"), "{said}");
}

#[test]
fn the_deployments_own_metadata_keys_stay_a_messages_to_set() {
    let policy = OverridePolicy::parse("metadata").unwrap();
    let request = parse(
        &text(r#"{"metadata":{"team":"ml","dataset-version":"7","startup":"x"}}"#),
        &policy,
    )
    .unwrap();
    let metadata = request.overrides.metadata.unwrap();
    assert_eq!(metadata["team"], "ml");
    assert_eq!(metadata.len(), 3);
}

#[test]
fn dunder_parameter_names_are_refused_naming_them() {
    let any = OverridePolicy::parse("parameters").unwrap();
    for name in ["__builtins__", "__import__", "__x", "__"] {
        let body = format!(r#"{{"parameters":{{"date":"d","{name}":1}}}}"#);
        let error = parse(&text(&body), &any).unwrap_err();
        assert!(
            matches!(&error, PayloadError::BadParameter { name: n, .. } if n == name),
            "{body}: {error:?}"
        );
        assert!(error.to_string().contains(&format!("`{name}`")), "{error}");
        let event = format!(r#"{{"upload":"x","parameters":{{"{name}":1}}}}"#);
        assert!(parse(&text(&event), &any).is_err(), "{event}");
    }
    assert!(parse(&text(r#"{"parameters":{"_private":1}}"#), &any).is_ok());
    let error = any.with_parameter_names("date,__builtins__").unwrap_err();
    assert!(error.contains("`__builtins__`"), "{error}");
}

proptest! {
    #[test]
    fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let policy = OverridePolicy::parse("machine_type,labels").unwrap();
        let data = match String::from_utf8(bytes.clone()) { Ok(t) => Data::Text(t), Err(_) => Data::Bytes(bytes) };
        let _ = parse(&data, &policy);
    }

    #[test]
    fn arbitrary_json_objects_never_panic(json in "\\{(\"[a-z_]{1,20}\":(\"[a-z0-9-]{0,10}\"|[0-9]{1,3}|true|null|\\{\\}|\\[\\]),?){0,4}\\}") {
        let policy = OverridePolicy::parse("machine_type,labels,accelerator_count,disable_public_ip").unwrap();
        let _ = parse(&Data::Text(json), &policy);
    }
}
