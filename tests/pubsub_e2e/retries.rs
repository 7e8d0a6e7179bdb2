//! Retries end to end: a message to a profile with `retries = 2` whose notebook fails twice
//! and then succeeds becomes three attempts, each on an emulated instance of its own running
//! real papermill, each with its own record linked to the first; the last succeeds, each
//! retry is announced, and a redelivery of the message afterwards starts nothing. And a retry
//! survives the service: scheduled by one that is killed, it is launched by the next reap.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use storage_client::StorageClient;

use crate::PROJECT;
use crate::deployment::{Deployment, emulators, finished, publish, records};
use crate::pubsub_pull::PullSubscription;
use crate::runs::{BUCKET, notebook, stage};

/// A notebook that counts its attempts with files in `counter` (a folder shared by every
/// emulated VM of this machine) and fails until attempt `succeed_at`.
fn flaky_notebook() -> Vec<u8> {
    notebook(
        "counter = ''\nsucceed_at = 3",
        &["import os\n\
           os.makedirs(counter, exist_ok=True)\n\
           attempt = len(os.listdir(counter)) + 1\n\
           open(os.path.join(counter, str(attempt)), 'w').close()\n\
           if attempt < succeed_at:\n    raise ValueError(f'attempt {attempt} fails')"],
    )
}

/// The records of profile `profile` once `done` holds of them, in attempt order.
async fn attempts_when(
    storage: &StorageClient,
    profile: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut records = records(storage).await;
        records.retain(|r| r["profile"] == profile);
        records.sort_by_key(|r| r["origin"]["attempt"].as_u64().unwrap_or(1));
        if done(&records) {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "the attempts of {profile} are not there: {records:#?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The records of profile `profile`, once there are `count` of them, each finished (its
/// outcome and cleanup written), in attempt order.
async fn finished_attempts(storage: &StorageClient, profile: &str, count: usize) -> Vec<Value> {
    attempts_when(storage, profile, |records| {
        records.len() >= count && records.iter().all(finished)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notebook_failing_twice_succeeds_at_its_third_attempt_and_a_redelivery_starts_nothing() {
    let Some((gcs, pubsub)) = emulators().await else {
        return;
    };
    let (storage, notebooks) = stage(&gcs, vec![("nb/flaky/flaky.ipynb", flaky_notebook())]).await;
    let counter = tempfile::tempdir().unwrap();
    let profiles = format!(
        "[profiles.flaky]\nnotebook = \"gs://{BUCKET}/nb/flaky/flaky.ipynb\"\n\
         retries = 2\nretry_delay = \"1s\"\nparameters = {{ counter = \"{}\" }}\n",
        counter.path().join("attempts").display()
    );
    let extra = [
        ("RUN_EVENTS_TOPIC", "run-events".to_owned()),
        ("PUBSUB_EMULATOR_HOST", pubsub.host.clone()),
    ];
    let deployed = Deployment::start(&gcs, &notebooks, &pubsub, &profiles, &extra).await;
    let service = &deployed.service;
    let events = PullSubscription::create(&pubsub, "run-events", "run-events-pull").await;

    let message = r#"{"profile": "flaky"}"#;
    publish(&pubsub, message).await;
    let attempts = finished_attempts(&storage, "flaky", 3).await;
    let states: Vec<&str> = attempts
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["failed", "failed", "succeeded"], "{attempts:#?}");
    let first = attempts[0]["run_id"].as_str().unwrap();
    for (i, attempt) in attempts.iter().enumerate() {
        let number = i + 1;
        if number > 1 {
            let origin = json!({"kind": "retry", "of": first, "attempt": number});
            assert_eq!(attempt["origin"], origin, "{attempt:#}");
            assert_eq!(attempt["trigger"], "retry");
        }
        if number < 3 {
            assert!(
                attempt["error"]
                    .as_str()
                    .is_some_and(|e| e.ends_with(&format!("attempt {number} fails"))),
                "{attempt:#}"
            );
            let next = &attempts[number];
            assert_eq!(attempt["next_attempt"]["run_id"], next["run_id"]);
            assert_eq!(attempt["next_attempt"]["attempt"], number + 1);
            assert!(
                attempt["next_attempt"]["launched"].is_string(),
                "{attempt:#}"
            );
        } else {
            assert!(attempt.get("next_attempt").is_none(), "{attempt:#}");
        }
        assert_ne!(attempt["instance"], attempts[(i + 1) % 3]["instance"]);
    }
    let counted = std::fs::read_dir(counter.path().join("attempts"))
        .unwrap()
        .count();
    assert_eq!(counted, 3, "the notebook ran three times");

    // Each retry was announced once, naming the attempt that ended and the one to come.
    let announced = events.take(11, Duration::from_secs(30)).await;
    let retrying: Vec<(&str, &str)> = announced
        .iter()
        .filter(|m| m.attributes["event"] == "retrying")
        .map(|m| {
            (
                m.attributes["attempt"].as_str(),
                m.attributes["next_attempt"].as_str(),
            )
        })
        .collect();
    assert_eq!(retrying, [("1", "2"), ("2", "3")], "{announced:#?}");
    let succeeded = announced
        .iter()
        .find(|m| m.attributes["event"] == "succeeded")
        .expect("the success is announced");
    assert_eq!(succeeded.attributes["attempt"], "3");
    assert_eq!(succeeded.attributes["first_attempt"], first);

    // The message again, as Pub/Sub redelivers it: the first attempt's record says the run
    // ended, and nothing starts.
    let before = notebooks.create_requests().len();
    assert_eq!(before, 3, "one create per attempt");
    let redelivery = envelope(attempts[0]["message_id"].as_str().unwrap(), message);
    let answer = reqwest::Client::new()
        .post(service.endpoint())
        .json(&redelivery)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["outcome"], "ended", "{answer}");
    assert_eq!(answer["run_id"], first);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(notebooks.create_requests().len(), before, "no create");
    assert_eq!(finished_attempts(&storage, "flaky", 3).await.len(), 3);
    show_attempts(&service.endpoint(), first).await;
}

/// A push of message `id` with `data`, as Pub/Sub sends it to the service.
fn envelope(id: &str, data: &str) -> Value {
    use base64::Engine as _;
    json!({
        "message": {
            "messageId": id,
            "data": base64::engine::general_purpose::STANDARD.encode(data),
        },
        "subscription": format!("projects/{PROJECT}/subscriptions/trigger-push"),
    })
}

/// `runs` shows the run's three attempts, and `runs show` the third with its first.
async fn show_attempts(service: &str, first: &str) {
    let table = crate::cli_plain(&["runs", "--service", service]).await;
    let stdout = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    let header: Vec<&str> = stdout.split_whitespace().take(3).collect();
    assert_eq!(header, ["RUN", "ATTEMPT", "PROFILE"], "{stdout}");
    let attempts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" flaky "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(attempts, ["3/3", "2/3", "1/3"], "newest first: {stdout}");
    let last = stdout
        .lines()
        .find(|l| l.contains(" 3/3 "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    let shown = crate::cli_plain(&["runs", "show", last, "--service", service]).await;
    let shown = String::from_utf8_lossy(&shown.stdout);
    let said = format!("3 of 3, retrying run {first}");
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("attempt ") && l.ends_with(&said)),
        "{shown}"
    );
}

/// A retry scheduled by a service that is killed before it is due is launched by a reap of
/// another process (`notebook-trigger reap`), and reports to the restarted service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_whose_service_died_is_launched_by_the_next_reap() {
    let Some((gcs, pubsub)) = emulators().await else {
        return;
    };
    let (storage, notebooks) = stage(&gcs, vec![("nb/flaky/flaky.ipynb", flaky_notebook())]).await;
    let counter = tempfile::tempdir().unwrap();
    let profiles = format!(
        "[profiles.once]\nnotebook = \"gs://{BUCKET}/nb/flaky/flaky.ipynb\"\n\
         retries = 1\nretry_delay = \"5s\"\n\
         parameters = {{ counter = \"{}\", succeed_at = 2 }}\n",
        counter.path().join("attempts").display()
    );
    let mut deployed = Deployment::start(&gcs, &notebooks, &pubsub, &profiles, &[]).await;
    let service = &mut deployed.service;
    publish(&pubsub, r#"{"profile": "once"}"#).await;

    let scheduled = |records: &[Value]| {
        records
            .first()
            .is_some_and(|r| r["next_attempt"].is_object())
    };
    let first = attempts_when(&storage, "once", scheduled).await.remove(0);
    // SIGKILL before the retry is due: its timer dies with the process.
    service.restart(&[]);
    let due: jiff::Timestamp = first["next_attempt"]["at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let wait = due.duration_since(jiff::Timestamp::now());
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;

    let reap = service.reap_cli().wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&reap.stdout);
    let next_run = first["next_attempt"]["run_id"].as_str().unwrap();
    let line = format!(
        "retry {} as attempt 2 ({next_run}): launched (created)",
        first["run_id"].as_str().unwrap()
    );
    assert!(said.lines().any(|l| l == line), "{said}");
    let attempts = finished_attempts(&storage, "once", 2).await;
    assert_eq!(attempts[0]["state"], "failed", "{attempts:#?}");
    assert!(attempts[0]["next_attempt"]["launched"].is_string());
    assert_eq!(attempts[1]["run_id"], next_run);
    assert_eq!(attempts[1]["state"], "succeeded", "{attempts:#?}");
    assert_eq!(notebooks.create_requests().len(), 2);
}
