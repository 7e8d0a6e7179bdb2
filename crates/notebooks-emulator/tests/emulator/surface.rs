//! The v2 methods beyond create/get/list/delete/start/stop over real sockets: patch, reset,
//! upgradability, list order, operations, locations and IAM policies, and 501 for the rest.

use serde_json::{Value, json};

use super::*;

impl Api {
    /// Creates `id` and waits until it is ACTIVE.
    async fn active(&self, id: &str) -> String {
        let (status, operation) = self.create(id, container_body()).await;
        assert_eq!(status, 200, "{operation}");
        self.wait("v2", &operation).await;
        format!("/v2/{ZONE}/instances/{id}")
    }
}

#[tokio::test]
async fn patch_follows_the_update_mask() {
    let api = Api::fast().await;
    let path = api.active("nb").await;
    let patch = |mask: &str| format!("{path}?updateMask={mask}");
    let body = json!({
        "labels": {"team": "ml"},
        "gceSetup": {"machineType": "n1-highmem-8", "metadata": {"idle-timeout-seconds": "600"}},
    });
    let (status, operation) = api
        .call(
            "PATCH",
            &patch("labels,gceSetup.metadata,gce_setup.machine_type"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{operation}");
    assert_eq!(operation["metadata"]["verb"], "update");
    let done = api.wait("v2", &operation).await;
    let instance = &done["response"];
    assert_eq!(instance["labels"], json!({"team": "ml"}));
    assert_eq!(instance["gceSetup"]["machineType"], "n1-highmem-8");
    assert_eq!(
        instance["gceSetup"]["metadata"],
        json!({"idle-timeout-seconds": "600"})
    );
    assert_eq!(
        instance["gceSetup"]["containerImage"]["repository"], "us-docker.pkg.dev/p/r/img",
        "fields outside the mask stay"
    );
    assert_eq!(instance["state"], "ACTIVE");
    // A masked field the request leaves out is cleared.
    let (_, operation) = api.call("PATCH", &patch("labels"), Some(json!({}))).await;
    api.wait("v2", &operation).await;
    let (_, instance) = api.call("GET", &path, None).await;
    assert!(instance.get("labels").is_none(), "{instance}");

    for (mask, body, field) in [
        ("", json!({}), "update_mask"),
        ("name", json!({}), "update_mask"),
        ("gce_setup.boot_disk", json!({}), "update_mask"),
        (
            "disable_proxy_access",
            json!({"disableProxyAccess": false}),
            "instance.disable_proxy_access",
        ),
        (
            "gce_setup.container_image",
            json!({"gceSetup": {"containerImage": {"tag": "t"}}}),
            "instance.gce_setup.container_image.repository",
        ),
    ] {
        let (status, error) = api.call("PATCH", &patch(mask), Some(body)).await;
        google_error(status, &error, 400, "INVALID_ARGUMENT");
        assert_eq!(
            error["error"]["details"][0]["fieldViolations"][0]["field"], field,
            "{mask}"
        );
    }
    let (status, error) = api
        .call(
            "PATCH",
            &format!("/v2/{ZONE}/instances/none?updateMask=labels"),
            Some(json!({})),
        )
        .await;
    google_error(status, &error, 404, "NOT_FOUND");
    // v1 has no patch.
    let (status, error) = api
        .call(
            "PATCH",
            &format!("/v1/{ZONE}/instances/nb?updateMask=labels"),
            Some(json!({})),
        )
        .await;
    google_error(status, &error, 405, "UNIMPLEMENTED");
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn reset_upgradability_and_the_methods_left_unimplemented() {
    let api = Api::fast().await;
    let path = api.active("nb").await;
    let (status, upgradability) = api
        .call("GET", &format!("{path}:checkUpgradability"), None)
        .await;
    assert_eq!(
        (status, upgradability["upgradeable"].clone()),
        (200, json!(false))
    );
    let (status, operation) = api
        .call("POST", &format!("{path}:reset"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{operation}");
    let (_, instance) = api.call("GET", &path, None).await;
    assert_eq!(instance["state"], "STARTING");
    let done = api.wait("v2", &operation).await;
    assert_eq!(
        (
            done["metadata"]["verb"].clone(),
            done["response"]["state"].clone()
        ),
        (json!("reset"), json!("ACTIVE"))
    );
    let (_, operation) = api
        .call("POST", &format!("{path}:stop"), Some(json!({})))
        .await;
    api.wait("v2", &operation).await;
    let (status, error) = api
        .call("POST", &format!("{path}:reset"), Some(json!({})))
        .await;
    google_error(status, &error, 400, "FAILED_PRECONDITION");
    let (status, error) = api.call("GET", &format!("{path}:reset"), None).await;
    google_error(status, &error, 405, "UNIMPLEMENTED");

    for (method, path, name) in [
        ("POST", format!("{path}:upgrade"), "instances.upgrade"),
        ("POST", format!("{path}:diagnose"), "instances.diagnose"),
        (
            "GET",
            format!("/v2/{ZONE}/instances:getConfig"),
            "instances.getConfig",
        ),
    ] {
        let (status, error) = api.call(method, &path, Some(json!({}))).await;
        let message = google_error(status, &error, 501, "UNIMPLEMENTED");
        assert!(message.contains(name), "{message}");
    }
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn list_order_and_empty_request_ids() {
    let api = Api::fast().await;
    for id in ["b", "c", "a"] {
        let (status, _) = api
            .call(
                "POST",
                &format!("/v2/{ZONE}/instances?instanceId={id}&requestId="),
                Some(container_body()),
            )
            .await;
        assert_eq!(status, 200, "an empty requestId is no request id");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let names = |list: &Value| -> Vec<String> {
        list["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                i["name"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    for (order, expected) in [
        ("", ["a", "b", "c"]),
        ("name", ["a", "b", "c"]),
        ("name%20desc", ["c", "b", "a"]),
        ("createTime", ["b", "c", "a"]),
        ("create_time%20desc", ["a", "c", "b"]),
    ] {
        let (status, list) = api
            .call(
                "GET",
                &format!("/v2/{ZONE}/instances?orderBy={order}&pageSize=2"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        let token = list["nextPageToken"].as_str().unwrap().to_owned();
        let (_, rest) = api
            .call(
                "GET",
                &format!("/v2/{ZONE}/instances?orderBy={order}&pageSize=2&pageToken={token}"),
                None,
            )
            .await;
        assert_eq!([names(&list), names(&rest)].concat(), expected, "{order}");
    }
    for bad in ["state", "labels.team", "name%20sideways"] {
        let (status, error) = api
            .call("GET", &format!("/v2/{ZONE}/instances?orderBy={bad}"), None)
            .await;
        google_error(status, &error, 400, "INVALID_ARGUMENT");
    }
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn operations_are_listed_cancelled_and_deleted() {
    let api = Api::fast().await;
    let path = api.active("nb").await;
    api.emulator
        .set_provision_time(std::time::Duration::from_secs(60));
    let (_, stop) = api
        .call("POST", &format!("{path}:stop"), Some(json!({})))
        .await;
    let operations = format!("/v2/{ZONE}/operations");
    let (_, list) = api
        .call("GET", &format!("{operations}?pageSize=1"), None)
        .await;
    assert_eq!(list["operations"][0]["metadata"]["verb"], "create");
    let token = list["nextPageToken"].as_str().unwrap();
    let (_, rest) = api
        .call(
            "GET",
            &format!("{operations}?pageSize=1&pageToken={token}"),
            None,
        )
        .await;
    assert_eq!(rest["operations"][0]["name"], stop["name"]);
    assert!(rest.get("nextPageToken").is_none());
    let (_, running) = api
        .call(
            "GET",
            "/v2/projects/p/locations/-/operations?filter=done=false",
            None,
        )
        .await;
    assert_eq!(running["operations"].as_array().unwrap().len(), 1);

    let stop_path = format!("/v2/{}", stop["name"].as_str().unwrap());
    let (status, empty) = api
        .call("POST", &format!("{stop_path}:cancel"), Some(json!({})))
        .await;
    assert_eq!((status, empty), (200, json!({})));
    let (_, cancelled) = api.call("GET", &stop_path, None).await;
    assert_eq!(cancelled["done"], true);
    assert_eq!(cancelled["error"]["code"], 1);
    assert_eq!(cancelled["metadata"]["requestedCancellation"], true);
    let (_, instance) = api.call("GET", &path, None).await;
    assert_eq!(
        instance["state"], "ACTIVE",
        "a cancelled stop leaves the instance running"
    );
    let (status, error) = api.call("GET", &format!("{stop_path}:cancel"), None).await;
    google_error(status, &error, 405, "UNIMPLEMENTED");

    let (status, empty) = api.call("DELETE", &stop_path, None).await;
    assert_eq!((status, empty), (200, json!({})));
    let (status, error) = api.call("GET", &stop_path, None).await;
    google_error(status, &error, 404, "NOT_FOUND");
    let (status, error) = api.call("DELETE", &stop_path, None).await;
    google_error(status, &error, 404, "NOT_FOUND");
    let (status, error) = api
        .call(
            "GET",
            &format!("{operations}?returnPartialSuccess=true"),
            None,
        )
        .await;
    google_error(status, &error, 501, "UNIMPLEMENTED");
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn locations_and_iam_policies() {
    let api = Api::fast().await;
    let (_, locations) = api
        .call(
            "GET",
            "/v2/projects/p/locations?filter=displayName=Iowa",
            None,
        )
        .await;
    let ids: Vec<&str> = locations["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["locationId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "us-central1",
            "us-central1-a",
            "us-central1-b",
            "us-central1-c",
            "us-central1-f"
        ]
    );
    let (status, zone) = api
        .call("GET", "/v2/projects/p/locations/europe-west4-a", None)
        .await;
    assert_eq!(
        (status, zone["name"].as_str()),
        (200, Some("projects/p/locations/europe-west4-a"))
    );
    let (status, error) = api
        .call("GET", "/v2/projects/p/locations/atlantis-1", None)
        .await;
    google_error(status, &error, 404, "NOT_FOUND");

    let path = api.active("nb").await;
    let (_, empty) = api.call("GET", &format!("{path}:getIamPolicy"), None).await;
    assert_eq!(empty, json!({"version": 1, "etag": "ACAB"}));
    let binding = json!({"role": "roles/notebooks.admin", "members": ["group:data@example.com"]});
    let set = format!("{path}:setIamPolicy");
    let (status, policy) = api
        .call(
            "POST",
            &set,
            Some(json!({"policy": {"bindings": [binding], "etag": "ACAB"}})),
        )
        .await;
    assert_eq!(status, 200, "{policy}");
    assert_ne!(policy["etag"], "ACAB");
    let (_, read) = api.call("GET", &format!("{path}:getIamPolicy"), None).await;
    assert_eq!(read, policy);
    let (status, error) = api
        .call(
            "POST",
            &set,
            Some(json!({"policy": {"bindings": [], "etag": "ACAB"}})),
        )
        .await;
    google_error(status, &error, 409, "ABORTED");
    let condition =
        json!({"title": "t", "expression": "request.time < timestamp('2030-01-01T00:00:00Z')"});
    for policy in [
        json!({"bindings": [{"role": "notebooks.admin", "members": ["user:a@b.c"]}]}),
        json!({"bindings": [{"role": "roles/x", "members": []}]}),
        json!({"bindings": [{"role": "roles/x", "members": ["a@b.c"]}]}),
        json!({"bindings": [{"role": "roles/x", "members": ["user:a@b.c"], "condition": condition}]}),
        json!({"version": 2}),
    ] {
        let (status, error) = api
            .call("POST", &set, Some(json!({"policy": policy})))
            .await;
        google_error(status, &error, 400, "INVALID_ARGUMENT");
    }
    let conditional = json!({"version": 3, "bindings": [{"role": "roles/x", "members": ["user:a@b.c"], "condition": condition}]});
    let (status, _) = api
        .call("POST", &set, Some(json!({"policy": conditional})))
        .await;
    assert_eq!(status, 200);
    let (status, error) = api.call("GET", &format!("{path}:getIamPolicy"), None).await;
    google_error(status, &error, 400, "INVALID_ARGUMENT");
    let (status, read) = api
        .call(
            "GET",
            &format!("{path}:getIamPolicy?options.requestedPolicyVersion=3"),
            None,
        )
        .await;
    assert_eq!((status, read["version"].clone()), (200, json!(3)));

    let test = format!("{path}:testIamPermissions");
    let asked = json!({"permissions": ["notebooks.instances.get", "notebooks.instances.update"]});
    let (status, granted) = api.call("POST", &test, Some(asked.clone())).await;
    assert_eq!((status, granted), (200, asked));
    for bad in ["notebooks.*", "storage.objects.get"] {
        let (status, error) = api
            .call("POST", &test, Some(json!({"permissions": [bad]})))
            .await;
        google_error(status, &error, 400, "INVALID_ARGUMENT");
    }
    let (status, error) = api
        .call(
            "GET",
            &format!("/v2/{ZONE}/instances/none:getIamPolicy"),
            None,
        )
        .await;
    google_error(status, &error, 404, "NOT_FOUND");
    api.emulator.shutdown().await;
}
