use serde_json::json;

use super::*;

fn check_v2(body: Value) -> Result<Value, ApiError> {
    discovery(ApiVersion::V2)
        .check_body("Instance", "instance", &body)
        .map(Value::Object)
}

fn violation(error: &ApiError) -> (String, String) {
    let body = error.to_body();
    let v = &body["error"]["details"][0]["fieldViolations"][0];
    (
        v["field"].as_str().unwrap().to_owned(),
        v["description"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn accepts_what_gcloud_sends_and_normalises_int64() {
    let body = json!({
        "gceSetup": {
            "machineType": "n1-standard-4",
            "containerImage": {"repository": "us-docker.pkg.dev/p/r/i", "tag": "latest"},
            "metadata": {"post-startup-script": "gs://b/s.sh"},
            "bootDisk": {"diskSizeGb": 150, "diskType": "PD_BALANCED"},
            "dataDisks": [{"diskSizeGb": "100"}],
            "serviceAccounts": [{"email": "sa@p.iam.gserviceaccount.com"}],
        },
        "labels": {"app": "x"},
    });
    let checked = check_v2(body).unwrap();
    assert_eq!(checked["gceSetup"]["bootDisk"]["diskSizeGb"], "150");
    assert_eq!(checked["gceSetup"]["dataDisks"][0]["diskSizeGb"], "100");
    assert_eq!(checked["labels"]["app"], "x");
}

#[test]
fn unknown_field_is_reported_at_the_proto_path() {
    let error = check_v2(json!({"x": 1})).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid JSON payload received. Unknown name \"x\" at 'instance': Cannot find field."
    );
    assert_eq!(error.http_status().as_u16(), 400);
    assert_eq!(violation(&error).0, "instance");

    let error = check_v2(json!({"gceSetup": {"machineTyp": "n1"}})).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid JSON payload received. Unknown name \"machineTyp\" at 'instance.gce_setup': Cannot find field."
    );
    let error = discovery(ApiVersion::V2)
        .check_body("StopInstanceRequest", "", &json!({"y": 1}))
        .unwrap_err();
    assert_eq!(
        error.message,
        "Invalid JSON payload received. Unknown name \"y\": Cannot find field."
    );
}

#[test]
fn wrong_types_use_google_wording() {
    let error = check_v2(json!({"gceSetup": {"machineType": 123}})).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid value at 'instance.gce_setup.machine_type' (TYPE_STRING), 123"
    );
    assert_eq!(
        violation(&error),
        (
            "instance.gce_setup.machine_type".into(),
            error.message.clone()
        )
    );
    let error = check_v2(json!({"gceSetup": "n1"})).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid value at 'instance.gce_setup' (type.googleapis.com/google.cloud.notebooks.v2.GceSetup), \"n1\""
    );
    let error = check_v2(json!({"gceSetup": {"disablePublicIp": "yes"}})).unwrap_err();
    assert!(error.message.contains("(TYPE_BOOL)"), "{}", error.message);
    let error = check_v2(json!({"gceSetup": {"tags": "a"}})).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid value at 'instance.gce_setup.tags' (TYPE_STRING), \"a\""
    );
}

#[test]
fn map_values_must_be_strings() {
    let error =
        check_v2(json!({"gceSetup": {"metadata": {"idle-timeout-seconds": 10800}}})).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid value at 'instance.gce_setup.metadata[0].value' (TYPE_STRING), 10800"
    );
    let error = check_v2(json!({"labels": {"a": "b", "c": true}})).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid value at 'instance.labels[1].value' (TYPE_STRING), true"
    );
}

#[test]
fn int64_accepts_decimal_strings_and_integers_only() {
    for good in [json!("42"), json!(42), json!("-1")] {
        assert!(check_v2(json!({"gceSetup": {"bootDisk": {"diskSizeGb": good}}})).is_ok());
    }
    for bad in [
        json!("abc"),
        json!("1.5"),
        json!(1.5),
        json!(true),
        json!("99999999999999999999"),
    ] {
        let error = check_v2(json!({"gceSetup": {"bootDisk": {"diskSizeGb": bad}}})).unwrap_err();
        assert!(
            error.message.starts_with(
                "Invalid value at 'instance.gce_setup.boot_disk.disk_size_gb' (TYPE_INT64)"
            ),
            "{}",
            error.message
        );
    }
}

#[test]
fn enums_must_be_listed_values() {
    assert!(check_v2(json!({"gceSetup": {"bootDisk": {"diskType": "PD_SSD"}}})).is_ok());
    let error = check_v2(json!({"gceSetup": {"bootDisk": {"diskType": "FAST"}}})).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid value at 'instance.gce_setup.boot_disk.disk_type' (TYPE_ENUM), \"FAST\""
    );
}

#[test]
fn output_only_fields_and_nulls_are_dropped_and_proto_names_accepted() {
    let checked = check_v2(json!({
        "state": "ACTIVE", "name": "x", "creator": null,
        "gce_setup": {"machine_type": "n1", "serviceAccounts": [{"email": "e", "scopes": ["s"]}]},
    }))
    .unwrap();
    assert_eq!(
        checked,
        json!({"gceSetup": {"machineType": "n1", "serviceAccounts": [{"email": "e"}]}})
    );
    // Output-only fields are still type-checked, as Google's parser does.
    assert!(check_v2(json!({"state": "SLEEPING"})).is_err());
}

#[test]
fn v1_instance_shape_is_its_own() {
    let v1 = discovery(ApiVersion::V1);
    let body = json!({"machineType": "n1", "postStartupScript": "gs://b/s.sh",
                      "containerImage": {"repository": "gcr.io/p/i"}, "bootDiskSizeGb": 100});
    assert_eq!(
        v1.check_body("Instance", "instance", &body).unwrap()["bootDiskSizeGb"],
        "100"
    );
    assert!(check_v2(json!({"postStartupScript": "gs://b/s.sh"})).is_err());
}

#[test]
fn query_parameters_are_bound_or_rejected() {
    let v2 = discovery(ApiVersion::V2);
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert!(
        v2.check_query(
            "instances",
            "create",
            &q(&[("instanceId", "a"), ("requestId", "r")])
        )
        .is_ok()
    );
    let error = v2
        .check_query("instances", "list", &q(&[("colour", "red")]))
        .unwrap_err();
    assert!(
        error
            .message
            .contains("Unknown name \"colour\": Cannot bind query parameter")
    );
    let error = v2
        .check_query("instances", "list", &q(&[("pageSize", "many")]))
        .unwrap_err();
    assert_eq!(
        error.message,
        "Invalid value at 'page_size' (TYPE_INT32), \"many\""
    );
    // v1 create has no requestId.
    let v1 = discovery(ApiVersion::V1);
    assert!(
        v1.check_query("instances", "create", &q(&[("requestId", "r")]))
            .is_err()
    );
}

#[test]
fn enums_arrive_as_names_or_numbers_and_are_kept_as_names() {
    let body = json!({"gceSetup": {
        "bootDisk": {"diskType": 2, "diskEncryption": "GMEK"},
        "acceleratorConfigs": [{"type": 5, "coreCount": 1}, {"type": "NVIDIA_L4"}],
    }});
    let checked = check_v2(body).unwrap();
    let setup = &checked["gceSetup"];
    assert_eq!(setup["bootDisk"]["diskType"], "PD_SSD");
    assert_eq!(setup["bootDisk"]["diskEncryption"], "GMEK");
    assert_eq!(setup["acceleratorConfigs"][0]["type"], "NVIDIA_TESLA_T4");
    assert_eq!(setup["acceleratorConfigs"][1]["type"], "NVIDIA_L4");
    for bad in [json!(99), json!(1), json!(-1), json!(2.5)] {
        let body = json!({"gceSetup": {"acceleratorConfigs": [{"type": bad}]}});
        let error = check_v2(body).unwrap_err();
        assert_eq!(
            error.message,
            format!(
                "Invalid value at 'instance.gce_setup.accelerator_configs[0].type' (TYPE_ENUM), {bad}"
            )
        );
    }
}
