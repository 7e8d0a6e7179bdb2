use super::*;
use crate::profile::LaunchSpec;

fn execution() -> Fields {
    Fields {
        location: Some("us-central1-a".into()),
        container_image: Some("us-docker.pkg.dev/p/r/img".into()),
        notebook: Some("gs://bkt/nb/seed.ipynb".into()),
        output: Some("gs://bkt/runs".into()),
        backend: Some("execution".into()),
        ..Fields::default()
    }
}

#[test]
fn the_default_backend_is_an_instance_and_an_execution_runs_in_the_region() {
    let instance = Fields {
        backend: None,
        ..execution()
    };
    assert_eq!(parse_backend(&instance), Ok(Backend::Instance));
    let spec = LaunchSpec::parse(&execution(), "p").unwrap();
    let execution_spec = spec.backend.execution().unwrap();
    assert_eq!(execution_spec.region, "us-central1");
    assert_eq!(execution_spec.runtime_template, None);
    let region = Fields {
        location: Some("europe-west4".into()),
        ..execution()
    };
    let spec = LaunchSpec::parse(&region, "p").unwrap();
    assert_eq!(spec.backend.execution().unwrap().region, "europe-west4");
    let error = LaunchSpec::parse(
        &Fields {
            backend: None,
            ..region
        },
        "p",
    )
    .unwrap_err();
    assert_eq!(error.field, Field::Location, "an instance needs a zone");
}

#[test]
fn regions_are_read_from_zones_or_taken_as_they_are() {
    for (location, region) in [
        ("us-central1-a", Some("us-central1")),
        ("us-central1", Some("us-central1")),
        ("northamerica-northeast1-b", Some("northamerica-northeast1")),
        ("europe-west4", Some("europe-west4")),
        ("us", None),
        ("us-central", None),
        ("US-central1", None),
        ("us--central1", None),
        ("", None),
    ] {
        assert_eq!(region_of(location).as_deref(), region, "{location}");
    }
}

#[test]
fn what_only_an_instance_can_do_is_refused_naming_the_field_and_the_fix() {
    let map = || Some(std::collections::BTreeMap::from([("k".into(), "v".into())]));
    let cases: Vec<(Fields, Field)> = vec![
        (
            Fields {
                instance_id: Some("nb".into()),
                ..execution()
            },
            Field::InstanceId,
        ),
        (
            Fields {
                post_startup_script: Some("gs://b/s.sh".into()),
                ..execution()
            },
            Field::PostStartupScript,
        ),
        (
            Fields {
                post_startup_script_behavior: Some("run_once".into()),
                ..execution()
            },
            Field::PostStartupScriptBehavior,
        ),
        (
            Fields {
                metadata: map(),
                ..execution()
            },
            Field::Metadata,
        ),
        (
            Fields {
                install_gpu_driver: Some(true),
                ..execution()
            },
            Field::InstallGpuDriver,
        ),
        (
            Fields {
                idle_timeout_seconds: Some(600),
                ..execution()
            },
            Field::IdleTimeoutSeconds,
        ),
        (
            Fields {
                secrets: map(),
                ..execution()
            },
            Field::Secrets,
        ),
        (
            Fields {
                notebook: None,
                output: None,
                ..execution()
            },
            Field::Notebook,
        ),
        (
            Fields {
                notebook: Some("/home/jupyter/seed.ipynb".into()),
                ..execution()
            },
            Field::Notebook,
        ),
        (
            Fields {
                max_run_time: Some("25h".into()),
                ..execution()
            },
            Field::MaxRunTime,
        ),
        (
            Fields {
                backend: Some("vm".into()),
                ..execution()
            },
            Field::Backend,
        ),
        (
            Fields {
                location: Some("mars".into()),
                ..execution()
            },
            Field::Location,
        ),
    ];
    for (fields, field) in cases {
        let error = LaunchSpec::parse(&fields, "p").unwrap_err();
        assert_eq!(error.field, field, "{error}");
        if field != Field::MaxRunTime && field != Field::Backend && field != Field::Location {
            assert!(
                error.reason.contains("backend = \"instance\"")
                    || error.reason.contains("gs://BUCKET"),
                "{field}: {error}"
            );
        }
    }
    let empty = Fields {
        metadata: Some(std::collections::BTreeMap::new()),
        ..execution()
    };
    assert!(
        LaunchSpec::parse(&empty, "p").is_ok(),
        "an empty map sets nothing"
    );
}

#[test]
fn a_runtime_template_is_for_executions_in_their_region_and_decides_the_compute() {
    let template = "projects/p/locations/us-central1/notebookRuntimeTemplates/t-1";
    let with = |fields: Fields| Fields {
        runtime_template: Some(template.into()),
        ..fields
    };
    let spec = LaunchSpec::parse(&with(execution()), "p").unwrap();
    assert_eq!(
        spec.backend
            .execution()
            .unwrap()
            .runtime_template
            .as_deref(),
        Some(template)
    );
    let instance = with(Fields {
        backend: Some("instance".into()),
        ..execution()
    });
    assert_eq!(
        LaunchSpec::parse(&instance, "p").unwrap_err().field,
        Field::RuntimeTemplate
    );
    let machine = with(Fields {
        machine_type: Some("n1-standard-8".into()),
        ..execution()
    });
    let error = LaunchSpec::parse(&machine, "p").unwrap_err();
    assert_eq!(error.field, Field::MachineType);
    assert!(error.reason.contains("runtime template"), "{error}");
    for bad in [
        "projects/p/locations/europe-west4/notebookRuntimeTemplates/t",
        "projects/p/locations/us-central1/templates/t",
        "t",
        "projects/p/locations/us-central1/notebookRuntimeTemplates/t/x",
        "projects/p/locations/us-central1/notebookRuntimeTemplates/a b",
    ] {
        let fields = Fields {
            runtime_template: Some(bad.into()),
            ..execution()
        };
        let error = LaunchSpec::parse(&fields, "p").unwrap_err();
        assert_eq!(error.field, Field::RuntimeTemplate, "{bad}: {error}");
    }
}
