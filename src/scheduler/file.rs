//! Reading `scheduler.yaml`: the YAML shape of the file (a `jobs:` list), and the walk over
//! the jobs that reads each into a `JobSpec`, hands it to `validate` and collects every
//! problem before refusing the file.
//!
//! Each job is read on its own (`serde_path_to_error`), not the file in one go, so that one
//! bad job does not hide the problems of the others and each problem names its job and field.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use super::job_spec::JobSpec;
use super::validate::validate;
use super::{Job, Problem, SchedulerError};

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    jobs: Vec<serde_yaml_ng::Value>,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::scheduler::Retry;

    /// The problems [`parse`] found in `text`, which must be invalid.
    fn problems(text: &str) -> Vec<Problem> {
        match parse(text) {
            Err(ParseError::Invalid(problems)) => problems,
            other => panic!("expected Invalid, got {other:?}"),
        }
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
        let reap = jobs
            .iter()
            .find(|j| j.payload == r#"{"action":"reap"}"#)
            .expect("a job publishes the reaper's message");
        assert_eq!(reap.schedule, "*/5 * * * *");
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

    /// What serde refuses while reading a job (a wrong type, an unknown key) is reported like
    /// what `validate` refuses: naming the job and the path to the field.
    #[test]
    fn reading_errors_name_the_job_and_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("    retry: {count: -1}\n", "retry.count", "invalid value"),
            ("    retry: {tries: 2}\n", "retry.tries", "unknown field"),
            ("    colour: blue\n", "colour", "unknown field"),
            ("    description: 7\n", "description", "invalid type"),
        ];
        for (extra, field, needle) in cases {
            let found = problems(&format!(
                "jobs:\n  - name: j1\n    schedule: \"0 6 * * *\"\n    payload: x\n{extra}"
            ));
            assert_eq!(found.len(), 1, "{extra}: {found:?}");
            assert_eq!(found[0].job, "j1", "{extra}");
            assert_eq!(found[0].field, *field, "{extra}: {}", found[0].reason);
            assert!(
                found[0].reason.contains(needle),
                "{extra}: {}",
                found[0].reason
            );
        }
    }

    #[test]
    fn not_a_jobs_file() {
        for text in ["", "jobs: 3", "job: []", "- a"] {
            assert!(matches!(parse(text), Err(ParseError::Syntax(_))), "{text}");
        }
    }
}
