//! Injected request faults and failing operations, reproducible under the seed.

use notebooks_emulator::EmulatorConfig;
use std::time::Duration;

use super::*;

/// Statuses of 60 reads against a fresh emulator with a 30 % fault rate.
async fn fault_sequence(seed: u64) -> Vec<u16> {
    let api = Api::start(EmulatorConfig {
        fault_rate: 0.3,
        seed,
        ..EmulatorConfig::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let (status, body) = api
            .call("GET", &format!("/v2/{ZONE}/instances"), None)
            .await;
        match status {
            503 => assert_eq!(body["error"]["status"], "UNAVAILABLE"),
            429 => assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED"),
            200 => {}
            other => panic!("unexpected {other}: {body}"),
        }
        statuses.push(status);
        // Readiness probes do not shift the fault sequence.
        api.client
            .get(api.emulator.base_url())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(api.emulator.request_count(), 120);
    api.emulator.shutdown().await;
    statuses
}

#[tokio::test]
async fn injected_faults_are_deterministic_under_the_seed_and_touch_no_state() {
    let first = fault_sequence(11).await;
    assert_eq!(first, fault_sequence(11).await);
    assert_ne!(first, fault_sequence(12).await);
    let faults = first.iter().filter(|s| **s != 200).count();
    assert!((5..=35).contains(&faults), "{faults} faults of 60");

    let api = Api::fast().await;
    api.emulator.set_fault_rate(1.0);
    for i in 0..10 {
        let (status, _) = api.create(&format!("nb-{i}"), container_body()).await;
        assert!(status == 503 || status == 429, "{status}");
    }
    assert!(api.emulator.instances().is_empty());
    assert!(api.emulator.create_requests().is_empty());
    api.emulator.set_fault_rate(0.0);
    assert_eq!(api.create("nb-0", container_body()).await.0, 200);
    api.emulator.shutdown().await;
}

#[tokio::test]
async fn failing_operations_end_with_a_status_and_leave_no_instance() {
    let api = Api::start(EmulatorConfig {
        provision_time: Duration::from_millis(100),
        operation_failure_rate: 1.0,
        ..EmulatorConfig::default()
    })
    .await;
    let (status, operation) = api.create("quota", container_body()).await;
    assert_eq!(status, 200);
    let done = api.wait("v2", &operation).await;
    assert_eq!(done["error"]["code"], 8);
    assert!(
        done["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Quota exceeded for quota metric 'CPUS'")
    );
    assert!(done.get("response").is_none());
    assert!(api.emulator.instances().is_empty());

    api.emulator.set_operation_failure(1.0, "PERMISSION_DENIED");
    let (_, operation) = api.create("denied", container_body()).await;
    assert_eq!(api.wait("v2", &operation).await["error"]["code"], 7);

    // Which operations fail is a function of (seed, verb, name): the same names fail again.
    let pick = |rate| EmulatorConfig {
        provision_time: Duration::ZERO,
        operation_failure_rate: rate,
        seed: 5,
        ..EmulatorConfig::default()
    };
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let api = Api::start(pick(0.5)).await;
        let mut failed = Vec::new();
        for i in 0..20 {
            let (_, operation) = api.create(&format!("nb-{i}"), container_body()).await;
            failed.push(api.wait("v2", &operation).await.get("error").is_some());
        }
        outcomes.push(failed);
        api.emulator.shutdown().await;
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(
        outcomes[0].contains(&true) && outcomes[0].contains(&false),
        "{:?}",
        outcomes[0]
    );
    api.emulator.shutdown().await;
}
