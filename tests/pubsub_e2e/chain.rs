//! Messages to instances: exactly what they ask for, dead letters and replay, and nothing lost
//! or duplicated under API faults and crashes.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::pubsub_emulator::PubSubEmulator;
use crate::service::Service;
use crate::topology::{Backoff, Topology};
use crate::{PROJECT, active, cli, eventually, notebooks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_messages_launch_exactly_what_they_ask_for() {
    let Some(pubsub) = PubSubEmulator::start(PROJECT) else {
        return;
    };
    let notebooks = notebooks(Duration::from_millis(500)).await;
    let mut service = Service::start(&notebooks, &[("ALLOWED_OVERRIDES", "machine_type,labels")]);
    let _topology = Topology::create(&pubsub, &service.endpoint(), 5, Backoff::Exponential).await;

    // A plain-text test message, through the real binary.
    let output = cli(
        &pubsub,
        &["publish", "--topic", "trigger", "TweetiNoteStartTopic"],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).trim().is_empty(),
        "publish prints the message id"
    );
    eventually(Duration::from_secs(30), "one ACTIVE instance", || {
        active(&notebooks) == 1
    })
    .await;

    // A JSON payload with an allowed override.
    let output = cli(
        &pubsub,
        &[
            "publish",
            "--topic",
            "trigger",
            r#"{"machine_type":"n1-standard-16","labels":{"run":"e2e"}}"#,
        ],
    )
    .await;
    assert!(output.status.success());
    eventually(Duration::from_secs(30), "the override instance", || {
        active(&notebooks) == 2
    })
    .await;
    let instances = notebooks.instances();
    assert!(
        instances.iter().any(
            |i| i["gceSetup"]["machineType"] == "n1-standard-16" && i["labels"]["run"] == "e2e"
        )
    );

    // A slow operation: longer than POLL_TIMEOUT → 503, redelivery, resumed, one instance.
    service.restart(&[("POLL_TIMEOUT", "1s")]);
    notebooks.set_provision_time(Duration::from_secs(3));
    let output = cli(&pubsub, &["publish", "--topic", "trigger", "slow"]).await;
    assert!(output.status.success());
    eventually(
        Duration::from_secs(60),
        "the slow instance becomes ACTIVE",
        || active(&notebooks) == 3,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(notebooks.instances().len(), 3, "nothing duplicated");
    let slow = notebooks.instances().into_iter().find(|i| {
        i["gceSetup"]["machineType"] == "n1-standard-4"
            && i["labels"]["trigger-key"] != instances[0]["labels"]["trigger-key"]
    });
    assert!(slow.is_some());
    assert!(
        service.deliveries() >= 4,
        "the slow message needed more than one delivery"
    );
    notebooks.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_replayed_after_the_fix() {
    let Some(pubsub) = PubSubEmulator::start(PROJECT) else {
        return;
    };
    let notebooks = notebooks(Duration::from_millis(200)).await;
    let mut service = Service::start(&notebooks, &[]);
    let topology = Topology::create(&pubsub, &service.endpoint(), 5, Backoff::Exponential).await;

    let output = cli(
        &pubsub,
        &[
            "publish",
            "--topic",
            "trigger",
            "--attribute",
            "origin=webapp",
            r#"{"machine_type":"n1-highmem-8"}"#,
        ],
    )
    .await;
    assert!(output.status.success());
    let mut dead = Vec::new();
    let started = Instant::now();
    while dead.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the poison message never reached the dead-letter topic"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        dead = topology.pull_dead_letters(&pubsub).await;
    }
    let message = &dead[0]["message"];
    let data = base64::engine::general_purpose::STANDARD
        .decode(message["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, br#"{"machine_type":"n1-highmem-8"}"#);
    assert_eq!(message["attributes"]["origin"], "webapp");
    assert!(
        message["attributes"]["CloudPubSubDeadLetterSourceSubscription"].is_string(),
        "{message}"
    );
    assert!(
        message["attributes"]["CloudPubSubDeadLetterSourceDeliveryCount"].is_string(),
        "{message}"
    );
    assert!(
        notebooks.instances().is_empty(),
        "a refused message creates nothing"
    );
    assert!(notebooks.create_requests().is_empty());
    topology
        .release(&pubsub, dead.iter().map(|m| m["ackId"].clone()).collect())
        .await;

    // The fix: the deployment now allows machine_type overrides. Then replay.
    service.restart(&[("ALLOWED_OVERRIDES", "machine_type")]);
    let replay = cli(
        &pubsub,
        &[
            "replay",
            "--subscription",
            "trigger-dead-pull",
            "--topic",
            "trigger",
            "--idle",
            "3s",
        ],
    )
    .await;
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let report: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(report["republished"], 1);
    eventually(
        Duration::from_secs(30),
        "the replayed message launches",
        || active(&notebooks) == 1,
    )
    .await;
    assert_eq!(
        notebooks.instances()[0]["gceSetup"]["machineType"],
        "n1-highmem-8"
    );
    assert!(
        topology.pull_dead_letters(&pubsub).await.is_empty(),
        "the dead-letter subscription is empty"
    );
    notebooks.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_api_faults_and_crashes_nothing_is_lost_and_nothing_duplicated() {
    let Some(pubsub) = PubSubEmulator::start(PROJECT) else {
        return;
    };
    let setting = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name}={v} is not a count"))
            })
            .unwrap_or(default)
    };
    let count = setting("RELIABILITY_MESSAGES", 300);
    let kills = setting("RELIABILITY_KILLS", 2);
    let notebooks = notebooks(Duration::from_secs(1)).await;
    notebooks.set_fault_rate(0.10);
    let mut service = Service::start(&notebooks, &[]);
    // A crashed delivery is nacked by the dropped connection and a faulted one by a 503, so one
    // message can be nacked three times in a row: see `Backoff::Immediate`.
    let topology = Topology::create(&pubsub, &service.endpoint(), 5, Backoff::Immediate).await;
    let started = Instant::now();
    let data: Vec<String> = (0..count).map(|i| format!("run-{i}")).collect();
    for chunk in data.chunks(100) {
        topology.publish_batch(&pubsub, chunk).await;
    }
    // SIGKILL (a crash, an OOM kill: no graceful shutdown) spread over the run, so each one
    // lands while launches are mid-poll; the service comes back on the same port.
    let mut crash_points = (1..=kills).map(|k| k * count / (kills + 1)).peekable();
    let deadline = started + Duration::from_secs(300);
    loop {
        let ready = active(&notebooks);
        if ready >= count {
            break;
        }
        if crash_points.next_if(|&at| ready >= at).is_some() {
            service.restart(&[]);
        }
        assert!(
            Instant::now() < deadline,
            "after 300 s: {ready} of {count} ACTIVE, {} instances, {} answered deliveries, {} API requests; launched but never answered ready: {:?}",
            notebooks.instances().len(),
            service.deliveries(),
            notebooks.request_count(),
            service.unfinished()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        crash_points.next().is_none(),
        "every crash happened during the run"
    );
    let cut = service.cut_by_crashes();
    assert!(
        kills == 0 || cut > 0,
        "the crashes landed between launches, so they proved nothing"
    );
    // Late redeliveries would show up as extra instances.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let instances = notebooks.instances();
    let keys: HashSet<&str> = instances
        .iter()
        .filter_map(|i| i["labels"]["trigger-key"].as_str())
        .collect();
    assert_eq!(instances.len(), count, "nothing duplicated");
    assert_eq!(keys.len(), count, "one instance per message");
    println!(
        "{count} messages → {count} instances in {:.1}s; {} answered push deliveries, {} Notebooks API requests (10 % faulted), service SIGKILLed {kills} times cutting {cut} launches mid-flight",
        started.elapsed().as_secs_f64(),
        service.deliveries(),
        notebooks.request_count()
    );
    notebooks.shutdown().await;
}
