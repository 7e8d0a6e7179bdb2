//! Chaos: many runs of every kind through Google's Pub/Sub emulator, while the service is
//! SIGKILLed with reports and cleanups in flight, reapers race the reports and each other, and
//! notebooks misbehave. Afterwards: one record per message, every record finished with its
//! cleanup, no instance still up, and no outcome other than the one each run earned.
//!
//! The runs: the seed notebook (succeeds); one that plants a record claiming success in its
//! own folder, then fails; one that sleeps past its `max_run_time` (the runner's time limit
//! ends it); one that kills its own runner (nobody reports: the reaper ends it). Sized for CI
//! by default; `CHAOS_RUNS=40` (any number) makes a larger run, which prints its figures.

use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::deployment::Deployment;
use crate::fake_gcs::FakeGcs;
use crate::papermill::papermill;
use crate::pubsub_emulator::PubSubEmulator;
use crate::runs::{BUCKET, notebook, stage};
use crate::topology::{Backoff, Topology};

/// Runs in CI's size: two of each kind.
const CI_RUNS: usize = 8;

/// The kinds of run, by profile, and the state each must end in.
const KINDS: [(&str, &str); 4] = [
    ("default", "succeeded"),
    ("planting", "failed"),
    ("overrunning", "timed_out"),
    ("crashing", "unreported"),
];

/// Kills the closest ancestor that leads its own process group and is a shell: the runner, as
/// the emulated VM started it. The kernel goes on; nobody will report.
pub const KILL_THE_RUNNER: &str = "import os, signal\n\
def parent_and_group(pid):\n\
\x20   fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()\n\
\x20   return int(fields[1]), int(fields[2])\n\
pid = os.getppid()\n\
while pid > 1:\n\
\x20   parent, group = parent_and_group(pid)\n\
\x20   if group == pid and open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')[0].endswith(b'bash'):\n\
\x20       os.kill(pid, signal.SIGKILL)\n\
\x20       break\n\
\x20   pid = parent";

/// Does what anything a notebook runs could: asks the metadata server for its run, writes a
/// record of success that asks for the instance to be kept where records used to be (its
/// VM may create objects in its run's folder), then fails.
const PLANT_A_RECORD: &str = "import json, os, urllib.request\n\
md = os.environ['GCE_METADATA_HOST']\n\
def attribute(key):\n\
\x20   asked = urllib.request.Request(f'http://{md}/computeMetadata/v1/instance/attributes/{key}', headers={'Metadata-Flavor': 'Google'})\n\
\x20   return urllib.request.urlopen(asked).read().decode()\n\
run, output = attribute('notebook-trigger-run-id'), attribute('notebook-trigger-output')\n\
bucket, prefix = output[len('gs://'):].split('/', 1)\n\
claim = {'schema': 1, 'run_id': run, 'state': 'succeeded', 'exit_code': 0, 'cleanup': {'action': 'keep', 'at': '2026-12-01T10:00:00Z', 'by': 'report'}}\n\
upload = f\"{os.environ['STORAGE_EMULATOR_HOST']}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={prefix}/{run}/run.json\"\n\
urllib.request.urlopen(urllib.request.Request(upload, data=json.dumps(claim).encode(), headers={'Content-Type': 'application/json'}))\n\
raise ValueError('planted, then failed')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_kills_and_racing_reapers_every_run_ends_once_and_nothing_stays_up() {
    if !papermill() {
        return;
    }
    let Some(gcs) = FakeGcs::start().await else {
        return;
    };
    let Some(pubsub) = PubSubEmulator::start(crate::PROJECT) else {
        return;
    };
    let runs = std::env::var("CHAOS_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CI_RUNS);
    let (storage, notebooks) = stage(
        &gcs,
        vec![
            (
                "nb/planting/planting.ipynb",
                notebook("x = 1", &[PLANT_A_RECORD]),
            ),
            (
                "nb/overrunning/overrunning.ipynb",
                notebook("x = 1", &["import time\ntime.sleep(300)"]),
            ),
            (
                "nb/crashing/crashing.ipynb",
                notebook("x = 1", &[KILL_THE_RUNNER, "import time\ntime.sleep(2)"]),
            ),
        ],
    )
    .await;
    let profiles = format!(
        "[profiles.planting]\nnotebook = \"gs://{BUCKET}/nb/planting/planting.ipynb\"\n\
         [profiles.overrunning]\nnotebook = \"gs://{BUCKET}/nb/overrunning/overrunning.ipynb\"\nmax_run_time = \"4s\"\n\
         [profiles.crashing]\nnotebook = \"gs://{BUCKET}/nb/crashing/crashing.ipynb\"\nmax_run_time = \"30s\"\n"
    );
    // The runner ends an overrunning notebook at its limit and reports long before the reaper
    // may judge it; a crashed run is the reaper's after its limit and this grace.
    let extra = [
        ("RUN_GRACE", "15s".to_owned()),
        ("REPORT_WITHIN", "5m".to_owned()),
        ("RUN_LOST_AFTER", "10m".to_owned()),
    ];
    let mut deployed = Deployment::unsubscribed(&gcs, &notebooks, &profiles, &extra);
    let service = &mut deployed.service;
    let topology = Topology::create(&pubsub, &service.endpoint(), 20, Backoff::Immediate).await;

    let started = Instant::now();
    let messages: Vec<String> = (0..runs)
        .map(|i| format!(r#"{{"profile": "{}"}}"#, KINDS[i % KINDS.len()].0))
        .collect();
    topology.publish_batch(&pubsub, &messages).await;

    let deadline = Instant::now() + Duration::from_secs(120 + 6 * runs as u64);
    let (mut kills, mut reaps) = (0, 0);
    let mut next_kill = Instant::now() + Duration::from_secs(4);
    let records = loop {
        // Two reapers at once, against each other and against the reports in flight.
        let racing: Vec<Child> = (0..2).map(|_| service.reap_cli()).collect();
        for mut reaper in racing {
            assert!(reaper.wait().unwrap().success(), "a reap failed");
            reaps += 1;
        }
        if Instant::now() >= next_kill && kills < 2 + runs / 8 {
            service.kill();
            kills += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
            service.spawn();
            next_kill = Instant::now() + Duration::from_secs(7);
        }
        let records = crate::deployment::records(&storage).await;
        if records.len() == runs && records.iter().all(finished) {
            break records;
        }
        assert!(
            Instant::now() < deadline,
            "not every run finished: {} records, {:#?}",
            records.len(),
            records.iter().filter(|r| !finished(r)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };

    let mut ids: Vec<&str> = records
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), runs, "one record per message");
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for record in &records {
        let profile = record["profile"].as_str().unwrap();
        let (_, earned) = KINDS.iter().find(|(p, _)| *p == profile).unwrap();
        assert_eq!(record["state"], *earned, "{record:#}");
        *counts
            .entry(record["state"].as_str().unwrap().to_owned())
            .or_default() += 1;
        if profile == "planting" {
            let folder = record["output"].as_str().unwrap();
            let planted = format!(
                "{}run.json",
                folder.trim_start_matches(&format!("gs://{BUCKET}/"))
            );
            assert!(
                storage.download(BUCKET, &planted).await.is_ok(),
                "the notebook planted its record at {planted}"
            );
        }
    }
    let up: Vec<Value> = notebooks_up(&notebooks).await;
    assert!(up.is_empty(), "instances still up: {up:#?}");
    println!(
        "chaos: {runs} runs in {:.0?}, {kills} service kills, {reaps} reaps; outcomes {counts:?}",
        started.elapsed()
    );
    drop(deployed);
}

/// Ended, with the cleanup it called for done and recorded.
fn finished(record: &Value) -> bool {
    record["state"] != "launched"
        && record["cleanup"].is_object()
        && record["cleanup"].get("error").is_none()
}

/// The instances that are up (or on their way up) in the Notebooks emulator.
async fn notebooks_up(notebooks: &notebooks_emulator::Emulator) -> Vec<Value> {
    let url = format!(
        "{}/v2/projects/{}/locations/us-central1-a/instances",
        notebooks.base_url(),
        crate::PROJECT
    );
    let listed: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    listed["instances"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| {
            matches!(
                i["state"].as_str(),
                Some("PROVISIONING" | "STARTING" | "ACTIVE")
            )
        })
        .collect()
}
