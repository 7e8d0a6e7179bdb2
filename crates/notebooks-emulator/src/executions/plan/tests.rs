use serde_json::json;

use super::*;

fn plan(body: Value) -> Result<Plan, ApiError> {
    Plan::of(body.as_object().unwrap())
}

fn field(error: &ApiError) -> String {
    error.to_body()["error"]["details"][0]["fieldViolations"][0]["field"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_gcs_job_reads_as_its_run() {
    let plan = plan(json!({
        "gcsNotebookSource": {"uri": "gs://b/in/nb.ipynb", "generation": "17"},
        "gcsOutputUri": "gs://out/runs/r1/",
        "executionTimeout": "1.5s",
        "kernelName": "python3",
    }))
    .unwrap();
    assert_eq!(
        plan.source,
        Source::Gcs {
            uri: GsUri::parse("gs://b/in/nb.ipynb").unwrap(),
            generation: Some(17)
        }
    );
    assert_eq!(
        (plan.output_bucket.as_str(), plan.output_folder.as_str()),
        ("out", "runs/r1")
    );
    assert_eq!(plan.timeout, Duration::from_millis(1500));
    assert_eq!(plan.kernel.as_deref(), Some("python3"));
    let bare = Plan::of(
        json!({"directNotebookSource": {"content": "e30="}, "gcsOutputUri": "gs://out"})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(bare.source, Source::Direct(b"{}".to_vec()));
    assert_eq!(
        (bare.timeout, bare.output_folder.as_str()),
        (DEFAULT_TIMEOUT, "")
    );
}

#[test]
fn each_mistake_names_its_field() {
    let gcs = json!({"uri": "gs://b/nb.ipynb"});
    let cases = [
        (
            json!({"gcsOutputUri": "gs://out"}),
            "notebook_execution_job.gcs_notebook_source",
        ),
        (
            json!({"gcsNotebookSource": gcs, "directNotebookSource": {"content": "e30="}, "gcsOutputUri": "gs://out"}),
            "notebook_execution_job.direct_notebook_source",
        ),
        (
            json!({"gcsNotebookSource": {"uri": "https://x/nb"}, "gcsOutputUri": "gs://out"}),
            "notebook_execution_job.gcs_notebook_source.uri",
        ),
        (
            json!({"gcsNotebookSource": {"uri": "gs://b/n", "generation": "x1"}, "gcsOutputUri": "gs://out"}),
            "notebook_execution_job.gcs_notebook_source.generation",
        ),
        (
            json!({"gcsNotebookSource": gcs}),
            "notebook_execution_job.gcs_output_uri",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "/tmp/out"}),
            "notebook_execution_job.gcs_output_uri",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://../etc"}),
            "notebook_execution_job.gcs_output_uri",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "executionTimeout": "1h"}),
            "notebook_execution_job.execution_timeout",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "executionTimeout": "0s"}),
            "notebook_execution_job.execution_timeout",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "kernelName": "--help"}),
            "notebook_execution_job.kernel_name",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "kernelName": "py 3"}),
            "notebook_execution_job.kernel_name",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "displayName": "x".repeat(129)}),
            "notebook_execution_job.display_name",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "labels": {"Team": "a"}}),
            "notebook_execution_job.labels",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "labels": {"team": "a/b"}}),
            "notebook_execution_job.labels",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "serviceAccount": "a", "executionUser": "b"}),
            "notebook_execution_job.service_account",
        ),
        (
            json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "notebookRuntimeTemplateResourceName": "t", "customEnvironmentSpec": {}}),
            "notebook_execution_job.custom_environment_spec",
        ),
    ];
    for (body, expected) in cases {
        let error = plan(body.clone()).unwrap_err();
        assert_eq!(error.code, Code::InvalidArgument, "{body}");
        assert_eq!(field(&error), expected, "{body}");
    }
    let display = "é".repeat(128);
    assert!(
        plan(json!({"gcsNotebookSource": gcs, "gcsOutputUri": "gs://out", "displayName": display}))
            .is_ok()
    );
}

#[test]
fn durations_read_as_proto_json() {
    assert_eq!(parse_duration("3600s"), Some(Duration::from_secs(3600)));
    assert_eq!(
        parse_duration("0.000000001s"),
        Some(Duration::from_nanos(1))
    );
    for bad in ["", "s", "3600", "-1s", "1.0000000001s", "1e3s", " 1s", "0s"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}
