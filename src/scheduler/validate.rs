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

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;

use super::job_spec::{JobSpec, RetrySpec};
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

/// The job `spec` describes, or every problem with it, in the order of its fields: every
/// check runs even after one fails, so that one deploy attempt reports all of them.
pub(super) fn validate(spec: JobSpec) -> Result<Job, Vec<Problem>> {
    let mut problems = JobProblems::new(&spec.name);
    check_name(&spec.name, &mut problems);
    if let Err(reason) = cron::check(&spec.schedule) {
        problems.add("schedule", reason);
    }
    let time_zone = check_time_zone(spec.time_zone.as_deref(), &mut problems);
    let payload = check_payload(spec.payload.as_ref(), &spec.attributes, &mut problems);
    check_attributes(&spec.attributes, &mut problems);
    let description = check_description(spec.description.as_deref(), &mut problems);
    let retry = check_retry(spec.retry.as_ref(), &mut problems);
    check_job_size(&spec, &payload, &description, &mut problems);
    let problems = problems.into_found();
    if !problems.is_empty() {
        return Err(problems);
    }
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
}

/// The problems found so far with one job, each labelled with the job's name as written so
/// that the report can be matched to the file even when the name itself is the problem.
struct JobProblems<'a> {
    job: &'a str,
    found: Vec<Problem>,
}

impl<'a> JobProblems<'a> {
    fn new(job: &'a str) -> Self {
        Self {
            job,
            found: Vec::new(),
        }
    }

    fn add(&mut self, field: &str, reason: String) {
        self.found.push(Problem {
            job: self.job.to_owned(),
            field: field.to_owned(),
            reason,
        });
    }

    fn into_found(self) -> Vec<Problem> {
        self.found
    }
}

/// The name becomes the Cloud Scheduler job id, so it is held to that id's form here rather
/// than refused by gcloud halfway through a deploy.
fn check_name(name: &str, problems: &mut JobProblems<'_>) {
    let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        problems.add("name", format!("must be 1-{MAX_NAME_CHARS} characters"));
    } else if !name.chars().all(name_ok) {
        problems.add(
            "name",
            "may hold only letters, digits, `_` and `-` (Cloud Scheduler job ids)".into(),
        );
    }
}

/// The zone the schedule is read in: [`DEFAULT_TIME_ZONE`] when unset, the zone the plan also
/// assumes for a job the cloud lists without one, so that the two compare equal.
fn check_time_zone(time_zone: Option<&str>, problems: &mut JobProblems<'_>) -> String {
    let time_zone = time_zone.map_or_else(|| DEFAULT_TIME_ZONE.to_owned(), str::to_owned);
    if let Err(error) = jiff::tz::TimeZone::get(&time_zone) {
        problems.add(
            "time_zone",
            format!("`{time_zone}` is not an IANA time zone name (e.g. Europe/Berlin): {error}"),
        );
    }
    time_zone
}

/// The message data the job publishes: text as written, a mapping as compact JSON (what a
/// subscriber parses). A payload of another type is reported and yields no text, and then
/// whether the message is empty is not judged, as that would report one mistake twice.
fn check_payload(
    payload: Option<&serde_json::Value>,
    attributes: &BTreeMap<String, String>,
    problems: &mut JobProblems<'_>,
) -> String {
    let text = match payload {
        None => Some(String::new()),
        Some(serde_json::Value::String(text)) => Some(text.clone()),
        Some(object @ serde_json::Value::Object(_)) => Some(object.to_string()),
        Some(other) => {
            problems.add(
                "payload",
                format!("must be text or a mapping (sent as a JSON object), not `{other}`"),
            );
            None
        }
    };
    let of_a_usable_type = text.is_some();
    let text = text.unwrap_or_default();
    if text.len() > MAX_GCLOUD_PAYLOAD_BYTES {
        problems.add(
            "payload",
            format!(
                "is {} bytes; the most gcloud can take as one argument is {MAX_GCLOUD_PAYLOAD_BYTES}",
                text.len()
            ),
        );
    }
    if of_a_usable_type && text.is_empty() && attributes.is_empty() {
        problems.add(
            "payload",
            "a Pub/Sub message needs a payload or at least one attribute".into(),
        );
    }
    text
}

/// Pub/Sub would refuse each of these at publish time, long after the deploy said the job
/// was fine; each attribute's problem names its key.
fn check_attributes(attributes: &BTreeMap<String, String>, problems: &mut JobProblems<'_>) {
    if attributes.len() > MAX_ATTRIBUTES {
        problems.add(
            "attributes",
            format!(
                "{} attributes; Pub/Sub allows {MAX_ATTRIBUTES}",
                attributes.len()
            ),
        );
    }
    for (key, value) in attributes {
        let field = format!("attributes.{key}");
        if key.is_empty() || key.len() > MAX_ATTRIBUTE_KEY_BYTES {
            problems.add(
                &field,
                format!("key must be 1-{MAX_ATTRIBUTE_KEY_BYTES} bytes"),
            );
        } else if key.starts_with("goog") {
            problems.add(&field, "keys starting with `goog` are reserved".into());
        } else if key.contains('=') {
            problems.add(&field, "a key cannot contain `=`".into());
        }
        if value.len() > MAX_ATTRIBUTE_VALUE_BYTES {
            problems.add(
                &field,
                format!("value is over {MAX_ATTRIBUTE_VALUE_BYTES} bytes"),
            );
        }
    }
}

/// The description the job gets: empty when unset, as the plan reads a job the cloud lists
/// without one, so that the two compare equal.
fn check_description(description: Option<&str>, problems: &mut JobProblems<'_>) -> String {
    let description = description.unwrap_or_default().to_owned();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        problems.add(
            "description",
            format!("is over {MAX_DESCRIPTION_CHARS} characters"),
        );
    }
    description
}

/// The retry policy the job gets: gcloud's defaults for whatever `retry` leaves unset or
/// states wrongly, so that the order of the backoffs is judged on the values that would apply.
fn check_retry(spec: Option<&RetrySpec>, problems: &mut JobProblems<'_>) -> Retry {
    let mut retry = Retry::default();
    let Some(spec) = spec else {
        return retry;
    };
    if spec.count > MAX_RETRY_COUNT {
        problems.add(
            "retry.count",
            format!(
                "{} is outside 0-{MAX_RETRY_COUNT} (Cloud Scheduler's range)",
                spec.count
            ),
        );
    }
    retry.count = spec.count;
    if let Some(backoff) = check_backoff("retry.min_backoff", spec.min_backoff.as_deref(), problems)
    {
        retry.min_backoff = backoff;
    }
    if let Some(backoff) = check_backoff("retry.max_backoff", spec.max_backoff.as_deref(), problems)
    {
        retry.max_backoff = backoff;
    }
    if retry.min_backoff > retry.max_backoff {
        problems.add(
            "retry.min_backoff",
            format!(
                "{}s is longer than max_backoff {}s",
                retry.min_backoff.as_secs(),
                retry.max_backoff.as_secs()
            ),
        );
    }
    retry
}

/// A backoff, if one is written and usable: Cloud Scheduler takes whole seconds only.
fn check_backoff(
    field: &str,
    text: Option<&str>,
    problems: &mut JobProblems<'_>,
) -> Option<Duration> {
    let text = text?;
    match notebooks_wire::duration::parse(text) {
        Ok(duration) if duration.subsec_nanos() == 0 => Some(duration),
        Ok(_) => {
            problems.add(field, format!("`{text}` must be whole seconds"));
            None
        }
        Err(reason) => {
            problems.add(field, reason);
            None
        }
    }
}

/// Cloud Scheduler refuses a job over [`MAX_JOB_BYTES`] only when it is created; this
/// estimate (the payload as base64, as the API carries it, plus about 1 KB of overhead)
/// refuses it before any command runs.
fn check_job_size(
    spec: &JobSpec,
    payload: &str,
    description: &str,
    problems: &mut JobProblems<'_>,
) {
    let size = base64::engine::general_purpose::STANDARD
        .encode(payload)
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
        problems.add(
            "payload",
            format!("the job would be about {size} bytes; Cloud Scheduler allows {MAX_JOB_BYTES}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one problem `validate` finds in the job `yaml` describes (one job, not a file).
    fn one_problem(yaml: &str) -> (String, String, String) {
        let spec: JobSpec = serde_yaml_ng::from_str(yaml).expect("the job reads");
        let found = validate(spec).expect_err("the job is invalid");
        assert_eq!(found.len(), 1, "{found:?}");
        let p = &found[0];
        (p.job.clone(), p.field.clone(), p.reason.clone())
    }

    fn job(extra: &str) -> String {
        format!("name: j1\nschedule: \"0 6 * * *\"\npayload: x\n{extra}")
    }

    #[test]
    fn each_error_names_the_job_and_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("time_zone: Mars/Olympus\n", "time_zone", "IANA"),
            ("time_zone: UTC+2\n", "time_zone", "IANA"),
            ("retry: {count: 6}\n", "retry.count", "outside 0-5"),
            (
                "retry: {min_backoff: soon}\n",
                "retry.min_backoff",
                "not a duration",
            ),
            (
                "retry: {min_backoff: 1500ms}\n",
                "retry.min_backoff",
                "whole seconds",
            ),
            (
                "retry: {min_backoff: 2h}\n",
                "retry.min_backoff",
                "longer than max_backoff",
            ),
            (
                "attributes: {googX: \"1\"}\n",
                "attributes.googX",
                "reserved",
            ),
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
        let (job, field, reason) = one_problem("name: a\nschedule: \"0 25 * * *\"\npayload: x\n");
        assert_eq!((job.as_str(), field.as_str()), ("a", "schedule"));
        assert!(reason.contains("hour"), "{reason}");

        let (job, field, reason) = one_problem("name: a\nschedule: \"0 6 * * *\"\n");
        assert_eq!((job.as_str(), field.as_str()), ("a", "payload"));
        assert!(reason.contains("at least one attribute"), "{reason}");

        let (_, field, reason) = one_problem("name: a\nschedule: \"0 6 * * *\"\npayload: [1]\n");
        assert_eq!(field, "payload");
        assert!(reason.contains("text or a mapping"), "{reason}");

        let big = "x".repeat(MAX_GCLOUD_PAYLOAD_BYTES + 1);
        let (_, field, reason) = one_problem(&format!(
            "name: a\nschedule: \"0 6 * * *\"\npayload: {big}\n"
        ));
        assert_eq!(field, "payload");
        assert!(reason.contains("bytes"), "{reason}");

        let (job, field, _) = one_problem("name: bad name\nschedule: \"0 6 * * *\"\npayload: x\n");
        assert_eq!((job.as_str(), field.as_str()), ("bad name", "name"));

        let long = "n".repeat(501);
        let (_, field, reason) = one_problem(&format!(
            "name: {long}\nschedule: \"0 6 * * *\"\npayload: x\n"
        ));
        assert_eq!(field, "name");
        assert!(reason.contains("1-500"), "{reason}");
    }
}
