//! `GET /runs` and `GET /runs/{run id}` over a real socket: records seeded in the emulator's
//! Cloud Storage, answered as JSON or, for a browser's `Accept`, as HTML; filters and their
//! refusals; and who may read (an allow-list on Google-signed tokens, or explicitly off).

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{TestApp, json};
use crate::run_launch::spawn_runs;
use crate::tokens::{self, Issuer, bearer, claims_with};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const READER: &str = "ana@example.com";
const GCLOUD_AUDIENCE: &str = notebook_trigger::http::GCLOUD_CLIENT_ID;

fn id(n: u8) -> String {
    format!("r{n:016x}")
}

fn ago(hours: i64) -> String {
    (Timestamp::now() - SignedDuration::from_hours(hours)).to_string()
}

/// Writes run `n`'s record (with `changes`) and an output beside it, as a finished run has.
async fn seed(app: &TestApp, n: u8, changes: Value) {
    let run = id(n);
    let mut record = json!({
        "schema": 1, "run_id": run, "trigger": "pubsub", "message_id": n.to_string(),
        "profile": "default", "notebook": "gs://runs-bucket/nb/seed.ipynb", "parameters": {},
        "instance": format!("projects/test-project/locations/us-central1-a/instances/i{n}"),
        "output": format!("gs://runs-bucket/runs/{run}/"),
        "launched": ago(2), "started": ago(2), "finished": ago(1), "state": "succeeded",
        "exit_code": 0, "outputs": [format!("gs://runs-bucket/runs/{run}/outputs/output.csv")],
        "log_tail": "all good",
    });
    for (k, v) in changes.as_object().unwrap() {
        record[k] = v.clone();
    }
    let storage = app.emulator.state().local_storage().unwrap();
    storage.put(
        "runs-bucket",
        &format!("{}/runs/{run}.json", notebook_trigger::run::RECORDS_PREFIX),
        "application/json",
        serde_json::to_vec(&record).unwrap(),
    );
    storage.put(
        "runs-bucket",
        &format!("runs/{run}/outputs/output.csv"),
        "application/octet-stream",
        b"a,b\n".to_vec(),
    );
}

/// A service with three runs: a success an hour ago, a hostile failure of `weekly` just
/// now, and a success a month ago.
async fn with_runs(extra: &[(&str, &str)]) -> TestApp {
    let app = spawn_runs(extra).await;
    seed(&app, 1, json!({})).await;
    seed(
        &app,
        2,
        json!({"profile": "weekly", "state": "failed", "exit_code": 1, "launched": ago(0),
               "error": "<script>alert('x')</script>", "log_tail": "Traceback\nValueError: bad"}),
    )
    .await;
    seed(&app, 3, json!({"launched": ago(24 * 30)})).await;
    app
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.http.get(format!("{}{path}", app.address));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.expect("the service answers")
}

fn run_ids(answer: &Value) -> Vec<&str> {
    answer["runs"]
        .as_array()
        .expect("a list of runs")
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn runs_are_listed_as_json_newest_first_and_filtered_as_the_command_line_filters() {
    let app = with_runs(&[("RUNS_AUTH", "off")]).await;
    let (status, all) = json(get(&app, "/runs", &[]).await).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(run_ids(&all), [id(2), id(1), id(3)]);
    assert_eq!(all["matched"], 3);
    assert_eq!(all["runs"][1]["status"], "succeeded");
    assert_eq!(all["runs"][1]["duration_seconds"], 3600);

    let cases = [
        ("/runs?state=failed", vec![id(2)], 1),
        ("/runs?profile=default", vec![id(1), id(3)], 2),
        ("/runs?since=7d", vec![id(2), id(1)], 2),
        ("/runs?since=7d&limit=1", vec![id(2)], 2),
        ("/runs?state=timed-out", vec![], 0),
    ];
    for (path, expected, matched) in cases {
        let (status, answer) = json(get(&app, path, &[("accept", "application/json")]).await).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(run_ids(&answer), expected, "{path}");
        assert_eq!(answer["matched"], matched, "{path}");
    }
    for (path, names) in [
        ("/runs?since=yesterday", "since"),
        ("/runs?state=done", "state"),
        ("/runs?limit=many", "limit"),
        ("/runs?colour=red", "colour"),
    ] {
        let (status, answer) = json(get(&app, path, &[]).await).await;
        assert_eq!(status, 400, "{path}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(names), "{path}: {error}");
    }
}

#[tokio::test]
async fn one_run_is_shown_with_its_objects_and_a_wrong_or_unknown_id_is_refused() {
    let app = with_runs(&[("RUNS_AUTH", "off")]).await;
    let (status, run) = json(get(&app, &format!("/runs/{}", id(2)), &[]).await).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["state"], "failed");
    assert_eq!(run["log_tail"], "Traceback\nValueError: bad");
    let objects: Vec<&str> = run["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(
        objects.contains(&format!("gs://runs-bucket/runs/{}/outputs/output.csv", id(2)).as_str()),
        "{objects:?}"
    );
    let (status, answer) = json(get(&app, "/runs/not-a-run", &[]).await).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("not a run id"));
    let (status, answer) = json(get(&app, &format!("/runs/{}", id(9)), &[]).await).await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains(&id(9)));
}

#[tokio::test]
async fn a_browser_gets_the_pages_with_record_values_escaped() {
    let app = with_runs(&[("RUNS_AUTH", "off")]).await;
    let response = get(&app, "/runs", &[("accept", BROWSER)]).await;
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    assert_eq!(response.headers()["vary"], "accept");
    let html = response.text().await.unwrap();
    for n in [1, 2, 3] {
        assert!(
            html.contains(&format!("<a href=\"/runs/{0}\">{0}</a>", id(n))),
            "{html}"
        );
    }
    assert!(html.contains("<span class=\"state failed\">failed</span>"));
    // The emulator's storage serves the outputs: the links go there.
    let storage = app.emulator.storage_url();
    assert!(
        html.contains(&format!(
            "href=\"{}/storage/v1/b/runs-bucket/o/runs%2F{}%2Foutputs%2Foutput.csv?alt=media\"",
            storage.trim_end_matches('/'),
            id(1)
        )),
        "{html}"
    );

    let page = get(&app, &format!("/runs/{}", id(2)), &[("accept", BROWSER)]).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<pre id=\"log\">Traceback\nValueError: bad</pre>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    let linked = app.http.get(
        html.split("<ul id=\"objects\">")
            .nth(1)
            .unwrap()
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&"),
    );
    assert_eq!(
        linked.send().await.unwrap().status(),
        200,
        "an object link opens"
    );
}

#[tokio::test]
async fn only_listed_accounts_read_with_a_google_token_or_the_one_cloud_run_forwards() {
    let issuer = Issuer::start().await;
    let jwks = issuer.jwks_url.clone();
    let app = with_runs(&[("RUNS_READERS", READER), ("PUSH_AUTH_JWKS_URL", &jwks)]).await;
    let token =
        |email: &str, aud: &str| tokens::google(&claims_with(json!({"email": email, "aud": aud})));
    let status = |headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = get(app, "/runs", &headers).await;
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let (code, body) = status(vec![]).await;
    assert_eq!(code, 401, "no token: {body}");
    let (code, body) = status(vec![(
        "authorization",
        bearer(&token("bob@example.com", GCLOUD_AUDIENCE)),
    )])
    .await;
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("bob@example.com") && body.contains("RUNS_READERS"),
        "{body}"
    );
    let (code, body) = status(vec![(
        "authorization",
        bearer(&token(READER, GCLOUD_AUDIENCE)),
    )])
    .await;
    assert_eq!(code, 200, "a listed account: {body}");
    let (code, body) = status(vec![(
        "authorization",
        bearer(&token(READER, tokens::AUDIENCE)),
    )])
    .await;
    assert_eq!(code, 401, "another audience: {body}");

    // What Cloud Run hands the container from `gcloud run services proxy`: the token it checked,
    // in X-Serverless-Authorization, its signature replaced.
    let forwarded = |email: &str| {
        let signed = token(email, GCLOUD_AUDIENCE);
        let unsigned = signed.rsplit_once('.').unwrap().0;
        bearer(&format!("{unsigned}.SIGNATURE_REMOVED_BY_GOOGLE"))
    };
    let (code, body) = status(vec![("x-serverless-authorization", forwarded(READER))]).await;
    assert_eq!(code, 200, "through the proxy: {body}");
    let (code, body) = status(vec![(
        "x-serverless-authorization",
        forwarded("bob@example.com"),
    )])
    .await;
    assert_eq!(code, 403, "{body}");
    let (code, _) = status(vec![(
        "x-serverless-authorization",
        bearer(&tokens::foreign(
            &claims_with(json!({"email": READER, "aud": GCLOUD_AUDIENCE})),
            "google-key-1",
        )),
    )])
    .await;
    assert_eq!(code, 401, "a signature that is there is verified");
}

#[tokio::test]
async fn unconfigured_reading_is_refused_naming_both_settings() {
    let app = with_runs(&[]).await;
    let (status, answer) = json(get(&app, "/runs", &[]).await).await;
    assert_eq!(status, 403, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("RUNS_READERS") && error.contains("RUNS_AUTH=off"),
        "{error}"
    );
    let (status, _) = json(get(&app, &format!("/runs/{}", id(1)), &[]).await).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_browser_is_refused_with_a_page_that_says_why() {
    let closed = with_runs(&[]).await;
    let refused = get(&closed, "/runs", &[("accept", BROWSER)]).await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = refused.text().await.unwrap();
    assert!(html.contains("<h1>403 Forbidden</h1>"), "{html}");
    assert!(html.contains("RUNS_READERS"), "{html}");

    let open = with_runs(&[("RUNS_AUTH", "off")]).await;
    let unknown = id(9);
    let missing = format!("/runs/{unknown}");
    for (path, status, said) in [
        ("/runs?since=yesterday", 400, "since: `yesterday`"),
        ("/runs/%3Cb%3E", 400, "`&lt;b&gt;` is not a run id"),
        (missing.as_str(), 404, unknown.as_str()),
    ] {
        let answer = get(&open, path, &[("accept", BROWSER)]).await;
        assert_eq!(answer.status(), status, "{path}");
        let html = answer.text().await.unwrap();
        assert!(html.contains(said), "{path}: {html}");
        assert!(!html.contains("<b>"), "{path}: {html}");
    }
}

/// Every page (the list, a run, a refusal) carries the content security policy and its
/// companions; JSON answers carry `nosniff`.
#[tokio::test]
async fn pages_carry_a_content_security_policy_and_every_answer_nosniff() {
    let open = with_runs(&[("RUNS_AUTH", "off")]).await;
    let closed = with_runs(&[]).await;
    let page = format!("/runs/{}", id(1));
    let pages = [
        (&open, "/runs", 200),
        (&open, page.as_str(), 200),
        (&open, "/runs?since=yesterday", 400),
        (&closed, "/runs", 403),
    ];
    for (app, path, status) in pages {
        let response = get(app, path, &[("accept", "text/html")]).await;
        assert_eq!(response.status(), status, "{path}");
        let headers = response.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(
            headers["content-security-policy"],
            notebook_trigger::http::PAGE_POLICY,
            "{path}"
        );
        let policy = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(policy.contains(directive), "{policy}");
        }
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    for path in ["/runs", page.as_str(), "/runs/not-a-run"] {
        let response = get(&open, path, &[("accept", "application/json")]).await;
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
    let pushed = open.post(&crate::helpers::push_body("h-1", "x")).await;
    assert_eq!(pushed.headers()["x-content-type-options"], "nosniff");
}

/// `notebook-trigger runs ARGS --service ADDRESS` with nothing else configured.
async fn runs_via(app: &TestApp, args: &[&str]) -> crate::child::Finished {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_notebook-trigger"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("runs")
        .args(args)
        .args(["--service", &app.address]);
    tokio::task::spawn_blocking(move || {
        crate::child::run_bounded(&mut command, std::time::Duration::from_secs(30))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_shows_what_the_service_shows_and_its_refusals() {
    let app = with_runs(&[("RUNS_AUTH", "off")]).await;
    let (_, served) = json(get(&app, "/runs?state=succeeded", &[]).await).await;
    let listed = runs_via(&app, &["--state", "succeeded", "--json"]).await;
    assert!(listed.status.success(), "{}", listed.stderr);
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(run_ids(&listed), run_ids(&served));
    assert_eq!(run_ids(&listed), [id(1), id(3)]);

    let table = runs_via(&app, &["--limit", "1"]).await;
    assert!(table.status.success(), "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[1].starts_with(&id(2)), "{}", table.stdout);
    assert_eq!(lines[2], "1 of 3 runs (--limit 1)");

    let shown = runs_via(&app, &["show", &id(2)]).await;
    assert!(shown.status.success(), "{}", shown.stderr);
    assert!(shown.stdout.contains("ValueError: bad"), "{}", shown.stdout);
    let unknown = runs_via(&app, &["show", &id(9)]).await;
    assert!(!unknown.status.success());
    assert!(
        unknown.stderr.contains("404") && unknown.stderr.contains(&id(9)),
        "{}",
        unknown.stderr
    );

    let closed = with_runs(&[]).await;
    let refused = runs_via(&closed, &[]).await;
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("403") && refused.stderr.contains("RUNS_READERS"),
        "{}",
        refused.stderr
    );
}
