//! Google's own client against the emulator: if `gcloud` accepts its answers, their shapes are
//! right. Skipped (with the reason printed) where gcloud is not installed, unless
//! `REQUIRE_GCLOUD=1`, which turns the skip into a failure.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[path = "support/child.rs"]
mod child;
#[path = "support/test_log.rs"]
mod test_log;

use child::{Finished, run_bounded};
use notebooks_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

const ZONE: &str = "us-central1-a";
const GCLOUD_TIMEOUT: Duration = Duration::from_secs(60);

/// The gcloud binary, or `None` after explaining why the test is skipped.
fn gcloud() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("gcloud"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var("REQUIRE_GCLOUD").as_deref() != Ok("1"),
            "REQUIRE_GCLOUD=1 but no gcloud on PATH"
        );
        eprintln!("skipped: gcloud is not on PATH (set REQUIRE_GCLOUD=1 to make this a failure)");
    }
    found
}

/// One throwaway gcloud configuration pointed at one emulator.
struct Gcloud {
    binary: PathBuf,
    config_dir: tempfile::TempDir,
    endpoint: String,
}

impl Gcloud {
    fn new(binary: PathBuf, emulator: &Emulator) -> Gcloud {
        Gcloud {
            binary,
            config_dir: tempfile::tempdir().expect("temporary gcloud config dir"),
            endpoint: format!("{}/", emulator.base_url()),
        }
    }

    /// Runs gcloud with `args` in this configuration, bounded by a timeout.
    fn run(&self, args: &[&str]) -> Finished {
        run_bounded(
            Command::new(&self.binary)
                .args(args)
                .env("CLOUDSDK_CONFIG", self.config_dir.path())
                .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
                .env("CLOUDSDK_CORE_PROJECT", "emulated-project")
                .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_NOTEBOOKS", &self.endpoint)
                .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_AIPLATFORM", &self.endpoint)
                .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
                .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true")
                .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true"),
            GCLOUD_TIMEOUT,
        )
    }

    /// Runs gcloud on a blocking thread so the in-process emulator keeps serving.
    async fn run_async(self: &std::sync::Arc<Self>, args: &[&str]) -> Finished {
        let gcloud = self.clone();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            gcloud.run(&args)
        })
        .await
        .expect("gcloud thread")
    }
}

fn succeeded(outcome: &Finished, what: &str) -> Value {
    assert!(
        outcome.status.success(),
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        outcome.stdout,
        outcome.stderr
    );
    serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|error| panic!("{what}: stdout is not JSON ({error}):\n{}", outcome.stdout))
}

async fn start(config: EmulatorConfig) -> Emulator {
    test_log::init();
    Emulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("emulator starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_workbench_instances_round_trip() {
    let Some(binary) = gcloud() else { return };
    let emulator = start(EmulatorConfig {
        provision_time: Duration::from_secs(1),
        ..EmulatorConfig::default()
    })
    .await;
    let gcloud = std::sync::Arc::new(Gcloud::new(binary, &emulator));
    let location = format!("--location={ZONE}");
    let create = [
        "workbench",
        "instances",
        "create",
        "nb-gcloud",
        &location,
        "--container-repository=us-docker.pkg.dev/p/repo/img",
        "--container-tag=v1",
        "--machine-type=n1-standard-8",
        "--metadata=post-startup-script=gs://b/s.sh",
        "--format=json",
    ];

    let created = succeeded(
        &gcloud.run_async(&create).await,
        "workbench instances create",
    );
    assert_eq!(created["state"], "ACTIVE", "{created}");

    let recorded = emulator.create_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].parent,
        format!("projects/emulated-project/locations/{ZONE}")
    );
    assert_eq!(recorded[0].instance_id.as_deref(), Some("nb-gcloud"));
    let setup = &recorded[0].body["gceSetup"];
    assert_eq!(setup["machineType"], "n1-standard-8");
    assert_eq!(
        setup["containerImage"]["repository"],
        "us-docker.pkg.dev/p/repo/img"
    );
    assert_eq!(setup["containerImage"]["tag"], "v1");
    assert_eq!(setup["metadata"]["post-startup-script"], "gs://b/s.sh");

    let described = succeeded(
        &gcloud
            .run_async(&[
                "workbench",
                "instances",
                "describe",
                "nb-gcloud",
                &location,
                "--format=json",
            ])
            .await,
        "workbench instances describe",
    );
    assert_eq!(described["state"], "ACTIVE");
    assert_eq!(
        described["gceSetup"]["metadata"]["post-startup-script"],
        "gs://b/s.sh"
    );
    assert_eq!(
        described["name"],
        format!("projects/emulated-project/locations/{ZONE}/instances/nb-gcloud")
    );

    let listed = succeeded(
        &gcloud
            .run_async(&["workbench", "instances", "list", &location, "--format=json"])
            .await,
        "workbench instances list",
    );
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    let again = gcloud.run_async(&create).await;
    assert!(
        !again.status.success(),
        "second create succeeded:\n{}",
        again.stdout
    );
    assert!(
        again.stderr.contains("ALREADY_EXISTS"),
        "stderr:\n{}",
        again.stderr
    );

    let deleted = gcloud
        .run_async(&[
            "workbench",
            "instances",
            "delete",
            "nb-gcloud",
            &location,
            "--quiet",
        ])
        .await;
    assert!(
        deleted.status.success(),
        "delete failed:\n{}",
        deleted.stderr
    );
    assert!(
        deleted
            .stderr
            .contains("Deleted workbench instance nb-gcloud"),
        "stderr:\n{}",
        deleted.stderr
    );
    assert!(emulator.instances().is_empty());
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_notebooks_v1_create_is_deprecated_unless_legacy() {
    let Some(binary) = gcloud() else { return };
    let location = format!("--location={ZONE}");
    let create = [
        "notebooks",
        "instances",
        "create",
        "nb-v1",
        &location,
        "--container-repository=gcr.io/p/img",
        "--container-tag=latest",
        "--machine-type=n1-standard-4",
        "--post-startup-script=gs://b/s.sh",
        "--format=json",
    ];

    let emulator = start(EmulatorConfig {
        provision_time: Duration::from_secs(1),
        ..EmulatorConfig::default()
    })
    .await;
    let gcloud = std::sync::Arc::new(Gcloud::new(binary.clone(), &emulator));
    let refused = gcloud.run_async(&create).await;
    assert!(
        !refused.status.success(),
        "deprecated create succeeded:\n{}",
        refused.stdout
    );
    assert!(
        refused.stderr.contains("FAILED_PRECONDITION"),
        "stderr:\n{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("have been deprecated and new instances cannot be created"),
        "{}",
        refused.stderr
    );
    emulator.shutdown().await;

    let emulator = start(EmulatorConfig {
        provision_time: Duration::from_secs(1),
        v1_legacy: true,
        ..EmulatorConfig::default()
    })
    .await;
    let gcloud = std::sync::Arc::new(Gcloud::new(binary, &emulator));
    let created = succeeded(
        &gcloud.run_async(&create).await,
        "notebooks instances create (legacy)",
    );
    assert_eq!(created["state"], "ACTIVE", "{created}");
    assert_eq!(created["postStartupScript"], "gs://b/s.sh");
    assert_eq!(created["containerImage"]["repository"], "gcr.io/p/img");
    emulator.shutdown().await;
}

/// The v2 body the service builds equals, field for field, what gcloud sends for the same
/// parameters (captured by the emulator): the discovery document and gcloud agree with us.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_v2_body_matches_the_body_gcloud_sends() {
    use notebook_trigger::launch::body;
    use notebook_trigger::profile::{Fields, LaunchSpec};

    let Some(binary) = gcloud() else { return };
    let emulator = start(EmulatorConfig {
        provision_time: Duration::from_millis(100),
        ..EmulatorConfig::default()
    })
    .await;
    let gcloud = std::sync::Arc::new(Gcloud::new(binary, &emulator));
    let location = format!("--location={ZONE}");
    let outcome = gcloud
        .run_async(&[
            "workbench",
            "instances",
            "create",
            "body-check",
            &location,
            "--container-repository=europe-west3-docker.pkg.dev/tweetiment-xyz/tweetimentrep/python-docker",
            "--container-tag=v7",
            "--machine-type=n1-standard-8",
            "--metadata=post-startup-script=gs://socialsenti/default-startup-script.sh,post-startup-script-behavior=run_once,idle-timeout-seconds=3600,jupyter-user=ml",
            "--service-account-email=vm@emulated-project.iam.gserviceaccount.com",
            "--network=default",
            "--subnet=sub",
            "--subnet-region=us-central1",
            "--disable-public-ip",
            "--accelerator-type=NVIDIA_TESLA_T4",
            "--accelerator-core-count=1",
            "--install-gpu-driver",
            "--boot-disk-type=PD_SSD",
            "--boot-disk-size=200",
            "--labels=team=ml",
            "--format=json",
        ])
        .await;
    succeeded(&outcome, "workbench instances create with every parameter");
    let sent = emulator
        .create_requests()
        .pop()
        .expect("gcloud's create was recorded")
        .body;

    let fields = Fields {
        location: Some(ZONE.into()),
        container_image: Some(
            "europe-west3-docker.pkg.dev/tweetiment-xyz/tweetimentrep/python-docker".into(),
        ),
        container_tag: Some("v7".into()),
        machine_type: Some("n1-standard-8".into()),
        post_startup_script: Some("gs://socialsenti/default-startup-script.sh".into()),
        post_startup_script_behavior: Some("run_once".into()),
        idle_timeout_seconds: Some(3600),
        metadata: Some([("jupyter-user".to_owned(), "ml".to_owned())].into()),
        service_account: Some("vm@emulated-project.iam.gserviceaccount.com".into()),
        network: Some("default".into()),
        subnet: Some("sub".into()),
        disable_public_ip: Some(true),
        accelerator_type: Some("NVIDIA_TESLA_T4".into()),
        accelerator_count: Some(1),
        install_gpu_driver: Some(true),
        boot_disk_type: Some("PD_SSD".into()),
        boot_disk_size_gb: Some(200),
        ..Fields::default()
    };
    let spec = LaunchSpec::parse(&fields, "emulated-project").expect("valid spec");
    let labels = [("team".to_owned(), "ml".to_owned())].into();
    let ours = body::v2(&spec, &labels);
    assert_eq!(
        ours["gceSetup"], sent["gceSetup"],
        "gceSetup differs:\nours:   {}\ngcloud: {}",
        ours["gceSetup"], sent["gceSetup"]
    );
    assert_eq!(ours["labels"], sent["labels"]);
}

/// The job the service creates for an execution equals, field for field, what `gcloud beta
/// workbench executions create` sends for the same profile (captured by the emulator), but for
/// what gcloud cannot send: `labels` (the provenance labels), the job id (gcloud lets the API
/// choose one) and `workbenchRuntime` (the container; gcloud has no flag for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_execution_body_matches_the_body_gcloud_sends() {
    use notebook_trigger::launch::execution::body::{JobOf, job};
    use notebook_trigger::profile::{Fields, LaunchSpec};

    let Some(binary) = gcloud() else { return };
    let emulator = start(EmulatorConfig::default()).await;
    let gcloud = std::sync::Arc::new(Gcloud::new(binary, &emulator));
    let run = "r0123456789abcdef";
    let copy = format!("gs://bkt/notebook-trigger-records/runs/{run}.ipynb");
    let outcome = gcloud
        .run_async(&[
            "beta",
            "workbench",
            "executions",
            "create",
            "--region=us-central1",
            &format!("--display-name={run}"),
            &format!("--gcs-notebook-uri={copy}"),
            "--generation=7",
            &format!("--gcs-output-uri=gs://bkt/runs/{run}"),
            "--service-account=runner@emulated-project.iam.gserviceaccount.com",
            "--execution-timeout=90m",
            "--kernel-name=python3",
            "--machine-type=n1-highmem-8",
            "--accelerator-type=NVIDIA_TESLA_T4",
            "--accelerator-count=2",
            "--disk-type=PD_SSD",
            "--disk-size-gb=200",
            "--no-enable-internet-access",
            "--network=projects/emulated-project/global/networks/net",
            "--subnetwork=projects/emulated-project/regions/us-central1/subnetworks/sub",
            "--async",
            "--format=json",
        ])
        .await;
    succeeded(&outcome, "workbench executions create with every flag");
    let sent = emulator
        .execution_create_requests()
        .pop()
        .expect("gcloud's create was recorded")
        .body;

    let fields = Fields {
        location: Some("us-central1".into()),
        backend: Some("execution".into()),
        container_image: Some("us-docker.pkg.dev/p/r/img".into()),
        notebook: Some("gs://bkt/nb/seed.ipynb".into()),
        output: Some("gs://bkt/runs".into()),
        max_run_time: Some("90m".into()),
        service_account: Some("runner@emulated-project.iam.gserviceaccount.com".into()),
        machine_type: Some("n1-highmem-8".into()),
        accelerator_type: Some("NVIDIA_TESLA_T4".into()),
        accelerator_count: Some(2),
        boot_disk_type: Some("PD_SSD".into()),
        boot_disk_size_gb: Some(200),
        disable_public_ip: Some(true),
        network: Some("net".into()),
        subnet: Some("sub".into()),
        ..Fields::default()
    };
    let spec = LaunchSpec::parse(&fields, "emulated-project").expect("valid spec");
    let execution = spec.backend.execution().expect("an execution").clone();
    let target = spec.run.clone().expect("a run");
    let of = JobOf {
        run_id: run,
        copy: &copy,
        folder: &format!("gs://bkt/runs/{run}/"),
    };
    let mut ours = job(&spec, &execution, &target, [].into(), of);
    // Set at launch, once the copy is written and the notebook read.
    if let Some(source) = ours.gcs_notebook_source.as_mut() {
        source.generation = Some("7".into());
    }
    ours.kernel_name = Some("python3".into());
    let mut ours = serde_json::to_value(ours).unwrap();
    let mut sent = sent;
    for gcloud_cannot_send in ["labels", "workbenchRuntime"] {
        ours.as_object_mut().unwrap().remove(gcloud_cannot_send);
        sent.as_object_mut().unwrap().remove(gcloud_cannot_send);
    }
    assert_eq!(ours, sent, "\nours:   {ours}\ngcloud: {sent}");
}
