//! An operator's cancel of a run whose retry is still to come: no attempt follows it. A
//! cancel and a launch of the retry that cross (the launcher read the record before the
//! cancel was written) end with the launched attempt cancelled, whoever sees both: the cancel
//! that finds the attempt's record, the launcher that finds the cancel when marking its
//! launch, or the next reap when a process died between two steps.

use std::time::Duration;

use serde_json::{Value, json};

use notebook_trigger::run::RunState;

use crate::helpers::TestApp;
use crate::operate::{OPERATOR, act, operators, page};
use crate::retries::{failed_with_retry_due, rewrite};
use crate::run_launch::{record, spawn_runs};
use crate::tokens::Issuer;

const REAP: &str = r#"{"action":"reap"}"#;

async fn retried_with_operators(issuer: &Issuer, delay: &str) -> TestApp {
    let mut vars = operators(issuer);
    vars.extend([
        ("RETRIES", "1".to_owned()),
        ("RETRY_DELAY", delay.to_owned()),
    ]);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_runs(&vars).await
}

/// The instances whose run-id label is `run`, as the emulator has them.
fn instances_of(app: &TestApp, run: &str) -> Vec<Value> {
    app.instances()
        .into_iter()
        .filter(|i| i["labels"]["run-id"] == run)
        .collect()
}

fn stopping(instance: &Value) -> bool {
    matches!(instance["state"].as_str(), Some("STOPPING" | "STOPPED"))
}

async fn cancel(app: &TestApp, run: &str) -> (u16, Value) {
    act(
        app,
        &format!("/runs/{run}/cancel"),
        OPERATOR,
        json!({}),
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_of_a_run_whose_retry_is_to_come_launches_no_attempt() {
    let issuer = Issuer::start().await;
    let app = retried_with_operators(&issuer, "1h").await;
    let (status, pushed) = app.push("8201", "go").await;
    assert_eq!(status, 200, "{pushed}");
    let first = pushed["run_id"].as_str().unwrap().to_owned();
    rewrite(&app, &first, |mut record| {
        record.state = RunState::Failed;
        record
    })
    .await;
    let (_, reaped) = app.push("reap-1", REAP).await;
    let scheduled = reaped["retries"][0]["result"].as_str().unwrap_or_default();
    assert!(scheduled.starts_with("scheduled for"), "{reaped}");
    let next_run = reaped["retries"][0]["next_run_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let shown = page(&app, &format!("/runs/{first}"), OPERATOR).await;
    assert!(
        shown.contains("id=\"cancel\""),
        "its retry is to come: {shown}"
    );
    let (status, answer) = cancel(&app, &first).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["run_id"], first.as_str());
    assert_eq!(answer["retry"], next_run.as_str(), "{answer}");
    assert_eq!(answer["instance"], "", "no instance is stopped: {answer}");
    let (status, again) = cancel(&app, &first).await;
    assert_eq!((status, &again["repeated"]), (202, &json!(true)), "{again}");
    let cancelled = record(&app, &first).await;
    assert_eq!(
        cancelled["state"], "failed",
        "its outcome stands: {cancelled}"
    );
    assert_eq!(cancelled["cancel"]["by"], OPERATOR);

    // Due now: the next reap launches nothing and says why, once.
    rewrite(&app, &first, |mut record| {
        record.next_attempt.as_mut().unwrap().at = jiff::Timestamp::now();
        record
    })
    .await;
    let (_, reaped) = app.push("reap-2", REAP).await;
    assert_eq!(reaped["retries"][0]["next_run_id"], next_run.as_str());
    assert_eq!(
        reaped["retries"][0]["result"], "not launched: its run was cancelled",
        "{reaped}"
    );
    let refused = record(&app, &first).await["next_attempt"]["refused"].clone();
    assert!(
        refused
            .as_str()
            .unwrap()
            .starts_with(&format!("cancelled by {OPERATOR} at ")),
        "{refused}"
    );
    let (_, again) = app.push("reap-3", REAP).await;
    assert_eq!(again["retries"], json!([]), "{again}");
    assert!(instances_of(&app, &next_run).is_empty());
    let (status, ended) = cancel(&app, &first).await;
    assert_eq!(status, 409, "nothing is left to cancel: {ended}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_launched_before_the_cancel_reached_it_is_cancelled_whoever_finds_it() {
    let issuer = Issuer::start().await;
    let app = retried_with_operators(&issuer, "0s").await;

    // The launcher launched attempt 2 and died before marking it; the cancel finds its record
    // and goes to it.
    let (first, second) = failed_with_retry_due(&app, "8202").await;
    let (_, reaped) = app.push("reap-1", REAP).await;
    assert_eq!(
        reaped["retries"][0]["result"], "launched (created)",
        "{reaped}"
    );
    rewrite(&app, &first, |mut record| {
        record.next_attempt.as_mut().unwrap().launched = None;
        record
    })
    .await;
    let (status, answer) = cancel(&app, &first).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["run_id"], second.as_str(), "{answer}");
    assert!(stopping(&instances_of(&app, &second)[0]), "{answer}");
    assert_eq!(record(&app, &second).await["cancel"]["by"], OPERATOR);
    // The next reap marks the launch it finds, and cancels it again (a repeat).
    let (_, reaped) = app.push("reap-2", REAP).await;
    assert_eq!(
        reaped["retries"][0]["result"], "cancelled: it was launched as its run was cancelled",
        "{reaped}"
    );
    assert!(record(&app, &first).await["next_attempt"]["launched"].is_string());

    // The cancel was written and its process died before it looked for attempt 2: the reap
    // cancels it, in the name of who asked.
    let (first, second) = failed_with_retry_due(&app, "8203").await;
    app.push("reap-3", REAP).await;
    let asked = jiff::Timestamp::now();
    rewrite(&app, &first, |mut record| {
        record.next_attempt.as_mut().unwrap().launched = None;
        record.cancel_requested("oli@example.com", asked).unwrap()
    })
    .await;
    assert!(!stopping(&instances_of(&app, &second)[0]));
    let (_, reaped) = app.push("reap-4", REAP).await;
    assert_eq!(
        reaped["retries"][0]["result"], "cancelled: it was launched as its run was cancelled",
        "{reaped}"
    );
    assert!(stopping(&instances_of(&app, &second)[0]));
    assert_eq!(
        record(&app, &second).await["cancel"]["by"],
        "oli@example.com"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_racing_the_launch_of_its_retry_leaves_no_attempt_running() {
    let issuer = Issuer::start().await;
    let app = retried_with_operators(&issuer, "0s").await;
    // The cancel starts at another point of the launch each round (milliseconds after the
    // reap; before it when negative), so that it meets the launch at each of its steps:
    // before its record, while its instance is created, after, and after the mark.
    for (round, offset) in [-50i64, 0, 10, 40, 100, 200, 400, 800]
        .into_iter()
        .enumerate()
    {
        let (first, second) = failed_with_retry_due(&app, &format!("83{round:02}")).await;
        let after = |ms: i64| tokio::time::sleep(Duration::from_millis(ms.max(0).unsigned_abs()));
        let reap_id = format!("reap-race-{round}");
        let ((reap_status, reaped), (cancel_status, cancelled)) = tokio::join!(
            async {
                after(-offset).await;
                app.push(&reap_id, REAP).await
            },
            async {
                after(offset).await;
                cancel(&app, &first).await
            }
        );
        assert_eq!(reap_status, 200, "{reaped}");
        assert_eq!(cancel_status, 202, "{cancelled}");
        let attempts = instances_of(&app, &second);

        assert!(attempts.len() <= 1, "{attempts:?}");
        if let Some(attempt) = attempts.first() {
            assert!(
                stopping(attempt),
                "round {round}: {attempt} {reaped} {cancelled}"
            );
            assert_eq!(record(&app, &second).await["cancel"]["by"], OPERATOR);
        } else {
            assert_eq!(cancelled["retry"], second.as_str(), "{cancelled}");
        }
    }
    app.stop().await;
}
