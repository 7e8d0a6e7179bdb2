//! System parameters and encodings over real sockets: what Google's generated clients, gcloud
//! and curl add to every call, over HTTP/1.1 and h2c alike.

use reqwest::Version;
use serde_json::{Value, json};

use super::*;

/// Every system parameter Google documents, each with a value it accepts.
const SYSTEM_PARAMETERS: &[(&str, &str)] = &[
    ("alt", "json"),
    ("$alt", "json;enum-encoding=int"),
    ("prettyPrint", "false"),
    ("$prettyPrint", "true"),
    ("fields", "*"),
    ("$fields", "*"),
    ("quotaUser", "someone"),
    ("key", "AIza-not-checked"),
    ("api_key", "AIza-not-checked"),
    ("callback", "cb"),
    ("$callback", "cb"),
    ("upload_protocol", "raw"),
    ("uploadType", "media"),
    ("access_token", "ya29.not-checked"),
    ("oauth_token", "ya29.not-checked"),
    ("$.xgafv", "2"),
];

impl Api {
    /// `GET path` as text, with the status and content type.
    async fn text(&self, path: &str) -> (u16, String, String) {
        self.text_of(
            self.client
                .get(format!("{}{path}", self.emulator.base_url())),
        )
        .await
    }

    async fn text_of(&self, request: reqwest::RequestBuilder) -> (u16, String, String) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (status, content_type, response.text().await.unwrap())
    }
}

#[tokio::test]
async fn every_system_parameter_is_accepted_on_every_method() {
    let api = Api::fast().await;
    let instance = format!("/v2/{ZONE}/instances/nb");
    for (index, (name, value)) in SYSTEM_PARAMETERS.iter().enumerate() {
        let param = format!("{}={}", name.replace('$', "%24"), value.replace(';', "%3B"));
        let create = format!(
            "{}/v2/{ZONE}/instances?instanceId=nb-{index}&{param}",
            api.emulator.base_url()
        );
        let request = api.client.post(create).json(&container_body());
        let (status, _, body) = api.text_of(request).await;
        assert_eq!(status, 200, "create with {param}: {body}");
        let target = format!("metadata.target={ZONE}/instances/nb-{index}");
        let (_, operations) = api
            .call(
                "GET",
                &format!("/v2/{ZONE}/operations?filter={target}"),
                None,
            )
            .await;
        let operation = operations["operations"][0]["name"].as_str().unwrap();
        let paths = [
            format!("/v2/{ZONE}/instances?{param}"),
            format!("/v2/{ZONE}/operations?{param}"),
            format!("/v2/{operation}?{param}"),
            format!("/v2/projects/p/locations?{param}"),
            format!("/v2/{ZONE}?{param}"),
            format!("/v2/{ZONE}/instances/nb-{index}:getIamPolicy?{param}"),
        ];
        for path in paths {
            let (status, _, body) = api.text(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
        }
    }
    // Unknown names are still refused, and so are values Google refuses.
    for (path, http, code) in [
        (format!("{instance}?colour=red"), 400, "INVALID_ARGUMENT"),
        (format!("{instance}?alt=xml"), 400, "INVALID_ARGUMENT"),
        (
            format!("{instance}?alt=json%3Benum-encoding=roman"),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            format!("{instance}?prettyPrint=maybe"),
            400,
            "INVALID_ARGUMENT",
        ),
        (format!("{instance}?%24.xgafv=3"), 400, "INVALID_ARGUMENT"),
        (
            format!("{instance}?callback=alert(1)"),
            400,
            "INVALID_ARGUMENT",
        ),
        (format!("{instance}?fields=nmae"), 400, "INVALID_ARGUMENT"),
        (format!("{instance}?alt=proto"), 501, "UNIMPLEMENTED"),
    ] {
        let (status, body) = api.call("GET", &path, None).await;
        google_error(status, &body, http, code);
    }
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn enums_are_numbers_with_enum_encoding_int_and_accepted_as_numbers() {
    let api = Api::fast().await;
    let mut body = container_body();
    body["gceSetup"]["bootDisk"] = json!({"diskType": 3});
    body["gceSetup"]["acceleratorConfigs"] = json!([{"type": 5, "coreCount": "1"}]);
    let (_, operation) = api.create("nb", body).await;
    let (_, stored) = api
        .call("GET", &format!("/v2/{ZONE}/instances/nb"), None)
        .await;
    assert_eq!(stored["gceSetup"]["bootDisk"]["diskType"], "PD_BALANCED");
    assert_eq!(
        stored["gceSetup"]["acceleratorConfigs"][0]["type"],
        "NVIDIA_TESLA_T4"
    );
    assert_eq!(stored["state"], "PROVISIONING");

    let numbers = "%24alt=json%3Benum-encoding%3Dint";
    let (_, instance) = api
        .call("GET", &format!("/v2/{ZONE}/instances/nb?{numbers}"), None)
        .await;
    assert_eq!(instance["state"], 2);
    assert_eq!(instance["gceSetup"]["bootDisk"]["diskType"], 3);
    assert_eq!(instance["gceSetup"]["acceleratorConfigs"][0]["type"], 5);
    assert_eq!(instance["labels"]["team"], "data");
    api.wait("v2", &operation).await;
    let name = operation["name"].as_str().unwrap();
    let (_, done) = api
        .call("GET", &format!("/v2/{name}?{numbers}"), None)
        .await;
    assert_eq!(
        (
            done["response"]["state"].clone(),
            done["response"]["healthState"].clone()
        ),
        (json!(3), json!(1))
    );
    let (_, list) = api
        .call("GET", &format!("/v2/{ZONE}/instances?{numbers}"), None)
        .await;
    assert_eq!(list["instances"][0]["state"], 3);
    // Errors keep their status names.
    let (status, error) = api
        .call("GET", &format!("/v2/{ZONE}/instances/none?{numbers}"), None)
        .await;
    google_error(status, &error, 404, "NOT_FOUND");
    let mut bad = container_body();
    bad["gceSetup"]["bootDisk"] = json!({"diskType": 42});
    let (status, error) = api.create("other", bad).await;
    assert_eq!(
        google_error(status, &error, 400, "INVALID_ARGUMENT"),
        "Invalid value at 'instance.gce_setup.boot_disk.disk_type' (TYPE_ENUM), 42"
    );
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn pretty_print_fields_and_callback_shape_the_answer() {
    let api = Api::fast().await;
    api.create("nb", container_body()).await;
    let instance = format!("/v2/{ZONE}/instances/nb");
    let (status, content_type, pretty) = api.text(&instance).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/json; charset=UTF-8")
    );
    assert!(pretty.starts_with("{\n  \""), "{pretty}");
    let (_, _, compact) = api.text(&format!("{instance}?prettyPrint=false")).await;
    assert_eq!(compact.trim_end().lines().count(), 1, "{compact}");
    let parsed = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    assert_eq!(parsed(&pretty), parsed(&compact));

    let (_, _, selected) = api
        .text(&format!(
            "{instance}?fields=name,gce_setup/machineType,labels"
        ))
        .await;
    assert_eq!(
        parsed(&selected),
        json!({
            "name": format!("{ZONE}/instances/nb"),
            "gceSetup": {"machineType": "n1-standard-4"},
            "labels": {"team": "data"},
        })
    );
    let (_, _, list) = api
        .text(&format!(
            "/v2/{ZONE}/instances?%24fields=instances(name,state)"
        ))
        .await;
    assert_eq!(
        parsed(&list),
        json!({"instances": [{"name": format!("{ZONE}/instances/nb"), "state": "PROVISIONING"}]})
    );

    let (status, content_type, script) = api.text(&format!("{instance}?callback=app.done")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/javascript; charset=UTF-8")
    );
    let json = script
        .strip_prefix("// API callback\napp.done(")
        .and_then(|rest| rest.trim_end().strip_suffix(");"))
        .unwrap_or_else(|| panic!("not JSONP: {script}"));
    assert_eq!(parsed(json), parsed(&pretty));
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn the_emulator_speaks_http1_and_h2c() {
    let api = Api::fast().await;
    for (client, version) in [
        (
            reqwest::Client::builder().http1_only().build().unwrap(),
            Version::HTTP_11,
        ),
        (
            reqwest::Client::builder()
                .http2_prior_knowledge()
                .build()
                .unwrap(),
            Version::HTTP_2,
        ),
    ] {
        let response = client
            .post(format!(
                "{}/v2/{ZONE}/instances?instanceId=nb-{}",
                api.emulator.base_url(),
                version == Version::HTTP_2
            ))
            .json(&container_body())
            .send()
            .await
            .unwrap();
        assert_eq!(
            (response.version(), response.status().as_u16()),
            (version, 200)
        );
        let operation: Value = response.json().await.unwrap();
        assert_eq!(operation["metadata"]["verb"], "create");
    }
    assert_eq!(api.emulator.instances().len(), 2);
    api.emulator.shutdown().await;
}
