//! The runner: the post-startup script that turns an instance into one run of a notebook.
//!
//! The create call only says that an instance is up; what happens on it afterwards is this
//! script's job: execute the notebook with its parameters under a time limit, save what it
//! wrote, report the outcome to the service (which then deletes or stops the instance), and
//! stop the instance itself when nobody can be told. The script ships inside the binary
//! (`notebook-trigger runner` prints it; the deploy uploads it) so the version that launches a
//! run and the version that executes it are the same. Everything it needs arrives as instance
//! metadata under `notebook-trigger-*` keys, built by [`RunSpec::metadata`]: values are data
//! the script reads, never code it runs. Secrets travel there by name only; the script reads
//! their values itself (`secrets.sh`).
//!
//! What a notebook leaves behind is as untrusted as the metadata: any byte in a file name,
//! links out of the work directory, thousands of files. The script saves regular files inside
//! the work directory under their exact names (or names the ones it cannot save in its log),
//! fails the run when an upload fails, and lists a bounded number of files in its report so
//! that the service, which refuses a report with too many outputs, takes it.
//!
//! When a run fails, the script reads the executed notebook for the cell that raised, its
//! exception and traceback, and reports them (`failure`), so the record says what went wrong
//! rather than papermill's exit status.
//!
//! A notebook that writes `outputs/result.json` has it checked by the script (`result.py`) and
//! sent in the report (`report.sh`), as Databricks' `dbutils.notebook.exit(value)` returns a
//! value; the service checks it again (`run::RESULT_FILE`).
//!
//! The Python the script runs lives in files of its own beside it (`kernel_watch.py`,
//! `explain.py`, `parameters.py`, `result.py`), where it can be read and checked as Python;
//! each takes the place of its `@NAME.py@` line inside a quoted here-document when [`SCRIPT`]
//! is built, as `secrets.sh` and `report.sh` take the place of the lines that source them.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

/// The script, as deployed: one file, since a post-startup script is one object, so
/// `runner.sh` with its Python, `secrets.sh` and `report.sh` in place.
pub static SCRIPT: LazyLock<String> = LazyLock::new(|| assemble(SHELL, &PARTS));

/// The runner as kept in the source tree, where it sources the files beside it.
const SHELL: &str = include_str!("runner.sh");

/// The lines of `runner.sh` that source `secrets.sh`, and that the deployed script replaces
/// with it.
const SOURCE_SECRETS: &str = "# shellcheck source=src/runner/secrets.sh\n\
    source \"$(dirname -- \"${BASH_SOURCE[0]}\")/secrets.sh\"\n";

/// The lines of `runner.sh` that source `report.sh`, likewise.
const SOURCE_REPORT: &str = "# shellcheck source=src/runner/report.sh\n\
    source \"$(dirname -- \"${BASH_SOURCE[0]}\")/report.sh\"\n";

/// Each placeholder of `runner.sh` and the file that takes its place: the lines that source a
/// shell file of its own (so that each file stays short to read), then each Python line in a
/// quoted here-document, which may be in a sourced file: the files go in first.
const PARTS: [(&str, &str); 6] = [
    (SOURCE_SECRETS, include_str!("secrets.sh")),
    (SOURCE_REPORT, include_str!("report.sh")),
    ("@kernel_watch.py@\n", include_str!("kernel_watch.py")),
    ("@explain.py@\n", include_str!("explain.py")),
    ("@parameters.py@\n", include_str!("parameters.py")),
    ("@result.py@\n", include_str!("result.py")),
];

/// `shell` with each placeholder replaced by its file.
fn assemble(shell: &str, parts: &[(&str, &str)]) -> String {
    parts
        .iter()
        .fold(shell.to_owned(), |script, (placeholder, code)| {
            script.replacen(placeholder, code, 1)
        })
}

/// The prefix of every metadata key the runner reads.
pub const KEY_PREFIX: &str = "notebook-trigger-";

/// What one run executes and where it reports, as the runner reads it from the metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub run_id: String,
    /// `gs://BUCKET/PATH/NOTEBOOK.ipynb`, or a path inside the container; its folder is copied
    /// as the run's working directory.
    pub notebook: String,
    /// `gs://BUCKET/PREFIX`: the run's files go under `{output}/{run id}/`.
    pub output: String,
    /// papermill parameters, a JSON object.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    pub max_run_time: Duration,
    /// `{service}/runs/{run id}/complete`.
    pub report_url: String,
    /// The audience of the identity token the report carries: the service's own URL.
    pub report_audience: String,
    /// How long the runner tries to deliver its report before it stops its own instance.
    pub report_within: Duration,
    /// Environment variables of the kernel → the Secret Manager versions they hold: names only.
    pub secrets: BTreeMap<String, String>,
}

impl RunSpec {
    /// The instance metadata that carries this spec; `secrets` only when the run has some, one
    /// `VARIABLE=projects/P/secrets/S/versions/V` per line.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        let key = |suffix: &str| format!("{KEY_PREFIX}{suffix}");
        let secrets = self
            .secrets
            .iter()
            .map(|(name, version)| format!("{name}={version}\n"))
            .collect::<String>();
        let mut metadata = BTreeMap::from([
            (key("run-id"), self.run_id.clone()),
            (key("notebook"), self.notebook.clone()),
            (key("output"), self.output.clone()),
            (
                key("parameters"),
                serde_json::Value::Object(self.parameters.clone()).to_string(),
            ),
            (key("max-run-time"), self.max_run_time.as_secs().to_string()),
            (key("report-url"), self.report_url.clone()),
            (key("report-audience"), self.report_audience.clone()),
            (
                key("report-within"),
                self.report_within.as_secs().to_string(),
            ),
        ]);
        if !secrets.is_empty() {
            metadata.insert(key("secrets"), secrets);
        }
        metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each file goes into a here-document ended by a `PY` line, once: a `PY` line of its
    /// own would end it early, and a placeholder left over would run as a command.
    #[test]
    fn each_python_file_takes_the_place_of_its_one_line_inside_a_here_document() {
        for (placeholder, code) in PARTS.iter().filter(|(p, _)| p.ends_with(".py@\n")) {
            let placeholder = placeholder.trim_end();
            let sources = format!("{SHELL}{}", include_str!("report.sh"));
            let lines: Vec<&str> = sources.lines().collect();
            let at: Vec<usize> = (0..lines.len())
                .filter(|i| lines[*i] == placeholder)
                .collect();
            assert_eq!(at.len(), 1, "{placeholder} is one line of runner.sh");
            assert_eq!(lines[at[0] - 1].trim(), "cat <<'PY'", "{placeholder}");
            assert_eq!(lines[at[0] + 1], "PY", "{placeholder}");
            assert!(code.ends_with('\n') && !code.lines().any(|l| l == "PY"));
            assert!(SCRIPT.contains(code), "{placeholder}");
        }
        assert!(!SCRIPT.contains(".py@"), "a placeholder is left");
    }

    #[test]
    fn the_script_reads_every_key_the_service_writes() {
        let spec = RunSpec {
            run_id: "r".into(),
            notebook: "gs://b/n.ipynb".into(),
            output: "gs://b/out".into(),
            parameters: serde_json::Map::new(),
            max_run_time: Duration::from_secs(60),
            report_url: "https://s/runs/r/complete".into(),
            report_audience: "https://s".into(),
            report_within: Duration::from_secs(600),
            secrets: BTreeMap::from([("DB".into(), "projects/p/secrets/s/versions/1".into())]),
        };
        for key in spec.metadata().keys() {
            let suffix = key.strip_prefix(KEY_PREFIX).unwrap();
            assert!(
                SCRIPT.contains(&format!("\"$KEY-{suffix}\"")),
                "runner.sh never reads {key}"
            );
        }
        assert!(SCRIPT.contains(&format!(
            "readonly KEY={}",
            KEY_PREFIX.trim_end_matches('-')
        )));
    }

    /// The deployed script is one file: `secrets.sh` and `report.sh` stand where `runner.sh`
    /// sources them.
    #[test]
    fn the_deployed_script_carries_its_shell_files_inline() {
        for (source, file) in [SOURCE_SECRETS, SOURCE_REPORT].into_iter().zip(PARTS) {
            assert_eq!(file.0, source);
            assert_eq!(SHELL.matches(source).count(), 1);
            let sourced = SHELL.find(source).unwrap();
            assert!(
                SHELL[sourced..].contains("\nRUN_ID=$(attribute"),
                "{source} is defined before the run starts"
            );
        }
        assert!(!SCRIPT.contains(".sh\"\n") && !SCRIPT.contains("\nsource "));
        assert!(SCRIPT.contains(include_str!("secrets.sh")));
        assert!(SCRIPT.contains("\nread_result() {\n"));
    }

    /// The report lists the executed notebook, the log and at most `LIST_AT_MOST` files the
    /// run wrote; the service must take that many.
    #[test]
    fn the_script_lists_no_more_outputs_than_the_service_takes() {
        let listed: usize = SCRIPT
            .lines()
            .find_map(|line| line.strip_prefix("readonly LIST_AT_MOST="))
            .expect("runner.sh bounds the outputs it lists")
            .parse()
            .unwrap();
        let run = "r0123456789abcdef";
        let folder = format!("gs://b/out/{run}/");
        let outputs: Vec<String> = (0..listed + 2).map(|i| format!("{folder}{i}")).collect();
        let body = serde_json::json!({
            "run_id": run, "outcome": "succeeded", "exit_code": 0,
            "started": "2026-12-01T10:00:00Z", "finished": "2026-12-01T10:05:00Z",
            "outputs": outputs, "error": "", "log_tail": "",
        });
        let parsed = crate::run::CompletionReport::parse(
            body.to_string().as_bytes(),
            &crate::run::RunId::parse(run).unwrap(),
            &folder,
        );
        assert!(parsed.is_ok(), "{listed} files listed: {parsed:?}");
    }
}
