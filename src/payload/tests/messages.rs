//! Where a message carries the product's keys: attributes or data, never both; and the keys
//! that only look like the product's.

use serde_json::json;

use super::super::*;

/// A message of `data` (absent when `None`) and `attributes`, read under `policy`.
fn read(
    data: Option<&str>,
    attributes: &[(&str, &str)],
    policy: &OverridePolicy,
) -> Result<LaunchRequest, PayloadError> {
    let attributes: BTreeMap<String, String> = attributes
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let data = data.map_or(Data::Absent, |text| Data::Text(text.to_owned()));
    parse(&data, &attributes, policy)
}

fn refusing_events() -> OverridePolicy {
    OverridePolicy::parse("machine_type,parameters")
        .unwrap()
        .with_events(Events::Refuse)
}

#[test]
fn with_the_product_keys_in_attributes_the_data_is_the_apps_alone() {
    let policy = OverridePolicy::default();
    let data = r#"{"profile": "premium", "action": "upload"}"#;
    let request = read(Some(data), &[("profile", "gpu")], &policy).unwrap();
    assert_eq!(request.profile.as_deref(), Some("gpu"));
    assert_eq!(request.action, None, "the data's `action` is the app's");
    assert_eq!(
        request.event,
        Some(json!({"profile": "premium", "action": "upload"}))
    );
    let without = read(Some(data), &[("origin", "webapp")], &policy).unwrap_err();
    assert!(
        without.to_string().contains("`upload` is not an action"),
        "{without}"
    );

    let policy = OverridePolicy::parse("parameters").unwrap();
    let data = r#"{"profile": "other", "parameters": {"city": "Rome"}, "machine_type": "x"}"#;
    let attributes = [("parameters", r#"{"city": "Paris"}"#), ("origin", "webapp")];
    let request = read(Some(data), &attributes, &policy).unwrap();
    assert_eq!(request.profile, None);
    assert_eq!(
        request.overrides,
        Fields {
            parameters: Some(json!({"city": "Paris"}).as_object().unwrap().clone()),
            ..Fields::default()
        },
        "nothing of the data is read"
    );
    assert_eq!(request.event, Some(serde_json::from_str(data).unwrap()));
}

#[test]
fn attributes_alone_or_with_text_carry_no_event() {
    let policy = OverridePolicy::parse("dry_run").unwrap();
    for data in [
        None,
        Some(""),
        Some("{}"),
        Some("TweetiNoteStartTopic"),
        Some("[1]"),
    ] {
        let request = read(data, &[("profile", "gpu"), ("dry_run", "true")], &policy).unwrap();
        assert_eq!(request.profile.as_deref(), Some("gpu"), "{data:?}");
        assert!(request.dry_run, "{data:?}");
        assert_eq!(request.event, None, "{data:?}");
    }
    let request = read(None, &[("action", "reap")], &policy).unwrap();
    assert_eq!(request.action, Some(Action::Reap));
    assert_eq!(
        read(
            Some("TweetiNoteStartTopic"),
            &[("origin", "scheduler")],
            &policy
        ),
        Ok(LaunchRequest::default()),
        "attributes that are not the product's are not read"
    );
    let broken = read(Some(r#"{"upload": "#), &[("profile", "gpu")], &policy).unwrap_err();
    assert!(matches!(broken, PayloadError::BrokenJson(_)), "{broken}");
}

#[test]
fn attribute_text_that_is_not_what_its_key_takes_is_refused_naming_the_attribute() {
    let policy = OverridePolicy::parse("parameters,machine_type,dry_run").unwrap();
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    for (attribute, text, said) in [
        ("parameters", r#"{"city": "Paris""#, "is not JSON text"),
        ("parameters", "city=Paris", "is not JSON text"),
        ("overrides", "machine_type=n1", "is not JSON text"),
        ("parameters", deep.as_str(), "deeper than 32"),
        ("dry_run", "yes", "`yes` is not true or false"),
        ("dry_run", "True", "`True` is not true or false"),
    ] {
        let error = read(None, &[(attribute, text)], &policy).unwrap_err();
        assert!(
            matches!(&error, PayloadError::BadAttribute { attribute: a, .. } if *a == attribute),
            "{attribute}={text}: {error:?}"
        );
        let said_all = error.to_string();
        assert!(
            said_all.starts_with(&format!("attribute `{attribute}`: ")) && said_all.contains(said),
            "{said_all}"
        );
    }
    for (attribute, text, field) in [
        ("parameters", "[1]", "parameters"),
        (
            "overrides",
            r#"{"machine_typo": "x"}"#,
            "overrides.machine_typo",
        ),
        ("overrides", "7", "overrides"),
        ("action", "delete-all", "action"),
    ] {
        let error = read(None, &[(attribute, text)], &policy).unwrap_err();
        assert!(
            matches!(&error, PayloadError::BadField { field: f, .. } if f == field),
            "{attribute}={text}: {error:?}"
        );
    }
    assert!(
        !read(None, &[("dry_run", "false")], &policy)
            .unwrap()
            .dry_run
    );
}

#[test]
fn the_policy_holds_attribute_borne_values_as_it_holds_the_datas() {
    let none = OverridePolicy::default();
    let overrides = [("overrides", r#"{"machine_type": "n1-standard-8"}"#)];
    assert!(matches!(
        read(None, &overrides, &none),
        Err(PayloadError::NotAllowed {
            field: Field::MachineType,
            ..
        })
    ));
    assert_eq!(
        read(None, &[("dry_run", "true")], &none),
        Err(PayloadError::DryRunNotAllowed)
    );
    let parameters = [("parameters", r#"{"date": "d"}"#)];
    assert!(matches!(
        read(None, &parameters, &none),
        Err(PayloadError::NotAllowed {
            field: Field::Parameters,
            ..
        })
    ));
    let named = OverridePolicy::parse("parameters,metadata")
        .unwrap()
        .with_parameter_names("region")
        .unwrap();
    assert_eq!(
        read(None, &parameters, &named),
        Err(PayloadError::ParameterNotAllowed {
            name: "date".into(),
            allowed: "region".into()
        })
    );
    let any = OverridePolicy::parse("parameters,metadata").unwrap();
    let dunder = [("parameters", r#"{"__builtins__": {}}"#)];
    assert!(matches!(
        read(None, &dunder, &any),
        Err(PayloadError::BadParameter { name, .. }) if name == "__builtins__"
    ));
    let reserved = [("overrides", r#"{"metadata": {"startup-script": "reboot"}}"#)];
    assert!(matches!(
        read(Some(r#"{"upload": "x"}"#), &reserved, &any),
        Err(PayloadError::ReservedMetadata { key, .. }) if key == "startup-script"
    ));
    let twice = [
        ("parameters", r#"{"region": "eu"}"#),
        ("overrides", r#"{"parameters": {"region": "us"}}"#),
    ];
    let error = read(None, &twice, &any).unwrap_err();
    assert!(error.to_string().contains("set it once"), "{error}");
}

#[test]
fn a_key_close_to_the_products_is_refused_naming_both() {
    let policy = OverridePolicy::parse("parameters,machine_type,labels,dry_run").unwrap();
    let error = read(
        Some(r#"{"profile": "report", "paramters": {"city": "Paris"}}"#),
        &[],
        &policy,
    )
    .unwrap_err();
    assert_eq!(
        error,
        PayloadError::NearMiss {
            key: "paramters".into(),
            meant: "parameters",
            place: Place::Data
        }
    );
    assert!(
        error
            .to_string()
            .starts_with("`paramters`: did you mean `parameters`? "),
        "{error}"
    );
    for (data, key, meant) in [
        (
            r#"{"profile": "a", "Parameters": {}}"#,
            "Parameters",
            "parameters",
        ),
        (
            r#"{"parameters": {}, "Profile": "a"}"#,
            "Profile",
            "profile",
        ),
        (r#"{"profile": "a", "PROFILE": "b"}"#, "PROFILE", "profile"),
        (r#"{"profile": "a", "dryrun": true}"#, "dryrun", "dry_run"),
        (r#"{"profile": "a", "dry-run": true}"#, "dry-run", "dry_run"),
        (r#"{"profile": "a", "DryRun": true}"#, "DryRun", "dry_run"),
        (
            r#"{"profile": "a", "overides": {}}"#,
            "overides",
            "overrides",
        ),
        (
            r#"{"machine_type": "n1", "Action": "reap"}"#,
            "Action",
            "action",
        ),
        (
            r#"{"machine_type": "n1", "lables": {}}"#,
            "lables",
            "labels",
        ),
        (
            r#"{"labels": {}, "Machine-Type": "n1"}"#,
            "Machine-Type",
            "machine_type",
        ),
    ] {
        assert_eq!(
            read(Some(data), &[], &policy),
            Err(PayloadError::NearMiss {
                key: key.into(),
                meant,
                place: Place::Data
            }),
            "{data}"
        );
    }
}

#[test]
fn an_event_far_from_the_product_keys_is_still_an_event() {
    let policy = OverridePolicy::parse("parameters").unwrap();
    for data in [
        r#"{"upload": "gs://b/new.csv", "user": "ann", "date": "d", "profit": 3}"#,
        r#"{"profile": "gpu", "upload": "gs://b/new.csv", "option": 1, "id": 7}"#,
        r#"{"parameters": {"rows": 1}, "tables": [1], "label": 2, "subset": 3}"#,
        r#"{"Profile": "premium", "Action": "upload"}"#,
    ] {
        let request = read(Some(data), &[], &policy).unwrap_or_else(|e| panic!("{data}: {e}"));
        assert_eq!(
            request.event,
            Some(serde_json::from_str(data).unwrap()),
            "{data}"
        );
    }
}

#[test]
fn attributes_close_to_the_products_or_named_as_fields_are_refused() {
    let policy = OverridePolicy::parse("machine_type,dry_run").unwrap();
    for (data, attributes, key, meant) in [
        (None, [("Profile", "gpu")], "Profile", "profile"),
        (
            Some("TweetiNoteStartTopic"),
            [("dryrun", "true")],
            "dryrun",
            "dry_run",
        ),
        (
            Some(r#"{"profile": "gpu"}"#),
            [("dry-run", "true")],
            "dry-run",
            "dry_run",
        ),
        (
            Some(r#"{"upload": "x"}"#),
            [("paramters", "{}")],
            "paramters",
            "parameters",
        ),
    ] {
        let error = read(data, &attributes, &policy).unwrap_err();
        assert_eq!(
            error,
            PayloadError::NearMiss {
                key: key.into(),
                meant,
                place: Place::Attribute
            },
            "{attributes:?}"
        );
        let said = error.to_string();
        assert!(
            said.starts_with(&format!("attribute `{key}`: did you mean `{meant}`?")),
            "{said}"
        );
    }
    let error = read(
        None,
        &[("profile", "gpu"), ("machine_type", "n1-standard-8")],
        &policy,
    )
    .unwrap_err();
    assert_eq!(
        error,
        PayloadError::FieldAttribute {
            attribute: "machine_type".into(),
            field: Field::MachineType
        }
    );
    assert!(
        error.to_string().contains("`overrides` attribute"),
        "{error}"
    );
    let apps = [
        ("origin", "webapp"),
        ("source", "scheduler"),
        ("network", "wifi"),
    ];
    assert!(read(Some(r#"{"profile": "gpu"}"#), &apps, &policy).is_ok());
}

#[test]
fn a_deployment_that_refuses_events_names_every_key_it_does_not_read() {
    let policy = refusing_events();
    for (data, key) in [
        (r#"{"upload": "gs://b/x"}"#, "upload"),
        (r#"{"profile": "gpu", "start": true}"#, "start"),
    ] {
        let error = read(Some(data), &[], &policy).unwrap_err();
        assert_eq!(
            error,
            PayloadError::EventRefused {
                key: key.into(),
                by_attributes: false
            },
            "{data}"
        );
        assert!(
            error.to_string().contains(&format!("key `{key}`"))
                && error.to_string().contains("MESSAGE_EVENTS=refuse"),
            "{error}"
        );
    }
    assert_eq!(
        read(Some(r#"{"Profile": "gpu"}"#), &[], &policy),
        Err(PayloadError::NearMiss {
            key: "Profile".into(),
            meant: "profile",
            place: Place::Data
        })
    );
    assert_eq!(
        read(
            Some(r#"{"profile": "gpu", "machinetype": "n1"}"#),
            &[],
            &policy
        ),
        Err(PayloadError::NearMiss {
            key: "machinetype".into(),
            meant: "machine_type",
            place: Place::Data
        })
    );
    let request = read(
        Some(r#"{"profile": "gpu", "machine_type": "n1"}"#),
        &[],
        &policy,
    )
    .unwrap();
    assert_eq!(request.event, None);
    assert_eq!(request.overrides.machine_type.as_deref(), Some("n1"));
    for data in [None, Some("TweetiNoteStartTopic"), Some("{}")] {
        assert!(read(data, &[], &policy).is_ok(), "{data:?}");
        assert!(
            read(data, &[("profile", "gpu")], &policy).is_ok(),
            "{data:?}"
        );
    }
    let error = read(Some(r#"{"upload": "x"}"#), &[("profile", "gpu")], &policy).unwrap_err();
    assert_eq!(
        error,
        PayloadError::EventRefused {
            key: "upload".into(),
            by_attributes: true
        }
    );
}

#[test]
fn message_events_reads_allow_or_refuse() {
    assert_eq!("allow".parse(), Ok(Events::Allow));
    assert_eq!("refuse".parse(), Ok(Events::Refuse));
    let error = "deny".parse::<Events>().unwrap_err();
    assert!(error.contains("`deny`"), "{error}");
    assert_eq!(OverridePolicy::default().events, Events::Allow);
}
