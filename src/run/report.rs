//! The completion report: what the runner on the VM says when the run is over.
//!
//! The body comes from a machine the service does not control (a notebook could print
//! anything into the log), so it is parsed into bounded, typed values before anything acts on
//! it: the outcome is one of four words, times are RFC 3339 instants, outputs are `gs://` URIs
//! under the run's own output folder, the error and the log tail are plain text (no terminal
//! escapes: they are shown in terminals and pages) cut to [`MAX_LOG_TAIL`], a [`Failure`]
//! is made plain text within its bounds, and the notebook's result is kept only within its own
//! (`result` says which): an unfit result never refuses the report, it is only not kept.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Failure, RunId, plain_text, result};

/// The longest log tail kept from a report; the whole log is in the run's output folder.
pub const MAX_LOG_TAIL: usize = 16 * 1024;
/// The most outputs a report may list.
pub const MAX_OUTPUTS: usize = 1000;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    /// The notebook ran past `max_run_time` and was stopped.
    TimedOut,
    /// The runner was stopped by a signal (the VM stopping, a person).
    Cancelled,
}

impl Outcome {
    pub fn is_success(self) -> bool {
        self == Outcome::Succeeded
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// A report as the runner sends it, before it is checked against the run.
#[derive(Debug, Deserialize)]
struct Wire {
    run_id: RunId,
    outcome: Outcome,
    exit_code: i32,
    started: Timestamp,
    finished: Timestamp,
    #[serde(default)]
    outputs: Vec<String>,
    #[serde(default)]
    error: String,
    #[serde(default)]
    failure: Option<Failure>,
    #[serde(default)]
    log_tail: String,
    #[serde(default)]
    result: Option<serde_json::Value>,
    /// Why the runner sent no result although the notebook wrote its file.
    #[serde(default)]
    result_error: String,
}

/// A checked report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompletionReport {
    pub run_id: RunId,
    pub outcome: Outcome,
    pub exit_code: i32,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub outputs: Vec<String>,
    /// Empty for a success.
    pub error: String,
    /// The cell that raised, when the executed notebook holds an error.
    pub failure: Option<Failure>,
    pub log_tail: String,
    /// The notebook's result (`outputs/result.json`), within its bounds.
    pub result: Option<serde_json::Value>,
    /// Why there is no `result` although the notebook wrote one; empty otherwise.
    pub result_error: String,
}

/// Why a report body is refused (answered 400, nothing acted on).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the report is not valid: {0}")]
    Body(#[source] serde_json::Error),
    #[error("the report is for run {reported}, but was sent to run {path}")]
    OtherRun { reported: RunId, path: RunId },
    #[error("the report finishes ({finished}) before it starts ({started})")]
    Backwards {
        started: Timestamp,
        finished: Timestamp,
    },
    #[error("output `{0}` is not under the run's output folder {1}")]
    ForeignOutput(String, String),
    #[error("the report lists {0} outputs; at most {MAX_OUTPUTS} are kept")]
    TooManyOutputs(usize),
}

impl CompletionReport {
    /// Parses a report sent to `/runs/{path}/complete` for a run whose files go under
    /// `output_folder` (`gs://B/PREFIX/{run id}/`).
    ///
    /// # Errors
    /// A [`ReportError`] naming what is wrong.
    pub fn parse(body: &[u8], path: &RunId, output_folder: &str) -> Result<Self, ReportError> {
        let wire: Wire = serde_json::from_slice(body).map_err(ReportError::Body)?;
        if &wire.run_id != path {
            return Err(ReportError::OtherRun {
                reported: wire.run_id,
                path: path.clone(),
            });
        }
        if wire.finished < wire.started {
            return Err(ReportError::Backwards {
                started: wire.started,
                finished: wire.finished,
            });
        }
        if wire.outputs.len() > MAX_OUTPUTS {
            return Err(ReportError::TooManyOutputs(wire.outputs.len()));
        }
        if let Some(foreign) = wire
            .outputs
            .iter()
            .find(|o| !o.starts_with(output_folder) || o.contains("/../"))
        {
            return Err(ReportError::ForeignOutput(
                foreign.clone(),
                output_folder.to_owned(),
            ));
        }
        let (result, result_error) = result::checked(wire.result, &wire.result_error);
        Ok(Self {
            run_id: wire.run_id,
            outcome: wire.outcome,
            exit_code: wire.exit_code,
            started: wire.started,
            finished: wire.finished,
            outputs: wire.outputs,
            error: truncate(plain_text(&wire.error), MAX_LOG_TAIL),
            failure: wire.failure.map(Failure::cleaned),
            log_tail: tail(plain_text(&wire.log_tail), MAX_LOG_TAIL),
            result,
            result_error,
        })
    }
}

fn truncate(mut text: String, max: usize) -> String {
    let kept = super::text::head(&text, max).len();
    text.truncate(kept);
    text
}

/// The last `max` bytes, cut at a character boundary.
fn tail(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    super::text::tail(&text, max).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOLDER: &str = "gs://b/runs/r0123456789abcdef/";

    fn run() -> RunId {
        RunId::parse("r0123456789abcdef").unwrap()
    }

    fn body(overrides: serde_json::Value) -> Vec<u8> {
        let mut report = serde_json::json!({
            "run_id": "r0123456789abcdef",
            "outcome": "succeeded",
            "exit_code": 0,
            "started": "2026-12-01T10:00:00Z",
            "finished": "2026-12-01T10:05:00Z",
            "outputs": [format!("{FOLDER}outputs/output.csv")],
            "error": "",
            "log_tail": "done",
        });
        for (k, v) in overrides.as_object().unwrap() {
            report[k] = v.clone();
        }
        serde_json::to_vec(&report).unwrap()
    }

    #[test]
    fn a_runner_report_parses() {
        let report = CompletionReport::parse(&body(serde_json::json!({})), &run(), FOLDER).unwrap();
        assert_eq!(report.outcome, Outcome::Succeeded);
        assert_eq!(report.outputs.len(), 1);
        let timed_out = body(serde_json::json!({"outcome": "timed_out", "exit_code": 124}));
        let report = CompletionReport::parse(&timed_out, &run(), FOLDER).unwrap();
        assert_eq!(report.outcome, Outcome::TimedOut);
        assert!(!report.outcome.is_success());
    }

    #[test]
    fn reports_that_do_not_fit_the_run_are_refused() {
        let refused = |overrides: serde_json::Value| {
            CompletionReport::parse(&body(overrides), &run(), FOLDER)
                .unwrap_err()
                .to_string()
        };
        assert!(
            refused(serde_json::json!({"run_id": "rffffffffffffffff"})).contains("sent to run")
        );
        assert!(refused(serde_json::json!({"outcome": "great"})).contains("not valid"));
        assert!(refused(serde_json::json!({"started": "yesterday"})).contains("not valid"));
        assert!(
            refused(serde_json::json!({"finished": "2026-12-01T09:00:00Z"})).contains("before")
        );
        assert!(refused(serde_json::json!({"outputs": ["gs://other/x"]})).contains("not under"));
        assert!(
            refused(serde_json::json!({"outputs": [format!("{FOLDER}../../x")]}))
                .contains("not under")
        );
        let many: Vec<String> = (0..=MAX_OUTPUTS).map(|i| format!("{FOLDER}{i}")).collect();
        assert!(refused(serde_json::json!({"outputs": many})).contains("at most"));
    }

    #[test]
    fn a_failure_is_kept_plain_and_a_report_without_one_has_none() {
        let failure = serde_json::json!({
            "cell_index": 2, "source": "f()", "ename": "ValueError",
            "evalue": "the data is bad", "traceback": "\u{1b}[0;31mValueError\u{1b}[0m: the data is bad",
        });
        let report = CompletionReport::parse(
            &body(serde_json::json!({"outcome": "failed", "failure": failure})),
            &run(),
            FOLDER,
        )
        .unwrap();
        let kept = report.failure.unwrap();
        assert_eq!((kept.cell_index, kept.ename.as_str()), (2, "ValueError"));
        assert_eq!(kept.traceback, "ValueError: the data is bad");
        let none = CompletionReport::parse(&body(serde_json::json!({})), &run(), FOLDER).unwrap();
        assert_eq!(none.failure, None);
        let null = body(serde_json::json!({"failure": null}));
        assert_eq!(
            CompletionReport::parse(&null, &run(), FOLDER)
                .unwrap()
                .failure,
            None
        );
        let coloured = body(
            serde_json::json!({"error": "\u{1b}[31mbad\u{1b}[0m", "log_tail": "\u{1b}]0;x\u{7}ok"}),
        );
        let plain = CompletionReport::parse(&coloured, &run(), FOLDER).unwrap();
        assert_eq!(
            (plain.error.as_str(), plain.log_tail.as_str()),
            ("bad", "ok")
        );
        let wrong = body(serde_json::json!({"failure": {"cell_index": "two"}}));
        assert!(CompletionReport::parse(&wrong, &run(), FOLDER).is_err());
    }

    #[test]
    fn a_result_is_kept_and_an_unfit_one_is_not_but_the_report_stands() {
        let parse = |overrides: serde_json::Value| {
            CompletionReport::parse(&body(overrides), &run(), FOLDER).unwrap()
        };
        let kept = parse(serde_json::json!({"result": {"rows": 3, "tables": ["a"]}}));
        assert_eq!(
            kept.result,
            Some(serde_json::json!({"rows": 3, "tables": ["a"]}))
        );
        assert_eq!(kept.result_error, "");
        let none = parse(serde_json::json!({}));
        assert_eq!((none.result, none.result_error.as_str()), (None, ""));
        // A runner that lies about the size, or nests deeper than anything the service reads.
        let large = parse(serde_json::json!({"result": "x".repeat(crate::run::MAX_RESULT_BYTES)}));
        assert_eq!(large.result, None);
        assert!(
            large.result_error.contains("at most 65536"),
            "{}",
            large.result_error
        );
        assert_eq!(large.outcome, Outcome::Succeeded);
        let deep = (0..40).fold(serde_json::json!(0), |inner, _| serde_json::json!([inner]));
        let deep = parse(serde_json::json!({"result": deep}));
        assert_eq!(deep.result, None);
        assert!(
            deep.result_error.contains("deeper than 32"),
            "{}",
            deep.result_error
        );
        let said = parse(serde_json::json!({
            "result_error": "outputs/result.json is not JSON \u{1b}[31m(line 1)"
        }));
        assert_eq!(
            (said.result, said.result_error.as_str()),
            (None, "outputs/result.json is not JSON (line 1)")
        );
    }

    #[test]
    fn a_long_log_keeps_its_end_on_a_character_boundary() {
        let log = format!("{}é-the-end", "x".repeat(MAX_LOG_TAIL));
        let report =
            CompletionReport::parse(&body(serde_json::json!({"log_tail": log})), &run(), FOLDER)
                .unwrap();
        assert!(report.log_tail.len() <= MAX_LOG_TAIL);
        assert!(report.log_tail.ends_with("é-the-end"));
    }
}
