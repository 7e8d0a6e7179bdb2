//! A cell that raises: the report names the cell as its author counts it (papermill's added
//! cells left out), its first lines, the exception, and the traceback as plain text, and its
//! error says so in one line instead of papermill's exit status.

use std::time::Duration;

use notebook_trigger::run::Outcome;

use crate::{Bench, Job, notebook, run_id};

/// The failing cell: a function that raises with a coloured value, twelve lines of padding
/// (more than the runner sends), and the call.
fn raising_cell() -> String {
    let padding: String = (1..=12).map(|i| format!("# padding {i}\n")).collect();
    format!(
        "def load():\n    raise ValueError('the data is \\x1b[31mbad\\x1b[0m')\n{padding}load()"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_error_is_reported_with_its_cell_source_and_plain_traceback() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let object = "nb/raising/raising.ipynb";
    let cells = [
        "rows = [1, 2]\nprint(len(rows))",
        &raising_cell(),
        "never = 1",
    ];
    bench.upload(object, notebook("x = 1", &cells)).await;
    let run = run_id(0x20);
    let mut job = Job::new(&run, object);
    job.parameters = serde_json::json!({"x": 2});
    let finished = bench.run(job, Duration::from_secs(180)).await;
    bench.stop().await;
    let report = finished.report;
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.log_tail);
    assert_eq!(report.exit_code, 1);
    assert_eq!(
        report.error, "cell 3 raised ValueError: the data is bad",
        "{}",
        report.log_tail
    );
    let failure = report.failure.expect("the report names the failing cell");
    // The parameters cell is 0 and the printing cell 1; papermill's injected parameters and
    // error banners are not counted.
    assert_eq!(failure.cell_index, 2);
    assert_eq!(failure.ename, "ValueError");
    assert_eq!(failure.evalue, "the data is bad");
    let source: Vec<&str> = failure.source.lines().collect();
    assert_eq!(source.len(), 11, "ten lines and how many more: {source:?}");
    assert_eq!(source[0], "def load():");
    assert_eq!(
        source[1],
        "    raise ValueError('the data is \\x1b[31mbad\\x1b[0m')"
    );
    assert_eq!(source[10], "… (5 more lines)");
    let traceback = &failure.traceback;
    assert!(
        !traceback.contains('\u{1b}'),
        "ANSI codes left: {traceback:?}"
    );
    assert!(
        traceback.contains("Traceback (most recent call last)"),
        "{traceback}"
    );
    assert!(traceback.contains("> 15 load()"), "{traceback}");
    assert!(
        traceback.ends_with("ValueError: the data is bad"),
        "{traceback}"
    );
    assert!(
        finished
            .console
            .contains("outcome failed (exit code 1): cell 3 raised ValueError: the data is bad"),
        "{}",
        finished.console
    );
}

/// A run that fails without a cell raising (the kernel killed) keeps the error that says how,
/// and reports no failing cell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_without_an_exception_reports_no_cell() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let object = "nb/killed/killed.ipynb";
    bench
        .upload(
            object,
            notebook("x = 1", &["import os\nos.kill(os.getpid(), 9)"]),
        )
        .await;
    let run = run_id(0x21);
    let finished = bench
        .run(Job::new(&run, object), Duration::from_secs(180))
        .await;
    bench.stop().await;
    let report = finished.report;
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(
        report.error,
        "the kernel was killed by SIGKILL: out of memory?"
    );
    assert_eq!(report.failure, None);
}
