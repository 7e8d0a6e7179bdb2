//! Request bodies for `instances.create`, field for field as the discovery documents and gcloud
//! build them. The v2 body is what `gcloud workbench instances create` sends for the same
//! parameters; the v1 body is the user-managed notebooks `Instance` (`notebooks_v1.Instance` of
//! Google's Python client).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::profile::LaunchSpec;

/// `Instance` for `POST /v2/{parent}/instances`.
pub fn v2(spec: &LaunchSpec, labels: &BTreeMap<String, String>) -> Value {
    let mut gce = Map::new();
    gce.insert("machineType".into(), json!(spec.machine_type));
    gce.insert(
        "containerImage".into(),
        json!({"repository": spec.container_repository, "tag": spec.container_tag}),
    );
    let metadata = v2_metadata(spec);
    if !metadata.is_empty() {
        gce.insert("metadata".into(), json!(metadata));
    }
    if let Some(email) = &spec.service_account {
        gce.insert("serviceAccounts".into(), json!([{"email": email}]));
    }
    if spec.network.is_some() || spec.subnet.is_some() {
        let mut nic = Map::new();
        if let Some(network) = &spec.network {
            nic.insert("network".into(), json!(network));
        }
        if let Some(subnet) = &spec.subnet {
            nic.insert("subnet".into(), json!(subnet));
        }
        gce.insert("networkInterfaces".into(), json!([nic]));
    }
    if spec.disable_public_ip {
        gce.insert("disablePublicIp".into(), json!(true));
    }
    if let Some(accelerator) = &spec.accelerator {
        gce.insert(
            "acceleratorConfigs".into(),
            json!([{"type": accelerator.kind, "coreCount": accelerator.count.to_string()}]),
        );
        gce.insert(
            "gpuDriverConfig".into(),
            json!({"enableGpuDriver": accelerator.install_driver}),
        );
    }
    if let Some(disk) = &spec.boot_disk {
        let mut boot = Map::new();
        if let Some(size) = disk.size_gb {
            boot.insert("diskSizeGb".into(), json!(size.to_string()));
        }
        if let Some(kind) = &disk.kind {
            boot.insert("diskType".into(), json!(kind));
        }
        gce.insert("bootDisk".into(), Value::Object(boot));
    }
    json!({"gceSetup": gce, "labels": labels})
}

/// v2 has no script field: the script and its knobs are metadata keys, all string-valued.
fn v2_metadata(spec: &LaunchSpec) -> BTreeMap<String, String> {
    let mut metadata = knob_metadata(spec);
    if let Some(script) = &spec.post_startup_script {
        metadata.insert("post-startup-script".into(), script.clone());
    }
    metadata
}

/// Extra metadata plus the script behaviour and idle timeout, which both versions put there.
fn knob_metadata(spec: &LaunchSpec) -> BTreeMap<String, String> {
    let mut metadata = spec.metadata.clone();
    if let Some(behavior) = spec.post_startup_script_behavior {
        metadata.insert(
            "post-startup-script-behavior".into(),
            behavior.as_str().into(),
        );
    }
    if let Some(seconds) = spec.idle_timeout_seconds {
        // An empty value disables idle shutdown.
        let value = if seconds == 0 {
            String::new()
        } else {
            seconds.to_string()
        };
        metadata.insert("idle-timeout-seconds".into(), value);
    }
    metadata
}

/// `Instance` for `POST /v1/{parent}/instances`: machine type, container and script, and each
/// further field where v1 has it.
pub fn v1(spec: &LaunchSpec, labels: &BTreeMap<String, String>) -> Value {
    let mut body = Map::new();
    body.insert("machineType".into(), json!(spec.machine_type));
    body.insert(
        "containerImage".into(),
        json!({"repository": spec.container_repository, "tag": spec.container_tag}),
    );
    if let Some(script) = &spec.post_startup_script {
        body.insert("postStartupScript".into(), json!(script));
    }
    let metadata = knob_metadata(spec);
    if !metadata.is_empty() {
        body.insert("metadata".into(), json!(metadata));
    }
    if let Some(email) = &spec.service_account {
        body.insert("serviceAccount".into(), json!(email));
    }
    if let Some(network) = &spec.network {
        body.insert("network".into(), json!(network));
    }
    if let Some(subnet) = &spec.subnet {
        body.insert("subnet".into(), json!(subnet));
    }
    if spec.disable_public_ip {
        body.insert("noPublicIp".into(), json!(true));
    }
    if let Some(accelerator) = &spec.accelerator {
        body.insert(
            "acceleratorConfig".into(),
            json!({"type": accelerator.kind, "coreCount": accelerator.count.to_string()}),
        );
        body.insert("installGpuDriver".into(), json!(accelerator.install_driver));
    }
    if let Some(disk) = &spec.boot_disk {
        if let Some(kind) = &disk.kind {
            body.insert("bootDiskType".into(), json!(kind));
        }
        if let Some(size) = disk.size_gb {
            body.insert("bootDiskSizeGb".into(), json!(size.to_string()));
        }
    }
    body.insert("labels".into(), json!(labels));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Fields;

    fn spec(fields: Fields) -> LaunchSpec {
        let base = Fields {
            location: Some("us-central1-a".into()),
            container_image: Some("europe-west3-docker.pkg.dev/p/r/python-docker".into()),
            post_startup_script: Some("gs://socialsenti/default-startup-script.sh".into()),
            ..Fields::default()
        };
        LaunchSpec::parse(&base.overlay(&fields), "p").unwrap()
    }

    #[test]
    fn v1_is_the_user_managed_notebooks_request() {
        let body = v1(
            &spec(Fields {
                machine_type: Some("n1-standard-8".into()),
                ..Fields::default()
            }),
            &BTreeMap::new(),
        );
        assert_eq!(
            body,
            json!({
                "machineType": "n1-standard-8",
                "containerImage": {"repository": "europe-west3-docker.pkg.dev/p/r/python-docker", "tag": "latest"},
                "postStartupScript": "gs://socialsenti/default-startup-script.sh",
                "labels": {}
            })
        );
    }

    #[test]
    fn v2_puts_everything_where_the_schema_wants_it() {
        let full = Fields {
            service_account: Some("vm@p.iam.gserviceaccount.com".into()),
            network: Some("default".into()),
            subnet: Some("sub".into()),
            disable_public_ip: Some(true),
            accelerator_type: Some("NVIDIA_TESLA_T4".into()),
            boot_disk_type: Some("PD_SSD".into()),
            boot_disk_size_gb: Some(200),
            idle_timeout_seconds: Some(3600),
            post_startup_script_behavior: Some("run_every_start".into()),
            metadata: Some([("jupyter-user".into(), "ml".into())].into()),
            ..Fields::default()
        };
        let labels = BTreeMap::from([("managed-by".to_owned(), "notebook-trigger".to_owned())]);
        let body = v2(&spec(full), &labels);
        assert_eq!(
            body,
            json!({
                "gceSetup": {
                    "machineType": "n1-standard-4",
                    "containerImage": {"repository": "europe-west3-docker.pkg.dev/p/r/python-docker", "tag": "latest"},
                    "metadata": {
                        "post-startup-script": "gs://socialsenti/default-startup-script.sh",
                        "post-startup-script-behavior": "run_every_start",
                        "idle-timeout-seconds": "3600",
                        "jupyter-user": "ml"
                    },
                    "serviceAccounts": [{"email": "vm@p.iam.gserviceaccount.com"}],
                    "networkInterfaces": [{"network": "projects/p/global/networks/default", "subnet": "projects/p/regions/us-central1/subnetworks/sub"}],
                    "disablePublicIp": true,
                    "acceleratorConfigs": [{"type": "NVIDIA_TESLA_T4", "coreCount": "1"}],
                    "gpuDriverConfig": {"enableGpuDriver": true},
                    "bootDisk": {"diskSizeGb": "200", "diskType": "PD_SSD"}
                },
                "labels": {"managed-by": "notebook-trigger"}
            })
        );
    }

    #[test]
    fn zero_idle_timeout_disables_idle_shutdown_with_an_empty_value() {
        let body = v2(
            &spec(Fields {
                idle_timeout_seconds: Some(0),
                ..Fields::default()
            }),
            &BTreeMap::new(),
        );
        assert_eq!(body["gceSetup"]["metadata"]["idle-timeout-seconds"], "");
    }
}
