//! Validation against the discovery documents, answered in Google's wording.

use notebooks_emulator::ApiVersion;
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn every_validation_error_is_a_400_in_google_wording() {
    let api = Api::fast().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"colour": "red"}),
            "Invalid JSON payload received. Unknown name \"colour\" at 'instance': Cannot find field.",
            "instance",
        ),
        (
            json!({"gceSetup": {"machineTyp": "n1"}}),
            "Invalid JSON payload received. Unknown name \"machineTyp\" at 'instance.gce_setup': Cannot find field.",
            "instance.gce_setup",
        ),
        (
            json!({"gceSetup": {"machineType": 123}}),
            "Invalid value at 'instance.gce_setup.machine_type' (TYPE_STRING), 123",
            "instance.gce_setup.machine_type",
        ),
        (
            json!({"gceSetup": {"metadata": {"idle-timeout-seconds": 600}}}),
            "Invalid value at 'instance.gce_setup.metadata[0].value' (TYPE_STRING), 600",
            "instance.gce_setup.metadata[0].value",
        ),
        (
            json!({"labels": {"n": 1}}),
            "Invalid value at 'instance.labels[0].value' (TYPE_STRING), 1",
            "instance.labels[0].value",
        ),
        (
            json!({"gceSetup": {"bootDisk": {"diskSizeGb": "big"}}}),
            "Invalid value at 'instance.gce_setup.boot_disk.disk_size_gb' (TYPE_INT64), \"big\"",
            "instance.gce_setup.boot_disk.disk_size_gb",
        ),
        (
            json!({"gceSetup": {"bootDisk": {"diskType": "FLOPPY"}}}),
            "Invalid value at 'instance.gce_setup.boot_disk.disk_type' (TYPE_ENUM), \"FLOPPY\"",
            "instance.gce_setup.boot_disk.disk_type",
        ),
        (
            json!({"gceSetup": {"containerImage": {"tag": "latest"}}}),
            "Field 'instance.gce_setup.container_image.repository' is required when a container image is set.",
            "instance.gce_setup.container_image.repository",
        ),
    ];
    for (body, message, field) in cases {
        let (status, answer) = api.create("nb", body.clone()).await;
        assert_eq!(
            google_error(status, &answer, 400, "INVALID_ARGUMENT"),
            message,
            "{body}"
        );
        let details = &answer["error"]["details"][0];
        assert_eq!(
            details["@type"],
            "type.googleapis.com/google.rpc.BadRequest"
        );
        assert_eq!(details["fieldViolations"][0]["field"], field);
    }
    // int64 as a decimal string or as a number is fine; output-only fields are ignored.
    let mut body = container_body();
    body["gceSetup"]["bootDisk"] = json!({"diskSizeGb": 200});
    body["gceSetup"]["dataDisks"] = json!([{"diskSizeGb": "100"}]);
    body["state"] = json!("STOPPED");
    body["creator"] = json!("someone@else");
    let (status, operation) = api.create("ok", body).await;
    assert_eq!(status, 200, "{operation}");
    let done = api.wait("v2", &operation).await;
    assert_eq!(
        done["response"]["gceSetup"]["bootDisk"]["diskSizeGb"],
        "200"
    );
    assert_eq!(done["response"]["state"], "ACTIVE");
    assert_ne!(done["response"]["creator"], "someone@else");

    let (status, answer) = api
        .raw(
            "POST",
            &format!("/v2/{ZONE}/instances?instanceId=nb"),
            "{not json",
        )
        .await;
    assert!(
        google_error(status, &answer, 400, "INVALID_ARGUMENT")
            .starts_with("Invalid JSON payload received.")
    );
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v2/{ZONE}/instances"),
            Some(container_body()),
        )
        .await;
    assert!(google_error(status, &answer, 400, "INVALID_ARGUMENT").contains("instance_id"));
    for bad in ["1abc", "Upper", "ends-", "a_b", &"a".repeat(64)] {
        let (status, answer) = api.create(bad, container_body()).await;
        assert!(
            google_error(status, &answer, 400, "INVALID_ARGUMENT").contains("Invalid instance_id"),
            "{bad}"
        );
    }
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v2/{ZONE}/instances?instanceId=nb&colour=red"),
            Some(json!({})),
        )
        .await;
    assert!(
        google_error(status, &answer, 400, "INVALID_ARGUMENT")
            .contains("Cannot bind query parameter")
    );
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v2/{ZONE}/instances/ok:stop"),
            Some(json!({"force": true})),
        )
        .await;
    assert_eq!(
        google_error(status, &answer, 400, "INVALID_ARGUMENT"),
        "Invalid JSON payload received. Unknown name \"force\": Cannot find field."
    );

    // Every create that reached validation is on record, valid or not.
    let creates = api.emulator.create_requests();
    assert_eq!(creates.len(), 8 + 1 + 1 + 1 + 5 + 1);
    assert_eq!(creates[0].api_version, ApiVersion::V2);
    assert_eq!(creates[0].parent, ZONE);
    assert_eq!(creates[0].instance_id.as_deref(), Some("nb"));
    assert_eq!(creates[0].body, json!({"colour": "red"}));
    assert_eq!(
        creates[9].body,
        Value::Null,
        "malformed JSON is recorded as null"
    );
    assert_eq!(creates[10].instance_id, None);
    api.emulator.shutdown().await;
}
