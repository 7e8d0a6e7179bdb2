//! What a caller can get wrong or try on purpose: ids and URIs with path characters, oversized
//! bodies and fields, each refused with a 400 naming the field (or the transport's 413) and
//! leaving nothing behind; a display name, which may hold any character, reaches no path; and
//! two creates of one id at once make one job.

use super::*;

#[tokio::test]
async fn ids_and_uris_with_path_characters_are_refused_naming_the_field() {
    let api = Api::plain().await;
    for id in [
        "..%2Fescape",
        "a%2Fb",
        "UPPER",
        "-lead",
        "a.b",
        "x%00y",
        &"a".repeat(64),
    ] {
        let (status, answer) = api.create(id, job("j")).await;
        assert_eq!(status, 400, "{id}: {answer}");
        assert_eq!(violated_field(&answer), "notebook_execution_job_id", "{id}");
    }
    for (uri, field) in [
        ("/etc/passwd", "notebook_execution_job.gcs_output_uri"),
        ("file:///tmp/out", "notebook_execution_job.gcs_output_uri"),
        ("gs://../up", "notebook_execution_job.gcs_output_uri"),
        (
            "https://storage.googleapis.com/b",
            "notebook_execution_job.gcs_output_uri",
        ),
    ] {
        let mut body = job("j");
        body["gcsOutputUri"] = json!(uri);
        let (status, answer) = api.create("ok-id", body).await;
        assert_eq!(
            (status, violated_field(&answer)),
            (400, field),
            "{uri}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("gs://"),
            "{answer}"
        );
    }
    let mut body = job("j");
    body["kernelName"] = json!("python3 --log-level=DEBUG");
    let (status, answer) = api.create("ok-id", body).await;
    assert_eq!(
        (status, violated_field(&answer)),
        (400, "notebook_execution_job.kernel_name")
    );
    let mut body = job("j");
    body["gcsNotebookSource"]["uri"] = json!("gs://notebooks");
    let (status, answer) = api.create("ok-id", body).await;
    assert_eq!(
        (status, violated_field(&answer)),
        (400, "notebook_execution_job.gcs_notebook_source.uri")
    );
    assert!(api.emulator.executions().is_empty());
    // Every refused create is still recorded, as sent.
    assert_eq!(api.emulator.execution_create_requests().len(), 13);
}

#[tokio::test]
async fn a_display_name_may_hold_anything_and_reaches_no_path() {
    let api = Api::plain().await;
    let display = "../../etc/passwd ✓ \"quoted\"";
    let (status, answer) = api.create("safe", job(display)).await;
    assert_eq!(status, 200, "{answer}");
    let job = &api.emulator.executions()[0];
    assert_eq!(job["displayName"], display);
    assert_eq!(job["name"], format!("{REGION}/notebookExecutionJobs/safe"));
    let (status, answer) = api.create("long", super::job(&"é".repeat(129))).await;
    assert_eq!(
        (status, violated_field(&answer)),
        (400, "notebook_execution_job.display_name")
    );
}

#[tokio::test]
async fn oversized_bodies_and_fields_are_refused() {
    use base64::Engine as _;
    let api = Api::plain().await;
    // Within the emulator's 2 MiB body limit, but over what it takes inline.
    let notebook = vec![b' '; (1 << 20) + 1];
    let content = base64::engine::general_purpose::STANDARD.encode(&notebook);
    let body =
        json!({"directNotebookSource": {"content": content}, "gcsOutputUri": "gs://outputs"});
    let (status, answer) = api.create("big", body).await;
    assert_eq!(
        (status, violated_field(&answer)),
        (400, "notebook_execution_job.direct_notebook_source.content"),
        "{answer}"
    );
    // Over the body limit: refused before any of it is read as JSON.
    let huge = vec![b' '; 3 << 20];
    let path = format!("/v1/{REGION}/notebookExecutionJobs?notebookExecutionJobId=huge");
    let (status, _) = api.call_raw("POST", &path, Some(huge)).await;
    assert_eq!(status, 413);
    let mut labels = serde_json::Map::new();
    for n in 0..65 {
        labels.insert(format!("k{n}"), json!("v"));
    }
    let mut body = job("j");
    body["labels"] = Value::Object(labels);
    let (status, answer) = api.create("labels", body).await;
    assert_eq!(
        (status, violated_field(&answer)),
        (400, "notebook_execution_job.labels")
    );
    let mut body = job("j");
    body["unknownField"] = json!(1);
    let (status, answer) = api.create("unknown", body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(api.emulator.executions().is_empty());
}

/// Two creates of one id at once: one job, one 200 and one 409, whichever comes first.
#[tokio::test]
async fn racing_creates_of_one_id_make_one_job() {
    let api = Api::plain().await;
    for round in 0..20 {
        let id = format!("race-{round}");
        let (first, second) =
            tokio::join!(api.create(&id, job("one")), api.create(&id, job("two")));
        let mut statuses = [first.0, second.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}: {first:?} {second:?}");
        let winner = if first.0 == 200 { "one" } else { "two" };
        let name = format!("{REGION}/notebookExecutionJobs/{id}");
        let (_, stored) = api.call("GET", &format!("/v1/{name}"), None).await;
        assert_eq!(stored["displayName"], winner);
    }
    assert_eq!(api.emulator.executions().len(), 20);
}
