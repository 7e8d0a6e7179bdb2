//! Notifications end to end: a failing notebook's run, launched from Pub/Sub and executed by
//! real papermill on an emulated instance, notifies a local receiver with the failing cell's
//! error (the URL from the service's environment, as `url_env` names it); a run still going
//! past its `expected_duration` is announced overdue once, though two `reap` processes race.

use std::time::Duration;

use crate::deployment::{Deployment, emulators, launched_record, publish};
use crate::receiver::Receiver;
use crate::runs::{BUCKET, finished_record, notebook, stage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_notifies_its_cell_error_and_an_overdue_run_is_announced_once() {
    let Some((gcs, pubsub)) = emulators().await else {
        return;
    };
    let receiver = Receiver::start().await;
    let (storage, notebooks) = stage(
        &gcs,
        vec![
            (
                "nb/failing/failing.ipynb",
                notebook("x = 1", &["raise ValueError('the data is bad')"]),
            ),
            (
                "nb/slow/slow.ipynb",
                notebook("x = 1", &["import time\ntime.sleep(120)"]),
            ),
        ],
    )
    .await;
    let profiles = format!(
        "[profiles.failing]\nnotebook = \"gs://{BUCKET}/nb/failing/failing.ipynb\"\n\
         notify = [{{ url_env = \"E2E_WEBHOOK\", on = [\"failed\"], format = \"json\" }}]\n\
         [profiles.slow]\nnotebook = \"gs://{BUCKET}/nb/slow/slow.ipynb\"\n\
         max_run_time = \"15s\"\nexpected_duration = \"2s\"\n\
         notify = [{{ url_env = \"E2E_WEBHOOK\", on = [\"overdue\"] }}]\n"
    );
    let extra = [("E2E_WEBHOOK", receiver.url("/hook"))];
    let deployed = Deployment::start(&gcs, &notebooks, &pubsub, &profiles, &extra).await;
    let service = &deployed.service;
    publish(&pubsub, r#"{"profile": "failing"}"#).await;
    let failed = finished_record(&storage, Duration::from_secs(120), "failing").await;
    assert_eq!(failed["state"], "failed", "{failed:#}");
    let notice = &receiver.of_event("failed", Duration::from_secs(30)).await[0];
    assert_eq!(notice["run_id"], failed["run_id"]);
    assert_eq!(notice["profile"], "failing");
    assert_eq!(notice["attempt"], 1);
    assert_eq!(notice["error"], failed["error"]);
    assert!(
        notice["error"]
            .as_str()
            .unwrap()
            .contains("ValueError: the data is bad"),
        "{notice:#}"
    );
    assert_eq!(notice["failure"]["exception"], "ValueError");
    assert_eq!(
        notice["failure"]["cell"],
        failed["failure"]["cell_index"].as_u64().unwrap() + 1
    );
    assert!(notice["duration_seconds"].is_u64(), "{notice:#}");
    let link = format!(
        "{}runs/{}",
        service.endpoint(),
        failed["run_id"].as_str().unwrap()
    );
    assert_eq!(notice["link"], link);

    publish(&pubsub, r#"{"profile": "slow"}"#).await;
    let slow = launched_record(&storage, "slow").await;
    let launched: jiff::Timestamp = slow["launched"].as_str().unwrap().parse().unwrap();
    while jiff::Timestamp::now() < launched + jiff::SignedDuration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (first, second) = (service.reap_cli(), service.reap_cli());
    let (first, second) = tokio::task::block_in_place(|| {
        (
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        )
    });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&second.stdout)
    );
    assert!(first.status.success() && second.status.success(), "{said}");
    let overdue: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("overdue run"))
        .collect();
    // The later reap may read the record before the first one marks it (then its write is
    // refused and it says so) or after (then it passes the run by): either way, one of them
    // announces it.
    assert!(
        (1..=2).contains(&overdue.len()),
        "one or both reaps name it: {said}"
    );
    assert_eq!(
        overdue.iter().filter(|l| l.ends_with("(done)")).count(),
        1,
        "{said}"
    );
    // Each reap process lets its notifications finish before it exits.
    let notices = receiver.of_event("overdue", Duration::from_secs(5)).await;
    assert_eq!(notices.len(), 1, "announced once: {notices:?}");
    assert_eq!(notices[0]["run_id"], slow["run_id"]);
    assert!(
        notices[0]["text"]
            .as_str()
            .unwrap()
            .contains("is overdue: still running after"),
        "{notices:?}"
    );
    // The run goes on to its own end, which keeps when it was found overdue.
    let ended = finished_record(&storage, Duration::from_secs(90), "slow").await;
    assert_eq!(ended["state"], "timed_out", "{ended:#}");
    assert_eq!(ended["overdue_at"], notices[0]["overdue_at"]);
    assert_eq!(receiver.all().len(), 2, "nothing else was asked for");
}
