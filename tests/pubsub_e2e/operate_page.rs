//! The operators' buttons in a real browser: headless chromium, driven over the DevTools
//! protocol, clicks "Run now" on the service's `/runs` page, watches the run appear in the
//! list, cancels it from its page while papermill runs it, and reruns it with new parameters.
//! Every request carries what `gcloud run services proxy` adds (the operator's identity token
//! as Cloud Run forwards it), so the forms pass as an operator's, with the browser's own
//! Fetch Metadata headers and each page's form tokens.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;

use crate::chromium::Chromium;
use crate::deployment::{Deployment, finished};
use crate::devtools::Browser;
use crate::fake_gcs::FakeGcs;
use crate::history_page::screenshot_path;
use crate::operate::{notebooks, profiles, record_when};
use crate::papermill::papermill;
use crate::runs::stage;

const OPERATOR: &str = "ops@example.com";

/// The operator's identity token as Cloud Run forwards it from the proxy: checked there, its
/// signature replaced.
fn forwarded_token() -> String {
    let encode = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let exp = jiff::Timestamp::now().as_second() + 3600;
    format!(
        "Bearer {}.{}.SIGNATURE_REMOVED_BY_GOOGLE",
        encode(json!({"alg": "RS256", "kid": "k"})),
        encode(
            json!({"iss": "https://accounts.google.com", "exp": exp, "email": OPERATOR,
                      "email_verified": true, "aud": notebook_trigger::http::GCLOUD_CLIENT_ID})
        )
    )
}

/// Waits for a navigation that `act` starts to end on a page whose path starts with `path`.
fn navigates(browser: &mut Browser, path: &str, act: impl FnOnce(&mut Browser)) {
    browser.eval("window.beforeClick = true");
    act(browser);
    browser.until(&format!(
        "window.beforeClick === undefined && document.readyState == 'complete' \
         && location.pathname.startsWith({})",
        json!(path)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_runs_now_cancels_and_reruns_from_the_pages() {
    if !papermill() || Chromium::find().is_none() {
        return;
    }
    let Some(gcs) = FakeGcs::start().await else {
        return;
    };
    let (storage, notebooks) = stage(&gcs, notebooks()).await;
    let extra = [
        ("RUNS_AUTH", String::new()),
        ("RUNS_OPERATORS", OPERATOR.to_owned()),
    ];
    let deployed = Deployment::unsubscribed(&gcs, &notebooks, &profiles(), &extra);
    let base = deployed.service.endpoint();
    let base = base.trim_end_matches('/');
    let token = forwarded_token();
    let browser = tokio::task::block_in_place(|| {
        Browser::start(&[("X-Serverless-Authorization", token.as_str())])
    });
    let mut browser = browser;

    // "Run now" of the slow profile, then the run in the list.
    let run = tokio::task::block_in_place(|| {
        browser.open(&format!("{base}/runs"));
        browser.choose("#run-now select[name=profile]", "slow");
        navigates(&mut browser, "/runs/r", |b| b.click("#run-now button"));
        let run = browser.eval("location.pathname.split('/')[2]");
        browser.open(&format!("{base}/runs"));
        browser.until(&format!("document.querySelector('tr[data-run={run}]')"));
        run.as_str().unwrap().to_owned()
    });
    let launched = record_when(&storage, &run, Duration::from_secs(10), |_| true).await;
    assert_eq!(
        launched["origin"],
        json!({"kind": "run_now", "by": OPERATOR})
    );
    let instance = launched["instance"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !notebooks
        .console(&instance)
        .contains("papermill slow.ipynb")
    {
        assert!(
            Instant::now() < deadline,
            "{}",
            notebooks.console(&instance)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // "Cancel" on its page: the runner reports cancelled, and the page says who.
    let page = format!("{base}/runs/{run}");
    tokio::task::block_in_place(|| {
        browser.open(&page);
        navigates(&mut browser, &format!("/runs/{run}"), |b| {
            b.click("#cancel button")
        });
    });
    let cancelled = record_when(&storage, &run, Duration::from_secs(60), finished).await;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled:#}");
    assert_eq!(cancelled["cancel"]["by"], OPERATOR);
    tokio::task::block_in_place(|| {
        browser.open(&page);
        browser.until("document.querySelector('h1 .state.cancelled')");
        let text = browser.eval("document.getElementById('fields').innerText");
        assert!(text.as_str().unwrap().contains(OPERATOR), "{text}");
        assert_eq!(browser.eval("!!document.getElementById('cancel')"), false);
        browser.screenshot(&screenshot_path("operators-cancelled-run.png"));
    });

    // "Rerun" with new parameters: a new run of the same notebook, linked to this one.
    let rerun = tokio::task::block_in_place(|| {
        browser.type_into("#rerun input[name=parameters]", r#"{"x": 2}"#);
        navigates(&mut browser, "/runs/r", |b| b.click("#rerun button"));
        browser.eval("location.pathname.split('/')[2]")
    });
    let rerun = rerun.as_str().unwrap().to_owned();
    assert_ne!(rerun, run);
    let record = record_when(&storage, &rerun, Duration::from_secs(10), |_| true).await;
    assert_eq!(
        record["origin"],
        json!({"kind": "rerun", "of": run, "by": OPERATOR})
    );
    assert_eq!(record["parameters"]["x"], 2);
    tokio::task::block_in_place(|| {
        browser.open(&format!("{base}/runs"));
        browser.until(&format!("document.querySelector('tr[data-run={rerun}]')"));
        browser.screenshot(&screenshot_path("operators-run-history.png"));
    });
    eprintln!(
        "screenshots: {}",
        screenshot_path("operators-run-history.png").display()
    );
}
