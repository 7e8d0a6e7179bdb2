//! The checks a job must pass before any gcloud command is planned: Cloud Scheduler's and
//! Pub/Sub's documented limits, the cron syntax, the time zone, the retry range, and what one
//! command-line argument can carry.
//!
//! Every check runs, so a file with several mistakes is reported in one go; each problem names
//! the job and the field.
//!
//! Time zones are checked with jiff against the system tz database (`/usr/share/zoneinfo`).
//! The planner runs where the deploy runs, never inside the service image, so the image does
//! not need jiff's bundled database (`tzdb-bundle-always` is not enabled).

use base64::Engine as _;

use super::file::JobSpec;
use super::{DEFAULT_TIME_ZONE, Job, Problem, Retry, cron};

/// Cloud Scheduler's limit on a whole job (its docs: 1 MB, about 1 KB of which is overhead).
pub const MAX_JOB_BYTES: usize = 1_000_000;
/// Largest payload the plan passes: one command-line argument is capped at 128 KiB on Linux
/// (`MAX_ARG_STRLEN`), below Scheduler's own 1 MB job limit.
pub const MAX_GCLOUD_PAYLOAD_BYTES: usize = 128 * 1024 - 100;
/// Pub/Sub limits on attributes.
const MAX_ATTRIBUTES: usize = 100;
const MAX_ATTRIBUTE_KEY_BYTES: usize = 256;
const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1024;
/// Cloud Scheduler's limits on names and descriptions.
const MAX_NAME_CHARS: usize = 500;
const MAX_DESCRIPTION_CHARS: usize = 500;
/// `retryConfig.retryCount` range.
const MAX_RETRY_COUNT: u32 = 5;

/// The job `spec` describes, or every problem with it.
pub(super) fn validate(spec: JobSpec) -> Result<Job, Vec<Problem>> {
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
    if payload.len() > MAX_GCLOUD_PAYLOAD_BYTES {
        problem(
            "payload",
            format!(
                "is {} bytes; the most gcloud can take as one argument is {MAX_GCLOUD_PAYLOAD_BYTES}",
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
    use crate::scheduler::file::tests::problems;

    fn one_problem(text: &str) -> (String, String, String) {
        let found = problems(text);
        assert_eq!(found.len(), 1, "{found:?}");
        let p = &found[0];
        (p.job.clone(), p.field.clone(), p.reason.clone())
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

        let big = "x".repeat(MAX_GCLOUD_PAYLOAD_BYTES + 1);
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
}
