//! Google's own Rust client, `google-cloud-notebooks-v2`, against the emulator over a real
//! socket, changed only in its endpoint and credentials. The client adds
//! `$alt=json;enum-encoding=int` to every call, writes enums as numbers, sends whole request
//! messages as bodies and waits with its own long-running-operation poller: if it works here
//! unchanged, the emulator speaks the API as Google's generated clients expect.

use std::time::Duration;

use google_cloud_auth::credentials::anonymous;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::paginator::{ItemPaginator as _, Paginator as _};
use google_cloud_iam_v1::model::{Binding, GetPolicyOptions, Policy};
use google_cloud_lro::Poller as _;
use google_cloud_notebooks_v2::Error;
use google_cloud_notebooks_v2::client::NotebookService;
use google_cloud_notebooks_v2::model::{
    BootDisk, ContainerImage, DiskType, GceSetup, Instance, State,
};
use google_cloud_wkt::FieldMask;
use notebooks_emulator::{Emulator, EmulatorConfig};
use serde_json::json;

const ZONE: &str = "projects/p/locations/us-central1-a";
const REQUEST_ID: &str = "8a7f2c3e-0000-4000-8000-000000000001";

async fn emulator() -> Emulator {
    let config = EmulatorConfig {
        provision_time: Duration::from_millis(150),
        ..EmulatorConfig::default()
    };
    Emulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("emulator starts")
}

/// The client as a user would build it, pointed at the emulator; polling is quick because
/// operations take 150 ms here.
async fn client(emulator: &Emulator) -> NotebookService {
    let polling = ExponentialBackoffBuilder::new()
        .with_initial_delay(Duration::from_millis(20))
        .with_maximum_delay(Duration::from_millis(100))
        .build()
        .unwrap();
    NotebookService::builder()
        .with_endpoint(emulator.base_url())
        .with_credentials(anonymous::Builder::new().build())
        .with_polling_backoff_policy(polling)
        .build()
        .await
        .expect("the client builds")
}

fn instance(team: &str) -> Instance {
    let setup = GceSetup::new()
        .set_machine_type("n1-standard-4")
        .set_container_image(
            ContainerImage::new()
                .set_repository("us-docker.pkg.dev/p/r/img")
                .set_tag("latest"),
        )
        .set_boot_disk(
            BootDisk::new()
                .set_disk_type(DiskType::PdSsd)
                .set_disk_size_gb(150),
        )
        .set_metadata([("post-startup-script", "gs://b/s.sh")]);
    Instance::new()
        .set_gce_setup(setup)
        .set_labels([("team", team)])
}

fn code(error: &Error) -> Option<Code> {
    error.status().map(|status| status.code)
}

#[tokio::test]
async fn create_get_list_patch_and_delete() {
    let emulator = emulator().await;
    let client = client(&emulator).await;
    let created = client
        .create_instance()
        .set_parent(ZONE)
        .set_instance_id("nb-1")
        .set_request_id(REQUEST_ID)
        .set_instance(instance("data"))
        .poller()
        .until_done()
        .await
        .expect("the create finishes");
    let name = format!("{ZONE}/instances/nb-1");
    assert_eq!(created.name, name);
    assert_eq!(created.state, State::Active);
    let disk = created
        .gce_setup()
        .and_then(|setup| setup.boot_disk.clone());
    assert_eq!(disk.map(|disk| disk.disk_type), Some(DiskType::PdSsd));
    // The client wrote the enum as a number; the emulator kept its name.
    let sent = &emulator.create_requests()[0];
    assert_eq!(sent.body["gceSetup"]["bootDisk"]["diskType"], 2);
    assert_eq!(
        emulator.instances()[0]["gceSetup"]["bootDisk"]["diskType"],
        "PD_SSD"
    );

    // The same request id is the same create; another one is a conflict.
    let replay = client
        .create_instance()
        .set_parent(ZONE)
        .set_instance_id("nb-1")
        .set_request_id(REQUEST_ID)
        .set_instance(instance("data"))
        .send()
        .await
        .expect("a retried create is answered with its operation");
    assert!(replay.done);
    let conflict = client
        .create_instance()
        .set_parent(ZONE)
        .set_instance_id("nb-1")
        .set_instance(instance("data"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&conflict), Some(Code::AlreadyExists), "{conflict}");

    let got = client.get_instance().set_name(&name).send().await.unwrap();
    assert_eq!(
        (got.state, got.labels["team"].as_str()),
        (State::Active, "data")
    );

    for (id, team) in [
        ("nb-2", "ml"),
        ("nb-3", "data"),
        ("nb-4", "ml"),
        ("nb-5", "ml"),
    ] {
        client
            .create_instance()
            .set_parent(ZONE)
            .set_instance_id(id)
            .set_instance(instance(team))
            .send()
            .await
            .unwrap();
    }
    let list = |order: &str, filter: &str| {
        client
            .list_instances()
            .set_parent(ZONE)
            .set_page_size(2)
            .set_order_by(order)
            .set_filter(filter)
    };
    let mut names = Vec::new();
    let mut items = list("", "").by_item();
    while let Some(item) = items.next().await {
        names.push(item.unwrap().name);
    }
    let expected: Vec<String> = (1..=5)
        .map(|i| format!("{ZONE}/instances/nb-{i}"))
        .collect();
    assert_eq!(names, expected);
    let mut pages = list("name desc", "labels.team=ml").by_page();
    let mut descending = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        descending.extend(page.instances.into_iter().map(|i| i.name));
    }
    let ml: Vec<String> = [5, 4, 2].map(|i| format!("{ZONE}/instances/nb-{i}")).into();
    assert_eq!(descending, ml);
    let bad_order = list("state", "").send().await.unwrap_err();
    assert_eq!(code(&bad_order), Some(Code::InvalidArgument), "{bad_order}");

    let patched = client
        .update_instance()
        .set_instance(
            Instance::new()
                .set_name(&name)
                .set_labels([("team", "platform")]),
        )
        .set_update_mask(FieldMask::default().set_paths(["labels"]))
        .poller()
        .until_done()
        .await
        .expect("the update finishes");
    assert_eq!(patched.labels["team"], "platform");
    assert_eq!(patched.state, State::Active);
    let setup = patched.gce_setup().expect("the update kept the setup");
    assert_eq!(setup.machine_type, "n1-standard-4");
    let unknown_path = client
        .update_instance()
        .set_instance(Instance::new().set_name(&name))
        .set_update_mask(FieldMask::default().set_paths(["gce_setup.boot_disk"]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&unknown_path), Some(Code::InvalidArgument));

    client
        .delete_instance()
        .set_name(&name)
        .poller()
        .until_done()
        .await
        .expect("the delete finishes");
    let gone = client
        .get_instance()
        .set_name(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone), Some(Code::NotFound), "{gone}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn stop_start_reset_operations_iam_and_locations() {
    let emulator = emulator().await;
    let client = client(&emulator).await;
    let name = format!("{ZONE}/instances/nb");
    client
        .create_instance()
        .set_parent(ZONE)
        .set_instance_id("nb")
        .set_instance(instance("data"))
        .poller()
        .until_done()
        .await
        .unwrap();
    let stopped = client.stop_instance().set_name(&name).poller().until_done();
    assert_eq!(stopped.await.unwrap().state, State::Stopped);
    let wrong_state = client
        .stop_instance()
        .set_name(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&wrong_state), Some(Code::FailedPrecondition));
    let started = client
        .start_instance()
        .set_name(&name)
        .poller()
        .until_done();
    assert_eq!(started.await.unwrap().state, State::Active);
    let reset = client
        .reset_instance()
        .set_name(&name)
        .poller()
        .until_done();
    assert_eq!(reset.await.unwrap().state, State::Active);
    let upgradability = client
        .check_instance_upgradability()
        .set_notebook_instance(&name)
        .send()
        .await
        .unwrap();
    assert!(!upgradability.upgradeable);

    let operations = client
        .list_operations()
        .set_name(ZONE)
        .set_filter("done=true");
    let mut verbs = Vec::new();
    let mut items = operations.by_item();
    while let Some(operation) = items.next().await {
        let operation = operation.unwrap();
        let metadata = operation.metadata.expect("operations carry metadata");
        let metadata = metadata
            .to_msg::<google_cloud_notebooks_v2::model::OperationMetadata>()
            .unwrap();
        verbs.push(metadata.verb);
    }
    assert_eq!(verbs, ["create", "stop", "start", "reset"]);

    let policy = client
        .get_iam_policy()
        .set_resource(&name)
        .set_options(GetPolicyOptions::new().set_requested_policy_version(3))
        .send()
        .await
        .unwrap();
    let binding = Binding::new()
        .set_role("roles/notebooks.viewer")
        .set_members(["user:ada@example.com"]);
    let written = client
        .set_iam_policy()
        .set_resource(&name)
        .set_policy(
            Policy::new()
                .set_bindings([binding])
                .set_etag(policy.etag.clone()),
        )
        .send()
        .await
        .unwrap();
    assert_ne!(written.etag, policy.etag);
    assert_eq!(written.bindings[0].members, ["user:ada@example.com"]);
    let stale = client
        .set_iam_policy()
        .set_resource(&name)
        .set_policy(Policy::new().set_etag(policy.etag))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&stale), Some(Code::Aborted), "{stale}");
    let granted = client
        .test_iam_permissions()
        .set_resource(&name)
        .set_permissions(["notebooks.instances.get"])
        .send()
        .await
        .unwrap();
    assert_eq!(granted.permissions, ["notebooks.instances.get"]);

    let mut locations = Vec::new();
    let mut items = client.list_locations().set_name("projects/p").by_item();
    while let Some(location) = items.next().await {
        locations.push(location.unwrap().location_id);
    }
    assert!(
        locations.iter().any(|id| id == "us-central1-a"),
        "{locations:?}"
    );
    let location = client
        .get_location()
        .set_name("projects/p/locations/europe-west4")
        .send()
        .await
        .unwrap();
    assert_eq!(location.display_name, "Netherlands");
    emulator.shutdown().await;
}

#[tokio::test]
async fn cancelled_and_deleted_operations_and_v1_refusals() {
    let emulator = emulator().await;
    emulator.set_provision_time(Duration::from_secs(60));
    let client = client(&emulator).await;
    let operation = client
        .create_instance()
        .set_parent(ZONE)
        .set_instance_id("slow")
        .set_instance(instance("data"))
        .send()
        .await
        .unwrap();
    assert!(!operation.done);
    client
        .cancel_operation()
        .set_name(&operation.name)
        .send()
        .await
        .unwrap();
    let cancelled = client
        .get_operation()
        .set_name(&operation.name)
        .send()
        .await
        .unwrap();
    assert!(cancelled.done);
    assert!(
        emulator.instances().is_empty(),
        "a cancelled create leaves no instance"
    );
    client
        .delete_operation()
        .set_name(&operation.name)
        .send()
        .await
        .unwrap();
    let gone = client
        .get_operation()
        .set_name(&operation.name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone), Some(Code::NotFound));

    // Google publishes no Rust client for v1; a raw call shows the refusal the same way.
    let v1 = reqwest::Client::new()
        .post(format!(
            "{}/v1/{ZONE}/instances?instanceId=old&$alt=json;enum-encoding=int",
            emulator.base_url()
        ))
        .json(&json!({"machineType": "n1-standard-4", "bootDiskType": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(v1.status(), 400);
    let body: serde_json::Value = v1.json().await.unwrap();
    assert_eq!(body["error"]["status"], "FAILED_PRECONDITION");
    emulator.shutdown().await;
}
