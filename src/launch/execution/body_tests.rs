use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::profile::Fields;

fn fields() -> Fields {
    Fields {
        location: Some("us-central1-a".into()),
        container_image: Some("us-docker.pkg.dev/p/r/img:v7".into()),
        notebook: Some("gs://bkt/nb/seed.ipynb".into()),
        output: Some("gs://bkt/runs".into()),
        backend: Some("execution".into()),
        machine_type: Some("n1-highmem-8".into()),
        accelerator_type: Some("NVIDIA_TESLA_T4".into()),
        accelerator_count: Some(2),
        boot_disk_type: Some("PD_SSD".into()),
        boot_disk_size_gb: Some(200),
        network: Some("net".into()),
        subnet: Some("sub".into()),
        disable_public_ip: Some(true),
        service_account: Some("runner@p.iam.gserviceaccount.com".into()),
        max_run_time: Some("90m".into()),
        ..Fields::default()
    }
}

fn body(fields: &Fields) -> serde_json::Value {
    let spec = LaunchSpec::parse(fields, "p").unwrap();
    let execution = spec.backend.execution().unwrap().clone();
    let target = spec.run.clone().unwrap();
    let labels = BTreeMap::from([("team".to_owned(), "ml".to_owned())]);
    let of = JobOf {
        run_id: "r0123456789abcdef",
        copy: "gs://bkt/notebook-trigger-records/runs/r0123456789abcdef.ipynb",
        folder: "gs://bkt/runs/r0123456789abcdef/",
    };
    serde_json::to_value(job(&spec, &execution, &target, labels, of)).unwrap()
}

#[test]
fn every_field_of_the_profile_is_in_the_job() {
    assert_eq!(
        body(&fields()),
        json!({
            "displayName": "r0123456789abcdef",
            "gcsNotebookSource": {
                "uri": "gs://bkt/notebook-trigger-records/runs/r0123456789abcdef.ipynb"
            },
            "gcsOutputUri": "gs://bkt/runs/r0123456789abcdef",
            "executionTimeout": "5400s",
            "serviceAccount": "runner@p.iam.gserviceaccount.com",
            "labels": {"team": "ml"},
            "customEnvironmentSpec": {
                "machineSpec": {
                    "machineType": "n1-highmem-8",
                    "acceleratorType": "NVIDIA_TESLA_T4",
                    "acceleratorCount": 2
                },
                "persistentDiskSpec": {"diskType": "pd-ssd", "diskSizeGb": "200"},
                "networkSpec": {
                    "enableInternetAccess": false,
                    "network": "projects/p/global/networks/net",
                    "subnetwork": "projects/p/regions/us-central1/subnetworks/sub"
                }
            },
            "workbenchRuntime": {
                "customContainerImage": {"repository": "us-docker.pkg.dev/p/r/img", "tag": "v7"}
            }
        })
    );
}

#[test]
fn a_minimal_profile_sends_the_machine_and_the_container_only() {
    let minimal = Fields {
        location: Some("us-central1".into()),
        container_image: Some("us-docker.pkg.dev/p/r/img".into()),
        notebook: Some("gs://bkt/nb/seed.ipynb".into()),
        output: Some("gs://bkt/runs".into()),
        backend: Some("execution".into()),
        ..Fields::default()
    };
    let body = body(&minimal);
    assert_eq!(
        body["customEnvironmentSpec"],
        json!({"machineSpec": {"machineType": "n1-standard-4"}})
    );
    assert_eq!(body["executionTimeout"], "3600s");
    assert_eq!(
        body["workbenchRuntime"]["customContainerImage"]["tag"],
        "latest"
    );
    assert!(body.get("serviceAccount").is_none());
}

#[test]
fn a_runtime_template_is_the_whole_compute() {
    let template = "projects/p/locations/us-central1/notebookRuntimeTemplates/t";
    let with_template = Fields {
        runtime_template: Some(template.into()),
        machine_type: None,
        accelerator_type: None,
        accelerator_count: None,
        boot_disk_type: None,
        boot_disk_size_gb: None,
        network: None,
        subnet: None,
        disable_public_ip: None,
        ..fields()
    };
    let body = body(&with_template);
    assert_eq!(body["notebookRuntimeTemplateResourceName"], template);
    for absent in ["customEnvironmentSpec", "workbenchRuntime"] {
        assert!(body.get(absent).is_none(), "{absent}: {body}");
    }
}

#[test]
fn disk_types_are_written_as_a_jobs_disk_names_them() {
    assert_eq!(disk_type("PD_STANDARD"), "pd-standard");
    assert_eq!(
        disk_type("HYPERDISK_BALANCED_HIGH_AVAILABILITY"),
        "hyperdisk-balanced-high-availability"
    );
}
