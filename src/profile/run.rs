//! What a run executes: the notebook, its parameters, where its files go and how long it may
//! take. A profile without a notebook launches an instance and nothing more; one with a
//! notebook makes every launch a run, executed by the runner on the VM.
//!
//! Parameter names become Python names in the notebook's injected parameters cell (papermill
//! writes `name = value` there), so they are held to Python identifiers: a name is the only
//! part of a parameter that papermill does not quote. Values are JSON and stay data. Names
//! starting with `__` are refused too: Python keeps dunder names for the interpreter
//! (`__builtins__`, `__name__`, `__spec__`, `__loader__`, …), so assigning one rebinds what
//! every later cell's lookups and imports go through, and `__x` inside a class body is
//! name-mangled; no notebook parameter needs either.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::checks::check_gcs_uri;
use super::fields::{DEFAULT_MAX_RUN_TIME, Field, FieldError, Fields};
use super::notify::parse_expected_duration;
use super::retry::{RetryPolicy, parse_retry};
use super::secrets::check_secrets;

/// The longest run a profile may ask for.
pub const MAX_RUN_TIME_LIMIT: Duration = Duration::from_secs(24 * 3600);
/// The largest parameters object, serialized (profile defaults and a message's together).
pub const MAX_PARAMETERS_BYTES: usize = 32 * 1024;

/// Python's keywords: not usable as parameter names.
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// The notebook a profile runs, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTarget {
    /// `gs://BUCKET/PATH/NAME.ipynb` or `/absolute/path/NAME.ipynb` inside the container.
    pub notebook: String,
    pub parameters: Map<String, Value>,
    /// `gs://BUCKET` or `gs://BUCKET/PREFIX`, without a trailing slash.
    pub output: String,
    pub max_run_time: Duration,
    /// Environment variables of the kernel → the Secret Manager versions they hold.
    pub secrets: BTreeMap<String, String>,
    /// How an attempt that ends badly is tried again; `None`: it is not.
    pub retry: Option<RetryPolicy>,
    /// How long a run should take; past it, the reap announces it overdue.
    pub expected_duration: Option<Duration>,
}

/// The run a profile describes, or `None` when it names no notebook.
pub(super) fn parse_run(fields: &Fields) -> Result<Option<RunTarget>, FieldError> {
    let max_run_time = parse_max_run_time(
        fields
            .max_run_time
            .as_deref()
            .unwrap_or(DEFAULT_MAX_RUN_TIME),
    )
    .map_err(|e| FieldError::new(Field::MaxRunTime, e))?;
    let retry = parse_retry(fields)?;
    let Some(notebook) = &fields.notebook else {
        if retry.is_some() {
            return Err(FieldError::new(
                Field::Retries,
                "the profile runs no notebook, and only a run can be retried: set notebook, or retries = 0",
            ));
        }
        if fields.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(FieldError::new(
                Field::Parameters,
                "the profile runs no notebook: set notebook, or send no parameters",
            ));
        }
        if fields.output.is_some() {
            return Err(FieldError::new(
                Field::Output,
                "the profile runs no notebook: set notebook too, or leave output unset",
            ));
        }
        if fields.secrets.as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(FieldError::new(
                Field::Secrets,
                "the profile runs no notebook, whose kernel is all that reads secrets: set notebook, or leave secrets unset",
            ));
        }
        if fields.expected_duration.is_some() {
            return Err(FieldError::new(
                Field::ExpectedDuration,
                "the profile runs no notebook, and only a run can be overdue: set notebook, or leave expected_duration unset",
            ));
        }
        return Ok(None);
    };
    check_notebook(notebook).map_err(|e| FieldError::new(Field::Notebook, e))?;
    if fields.post_startup_script.is_some() {
        return Err(FieldError::new(
            Field::PostStartupScript,
            "a profile with a notebook runs the runner (RUNNER_SCRIPT) as its post-startup script: unset post_startup_script, or notebook",
        ));
    }
    let output = fields.output.as_deref().ok_or_else(|| {
        FieldError::new(
            Field::Output,
            "is required with a notebook: gs://BUCKET/PREFIX, where each run's files go",
        )
    })?;
    let output = parse_output(output).map_err(|e| FieldError::new(Field::Output, e))?;
    let parameters = fields.parameters.clone().unwrap_or_default();
    check_parameters(&parameters).map_err(|e| FieldError::new(Field::Parameters, e))?;
    let secrets = fields.secrets.clone().unwrap_or_default();
    check_secrets(&secrets).map_err(|e| FieldError::new(Field::Secrets, e))?;
    let expected_duration = parse_expected_duration(fields, max_run_time)?;
    Ok(Some(RunTarget {
        notebook: notebook.clone(),
        parameters,
        output,
        max_run_time,
        secrets,
        retry,
        expected_duration,
    }))
}

fn parse_max_run_time(text: &str) -> Result<Duration, String> {
    let duration = notebooks_wire::duration::parse(text)?;
    if duration.is_zero() || duration > MAX_RUN_TIME_LIMIT {
        return Err(format!(
            "`{text}` is outside 1s–24h (the longest a notebook may run)"
        ));
    }
    Ok(duration)
}

/// A `.ipynb` in Cloud Storage, or an absolute path inside the container.
fn check_notebook(text: &str) -> Result<(), String> {
    let form =
        "expected gs://BUCKET/PATH/NAME.ipynb or an absolute path such as /home/jupyter/NAME.ipynb";
    if !text.ends_with(".ipynb") {
        return Err(format!("`{text}` is not a notebook (.ipynb): {form}"));
    }
    if text.starts_with("gs://") {
        return check_gcs_uri(text).map_err(|_| format!("`{text}` is not a notebook: {form}"));
    }
    let ok = text.starts_with('/')
        && !text.chars().any(char::is_control)
        && !text.split('/').any(|segment| segment == "..");
    if ok {
        Ok(())
    } else {
        Err(format!("`{text}` is not a notebook: {form}"))
    }
}

/// `gs://BUCKET[/PREFIX][/]`, returned without the trailing slash.
fn parse_output(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    let form = || format!("`{text}` is not a Cloud Storage folder (expected gs://BUCKET/PREFIX)");
    let rest = trimmed.strip_prefix("gs://").ok_or_else(form)?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=222).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    let prefix_ok = !prefix.chars().any(char::is_control)
        && !prefix
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        || prefix.is_empty();
    if bucket_ok && prefix_ok {
        Ok(trimmed.to_owned())
    } else {
        Err(form())
    }
}

/// Names are Python identifiers; the whole object fits [`MAX_PARAMETERS_BYTES`].
pub(super) fn check_parameters(parameters: &Map<String, Value>) -> Result<(), String> {
    for name in parameters.keys() {
        check_parameter_name(name)?;
    }
    let size = Value::Object(parameters.clone()).to_string().len();
    if size > MAX_PARAMETERS_BYTES {
        return Err(format!(
            "{size} bytes of parameters exceed {MAX_PARAMETERS_BYTES} (serialized JSON)"
        ));
    }
    Ok(())
}

/// One parameter name: a Python identifier of at most 100 characters, not a keyword and not
/// starting with `__`. Profiles, messages and `ALLOWED_PARAMETERS` are all held to it.
///
/// # Errors
/// A message naming the parameter and the rule it breaks.
pub fn check_parameter_name(name: &str) -> Result<(), String> {
    if name.starts_with("__") {
        return Err(format!(
            "`{}` is not a parameter name: names starting with `__` are Python's own (dunder names such as __builtins__)",
            name.escape_debug()
        ));
    }
    let mut chars = name.chars();
    let ok = name.len() <= 100
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !PYTHON_KEYWORDS.contains(&name);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a parameter name (a Python identifier: [A-Za-z_][A-Za-z0-9_]*, at most 100, not a keyword)",
            name.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(notebook: Option<&str>, output: Option<&str>) -> Fields {
        Fields {
            notebook: notebook.map(str::to_owned),
            output: output.map(str::to_owned),
            ..Fields::default()
        }
    }

    #[test]
    fn a_notebook_needs_an_output_and_gets_the_default_time_limit() {
        let run = parse_run(&with(
            Some("gs://bkt/nb/seed.ipynb"),
            Some("gs://bkt/runs/"),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(run.output, "gs://bkt/runs");
        assert_eq!(run.max_run_time, Duration::from_secs(3600));
        assert!(run.parameters.is_empty());
        let error = parse_run(&with(Some("gs://bkt/nb/seed.ipynb"), None)).unwrap_err();
        assert_eq!(error.field, Field::Output);
        assert!(error.reason.contains("required"), "{error}");
        assert_eq!(parse_run(&with(None, None)), Ok(None));
    }

    #[test]
    fn notebooks_and_outputs_have_their_forms() {
        for ok in ["gs://b-1/x/seed.ipynb", "/Sourcecode/seed.ipynb"] {
            assert!(check_notebook(ok).is_ok(), "{ok}");
        }
        for bad in [
            "seed.ipynb",
            "gs://b/seed.py",
            "/a/../etc/seed.ipynb",
            "/a\n/seed.ipynb",
            "https://x/seed.ipynb",
            "gs://B/seed.ipynb",
        ] {
            assert!(check_notebook(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_output("gs://bkt").unwrap(), "gs://bkt");
        assert_eq!(parse_output("gs://bkt/a/b//").unwrap(), "gs://bkt/a/b");
        for bad in [
            "bkt/a",
            "gs://Bk/a",
            "gs://bkt/a//b",
            "gs://bkt/../x",
            "gs://b",
        ] {
            assert!(parse_output(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_time_limit_is_bounded() {
        let mut fields = with(Some("/nb/a.ipynb"), Some("gs://bkt/o"));
        for (text, ok) in [("24h", true), ("90m", true), ("0s", false), ("25h", false)] {
            fields.max_run_time = Some(text.into());
            let result = parse_run(&fields);
            assert_eq!(result.is_ok(), ok, "{text}: {result:?}");
            if let Err(error) = result {
                assert_eq!(error.field, Field::MaxRunTime);
            }
        }
    }

    #[test]
    fn a_notebook_and_a_post_startup_script_exclude_each_other() {
        let mut fields = with(Some("/nb/a.ipynb"), Some("gs://bkt/o"));
        fields.post_startup_script = Some("gs://bkt/s.sh".into());
        let error = parse_run(&fields).unwrap_err();
        assert_eq!(error.field, Field::PostStartupScript);
        assert!(error.reason.contains("RUNNER_SCRIPT"), "{error}");
    }

    #[test]
    fn without_a_notebook_parameters_output_and_secrets_are_refused() {
        let mut fields = with(None, Some("gs://bkt/o"));
        assert_eq!(parse_run(&fields).unwrap_err().field, Field::Output);
        fields.output = None;
        fields.parameters = Some(Map::from_iter([("a".to_owned(), Value::from(1))]));
        assert_eq!(parse_run(&fields).unwrap_err().field, Field::Parameters);
        fields.parameters = None;
        fields.secrets = Some(BTreeMap::from([(
            "DB_PASSWORD".to_owned(),
            "projects/p/secrets/db/versions/latest".to_owned(),
        )]));
        assert_eq!(parse_run(&fields).unwrap_err().field, Field::Secrets);
        fields.secrets = None;
        fields.retries = Some(1);
        assert_eq!(parse_run(&fields).unwrap_err().field, Field::Retries);
        fields.retries = Some(0);
        assert_eq!(parse_run(&fields), Ok(None), "no retries is no policy");
    }

    #[test]
    fn a_run_keeps_its_checked_secrets() {
        let mut fields = with(Some("/nb/a.ipynb"), Some("gs://bkt/o"));
        let version = "projects/p/secrets/db/versions/3";
        fields.secrets = Some(BTreeMap::from([(
            "DB_PASSWORD".to_owned(),
            version.to_owned(),
        )]));
        let run = parse_run(&fields).unwrap().unwrap();
        assert_eq!(run.secrets["DB_PASSWORD"], version);
        fields.secrets = Some(BTreeMap::from([("PATH".to_owned(), version.to_owned())]));
        let error = parse_run(&fields).unwrap_err();
        assert_eq!(error.field, Field::Secrets);
        assert!(error.reason.contains("`PATH`"), "{error}");
    }

    #[test]
    fn parameter_names_are_python_identifiers_and_the_object_is_bounded() {
        let one = |name: &str| Map::from_iter([(name.to_owned(), Value::from(1))]);
        for ok in ["alpha", "_x1", "Event", "_", "x__y__"] {
            assert!(check_parameters(&one(ok)).is_ok(), "{ok}");
        }
        for dunder in ["__builtins__", "__name__", "__x", "__", "___"] {
            let error = check_parameters(&one(dunder)).unwrap_err();
            assert!(
                error.contains(&format!("`{dunder}`")) && error.contains("__builtins__"),
                "{dunder}: {error}"
            );
        }
        for bad in [
            "",
            "1a",
            "a b",
            "a;import os",
            "x=1\ny",
            "class",
            "é",
            "a\0",
        ] {
            assert!(check_parameters(&one(bad)).is_err(), "{bad:?}");
        }
        let big = Map::from_iter([(
            "a".to_owned(),
            Value::from("x".repeat(MAX_PARAMETERS_BYTES)),
        )]);
        let error = check_parameters(&big).unwrap_err();
        assert!(error.contains("32768"), "{error}");
    }
}
