//! `scheduler.yaml`: the cron jobs that publish to the trigger topic, validated here and turned
//! into the `gcloud scheduler jobs …` commands that make the cloud match the file.
//!
//! Why a planner in the product rather than YAML in bash: the deploy script must stay free of
//! YAML parsing, a mistake in the file must be reported before anything is created (naming the
//! job and the field), and "create missing, update changed, pause/resume" needs a real diff
//! against what `gcloud scheduler jobs list --format=json` reports.
//!
//! Time zones are checked with jiff against the system tz database (`/usr/share/zoneinfo`).
//! The planner runs where the deploy runs, never inside the service image, so the image does
//! not need jiff's bundled database (`tzdb-bundle-always` is not enabled).

pub mod cron;
pub mod plan;
pub mod shell;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

pub use plan::{Plan, Target, plan};

/// Cloud Scheduler's limit on a whole job (its docs: 1 MB, about 1 KB of which is overhead).
pub const MAX_JOB_BYTES: usize = 1_000_000;
/// Largest payload the plan passes: one command-line argument is capped at 128 KiB on Linux
/// (`MAX_ARG_STRLEN`), below Scheduler's own 1 MB job limit.
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024 - 100;
/// Pub/Sub limits on attributes.
const MAX_ATTRIBUTES: usize = 100;
const MAX_ATTRIBUTE_KEY_BYTES: usize = 256;
const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1024;
/// Cloud Scheduler's limits on names and descriptions.
const MAX_NAME_CHARS: usize = 500;
const MAX_DESCRIPTION_CHARS: usize = 500;
/// `retryConfig.retryCount` range.
const MAX_RETRY_COUNT: u32 = 5;
/// gcloud's defaults, so that a job without `retry` diffs cleanly against one created by it.
pub const DEFAULT_MIN_BACKOFF: Duration = Duration::from_secs(5);
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(3600);
pub const DEFAULT_TIME_ZONE: &str = "Etc/UTC";

/// What can go wrong with the file or the current state.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
    },
    #[error("current state (gcloud scheduler jobs list --format=json): {0}")]
    Current(String),
    #[error("--topic: {0}")]
    Topic(String),
}

/// One invalid field of one job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job `{job}`, field `{field}`: {reason}")]
pub struct Problem {
    /// The job's name, or `#N` (1-based position) when it has no usable name.
    pub job: String,
    pub field: String,
    pub reason: String,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    jobs: Vec<serde_yaml_ng::Value>,
}

/// One job as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobSpec {
    name: String,
    schedule: String,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    retry: Option<RetrySpec>,
    #[serde(default)]
    paused: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrySpec {
    #[serde(default)]
    count: u32,
    #[serde(default)]
    min_backoff: Option<String>,
    #[serde(default)]
    max_backoff: Option<String>,
}

/// A validated job, in the terms the API uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub name: String,
    pub schedule: String,
    pub time_zone: String,
    /// The message data: the text, or the object as compact JSON.
    pub payload: String,
    pub attributes: BTreeMap<String, String>,
    pub description: String,
    pub retry: Retry,
    pub paused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub count: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            count: 0,
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}

/// Reads and validates `path`.
///
/// # Errors
/// [`SchedulerError::Read`], [`SchedulerError::Syntax`] (not YAML, or not a `jobs:` list), or
/// [`SchedulerError::Invalid`] with every problem found, each naming the job and the field.
pub fn load(path: &Path) -> Result<Vec<Job>, SchedulerError> {
    let text = std::fs::read_to_string(path).map_err(|source| SchedulerError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text).map_err(|error| match error {
        ParseError::Syntax(message) => SchedulerError::Syntax {
            path: path.display().to_string(),
            message,
        },
        ParseError::Invalid(problems) => SchedulerError::Invalid {
            path: path.display().to_string(),
            problems,
        },
    })
}

/// Why [`parse`] refused a text.
#[derive(Debug)]
pub enum ParseError {
    Syntax(String),
    Invalid(Vec<Problem>),
}

/// Parses and validates the text of a `scheduler.yaml`.
///
/// # Errors
/// See [`load`].
pub fn parse(text: &str) -> Result<Vec<Job>, ParseError> {
    let file: File = serde_yaml_ng::from_str(text)
        .map_err(|e| ParseError::Syntax(format!("expected `jobs:` with a list of jobs: {e}")))?;
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (index, value) in file.jobs.into_iter().enumerate() {
        let label = value
            .get("name")
            .and_then(serde_yaml_ng::Value::as_str)
            .filter(|name| !name.is_empty())
            .map_or_else(|| format!("#{}", index + 1), str::to_owned);
        let spec: JobSpec = match serde_path_to_error::deserialize(value) {
            Ok(spec) => spec,
            Err(error) => {
                let field = error.path().to_string();
                problems.push(Problem {
                    job: label,
                    field: if field == "." {
                        unknown_field(error.inner()).unwrap_or(field)
                    } else {
                        field
                    },
                    reason: error.inner().to_string(),
                });
                continue;
            }
        };
        if !seen.insert(spec.name.clone()) {
            problems.push(Problem {
                job: label,
                field: "name".into(),
                reason: "another job has the same name; names must be unique".into(),
            });
            continue;
        }
        match validate(spec) {
            Ok(job) => jobs.push(job),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(ParseError::Invalid(problems))
    }
}

/// serde names an unknown or missing field only in its message; the path is then `.`.
fn unknown_field(error: &serde_yaml_ng::Error) -> Option<String> {
    let message = error.to_string();
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

fn validate(spec: JobSpec) -> Result<Job, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, reason: String| {
        problems.push(Problem {
            job: spec.name.clone(),
            field: field.to_owned(),
            reason,
        });
    };

    let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if spec.name.is_empty() || spec.name.chars().count() > MAX_NAME_CHARS {
        problem("name", format!("must be 1-{MAX_NAME_CHARS} characters"));
    } else if !spec.name.chars().all(name_ok) {
        problem(
            "name",
            "may hold only letters, digits, `_` and `-` (Cloud Scheduler job ids)".into(),
        );
    }

    if let Err(reason) = cron::check(&spec.schedule) {
        problem("schedule", reason);
    }

    let time_zone = spec
        .time_zone
        .clone()
        .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
    if let Err(error) = jiff::tz::TimeZone::get(&time_zone) {
        problem(
            "time_zone",
            format!("`{time_zone}` is not an IANA time zone name (e.g. Europe/Berlin): {error}"),
        );
    }

    let payload = match &spec.payload {
        None => Some(String::new()),
        Some(serde_json::Value::String(text)) => Some(text.clone()),
        Some(object @ serde_json::Value::Object(_)) => Some(object.to_string()),
        Some(other) => {
            problem(
                "payload",
                format!("must be text or a mapping (sent as a JSON object), not `{other}`"),
            );
            None
        }
    };
    let payload_given = payload.is_some();
    let payload = payload.unwrap_or_default();
    if payload.len() > MAX_PAYLOAD_BYTES {
        problem(
            "payload",
            format!(
                "is {} bytes; the most gcloud can take as one argument is {MAX_PAYLOAD_BYTES}",
                payload.len()
            ),
        );
    }
    if payload_given && payload.is_empty() && spec.attributes.is_empty() {
        problem(
            "payload",
            "a Pub/Sub message needs a payload or at least one attribute".into(),
        );
    }

    if spec.attributes.len() > MAX_ATTRIBUTES {
        problem(
            "attributes",
            format!(
                "{} attributes; Pub/Sub allows {MAX_ATTRIBUTES}",
                spec.attributes.len()
            ),
        );
    }
    for (key, value) in &spec.attributes {
        let field = format!("attributes.{key}");
        if key.is_empty() || key.len() > MAX_ATTRIBUTE_KEY_BYTES {
            problem(
                &field,
                format!("key must be 1-{MAX_ATTRIBUTE_KEY_BYTES} bytes"),
            );
        } else if key.starts_with("goog") {
            problem(&field, "keys starting with `goog` are reserved".into());
        } else if key.contains('=') {
            problem(&field, "a key cannot contain `=`".into());
        }
        if value.len() > MAX_ATTRIBUTE_VALUE_BYTES {
            problem(
                &field,
                format!("value is over {MAX_ATTRIBUTE_VALUE_BYTES} bytes"),
            );
        }
    }

    let description = spec.description.clone().unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        problem(
            "description",
            format!("is over {MAX_DESCRIPTION_CHARS} characters"),
        );
    }

    let mut retry = Retry::default();
    if let Some(spec_retry) = &spec.retry {
        if spec_retry.count > MAX_RETRY_COUNT {
            problem(
                "retry.count",
                format!(
                    "{} is outside 0-{MAX_RETRY_COUNT} (Cloud Scheduler's range)",
                    spec_retry.count
                ),
            );
        }
        retry.count = spec_retry.count;
        for (field, text, slot) in [
            (
                "retry.min_backoff",
                &spec_retry.min_backoff,
                &mut retry.min_backoff,
            ),
            (
                "retry.max_backoff",
                &spec_retry.max_backoff,
                &mut retry.max_backoff,
            ),
        ] {
            if let Some(text) = text {
                match notebooks_wire::duration::parse(text) {
                    Ok(duration) if duration.subsec_nanos() == 0 => *slot = duration,
                    Ok(_) => problem(field, format!("`{text}` must be whole seconds")),
                    Err(reason) => problem(field, reason),
                }
            }
        }
        if retry.min_backoff > retry.max_backoff {
            problem(
                "retry.min_backoff",
                format!(
                    "{}s is longer than max_backoff {}s",
                    retry.min_backoff.as_secs(),
                    retry.max_backoff.as_secs()
                ),
            );
        }
    }

    let size = base64::engine::general_purpose::STANDARD
        .encode(&payload)
        .len()
        + spec
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
        + description.len()
        + spec.schedule.len()
        + spec.name.len()
        + 1024;
    if size > MAX_JOB_BYTES {
        problem(
            "payload",
            format!("the job would be about {size} bytes; Cloud Scheduler allows {MAX_JOB_BYTES}"),
        );
    }

    if problems.is_empty() {
        Ok(Job {
            name: spec.name,
            schedule: spec
                .schedule
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            time_zone,
            payload,
            attributes: spec.attributes,
            description,
            retry,
            paused: spec.paused,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        match parse(text) {
            Err(ParseError::Invalid(problems)) => problems,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn one_problem(text: &str) -> (String, String, String) {
        let found = problems(text);
        assert_eq!(found.len(), 1, "{found:?}");
        let p = &found[0];
        (p.job.clone(), p.field.clone(), p.reason.clone())
    }

    const GOOD: &str = r#"
jobs:
  - name: morning
    schedule: "0 6 * * *"
    time_zone: Europe/Berlin
    payload: TweetiNoteStartTopic
    attributes: {source: scheduler}
    description: Start the notebook every morning
    retry: {count: 2, min_backoff: 10s, max_backoff: 5m}
  - name: weekly-gpu
    schedule: "30  7 * * MON"
    payload: {profile: gpu, labels: {run: "weekly"}}
    paused: true
"#;

    #[test]
    fn reads_a_good_file() {
        let jobs = parse(GOOD).expect("valid");
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].payload, "TweetiNoteStartTopic");
        assert_eq!(jobs[0].time_zone, "Europe/Berlin");
        assert_eq!(
            jobs[0].retry,
            Retry {
                count: 2,
                min_backoff: Duration::from_secs(10),
                max_backoff: Duration::from_secs(300)
            }
        );
        assert_eq!(jobs[1].schedule, "30 7 * * MON");
        assert_eq!(jobs[1].time_zone, "Etc/UTC");
        assert_eq!(
            jobs[1].payload,
            r#"{"labels":{"run":"weekly"},"profile":"gpu"}"#
        );
        assert_eq!(jobs[1].retry, Retry::default());
        assert!(jobs[1].paused);
    }

    #[test]
    fn the_repository_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scheduler.yaml");
        let jobs = load(&path).expect("scheduler.yaml is valid");
        assert!(jobs.iter().any(|j| j.payload == "TweetiNoteStartTopic"));
    }

    fn job(extra: &str) -> String {
        format!("jobs:\n  - name: j1\n    schedule: \"0 6 * * *\"\n    payload: x\n{extra}")
    }

    #[test]
    fn each_error_names_the_job_and_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("    time_zone: Mars/Olympus\n", "time_zone", "IANA"),
            ("    time_zone: UTC+2\n", "time_zone", "IANA"),
            ("    retry: {count: 6}\n", "retry.count", "outside 0-5"),
            ("    retry: {count: -1}\n", "retry.count", "invalid value"),
            (
                "    retry: {min_backoff: soon}\n",
                "retry.min_backoff",
                "not a duration",
            ),
            (
                "    retry: {min_backoff: 1500ms}\n",
                "retry.min_backoff",
                "whole seconds",
            ),
            (
                "    retry: {min_backoff: 2h}\n",
                "retry.min_backoff",
                "longer than max_backoff",
            ),
            ("    retry: {tries: 2}\n", "retry.tries", "unknown field"),
            ("    colour: blue\n", "colour", "unknown field"),
            (
                "    attributes: {googX: \"1\"}\n",
                "attributes.googX",
                "reserved",
            ),
            ("    description: 7\n", "description", "invalid type"),
        ];
        for (extra, field, needle) in cases {
            let (name, got_field, reason) = one_problem(&job(extra));
            assert_eq!(name, "j1", "{extra}");
            assert_eq!(&got_field, field, "{extra}: {reason}");
            assert!(reason.contains(needle), "{extra}: {reason}");
        }
    }

    #[test]
    fn schedule_payload_and_name_errors() {
        let (job, field, reason) =
            one_problem("jobs:\n  - name: a\n    schedule: \"0 25 * * *\"\n    payload: x\n");
        assert_eq!((job.as_str(), field.as_str()), ("a", "schedule"));
        assert!(reason.contains("hour"), "{reason}");

        let (job, field, reason) = one_problem("jobs:\n  - name: a\n    schedule: \"0 6 * * *\"\n");
        assert_eq!((job.as_str(), field.as_str()), ("a", "payload"));
        assert!(reason.contains("at least one attribute"), "{reason}");

        let (_, field, reason) =
            one_problem("jobs:\n  - name: a\n    schedule: \"0 6 * * *\"\n    payload: [1]\n");
        assert_eq!(field, "payload");
        assert!(reason.contains("text or a mapping"), "{reason}");

        let big = "x".repeat(MAX_PAYLOAD_BYTES + 1);
        let (_, field, reason) = one_problem(&format!(
            "jobs:\n  - name: a\n    schedule: \"0 6 * * *\"\n    payload: {big}\n"
        ));
        assert_eq!(field, "payload");
        assert!(reason.contains("bytes"), "{reason}");

        let (job, field, _) =
            one_problem("jobs:\n  - name: bad name\n    schedule: \"0 6 * * *\"\n    payload: x\n");
        assert_eq!((job.as_str(), field.as_str()), ("bad name", "name"));

        let long = "n".repeat(501);
        let (_, field, reason) = one_problem(&format!(
            "jobs:\n  - name: {long}\n    schedule: \"0 6 * * *\"\n    payload: x\n"
        ));
        assert_eq!(field, "name");
        assert!(reason.contains("1-500"), "{reason}");
    }

    #[test]
    fn duplicate_and_nameless_jobs() {
        let found = problems(
            "jobs:\n  - {name: a, schedule: \"0 6 * * *\", payload: x}\n  - {name: a, schedule: \"0 7 * * *\", payload: y}\n  - {schedule: \"0 7 * * *\", payload: y}\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            (found[0].job.as_str(), found[0].field.as_str()),
            ("a", "name")
        );
        assert!(found[0].reason.contains("unique"));
        assert_eq!(
            (found[1].job.as_str(), found[1].field.as_str()),
            ("#3", "name")
        );
        assert!(
            found[1].reason.contains("missing field"),
            "{}",
            found[1].reason
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let found = problems(
            "jobs:\n  - {name: a, schedule: \"0 6 * *\", time_zone: Nowhere, payload: x, retry: {count: 9}}\n",
        );
        let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["schedule", "time_zone", "retry.count"]);
        let message = SchedulerError::Invalid {
            path: "s.yaml".into(),
            problems: found,
        }
        .to_string();
        assert!(
            message.starts_with("s.yaml: job `a`, field `schedule`"),
            "{message}"
        );
    }

    #[test]
    fn not_a_jobs_file() {
        for text in ["", "jobs: 3", "job: []", "- a"] {
            assert!(matches!(parse(text), Err(ParseError::Syntax(_))), "{text}");
        }
    }
}
