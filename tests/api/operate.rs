//! An operator's rerun, cancel and "run now" through the HTTP API over a real socket: JSON
//! from a program, forms from the pages with their tokens, the checks of who and from where,
//! and a cancel racing a runner's report, or left half done by a process that died.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, json};
use crate::reap::{reaper, wait_active};
use crate::run_launch::{record, spawn_runs};
use crate::runs::{
    self, create_instance, report, run_id, runs_app, send, state_of, token, write_record,
};
use crate::tokens::{self, Issuer, bearer, claims_with};

pub const OPERATOR: &str = "ops@example.com";
const OTHER_OPERATOR: &str = "oli@example.com";
const READER: &str = "ana@example.com";
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn google(email: &str) -> String {
    bearer(&tokens::google(&claims_with(json!({
        "email": email, "aud": notebook_trigger::http::GCLOUD_CLIENT_ID
    }))))
}

pub fn operators(issuer: &Issuer) -> Vec<(&'static str, String)> {
    vec![
        ("RUNS_READERS", READER.to_owned()),
        ("RUNS_OPERATORS", format!("{OPERATOR},{OTHER_OPERATOR}")),
        ("PUSH_AUTH_JWKS_URL", issuer.jwks_url.clone()),
    ]
}

async fn with_operators(issuer: &Issuer) -> TestApp {
    let vars = operators(issuer);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_runs(&vars).await
}

/// `POST path` with a JSON `body` as `who`, with more `headers`.
pub async fn act(
    app: &TestApp,
    path: &str,
    who: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}{path}", app.address))
        .header("authorization", google(who))
        .json(&body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    json(request.send().await.unwrap()).await
}

/// A form posted as a browser posts it from the service's own page: the status and where it
/// leads.
async fn post_form(app: &TestApp, path: &str, who: &str, form: &[(&str, &str)]) -> (u16, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(format!("{}{path}", app.address))
        .header("authorization", google(who))
        .header("sec-fetch-site", "same-origin")
        .header("origin", "null")
        .header("accept", BROWSER)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    match response.headers().get("location") {
        Some(location) => (status, location.to_str().unwrap().to_owned()),
        None => (status, response.text().await.unwrap()),
    }
}

/// The page at `path` as `who`'s browser gets it.
pub async fn page(app: &TestApp, path: &str, who: &str) -> String {
    let response = app
        .http
        .get(format!("{}{path}", app.address))
        .header("authorization", google(who))
        .header("accept", BROWSER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The token of the form `id` on `html`.
fn form_token(html: &str, id: &str) -> String {
    let form = html
        .split(&format!("id=\"{id}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("no form {id}: {html}"));
    form.split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reruns_and_runs_now_through_the_api_and_a_repeated_request_starts_one_run() {
    let issuer = Issuer::start().await;
    let app = with_operators(&issuer).await;
    let (status, pushed) = app.push("8001", "TweetiNoteStartTopic").await;
    assert_eq!(status, 200, "{pushed}");
    let old = pushed["run_id"].as_str().unwrap().to_owned();

    let rerun = json!({"parameters": {"rows": 5}, "request": "req-1"});
    let path = format!("/runs/{old}/rerun");
    let (status, answer) = act(&app, &path, OPERATOR, rerun.clone(), &[]).await;
    assert_eq!(status, 200, "{answer}");
    let new = answer["run_id"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(answer["outcome"], "created", "{answer}");
    let recorded = record(&app, &new).await;
    assert_eq!(
        recorded["origin"],
        json!({"kind": "rerun", "of": old, "by": OPERATOR})
    );
    assert_eq!(
        recorded["parameters"],
        json!({"rows": 5, "label": "default"})
    );
    let (status, again) = act(&app, &path, OPERATOR, rerun, &[]).await;
    assert_eq!((status, &again["run_id"]), (200, &json!(new)), "{again}");
    assert_eq!(app.instances().len(), 2, "one run per request");

    let now = json!({"profile": "default", "parameters": {"rows": 9}, "request": "now-1"});
    let (status, answer) = act(&app, "/runs/start", OPERATOR, now, &[]).await;
    assert_eq!(status, 200, "{answer}");
    let started = answer["run_id"].as_str().unwrap();
    let recorded = record(&app, started).await;
    assert_eq!(
        recorded["origin"],
        json!({"kind": "run_now", "by": OPERATOR})
    );
    assert_eq!(recorded["parameters"]["rows"], 9);

    let (status, answer) = act(&app, &path, READER, json!({}), &[]).await;
    assert_eq!(status, 403, "a reader is not an operator: {answer}");
    assert!(answer["error"].as_str().unwrap().contains("RUNS_OPERATORS"));
    let cross = [("sec-fetch-site", "cross-site")];
    let (status, answer) = act(&app, &path, OPERATOR, json!({}), &cross).await;
    assert_eq!(status, 403, "{answer}");
    let unknown = json!({"profile": "nope", "request": "now-2"});
    let (status, answer) = act(&app, "/runs/start", OPERATOR, unknown, &[]).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("`nope`"),
        "{answer}"
    );
    let missing = format!("/runs/{}/rerun", run_id(0x99));
    let (status, answer) = act(&app, &missing, OPERATOR, json!({}), &[]).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(app.instances().len(), 3, "no refusal started anything");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_needs_its_pages_token_and_posted_twice_starts_one_run() {
    let issuer = Issuer::start().await;
    let app = with_operators(&issuer).await;
    let list = page(&app, "/runs", OPERATOR).await;
    let token = form_token(&list, "run-now");
    assert!(
        !page(&app, "/runs", READER).await.contains("id=\"run-now\""),
        "a reader gets no buttons"
    );
    let form = [
        ("profile", "default"),
        ("parameters", r#"{"rows": 4}"#),
        ("token", token.as_str()),
    ];
    let (status, location) = post_form(&app, "/runs/start", OPERATOR, &form).await;
    assert_eq!(status, 303, "{location}");
    let run = location.strip_prefix("/runs/").unwrap().to_owned();
    assert_eq!(record(&app, &run).await["parameters"]["rows"], 4);
    let (status, again) = post_form(&app, "/runs/start", OPERATOR, &form).await;
    assert_eq!((status, again), (303, location.clone()), "one run per form");
    assert_eq!(app.instances().len(), 1);

    let (status, body) = post_form(&app, "/runs/start", OTHER_OPERATOR, &form).await;
    assert_eq!(status, 403, "another operator's token: {body}");
    let untokened = [("profile", "default")];
    let (status, body) = post_form(&app, "/runs/start", OPERATOR, &untokened).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("the form has no token"), "{body}");

    // A run's page: its rerun form, whose token is for that run alone.
    let shown = page(&app, &location, OPERATOR).await;
    let rerun = form_token(&shown, "rerun");
    assert!(
        shown.contains("id=\"cancel\""),
        "a running run can be cancelled"
    );
    let (status, body) = post_form(&app, "/runs/start", OPERATOR, &[("token", &rerun)]).await;
    assert_eq!(status, 403, "a rerun's token does not start: {body}");
    let form = [("parameters", r#"{"rows": 6}"#), ("token", rerun.as_str())];
    let (status, rerun_page) = post_form(&app, &format!("{location}/rerun"), OPERATOR, &form).await;
    assert_eq!(status, 303, "{rerun_page}");
    let rerun_run = rerun_page.strip_prefix("/runs/").unwrap();
    assert_eq!(record(&app, rerun_run).await["parameters"]["rows"], 6);
    assert_eq!(app.instances().len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_records_who_and_stops_the_instance_and_an_ended_run_is_left_as_it_is() {
    let issuer = Issuer::start().await;
    let app = with_operators(&issuer).await;
    let (_, pushed) = app.push("8101", "TweetiNoteStartTopic").await;
    let run = pushed["run_id"].as_str().unwrap().to_owned();
    let instance = pushed["instance"].as_str().unwrap().to_owned();
    let path = format!("/runs/{run}/cancel");
    let (status, answer) = act(&app, &path, OPERATOR, json!({}), &[]).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        (&answer["cancel"]["by"], &answer["repeated"]),
        (&json!(OPERATOR), &json!(false))
    );
    let recorded = record(&app, &run).await;
    assert_eq!(recorded["cancel"]["by"], OPERATOR, "{recorded}");
    assert_eq!(recorded["state"], "launched", "its runner has yet to say");
    let stopped = app
        .instances()
        .into_iter()
        .find(|i| i["name"] == instance.as_str())
        .unwrap();
    assert!(
        matches!(stopped["state"].as_str(), Some("STOPPING" | "STOPPED")),
        "{stopped}"
    );
    let (status, answer) = act(&app, &path, OTHER_OPERATOR, json!({}), &[]).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["repeated"], true);
    assert_eq!(answer["cancel"]["by"], OPERATOR, "the first cancel stays");

    // A run that has ended is left as it is, and the answer says how it ended.
    let storage = crate::runs::storage(&app);
    let object = format!("{}/runs/{run}.json", notebook_trigger::run::RECORDS_PREFIX);
    let mut ended = record(&app, &run).await;
    ended["state"] = json!("succeeded");
    ended.as_object_mut().unwrap().remove("cancel");
    let bytes = serde_json::to_vec(&ended).unwrap();
    storage
        .upload("runs-bucket", &object, "application/json", bytes)
        .await
        .unwrap();
    let (status, answer) = act(&app, &path, OPERATOR, json!({}), &[]).await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("has ended already (succeeded): nothing was changed"),
        "{answer}"
    );
    assert_eq!(record(&app, &run).await, ended, "unchanged");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_racing_a_report_leaves_one_outcome_and_the_record_says_which() {
    let issuer = Issuer::start().await;
    let mut vars = operators(&issuer);
    vars.extend([
        ("POST_STARTUP_SCRIPT", String::new()),
        ("NOTEBOOK", format!("gs://{}/nb/seed.ipynb", runs::BUCKET)),
        ("NOTEBOOK_OUTPUT", format!("gs://{}/runs", runs::BUCKET)),
        ("RUNNER_SCRIPT", format!("gs://{}/token.sh", runs::BUCKET)),
    ]);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = runs_app(&vars).await;
    for n in 0..4_u8 {
        let run = run_id(0x40 + n);
        let id = format!("nb-race-{n}");
        create_instance(&app, &id, &run, true, true).await;
        write_record(&app, &run, &id).await;
        let token = token(&app, &id, "service").await;
        let path = format!("/runs/{run}/cancel");
        let body = report(&run, "succeeded");
        let (cancel, reported) = tokio::join!(
            act(&app, &path, OPERATOR, json!({}), &[]),
            send(&app, &run, Some(&token), &body)
        );
        assert_eq!(reported.0, 200, "{reported:?}");
        let recorded = runs::record(&app, &run).await;
        assert_eq!(
            recorded["state"], "succeeded",
            "the report stands: {recorded}"
        );
        match cancel.0 {
            202 => assert_eq!(recorded["cancel"]["by"], OPERATOR, "{recorded}"),
            409 => assert!(recorded.get("cancel").is_none(), "{recorded}"),
            other => panic!("{other}: {cancel:?}"),
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_whose_stop_never_happened_is_finished_by_the_reaper_as_cancelled() {
    let app = runs_app(&[]).await;
    let run = run_id(0x50);
    create_instance(&app, "nb-half", &run, true, true).await;
    write_record(&app, &run, "nb-half").await;
    wait_active(&app, &["nb-half"]).await;
    // The process recorded the cancel and died before the stop.
    let mut asked = runs::record(&app, &run).await;
    asked["cancel"] = json!({"by": OPERATOR, "at": "2026-12-01T10:03:00Z"});
    runs::storage(&app)
        .upload(
            runs::BUCKET,
            &runs::record_object(&run),
            "application/json",
            serde_json::to_vec(&asked).unwrap(),
        )
        .await
        .unwrap();
    let reaped = reaper(&app).reap(jiff::Timestamp::now(), false).await;
    assert_eq!(reaped.verdicts.len(), 1, "{reaped:?}");
    assert!(
        reaped.verdicts[0]
            .verdict
            .reason
            .contains("cancelled by ops@example.com"),
        "{reaped:?}"
    );
    let recorded = runs::record(&app, &run).await;
    assert_eq!(recorded["state"], "cancelled", "{recorded}");
    assert!(
        recorded["error"]
            .as_str()
            .unwrap()
            .starts_with("cancelled by ops@example.com"),
        "{recorded}"
    );
    assert_eq!(recorded["cleanup"]["by"], "reaper", "{recorded}");
    for _ in 0..100 {
        if state_of(&app, "nb-half").as_deref() == Some("STOPPED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state_of(&app, "nb-half").as_deref(), Some("STOPPED"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_the_instance_is_created_stops_it_once_it_is_up() {
    let issuer = Issuer::start().await;
    let app = with_operators(&issuer).await;
    let push = app.push("8102", "TweetiNoteStartTopic");
    let cancel_when_recorded = async {
        // The record is written before the create: cancel as soon as it is there.
        let storage = runs::storage(&app);
        let run = loop {
            let listed = storage
                .list("runs-bucket", notebook_trigger::run::RECORDS_PREFIX)
                .await
                .unwrap();
            if let Some(object) = listed.first() {
                let name = object.rsplit('/').next().unwrap();
                break name.trim_end_matches(".json").to_owned();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        act(
            &app,
            &format!("/runs/{run}/cancel"),
            OPERATOR,
            json!({}),
            &[],
        )
        .await
    };
    let ((status, pushed), (cancel_status, cancelled)) = tokio::join!(push, cancel_when_recorded);
    assert_eq!(status, 200, "{pushed}");
    assert_eq!(cancel_status, 202, "{cancelled}");
    assert_eq!(
        cancelled["being_created"], true,
        "the API stops no instance it creates: {cancelled}"
    );
    let instance = pushed["instance"].as_str().unwrap();
    let state = app
        .instances()
        .into_iter()
        .find(|i| i["name"] == instance)
        .map(|i| i["state"].clone());
    assert!(
        matches!(
            state.as_ref().and_then(Value::as_str),
            Some("STOPPING" | "STOPPED")
        ),
        "the launch stopped it once it was up: {state:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_now_counts_against_the_launches_in_progress() {
    let issuer = Issuer::start().await;
    let mut vars = operators(&issuer);
    vars.push(("MAX_CONCURRENT_LAUNCHES", "1".to_owned()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_runs(&vars).await;
    app.emulator.set_provision_time(Duration::from_millis(1500));
    let message = app.push("8103", "TweetiNoteStartTopic");
    let operator = async {
        while app.emulator.request_count() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let body = json!({"profile": "default", "request": "busy-1"});
        act(&app, "/runs/start", OPERATOR, body, &[]).await
    };
    let ((status, pushed), (busy, answer)) = tokio::join!(message, operator);
    assert_eq!(status, 200, "{pushed}");
    assert_eq!(
        busy, 429,
        "the one launch allowed is the message's: {answer}"
    );
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("MAX_CONCURRENT_LAUNCHES"),
        "{answer}"
    );
    app.emulator.set_provision_time(Duration::from_millis(50));
    let body = json!({"profile": "default", "request": "busy-1"});
    let (status, answer) = act(&app, "/runs/start", OPERATOR, body, &[]).await;
    assert_eq!(status, 200, "once the message's launch ended: {answer}");
    app.stop().await;
}
