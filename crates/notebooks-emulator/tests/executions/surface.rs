//! The REST surface: create with its operation, get, list (filter, order, pages), delete, the
//! operations of both APIs on look-alike paths, and jobs moved by a test.

use super::*;

#[tokio::test]
async fn create_get_list_and_delete() {
    let api = Api::plain().await;
    let (status, operation) = api.create("job-1", job("run one")).await;
    assert_eq!(status, 200, "{operation}");
    assert_eq!(operation["done"], true);
    let op_name = operation["name"].as_str().unwrap();
    assert!(
        op_name.starts_with(&format!("{REGION}/operations/")),
        "{op_name}"
    );
    assert_eq!(
        operation["metadata"]["@type"],
        "type.googleapis.com/google.cloud.aiplatform.v1.CreateNotebookExecutionJobOperationMetadata"
    );
    let response = &operation["response"];
    assert_eq!(
        response["@type"],
        "type.googleapis.com/google.cloud.aiplatform.v1.NotebookExecutionJob"
    );
    let name = format!("{REGION}/notebookExecutionJobs/job-1");
    assert_eq!(response["name"], name);
    assert_eq!(response["jobState"], "JOB_STATE_PENDING");
    assert_eq!(response["kernelName"], "python3");

    let (status, polled) = api.call("GET", &format!("/v1/{op_name}"), None).await;
    assert_eq!((status, &polled), (200, &operation));
    let (status, got) = api.call("GET", &format!("/v1/{name}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(got["createTime"], got["updateTime"]);
    assert_eq!(
        got["customEnvironmentSpec"]["persistentDiskSpec"]["diskSizeGb"],
        "100"
    );
    // Google's generated clients ask for enums as numbers.
    let (_, numbers) = api
        .call(
            "GET",
            &format!("/v1/{name}?$alt=json;enum-encoding=int"),
            None,
        )
        .await;
    assert_eq!(numbers["jobState"], 2);
    assert_eq!(
        numbers["customEnvironmentSpec"]["machineSpec"]["acceleratorType"],
        5
    );

    let (status, conflict) = api.create("job-1", job("again")).await;
    assert_eq!(status, 409);
    assert_eq!(conflict["error"]["status"], "ALREADY_EXISTS");
    assert_eq!(conflict["error"]["code"], 409);

    let (status, deleted) = api.call("DELETE", &format!("/v1/{name}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(deleted["done"], true);
    assert_eq!(
        deleted["response"]["@type"],
        "type.googleapis.com/google.protobuf.Empty"
    );
    let (status, missing) = api.call("GET", &format!("/v1/{name}"), None).await;
    assert_eq!(
        (status, missing["error"]["status"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let (status, _) = api.call("DELETE", &format!("/v1/{name}"), None).await;
    assert_eq!(status, 404);
    // The id is free again once its job is deleted.
    assert_eq!(api.create("job-1", job("anew")).await.0, 200);
    // Without an id, Google numbers the job.
    let (status, numbered) = api
        .call(
            "POST",
            &format!("/v1/{REGION}/notebookExecutionJobs"),
            Some(job("n")),
        )
        .await;
    assert_eq!(status, 200);
    let id = numbered["response"]["name"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
}

async fn list(api: &Api, query: &str) -> (u16, Value) {
    let path = format!("/v1/{REGION}/notebookExecutionJobs?{query}");
    api.call("GET", &path, None).await
}

#[tokio::test]
async fn lists_filter_order_and_page() {
    let api = Api::plain().await;
    for (id, display) in [("b-job", "beta"), ("a-job", "alpha"), ("c-job", "gamma")] {
        let mut body = job(display);
        body["labels"]["slot"] = json!(id.trim_end_matches("-job"));
        assert_eq!(api.create(id, body).await.0, 200);
    }
    let name = |id: &str| format!("{REGION}/notebookExecutionJobs/{id}");
    api.emulator
        .set_execution_state(&name("c-job"), "JOB_STATE_RUNNING", None)
        .unwrap();
    let ids = |page: &Value| -> Vec<String> {
        page["notebookExecutionJobs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|job| {
                job["name"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let (status, all) = list(&api, "").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&all), ["a-job", "b-job", "c-job"]);
    for (filter, expected) in [
        ("displayName%3D%22beta%22", vec!["b-job"]),
        ("display_name%3Dbeta", vec!["b-job"]),
        ("jobState%3DJOB_STATE_RUNNING", vec!["c-job"]),
        ("jobState!%3DJOB_STATE_RUNNING", vec!["a-job", "b-job"]),
        ("labels.slot%3Da", vec!["a-job"]),
        ("notebookExecutionJob%3D%22c-job%22", vec!["c-job"]),
    ] {
        let (status, page) = list(&api, &format!("filter={filter}")).await;
        assert_eq!(status, 200, "{filter}: {page}");
        assert_eq!(ids(&page), expected, "{filter}");
    }
    let (_, ordered) = list(&api, "orderBy=display_name%20desc").await;
    assert_eq!(ids(&ordered), ["c-job", "b-job", "a-job"]);
    let (_, first) = list(&api, "pageSize=2").await;
    assert_eq!(ids(&first), ["a-job", "b-job"]);
    let token = first["nextPageToken"].as_str().unwrap();
    let (_, second) = list(&api, &format!("pageSize=2&pageToken={token}")).await;
    assert_eq!(ids(&second), ["c-job"]);
    assert!(second.get("nextPageToken").is_none());
    let (status, regex) = list(&api, "filter=displayName%3D~%22a.*%22").await;
    assert_eq!(
        (status, regex["error"]["status"].as_str()),
        (501, Some("UNIMPLEMENTED"))
    );
    let (status, bad) = list(&api, "orderBy=jobState").await;
    assert_eq!((status, violated_field(&bad)), (400, "order_by"));
    let (status, bad) = list(&api, "colour=red").await;
    assert_eq!(status, 400, "{bad}");
}

#[tokio::test]
async fn a_test_moves_a_job_and_the_basic_view_hides_direct_content() {
    let api = Api::plain().await;
    let body = json!({
        "directNotebookSource": {"content": "eyJjZWxscyI6IFtdfQ=="},
        "gcsOutputUri": "gs://outputs",
    });
    assert_eq!(api.create("direct", body).await.0, 200);
    let name = format!("{REGION}/notebookExecutionJobs/direct");
    let status = json!({"code": 4, "message": "deadline"});
    api.emulator
        .set_execution_state(&name, "JOB_STATE_FAILED", Some(status.clone()))
        .unwrap();
    let (_, basic) = api.call("GET", &format!("/v1/{name}"), None).await;
    assert_eq!(basic["jobState"], "JOB_STATE_FAILED");
    assert_eq!(basic["status"], status);
    assert!(
        basic["directNotebookSource"].get("content").is_none(),
        "{basic}"
    );
    let full = format!("/v1/{name}?view=NOTEBOOK_EXECUTION_JOB_VIEW_FULL");
    let (_, full) = api.call("GET", &full, None).await;
    assert_eq!(
        full["directNotebookSource"]["content"],
        "eyJjZWxscyI6IFtdfQ=="
    );
    assert!(
        api.emulator
            .set_execution_state(&name, "JOB_STATE_DONE", None)
            .is_err()
    );
    assert!(
        api.emulator
            .set_execution_state(
                &format!("{REGION}/notebookExecutionJobs/none"),
                "JOB_STATE_FAILED",
                None
            )
            .is_err()
    );
}

/// Notebooks v1 operations and Vertex AI operations share a path shape; each is found.
#[tokio::test]
async fn both_apis_operations_are_served_on_look_alike_paths() {
    let api = Api::start(EmulatorConfig {
        v1_legacy: true,
        provision_time: Duration::from_millis(10),
        ..EmulatorConfig::default()
    })
    .await;
    let zone = "projects/p/locations/us-central1-a";
    let instance =
        json!({"machineType": "n1-standard-4", "vmImage": {"project": "p", "imageFamily": "f"}});
    let (status, notebooks) = api
        .call(
            "POST",
            &format!("/v1/{zone}/instances?instanceId=nb"),
            Some(instance),
        )
        .await;
    assert_eq!(status, 200, "{notebooks}");
    let (_, vertex) = api.create("job", job("j")).await;
    for operation in [&notebooks, &vertex] {
        let name = operation["name"].as_str().unwrap();
        let (status, polled) = api.call("GET", &format!("/v1/{name}"), None).await;
        assert_eq!(status, 200, "{name}: {polled}");
        assert_eq!(polled["name"], operation["name"]);
    }
    let unknown = format!("/v1/{REGION}/operations/123");
    assert_eq!(api.call("GET", &unknown, None).await.0, 404);
    let (status, _) = api
        .call(
            "GET",
            &format!("/v1beta1/{}", vertex["name"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .call("GET", &format!("/v1beta1/{REGION}/schedules"), None)
        .await;
    assert_eq!(status, 404);
}
