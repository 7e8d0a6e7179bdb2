//! Notifications over real sockets: a local receiver in the test is told of each outcome (a
//! report's, and the reaper's `unreported` and `lost`), in the profile's format, from a URL in
//! the profile or in the emulator's Secret Manager; a receiver that fails twice gets it on the
//! third try; one that hangs holds up neither the report's answer nor the service's stop; and
//! of two reaps that find the same run overdue, one announces it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::routing::post;
use notebook_trigger::credentials::Credentials;
use notebook_trigger::profile::{Fields, Profiles};
use notebook_trigger::run::notify::{Notifier, parse_rules};
use notebook_trigger::secret_manager::SecretManager;
use notebook_trigger::webhook::{Retry, Webhooks};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::helpers::{PROJECT, TestApp, refused_start};
use crate::local_server::LocalServer;
use crate::reap::reaper_of;
use crate::runs::{
    SERVICE, create_instance, record, report, run_id, runs_app, send, token, write_record,
};
use crate::secrets::seed_secret;

/// What a receiver was sent: the path and the body of each request, in order.
type Got = Arc<Mutex<Vec<(String, Value)>>>;

#[derive(Clone)]
struct Hook {
    got: Got,
    /// The status of the n-th request (the last one repeats).
    statuses: Arc<Vec<u16>>,
    count: Arc<AtomicUsize>,
    /// When set, each request waits for it before it is answered.
    hold: Option<Arc<Notify>>,
}

async fn hook(State(hook): State<Hook>, OriginalUri(uri): OriginalUri, body: Bytes) -> StatusCode {
    let n = hook.count.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    hook.got.lock().unwrap().push((uri.path().to_owned(), body));
    if let Some(hold) = &hook.hold {
        hold.notified().await;
    }
    let status = hook.statuses[n.min(hook.statuses.len() - 1)];
    StatusCode::from_u16(status).unwrap()
}

/// A webhook receiver on a free loopback port.
struct Receiver {
    server: LocalServer,
    got: Got,
}

impl Receiver {
    async fn start(statuses: &[u16], hold: Option<Arc<Notify>>) -> Self {
        let got = Got::default();
        let state = Hook {
            got: got.clone(),
            statuses: Arc::new(statuses.to_vec()),
            count: Arc::default(),
            hold,
        };
        let app = Router::new()
            .route("/{*path}", post(hook))
            .with_state(state);
        Self {
            server: LocalServer::start(app).await,
            got,
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Waits until `n` requests came, and returns them all.
    async fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        for _ in 0..300 {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "fewer than {n} notifications: {:?}",
            self.got.lock().unwrap()
        );
    }

    /// The body of the notification of `event` for `run`.
    async fn of(&self, run: &str, event: &str, total: usize) -> Value {
        let got = self.wait_for(total).await;
        got.into_iter()
            .map(|(_, body)| body)
            .find(|b| b["run_id"] == run && b["event"] == event)
            .unwrap_or_else(|| panic!("no {event} for {run}: {:?}", self.got.lock().unwrap()))
    }
}

/// A notifier of the default profile's `rules`, as start-up builds one for the service.
fn notifier(app: &TestApp, rules: &Value) -> Arc<Notifier> {
    let fields = Fields {
        notify: Some(serde_json::from_value(rules.clone()).unwrap()),
        ..Fields::default()
    };
    let rules = BTreeMap::from([(
        "default".to_owned(),
        parse_rules(&fields, &|_| None).unwrap(),
    )]);
    let secrets = SecretManager::new(
        reqwest::Client::new(),
        app.emulator.secretmanager_url().parse().unwrap(),
        Credentials::Anonymous,
    );
    Arc::new(Notifier::new(
        rules,
        Webhooks::new(Retry::default()).unwrap(),
        secrets,
        Some(SERVICE.to_owned()),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_is_notified_with_its_error_duration_attempt_and_link() {
    let receiver = Receiver::start(&[200], None).await;
    let notify = json!([
        {"url": receiver.url("/json"),
         "on": ["succeeded", "failed", "timed_out", "cancelled", "unreported"]},
        {"url_secret": format!("projects/{PROJECT}/secrets/chat-hook/versions/latest"),
         "on": ["failed"], "format": "slack"},
    ])
    .to_string();
    let app = runs_app(&[("NOTIFY", &notify), ("RUN_GRACE", "1s")]).await;
    let secret_manager = app.emulator.secretmanager_url();
    seed_secret(
        &secret_manager,
        PROJECT,
        "chat-hook",
        &receiver.url("/slack"),
    )
    .await;
    let outcomes = ["succeeded", "failed", "timed_out", "cancelled"];
    let runs: Vec<String> = (0..4).map(|n| run_id(0x60 + n)).collect();
    for (n, run) in runs.iter().enumerate() {
        create_instance(&app, &format!("nb-out-{n}"), run, true, true).await;
        write_record(&app, run, &format!("nb-out-{n}")).await;
    }
    let (stray, lost) = (run_id(0x70), run_id(0x71));
    create_instance(&app, "nb-stray", &stray, true, false).await;
    write_record(&app, &stray, "nb-stray").await;
    write_record(&app, &lost, "nb-never-made").await;
    for (n, (run, outcome)) in runs.iter().zip(outcomes).enumerate() {
        let token = token(&app, &format!("nb-out-{n}"), "service").await;
        let (status, answer) = send(&app, run, Some(&token), &report(run, outcome)).await;
        assert_eq!(status, 200, "{answer}");
    }
    // Past the stray's max_run_time (1 s) and RUN_GRACE, and the lost run's lost_after.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, answer) = app.push("reap-notify", r#"{"action":"reap"}"#).await;
    assert_eq!(status, 200, "{answer}");
    // The service's profile writes no records of its own: a reaper of the test's outputs,
    // with the same rules, finds the lost run.
    let lost_rules = json!([{"url": receiver.url("/json"), "on": ["lost"]}]);
    let notifier = notifier(&app, &lost_rules);
    let lost_reaper = reaper_of(&app, Duration::from_secs(2), |t| {
        t.with_notifier(notifier.clone())
    });
    let reaped = lost_reaper.reap(jiff::Timestamp::now(), false).await;
    assert_eq!(reaped.lost.len(), 1, "{reaped:?}");
    notifier.shutdown(Duration::from_secs(30)).await;

    for (run, outcome) in runs.iter().zip(outcomes) {
        let body = receiver.of(run, outcome, 7).await;
        assert_eq!(body["state"], outcome, "{body}");
        assert_eq!(body["attempt"], 1);
        assert_eq!(body["profile"], "default");
        assert_eq!(
            body["duration_seconds"], 240,
            "the report's start to finish"
        );
        assert_eq!(body["link"], format!("{SERVICE}/runs/{run}"));
        let error = if outcome == "succeeded" {
            ""
        } else {
            "papermill exited with 1"
        };
        assert_eq!(body["error"], error, "{body}");
    }
    let unreported = receiver.of(&stray, "unreported", 7).await;
    assert!(
        unreported["error"]
            .as_str()
            .unwrap()
            .starts_with("no report: up for"),
        "{unreported}"
    );
    let gone = receiver.of(&lost, "lost", 7).await;
    assert!(
        gone["error"]
            .as_str()
            .unwrap()
            .contains("nb-never-made is gone"),
        "{gone}"
    );
    assert_eq!(record(&app, &lost).await["state"], "lost");

    let slack: Vec<Value> = receiver
        .wait_for(7)
        .await
        .into_iter()
        .filter(|(path, _)| path == "/slack")
        .map(|(_, body)| body)
        .collect();
    assert_eq!(
        slack.len(),
        1,
        "the secret's URL gets failures only: {slack:?}"
    );
    let text = slack[0]["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        slack[0]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Run {} (profile default) failed", runs[1]))
            && text.contains("```papermill exited with 1```")
            && text.contains(&format!("<{SERVICE}/runs/{}|Open the run>", runs[1])),
        "{slack:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_twice_gets_the_notification_on_the_third_try() {
    let receiver = Receiver::start(&[503, 500, 200], None).await;
    let notify = json!([{"url": receiver.url("/hook"), "format": "google_chat"}]).to_string();
    let app = runs_app(&[("NOTIFY", &notify)]).await;
    let run = run_id(0x72);
    create_instance(&app, "nb-retried", &run, true, true).await;
    write_record(&app, &run, "nb-retried").await;
    let token = token(&app, "nb-retried", "service").await;
    let (status, answer) = send(&app, &run, Some(&token), &report(&run, "failed")).await;
    assert_eq!(status, 200, "{answer}");
    let got = receiver.wait_for(3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter().all(|(_, body)| body == &got[0].1),
        "the same body each time"
    );
    let text = got[2].1["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("*Run {run} (profile default) failed after 4m*")),
        "{text}"
    );
    assert_eq!(got[2].1.as_object().unwrap().len(), 1, "Chat's text only");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_holds_up_neither_the_report_nor_the_stop() {
    let hold = Arc::new(Notify::new());
    let receiver = Receiver::start(&[200], Some(hold.clone())).await;
    let notify = json!([{"url": receiver.url("/hook"), "on": ["failed"]}]).to_string();
    let app = runs_app(&[("NOTIFY", &notify)]).await;
    let run = run_id(0x73);
    create_instance(&app, "nb-hanging", &run, true, true).await;
    write_record(&app, &run, "nb-hanging").await;
    let token = token(&app, "nb-hanging", "service").await;
    // The receiver answers nothing until released, which happens only after the report's
    // answer: a report that waited for its notification would never be answered.
    let (status, answer) = send(&app, &run, Some(&token), &report(&run, "failed")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["repeated"], false, "{answer}");
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].1["event"], "failed");
    // Still held: the service stops within its own bounds all the same.
    app.stop().await;
    hold.notify_waiters();
}

#[tokio::test]
async fn start_up_names_a_bad_rule_and_how_to_fix_it() {
    let base = [
        ("GOOGLE_CLOUD_PROJECT", PROJECT),
        ("NOTEBOOK_LOCATION", "us-central1-a"),
        (
            "CONTAINER_IMAGE",
            "europe-west3-docker.pkg.dev/p/r/python-docker",
        ),
    ];
    for (notify, said) in [
        (
            r#"[{"url": "https://x.test/h", "format": "teams"}]"#,
            "NOTIFY: rule 1: format `teams` is not one of slack, google_chat, json",
        ),
        (
            r#"[{"url": "http://hooks.example.com/h"}]"#,
            "NOTIFY: rule 1: url is http:// to another machine",
        ),
        (
            r#"[{"url_env": "NO_SUCH_HOOK_VARIABLE"}]"#,
            "NOTIFY: rule 1: url_env NO_SUCH_HOOK_VARIABLE is not set",
        ),
        (
            r#"[{"url": "https://x.test/h", "on": ["failed", "exploded"]}]"#,
            "NOTIFY: rule 1: `exploded` in on is not an event",
        ),
    ] {
        let vars = [&base[..], &[("NOTIFY", notify)]].concat();
        let error = refused_start(&vars).await;
        assert!(error.contains(said), "{notify}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_reaps_that_find_a_run_overdue_one_announces_it() {
    let receiver = Receiver::start(&[200], None).await;
    let app = runs_app(&[]).await;
    let run = run_id(0x74);
    // Within max_run_time (its script keeps it at an hour), launched days ago.
    create_instance(&app, "nb-slow", &run, true, true).await;
    write_record(&app, &run, "nb-slow").await;
    crate::reap::wait_active(&app, &["nb-slow"]).await;
    let fields = Fields {
        expected_duration: Some("20m".into()),
        ..Fields::default()
    };
    let notifier = notifier(&app, &json!([{"url": receiver.url("/hook")}]));
    let reaper = || {
        reaper_of(&app, Duration::from_secs(3600), |t| {
            t.with_notifier(notifier.clone())
        })
        .with_overdue(Profiles::new(fields.clone()))
    };
    let (first, second) = (reaper(), reaper());
    let now = jiff::Timestamp::now();
    let (a, b) = tokio::join!(first.reap(now, false), second.reap(now, false));
    let mut results: Vec<&str> = a
        .overdue
        .iter()
        .chain(&b.overdue)
        .map(|o| o.result.as_str())
        .collect();
    results.sort_unstable();
    // The slower reap either lost the compare-and-swap (skipped) or read the
    // record after it was marked, and then does not list the run at all.
    assert_eq!(results.first(), Some(&"done"), "{a:?} {b:?}");
    assert!(
        results[1..].iter().all(|r| r.starts_with("skipped")) && results.len() <= 2,
        "{results:?}"
    );
    assert!(
        a.verdicts.is_empty() && b.verdicts.is_empty(),
        "an overdue run goes on"
    );
    notifier.shutdown(Duration::from_secs(30)).await;
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "announced once: {got:?}");
    assert_eq!(got[0].1["event"], "overdue");
    assert_eq!(got[0].1["run_id"], run);
    let recorded = record(&app, &run).await;
    assert_eq!(recorded["state"], "launched");
    assert_eq!(recorded["overdue_at"], got[0].1["overdue_at"]);
    // A later reap finds it announced already.
    let again = reaper().reap(jiff::Timestamp::now(), false).await;
    assert!(again.overdue.is_empty(), "{again:?}");
    app.stop().await;
}
