//! The run history in a real browser: Debian's chromium, headless, opens the service's
//! `/runs` page after end-to-end runs and must render each run with its state, and one run's
//! page with its log tail; the screenshots are kept under target/ and their paths printed.

use std::path::Path;

use serde_json::Value;

use crate::chromium::Chromium;

/// Where the screenshots go: under target/, kept after the test for a person to look at.
pub fn screenshot_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Checks the pages of `service` (its base URL, ending in `/`) against the finished runs'
/// records; `failed` is the record whose page must show its log tail.
pub fn renders_the_runs(service: &str, records: &[&Value], failed: &Value) {
    let Some(chromium) = Chromium::find() else {
        return;
    };
    let list = format!("{service}runs");
    let dom = chromium.dom(&list);
    assert!(dom.contains("<table id=\"runs\">"), "{dom}");
    for record in records {
        let run = record["run_id"].as_str().unwrap();
        let state = record["state"].as_str().unwrap();
        let row = dom
            .split(&format!("<tr data-run=\"{run}\">"))
            .nth(1)
            .unwrap_or_else(|| panic!("no row for {run}:\n{dom}"));
        let row = row.split("</tr>").next().unwrap();
        assert!(
            row.contains(&format!("<span class=\"state {state}\">{state}</span>")),
            "{run} is not shown {state}: {row}"
        );
        assert!(
            row.contains(&format!("<a href=\"/runs/{run}\">{run}</a>")),
            "{row}"
        );
    }
    let run = failed["run_id"].as_str().unwrap();
    let page = chromium.dom(&format!("{list}/{run}"));
    let log = page
        .split("<pre id=\"log\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("no log tail on the page of {run}:\n{page}"));
    assert!(log.contains("the data is bad"), "{log}");

    for (url, name) in [
        (list.clone(), "run-history.png"),
        (format!("{list}/{run}"), "run-page.png"),
    ] {
        let path = chromium.screenshot(&url, &screenshot_path(name));
        eprintln!("screenshot of {url}: {}", path.display());
    }
}
