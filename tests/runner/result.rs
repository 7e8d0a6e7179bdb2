//! A notebook's result: the JSON it writes to `outputs/result.json` reaches the report as the
//! service parses it; one too large, not JSON, or a link out of the work directory is left
//! out with the reason, and the run's outcome stands. The file is saved with the run's other
//! files either way.

use std::time::Duration;

use notebook_trigger::run::Outcome;
use serde_json::json;

use crate::{Bench, Finished, Job, notebook, run_id};

/// Runs a notebook whose one cell is `cell` (run `n`) and returns what it reported, with the
/// saved copy of its result file when there is one.
async fn run_writing(n: u8, cell: &str) -> Option<(Finished, Option<Vec<u8>>)> {
    let bench = Bench::start().await?;
    let object = format!("nb/result-{n}/result.ipynb");
    let setup = "import os, json\nos.makedirs('outputs', exist_ok=True)";
    bench
        .upload(&object, notebook("x = 1", &[setup, cell]))
        .await;
    let run = run_id(n);
    let finished = bench
        .run(Job::new(&run, &object), Duration::from_secs(180))
        .await;
    let saved = format!("out/{run}/outputs/outputs/result.json");
    let copy = match bench.objects(&saved).await.is_empty() {
        true => None,
        false => Some(bench.object(&saved).await),
    };
    bench.stop().await;
    Some((finished, copy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_the_notebook_writes_is_in_its_report_and_its_outputs() {
    let cell = "json.dump({'rows': x + 2, 'tables': ['sales', 'été'], 'ok': True}, \
                open('outputs/result.json', 'w', encoding='utf-8'), indent=2)";
    let Some((finished, copy)) = run_writing(0x40, cell).await else {
        return;
    };
    let report = finished.report;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.log_tail);
    assert_eq!(
        report.result,
        Some(json!({"rows": 3, "tables": ["sales", "été"], "ok": true})),
        "{}",
        finished.console
    );
    assert_eq!(report.result_error, "");
    let copy = copy.expect("the result file is saved as any output");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&copy).unwrap(),
        report.result.unwrap()
    );
    assert!(finished.console.contains("result: outputs/result.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_of_65_kib_is_left_out_and_the_run_still_succeeds() {
    let cell = "json.dump('x' * (65 * 1024), open('outputs/result.json', 'w'))";
    let Some((finished, copy)) = run_writing(0x41, cell).await else {
        return;
    };
    let report = finished.report;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.log_tail);
    assert_eq!(report.result, None);
    assert_eq!(
        report.result_error,
        "outputs/result.json is larger than 65536 bytes, the most a result may be"
    );
    assert_eq!(
        copy.map(|c| c.len()),
        Some(65 * 1024 + 2),
        "saved all the same"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_that_is_not_json_is_left_out_with_the_reason() {
    let cell = "open('outputs/result.json', 'w').write(\"{'rows': 3}\")";
    let Some((finished, copy)) = run_writing(0x42, cell).await else {
        return;
    };
    let report = finished.report;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.log_tail);
    assert_eq!(report.result, None);
    assert!(
        report
            .result_error
            .starts_with("outputs/result.json is not JSON: Expecting property name"),
        "{}",
        report.result_error
    );
    assert!(copy.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_that_is_a_link_out_of_the_work_directory_is_not_read() {
    let cell = "with open('/tmp/outside-result.json', 'w') as f:\n    f.write('{\"secret\": 1}')\n\
                os.symlink('/tmp/outside-result.json', 'outputs/result.json')";
    let Some((finished, _)) = run_writing(0x43, cell).await else {
        return;
    };
    let report = finished.report;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.log_tail);
    assert_eq!(report.result, None);
    assert!(
        report.result_error.contains("is a link"),
        "{}",
        report.result_error
    );
    assert!(!String::from_utf8_lossy(&finished.body).contains("secret"));
}
