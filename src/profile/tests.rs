use super::*;

fn base() -> Fields {
    Fields {
        location: Some("us-central1-a".into()),
        container_image: Some("us-docker.pkg.dev/p/r/img".into()),
        post_startup_script: Some("gs://bucket/script.sh".into()),
        ..Fields::default()
    }
}

#[test]
fn minimal_profile_gets_the_documented_defaults() {
    let spec = LaunchSpec::parse(&base(), "p").unwrap();
    assert_eq!(spec.container_tag, "latest");
    assert_eq!(spec.machine_type, "n1-standard-4");
    assert_eq!(spec.idle_timeout_seconds, None);
    assert!(!spec.disable_public_ip);
}

#[test]
fn tag_may_come_with_the_image_but_not_twice() {
    let mut f = base();
    f.container_image = Some("localhost:5000/img:v2".into());
    let spec = LaunchSpec::parse(&f, "p").unwrap();
    assert_eq!(
        (
            spec.container_repository.as_str(),
            spec.container_tag.as_str()
        ),
        ("localhost:5000/img", "v2")
    );
    f.container_tag = Some("v3".into());
    assert_eq!(
        LaunchSpec::parse(&f, "p").unwrap_err().field,
        Field::ContainerTag
    );
}

#[test]
fn each_rule_names_its_field() {
    let cases: Vec<(Fields, Field)> = vec![
        (
            Fields {
                location: None,
                ..base()
            },
            Field::Location,
        ),
        (
            Fields {
                location: Some("us-central1".into()),
                ..base()
            },
            Field::Location,
        ),
        (
            Fields {
                container_image: None,
                ..base()
            },
            Field::ContainerImage,
        ),
        (
            Fields {
                container_image: Some("https://x/y".into()),
                ..base()
            },
            Field::ContainerImage,
        ),
        (
            Fields {
                container_tag: Some("-bad".into()),
                ..base()
            },
            Field::ContainerTag,
        ),
        (
            Fields {
                machine_type: Some("N1 STANDARD".into()),
                ..base()
            },
            Field::MachineType,
        ),
        (
            Fields {
                post_startup_script: Some("/tmp/s.sh".into()),
                ..base()
            },
            Field::PostStartupScript,
        ),
        (
            Fields {
                post_startup_script_behavior: Some("sometimes".into()),
                ..base()
            },
            Field::PostStartupScriptBehavior,
        ),
        (
            Fields {
                idle_timeout_seconds: Some(5),
                ..base()
            },
            Field::IdleTimeoutSeconds,
        ),
        (
            Fields {
                service_account: Some("nobody".into()),
                ..base()
            },
            Field::ServiceAccount,
        ),
        (
            Fields {
                network: Some("a/b".into()),
                ..base()
            },
            Field::Network,
        ),
        (
            Fields {
                accelerator_type: Some("TPU".into()),
                ..base()
            },
            Field::AcceleratorType,
        ),
        (
            Fields {
                accelerator_count: Some(2),
                ..base()
            },
            Field::AcceleratorCount,
        ),
        (
            Fields {
                install_gpu_driver: Some(true),
                ..base()
            },
            Field::InstallGpuDriver,
        ),
        (
            Fields {
                boot_disk_type: Some("FLOPPY".into()),
                ..base()
            },
            Field::BootDiskType,
        ),
        (
            Fields {
                boot_disk_size_gb: Some(10),
                ..base()
            },
            Field::BootDiskSizeGb,
        ),
        (
            Fields {
                labels: Some([("Bad".into(), "x".into())].into()),
                ..base()
            },
            Field::Labels,
        ),
        (
            Fields {
                labels: Some([("managed-by".into(), "me".into())].into()),
                ..base()
            },
            Field::Labels,
        ),
        (
            Fields {
                metadata: Some([("post-startup-script".into(), "x".into())].into()),
                ..base()
            },
            Field::Metadata,
        ),
        (
            Fields {
                instance_id: Some("../x".into()),
                ..base()
            },
            Field::InstanceId,
        ),
    ];
    for (fields, field) in cases {
        let error = LaunchSpec::parse(&fields, "p").expect_err(&format!("{field} should fail"));
        assert_eq!(error.field, field, "{error}");
    }
}

#[test]
fn short_network_names_are_expanded_like_gcloud() {
    let f = Fields {
        network: Some("default".into()),
        subnet: Some("sub".into()),
        ..base()
    };
    let spec = LaunchSpec::parse(&f, "proj").unwrap();
    assert_eq!(
        spec.network.as_deref(),
        Some("projects/proj/global/networks/default")
    );
    assert_eq!(
        spec.subnet.as_deref(),
        Some("projects/proj/regions/us-central1/subnetworks/sub")
    );
}

#[test]
fn overlay_prefers_the_top_and_merges_maps() {
    let bottom = Fields {
        machine_type: Some("a".into()),
        labels: Some([("x".into(), "1".into())].into()),
        ..Fields::default()
    };
    let top = Fields {
        machine_type: Some("b".into()),
        labels: Some([("y".into(), "2".into())].into()),
        ..Fields::default()
    };
    let merged = bottom.overlay(&top);
    assert_eq!(merged.machine_type.as_deref(), Some("b"));
    assert_eq!(merged.labels.unwrap().len(), 2);
    assert_eq!(top.present(), vec![Field::MachineType, Field::Labels]);
}

#[test]
fn env_values_of_the_wrong_form_name_every_field() {
    let fields = |env: &dyn Fn(&str) -> Option<String>| -> Vec<Field> {
        let errors = Fields::from_env(env).unwrap_err();
        errors.into_iter().map(|e| e.field).collect()
    };
    let env = |name: &str| match name {
        "ACCELERATOR_COUNT" => Some("two".to_owned()),
        "DISABLE_PUBLIC_IP" => Some("maybe".to_owned()),
        "MACHINE_TYPE" => Some("n1-standard-8".to_owned()),
        _ => None,
    };
    assert_eq!(
        fields(&env),
        [Field::DisablePublicIp, Field::AcceleratorCount]
    );
    let env = |name: &str| (name == "INSTANCE_LABELS").then(|| "team=ml,broken".to_owned());
    assert_eq!(fields(&env), [Field::Labels]);
    let env = |name: &str| (name == "INSTANCE_LABELS").then(|| "team=ml, env=dev".to_owned());
    assert_eq!(
        Fields::from_env(&env).unwrap().labels.unwrap()["env"],
        "dev"
    );
}

#[test]
fn profiles_file_in_toml_and_yaml_layers_over_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let toml_path = dir.path().join("p.toml");
    std::fs::write(&toml_path, "[profiles.gpu]\naccelerator_type = \"NVIDIA_TESLA_T4\"\nmachine_type = \"n1-standard-8\"\n").unwrap();
    let profiles = Profiles::load(base(), &toml_path, "p").unwrap();
    let gpu = profiles.get(Some("gpu")).unwrap();
    assert_eq!(
        gpu.container_image,
        base().container_image,
        "inherits the default"
    );
    assert_eq!(gpu.machine_type.as_deref(), Some("n1-standard-8"));
    assert_eq!(profiles.names().collect::<Vec<_>>(), ["default", "gpu"]);

    let yaml_path = dir.path().join("p.yaml");
    std::fs::write(&yaml_path, "profiles:\n  big:\n    boot_disk_size_gb: 10\n").unwrap();
    let error = Profiles::load(base(), &yaml_path, "p")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("profile `big`") && error.contains("boot_disk_size_gb"),
        "{error}"
    );

    std::fs::write(&yaml_path, "profiles:\n  big:\n    colour: red\n").unwrap();
    let error = Profiles::load(base(), &yaml_path, "p")
        .unwrap_err()
        .to_string();
    assert!(error.contains("colour"), "{error}");
}

#[test]
fn a_profiles_file_may_choose_workbench_settings_but_no_code_access_or_dunder_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    let load = |profile: &str| {
        std::fs::write(&path, format!("[profiles.nightly]\n{profile}\n")).unwrap();
        Profiles::load(base(), &path, "p").map_err(|e| e.to_string())
    };
    let profiles =
        load(r#"metadata = { notebook-disable-root = "true", jupyter-user = "ana", team = "ml" }"#)
            .unwrap();
    let metadata = profiles.get(Some("nightly")).unwrap().metadata.clone();
    assert_eq!(metadata.unwrap()["notebook-disable-root"], "true");
    for (profile, said) in [
        (
            r#"metadata = { startup-script = "curl x | sh" }"#,
            "`startup-script`",
        ),
        (
            r#"metadata = { Startup-Script-URL = "gs://b/x" }"#,
            "`Startup-Script-URL`",
        ),
        (
            r#"metadata = { ssh-keys = "root:ssh-ed25519 AAAA" }"#,
            "`ssh-keys`",
        ),
        (
            r#"metadata = { enable-oslogin = "FALSE" }"#,
            "`enable-oslogin`",
        ),
        (r#"metadata = { proxy-mode = "none" }"#, "`proxy-mode`"),
    ] {
        let error = load(profile).unwrap_err();
        assert!(
            error.contains("profile `nightly`")
                && error.contains("field `metadata`")
                && error.contains(said),
            "{profile}: {error}"
        );
    }
    // A run profile: the runner is its post-startup script, so the default names none.
    let runs = Fields {
        post_startup_script: None,
        ..base()
    };
    std::fs::write(
        &path,
        "[profiles.nightly]\nnotebook = \"gs://bkt/nb/a.ipynb\"\noutput = \"gs://bkt/runs\"\n\
         parameters = { date = \"d\", __builtins__ = 1 }\n",
    )
    .unwrap();
    let error = Profiles::load(runs, &path, "p").unwrap_err().to_string();
    assert!(
        error.contains("field `parameters`") && error.contains("`__builtins__`"),
        "{error}"
    );
}

#[test]
fn a_profiles_file_names_secrets_checked_by_key_and_lists_their_grants() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Fields {
        post_startup_script: None,
        service_account: Some("vm@p.iam.gserviceaccount.com".into()),
        notebook: Some("gs://bkt/nb/a.ipynb".into()),
        output: Some("gs://bkt/runs".into()),
        ..base()
    };
    let toml = dir.path().join("p.toml");
    std::fs::write(
        &toml,
        "[profiles.nightly]\nsecrets = { DB_PASSWORD = \"projects/p/secrets/db/versions/latest\" }\n\
         [profiles.other]\nservice_account = \"other@p.iam.gserviceaccount.com\"\n\
         secrets = { DB_PASSWORD = \"projects/p/secrets/db/versions/2\", API_KEY = \"projects/q/secrets/api/versions/1\" }\n",
    )
    .unwrap();
    let profiles = Profiles::load(runs.clone(), &toml, "p").unwrap();
    let grant = |secret: &str, account: &str| SecretGrant {
        secret: secret.into(),
        service_account: Some(account.into()),
    };
    assert_eq!(
        profiles.secret_grants().into_iter().collect::<Vec<_>>(),
        [
            grant("projects/p/secrets/db", "other@p.iam.gserviceaccount.com"),
            grant("projects/p/secrets/db", "vm@p.iam.gserviceaccount.com"),
            grant("projects/q/secrets/api", "other@p.iam.gserviceaccount.com"),
        ]
    );

    let yaml = dir.path().join("p.yaml");
    for (secrets, said) in [
        (
            "{PATH: projects/p/secrets/s/versions/1}",
            "`PATH` cannot name a secret",
        ),
        (
            "{DB: projects/p/secrets/s}",
            "`DB`: `projects/p/secrets/s` is not a secret version",
        ),
    ] {
        std::fs::write(
            &yaml,
            format!("profiles:\n  nightly:\n    secrets: {secrets}\n"),
        )
        .unwrap();
        let error = Profiles::load(runs.clone(), &yaml, "p")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("profile `nightly`: field `secrets`: ") && error.contains(said),
            "{secrets}: {error}"
        );
    }
}

#[test]
fn a_retried_run_needs_an_instance_per_attempt() {
    let mut f = base();
    f.post_startup_script = None;
    f.notebook = Some("gs://bkt/nb/a.ipynb".into());
    f.output = Some("gs://bkt/runs".into());
    f.retries = Some(2);
    let spec = LaunchSpec::parse(&f, "p").unwrap();
    assert_eq!(spec.run.unwrap().retry.unwrap().attempts(), 3);
    f.instance_id = Some("nightly".into());
    let error = LaunchSpec::parse(&f, "p").unwrap_err();
    assert_eq!(error.field, Field::Retries);
    assert!(error.reason.contains("unset instance_id"), "{error}");
}
