//! The reaper over real sockets: a stray run past max_run_time and RUN_GRACE is stopped and
//! its record says so (and, where Google's Pub/Sub emulator is installed, a run event on it);
//! an unmanaged instance and a run within its time are left alone; `reap --dry-run` (the real
//! binary) prints the same verdict and changes nothing.

use std::process::Command;
use std::time::Duration;

use notebook_trigger::credentials::Credentials;
use notebook_trigger::notebooks::client::{Endpoint, Timeouts};
use notebook_trigger::notebooks::protocol::EmulatorProtocol;
use notebook_trigger::notebooks::{ApiVersion, NotebooksClient};
use notebook_trigger::reap::Reaper;
use notebook_trigger::run::reaper::ReaperPolicy;
use notebook_trigger::run::{CleanupPolicy, ManagedInstances, RunStore, Transitions};
use notebooks_emulator::storage::StorageClient;

use crate::child::run_bounded;
use crate::helpers::{PROJECT, TestApp, ZONE};
use crate::pubsub_emulator::PubSubEmulator;
use crate::pubsub_pull::PullSubscription;
use crate::runs::{BUCKET, create_instance, record, run_id, runs_app, state_of, write_record};

const GRACE: Duration = Duration::from_secs(1);

pub fn reaper(app: &TestApp) -> Reaper {
    reaper_losing_after(app, Duration::from_secs(3600))
}

/// A reaper of the test's emulator whose runs are `lost` after `lost_after` without an
/// instance.
pub fn reaper_losing_after(app: &TestApp, lost_after: Duration) -> Reaper {
    reaper_of(app, lost_after, |transitions| transitions)
}

/// A reaper of the test's emulator, losing runs after `lost_after`, whose transitions are
/// `extend`ed (with a notifier, say).
pub fn reaper_of(
    app: &TestApp,
    lost_after: Duration,
    extend: impl FnOnce(Transitions) -> Transitions,
) -> Reaper {
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_secs(10),
    };
    let endpoint = Endpoint {
        base_url: app.emulator.base_url().parse().unwrap(),
        credentials: Credentials::Anonymous,
        emulator_protocol: Some(EmulatorProtocol::H2c),
    };
    let client = NotebooksClient::new(endpoint, ApiVersion::V2, timeouts).unwrap();
    let records = RunStore::new(
        StorageClient::new(app.emulator.storage_url().parse().unwrap()),
        Credentials::Anonymous,
    );
    let instances =
        ManagedInstances::new(client.clone(), PROJECT.to_owned(), [ZONE.to_owned()].into());
    let transitions = extend(Transitions::new(client, records.clone(), None));
    let policy = ReaperPolicy {
        grace: GRACE,
        keep_stopped: Duration::from_secs(72 * 3600),
        lost_after,
        cleanup: CleanupPolicy::default(),
    };
    let outputs = [format!("gs://{BUCKET}/runs")].into();
    Reaper::new(instances, records, transitions, outputs, policy)
}

/// `notebook-trigger reap ARGS` against the test's emulator, with a clean environment.
fn reap_command(app: &TestApp, args: &[&str]) -> crate::child::Finished {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_notebook-trigger"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env(
            "NOTEBOOKS_EMULATOR_HOST",
            app.emulator.local_addr().to_string(),
        )
        .env("STORAGE_EMULATOR_HOST", app.emulator.storage_url())
        .env("GOOGLE_CLOUD_PROJECT", PROJECT)
        .env("NOTEBOOK_LOCATION", ZONE)
        .env(
            "CONTAINER_IMAGE",
            "europe-west3-docker.pkg.dev/p/r/python-docker",
        )
        .env("RUN_GRACE", "1s")
        .arg("reap")
        .args(args);
    run_bounded(&mut command, Duration::from_secs(30))
}

pub async fn wait_active(app: &TestApp, ids: &[&str]) {
    for _ in 0..100 {
        if ids
            .iter()
            .all(|id| state_of(app, id).as_deref() == Some("ACTIVE"))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not ACTIVE: {:?}", app.instances());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_stops_a_stray_run_and_leaves_what_it_does_not_own() {
    let pubsub = PubSubEmulator::start(PROJECT);
    let mut vars = vec![("RUN_GRACE", "1s".to_owned())];
    if let Some(pubsub) = &pubsub {
        vars.push(("RUN_EVENTS_TOPIC", "run-events".to_owned()));
        vars.push(("PUBSUB_EMULATOR_HOST", pubsub.host.clone()));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = runs_app(&vars).await;
    let events = match &pubsub {
        Some(pubsub) => {
            Some(PullSubscription::create(pubsub, "run-events", "run-events-pull").await)
        }
        None => None,
    };
    let (stray, unmanaged, fresh) = (run_id(0x5), run_id(0x6), run_id(0x7));
    create_instance(&app, "nb-stray", &stray, true, false).await;
    create_instance(&app, "nb-unmanaged", &unmanaged, false, false).await;
    // A run within its time: its script keeps max_run_time at an hour.
    create_instance(&app, "nb-fresh", &fresh, true, true).await;
    write_record(&app, &stray, "nb-stray").await;
    write_record(&app, &fresh, "nb-fresh").await;
    wait_active(&app, &["nb-stray", "nb-unmanaged", "nb-fresh"]).await;
    // Past max_run_time (1 s) and RUN_GRACE (1 s).
    tokio::time::sleep(Duration::from_secs(3)).await;

    let dry = tokio::task::block_in_place(|| reap_command(&app, &["--dry-run"]));
    assert!(dry.status.success(), "{}", dry.stderr);
    let lines: Vec<&str> = dry.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", dry.stdout);
    assert!(
        lines[0].starts_with(
            "stop projects/test-project/locations/us-central1-a/instances/nb-stray: up for"
        ) && lines[0].contains("with no report")
            && lines[0].ends_with("(dry-run)"),
        "{}",
        lines[0]
    );
    assert_eq!(
        state_of(&app, "nb-stray").as_deref(),
        Some("ACTIVE"),
        "a dry run stops nothing"
    );
    assert!(record(&app, &stray).await.get("cleanup").is_none());

    // The scheduler's message: the service reaps and answers what it did.
    let (status, answer) = app.push("reap-1", r#"{"action":"reap"}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "reaped", "{answer}");
    let reaped = answer["verdicts"].as_array().unwrap();
    assert_eq!(reaped.len(), 1, "{answer}");
    assert_eq!(reaped[0]["result"], "done", "{answer}");
    assert!(
        reaped[0]["instance"]
            .as_str()
            .unwrap()
            .ends_with("/nb-stray"),
        "{answer}"
    );
    let stopped = state_of(&app, "nb-stray");
    assert!(
        matches!(stopped.as_deref(), Some("STOPPING" | "STOPPED")),
        "{stopped:?}"
    );
    let recorded = record(&app, &stray).await;
    assert_eq!(recorded["cleanup"]["action"], "stop");
    assert_eq!(recorded["cleanup"]["by"], "reaper");
    assert_eq!(recorded["state"], "unreported", "{recorded}");
    assert!(
        recorded["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("no report: up for")),
        "{recorded}"
    );
    if let Some(events) = &events {
        let announced = events.take(2, Duration::from_secs(30)).await;
        let said: Vec<_> = announced
            .iter()
            .map(|m| m.attributes["event"].as_str())
            .collect();
        assert_eq!(said, ["unreported", "cleaned_up"], "{announced:#?}");
        let attributes = &announced[1].attributes;
        assert_eq!(attributes["run_id"], stray);
        assert_eq!(attributes["state"], "unreported");
        assert_eq!(attributes["action"], "stop");
        assert_eq!(attributes["by"], "reaper");
        // The run's end is recorded and announced before the cleanup, as after a report.
        let data =
            |i: usize| -> serde_json::Value { serde_json::from_slice(&announced[i].data).unwrap() };
        let mut ended = recorded.clone();
        ended.as_object_mut().unwrap().remove("cleanup");
        assert_eq!(data(0), ended);
        assert_eq!(data(1), recorded);
    }
    assert_eq!(state_of(&app, "nb-unmanaged").as_deref(), Some("ACTIVE"));
    assert_eq!(state_of(&app, "nb-fresh").as_deref(), Some("ACTIVE"));
    assert!(record(&app, &fresh).await.get("cleanup").is_none());

    // Another reaper right after finds nothing left to do.
    let again = reaper(&app).reap(jiff::Timestamp::now(), false).await;
    assert!(
        again.verdicts.is_empty() && again.lost.is_empty(),
        "{again:?}"
    );
    assert_eq!(state_of(&app, "nb-unmanaged").as_deref(), Some("ACTIVE"));
    app.stop().await;
}
