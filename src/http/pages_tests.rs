use super::*;
use crate::history::RunRow;
use crate::run::RunRecord;

const HOSTILE: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";

fn now() -> Timestamp {
    "2026-12-01T10:10:00Z".parse().unwrap()
}

fn record(changes: serde_json::Value) -> RunRecord {
    let mut record = serde_json::json!({
        "schema": 1, "run_id": "r0123456789abcdef", "trigger": "pubsub", "message_id": "17",
        "profile": "nightly", "notebook": "gs://b/nb/seed.ipynb", "parameters": {"rows": 3},
        "instance": "projects/p/locations/z/instances/i",
        "output": "gs://b/runs/r0123456789abcdef/",
        "launched": "2026-12-01T10:00:00Z", "state": "succeeded",
        "started": "2026-12-01T10:01:00Z", "finished": "2026-12-01T10:04:07Z", "exit_code": 0,
        "outputs": ["gs://b/runs/r0123456789abcdef/outputs/output.csv"],
        "log_tail": "done",
    });
    for (k, v) in changes.as_object().unwrap() {
        record[k] = v.clone();
    }
    serde_json::from_value(record).unwrap()
}

fn listing_of(rows: Vec<RunRow>) -> Listing {
    Listing {
        matched: rows.len() + 1,
        complete: true,
        runs: rows,
        warnings: vec![format!("zone z: {HOSTILE}")],
    }
}

#[test]
fn a_listing_shows_each_run_with_its_state_colour_duration_and_links() {
    let succeeded = RunRow::new(record(serde_json::json!({})), None, now());
    let running = RunRow::new(
        record(
            serde_json::json!({"run_id": "rfedcba9876543210", "state": "launched",
            "started": null, "finished": null, "exit_code": null, "outputs": []}),
        ),
        Some("ACTIVE".into()),
        now(),
    );
    let html = listing(
        &listing_of(vec![succeeded, running]),
        &FilterText::default(),
        &ObjectLinks::Console,
        &Controls::None,
    );
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<p id=\"count\">2 of 3 runs</p>"), "{html}");
    assert!(
        html.contains("<a href=\"/runs/r0123456789abcdef\">r0123456789abcdef</a>"),
        "{html}"
    );
    assert!(html.contains("<span class=\"state succeeded\">succeeded</span>"));
    assert!(html.contains("<span class=\"state running\">running</span>"));
    assert!(html.contains(">3m 07s<"), "the run's own duration: {html}");
    assert!(
        html.contains(">10m 00s<"),
        "a running run's, from launch: {html}"
    );
    assert!(html.contains(">2026-12-01 10:01:00 UTC<"), "{html}");
    assert!(
        html.contains(
            "<a href=\"https://console.cloud.google.com/storage/browser/_details/b/runs/r0123456789abcdef/outputs/output.csv\">outputs/output.csv</a>"
        ),
        "{html}"
    );
    assert!(
        html.contains(".succeeded{background:#1a7f37}"),
        "state colours"
    );
    assert!(!html.contains("<script"), "no script of its own: {html}");
}

#[test]
fn hostile_record_values_are_text_never_markup() {
    let hostile = record(serde_json::json!({
        "profile": HOSTILE, "trigger": HOSTILE, "notebook": HOSTILE, "error": HOSTILE,
        "log_tail": format!("line 1\n{HOSTILE}"), "parameters": {"x": HOSTILE},
        "instance": HOSTILE, "message_id": HOSTILE,
        "failure": {"cell_index": 1, "source": HOSTILE, "ename": HOSTILE, "evalue": HOSTILE,
                    "traceback": HOSTILE},
        "result": {HOSTILE: [HOSTILE]},
        "outputs": [format!("gs://b/runs/r0123456789abcdef/{HOSTILE}"), HOSTILE,
                    "javascript:alert(3)"],
    }));
    let mut row = RunRow::new(hostile, Some(HOSTILE.into()), now());
    row.status = HOSTILE.into();
    let detail = RunDetail {
        row: row.clone(),
        objects: vec![format!("gs://b/runs/r0123456789abcdef/{HOSTILE}")],
        warnings: vec![HOSTILE.into()],
    };
    let asked = FilterText {
        since: Some(HOSTILE.into()),
        profile: Some(HOSTILE.into()),
        state: Some(HOSTILE.into()),
        limit: Some(5),
    };
    for links in [
        ObjectLinks::Console,
        ObjectLinks::Emulator("http://127.0.0.1:4443".into()),
    ] {
        for html in [
            listing(
                &listing_of(vec![row.clone()]),
                &asked,
                &links,
                &Controls::None,
            ),
            run(&detail, &links, "", &Controls::None),
        ] {
            for bad in ["<script", "<img", "onerror=alert(2)>", "href=\"javascript:"] {
                assert!(!html.contains(bad), "`{bad}` got through:\n{html}");
            }
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;"));
            // Attribute values cannot be closed by a value: every `"` inside is escaped, so
            // the count of quotes is even per tag.
            for tag in html.split('<').skip(1) {
                let tag = tag.split('>').next().unwrap_or("");
                assert_eq!(
                    tag.matches('"').count() % 2,
                    0,
                    "unbalanced quotes in <{tag}>"
                );
            }
        }
    }
}

#[test]
fn a_run_page_has_its_fields_error_log_tail_and_objects() {
    let failed = record(serde_json::json!({
        "state": "failed", "exit_code": 1, "error": "papermill exited with 1",
        "log_tail": "Traceback (most recent call last):\nValueError: the data is bad",
        "cleanup": {"action": "stop", "at": "2026-12-01T10:04:09Z", "by": "report"},
    }));
    let detail = RunDetail {
        row: RunRow::new(failed, Some("STOPPED".into()), now()),
        objects: vec![
            "gs://b/runs/r0123456789abcdef/run.json".into(),
            "gs://b/runs/r0123456789abcdef/seed.ipynb".into(),
        ],
        warnings: Vec::new(),
    };
    let html = run(
        &detail,
        &ObjectLinks::Emulator("http://127.0.0.1:4443/".into()),
        "",
        &Controls::None,
    );
    assert!(
        html.contains("<title>Run r0123456789abcdef</title>"),
        "{html}"
    );
    assert!(html.contains("<span class=\"state failed\">failed</span>"));
    assert!(html.contains("<tr><th>Instance state</th><td>STOPPED</td></tr>"));
    assert!(html.contains("<tr><th>Exit code</th><td>1</td></tr>"));
    assert!(html.contains("<pre id=\"error\">papermill exited with 1</pre>"));
    assert!(
        !html.contains("Failing cell"),
        "no failure, no section: {html}"
    );
    assert!(html.contains(
        "<pre id=\"log\">Traceback (most recent call last):\nValueError: the data is bad</pre>"
    ));
    assert!(
        html.contains("stop by report at 2026-12-01 10:04:09 UTC: done"),
        "{html}"
    );
    assert!(
        html.contains(
            "<a href=\"http://127.0.0.1:4443/storage/v1/b/b/o/runs%2Fr0123456789abcdef%2Fseed.ipynb?alt=media\">seed.ipynb</a>"
        ),
        "{html}"
    );
}

#[test]
fn a_failed_cell_is_shown_with_its_exception_source_and_traceback() {
    let failed = record(serde_json::json!({
        "state": "failed", "exit_code": 1, "error": "cell 3 raised ValueError: the data is bad",
        "failure": {"cell_index": 2, "source": "rows = []\nraise ValueError('the data is bad')",
                    "ename": "ValueError", "evalue": "the data is bad",
                    "traceback": "Cell In[4], line 2\n----> 2 raise ValueError('the data is bad')\n\nValueError: the data is bad"},
    }));
    let detail = RunDetail {
        row: RunRow::new(failed, None, now()),
        objects: Vec::new(),
        warnings: Vec::new(),
    };
    let html = run(&detail, &ObjectLinks::Console, "", &Controls::None);
    assert!(html.contains("<h2>Failing cell 3</h2>"), "{html}");
    assert!(html.contains("<p id=\"exception\"><strong>ValueError</strong>: the data is bad</p>"));
    assert!(html.contains(
        "<pre id=\"failing-source\">rows = []\nraise ValueError(&#39;the data is bad&#39;)</pre>"
    ));
    assert!(
        html.contains("<pre id=\"traceback\">Cell In[4], line 2\n"),
        "{html}"
    );
}

#[test]
fn a_result_is_shown_as_indented_json_and_a_missing_one_says_why() {
    let detail = |changes: serde_json::Value| RunDetail {
        row: RunRow::new(record(changes), None, now()),
        objects: Vec::new(),
        warnings: Vec::new(),
    };
    let html = run(
        &detail(serde_json::json!({"result": {"rows": 12, "tables": ["a<b"]}})),
        &ObjectLinks::Console,
        "",
        &Controls::None,
    );
    assert!(
        html.contains(
            "<h2>Result</h2><pre id=\"result\">{\n  &quot;rows&quot;: 12,\n  &quot;tables&quot;: [\n    &quot;a&lt;b&quot;\n  ]\n}</pre>"
        ),
        "{html}"
    );
    let why = "outputs/result.json is 70000 bytes; a result is at most 65536";
    let html = run(
        &detail(serde_json::json!({"result_error": why})),
        &ObjectLinks::Console,
        "",
        &Controls::None,
    );
    assert!(
        html.contains(&format!("<p id=\"no-result\">No result: {why}</p>")),
        "{html}"
    );
    let html = run(
        &detail(serde_json::json!({})),
        &ObjectLinks::Console,
        "",
        &Controls::None,
    );
    assert!(!html.contains("<h2>Result</h2>"), "{html}");
}

#[test]
fn object_links_encode_names_and_refuse_what_is_not_an_object() {
    let console = ObjectLinks::Console;
    assert_eq!(
        console.href("gs://b/a dir/x#y?.csv").as_deref(),
        Some("https://console.cloud.google.com/storage/browser/_details/b/a%20dir/x%23y%3F.csv")
    );
    for not_an_object in ["javascript:alert(1)", "https://x/y", "gs://b", "gs:///o"] {
        assert_eq!(console.href(not_an_object), None, "{not_an_object}");
    }
}

/// The pages need no more than `headers::PAGE_POLICY` allows: one inline stylesheet, forms
/// that submit here, links; were a page to grow a script, an image or a style attribute, the
/// policy would silently block it in every browser, so this fails first.
#[test]
fn the_pages_use_only_what_their_content_security_policy_allows() {
    let policy = crate::http::headers::PAGE_POLICY;
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let row = || RunRow::new(record(serde_json::json!({})), None, now());
    let detail = RunDetail {
        row: row(),
        objects: vec!["gs://b/runs/r0123456789abcdef/run.json".into()],
        warnings: vec![HOSTILE.into()],
    };
    let asked = FilterText {
        since: Some(HOSTILE.into()),
        ..FilterText::default()
    };
    for html in [
        listing(
            &listing_of(vec![row()]),
            &asked,
            &ObjectLinks::Console,
            &Controls::None,
        ),
        run(&detail, &ObjectLinks::Console, "", &Controls::None),
        refusal(403, "Forbidden", HOSTILE),
    ] {
        assert_eq!(html.matches("<style>").count(), 1, "{html}");
        assert!(policy.contains("style-src 'unsafe-inline'"), "{policy}");
        for needs_more in [
            "<script", "<img", "<iframe", "<link", "<object", "<embed", "<base", " style=",
            "<frame", "<audio", "<video", "@import", "url(",
        ] {
            assert!(!html.contains(needs_more), "{needs_more}: {html}");
        }
        for form in html.split("<form").skip(1) {
            assert!(
                form.starts_with(" method=\"get\" action=\"/runs\">"),
                "{form}"
            );
            assert!(policy.contains("form-action 'self'"), "{policy}");
        }
    }
}

#[test]
fn a_retried_run_shows_its_attempt_and_links_its_others() {
    let first = "r0123456789abcdef";
    let second =
        crate::launch::Relaunch::attempt_run_id(&crate::run::RunId::parse(first).unwrap(), 2);
    let third =
        crate::launch::Relaunch::attempt_run_id(&crate::run::RunId::parse(first).unwrap(), 3);
    let retried = |run: &str, attempt: u32, next: serde_json::Value| {
        RunRow::new(
            record(serde_json::json!({
                "run_id": run, "state": "failed",
                "origin": if attempt > 1 {
                    serde_json::json!({"kind": "retry", "of": first, "attempt": attempt})
                } else {
                    serde_json::Value::Null
                },
                "retry": {"retries": 2, "on": ["failed"], "delay": "1m"},
                "next_attempt": next,
            })),
            None,
            now(),
        )
    };
    let next = serde_json::json!({"run_id": third.as_str(), "attempt": 3,
        "at": "2026-12-01T10:06:00Z"});
    let row = retried(second.as_str(), 2, next);
    let html = listing(
        &listing_of(vec![row.clone()]),
        &FilterText::default(),
        &ObjectLinks::Console,
        &Controls::None,
    );
    assert!(html.contains("<th>Attempt</th>"), "{html}");
    assert!(html.contains("<td class=\"num\">2/3</td>"), "{html}");
    let detail = RunDetail {
        row,
        objects: Vec::new(),
        warnings: Vec::new(),
    };
    let page = run(&detail, &ObjectLinks::Console, "", &Controls::None);
    let links = format!(
        "<p id=\"attempts\">Attempt 2 of 3; attempts: <a href=\"/runs/{first}\">1</a> \
         <strong>2</strong> <a href=\"/runs/{third}\">3</a></p>"
    );
    assert!(page.contains(&links), "{page}");
    let alone = RunDetail {
        row: RunRow::new(record(serde_json::json!({})), None, now()),
        objects: Vec::new(),
        warnings: Vec::new(),
    };
    let page = run(&alone, &ObjectLinks::Console, "", &Controls::None);
    assert!(
        !page.contains("id=\"attempts\""),
        "a run tried once: {page}"
    );
}

#[test]
fn an_operator_gets_the_forms_with_their_tokens_and_a_reader_none() {
    let asked = FilterText::default();
    let run_now = Controls::Shown(RunNow {
        profiles: vec!["default".into(), "a\"><script>".into()],
        token: "1.ab.\"x".into(),
    });
    let html = listing(&listing_of(vec![]), &asked, &ObjectLinks::Console, &run_now);
    assert!(
        html.contains("<form method=\"post\" action=\"/runs/start\" id=\"run-now\">"),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"a&quot;&gt;&lt;script&gt;\">"),
        "{html}"
    );
    assert!(
        html.contains("name=\"token\" value=\"1.ab.&quot;x\""),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    let reader = listing(
        &listing_of(vec![]),
        &asked,
        &ObjectLinks::Console,
        &Controls::None,
    );
    assert!(!reader.contains("<form method=\"post\""), "{reader}");
    let unavailable: Controls<RunNow> = Controls::Unavailable("no key".into());
    let said = listing(
        &listing_of(vec![]),
        &asked,
        &ObjectLinks::Console,
        &unavailable,
    );
    assert!(said.contains("buttons are not shown: no key"), "{said}");

    let detail = RunDetail {
        row: RunRow::new(record(serde_json::json!({})), None, now()),
        objects: Vec::new(),
        warnings: Vec::new(),
    };
    let id = detail.row.record.run_id.clone();
    let both = Controls::Shown(RunActions {
        rerun: "t1".into(),
        cancel: Some("t2".into()),
    });
    let html = run(&detail, &ObjectLinks::Console, "", &both);
    assert!(
        html.contains(&format!("action=\"/runs/{id}/rerun\" id=\"rerun\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!("action=\"/runs/{id}/cancel\" id=\"cancel\"")),
        "{html}"
    );
    let ended = Controls::Shown(RunActions {
        rerun: "t1".into(),
        cancel: None,
    });
    let html = run(&detail, &ObjectLinks::Console, "", &ended);
    assert!(!html.contains("id=\"cancel\""), "{html}");
}
