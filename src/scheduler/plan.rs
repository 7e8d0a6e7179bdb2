//! The diff between `scheduler.yaml` and the jobs that exist: the gcloud commands that make
//! the cloud match the file, and nothing more.
//!
//! A plan, not direct API calls, because the deploy script already drives everything through
//! gcloud (one login, one set of flags, `--dry-run` shows what would happen), and because a
//! person can read and run the lines by hand. A second deploy with an unchanged file plans
//! nothing: that is what makes the deploy idempotent for Scheduler.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::{DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF, DEFAULT_TIME_ZONE, Job, SchedulerError};

/// Where the jobs live and what they publish to.
#[derive(Debug, Clone)]
pub struct Target {
    pub project: String,
    pub location: String,
    /// `projects/P/topics/T`.
    pub topic: String,
}

impl Target {
    /// `topic` may be a short name or `projects/P/topics/T` (then P must be `project`: Cloud
    /// Scheduler publishes only to topics of its own project).
    ///
    /// # Errors
    /// [`SchedulerError::Topic`] for a topic of another project or a malformed name.
    pub fn new(project: &str, location: &str, topic: &str) -> Result<Self, SchedulerError> {
        let topic = match topic.strip_prefix("projects/") {
            Some(rest) => match rest.split_once("/topics/") {
                Some((p, t)) if p == project && !t.is_empty() && !t.contains('/') => {
                    topic.to_owned()
                }
                Some((p, _)) if p != project => {
                    return Err(SchedulerError::Topic(format!(
                        "`{topic}` is in project `{p}`; Cloud Scheduler publishes only to topics of its own project `{project}`"
                    )));
                }
                _ => {
                    return Err(SchedulerError::Topic(format!(
                        "`{topic}` is neither a topic id nor projects/P/topics/T"
                    )));
                }
            },
            None if !topic.is_empty() && !topic.contains('/') => {
                format!("projects/{project}/topics/{topic}")
            }
            None => {
                return Err(SchedulerError::Topic(format!(
                    "`{topic}` is neither a topic id nor projects/P/topics/T"
                )));
            }
        };
        Ok(Self {
            project: project.to_owned(),
            location: location.to_owned(),
            topic,
        })
    }
}

/// A job as `gcloud scheduler jobs list --format=json` reports it (the API's `Job`); fields
/// this planner does not manage are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CurrentJob {
    pub name: String,
    pub schedule: String,
    pub time_zone: Option<String>,
    pub description: Option<String>,
    pub state: Option<String>,
    pub pubsub_target: Option<CurrentPubsubTarget>,
    pub retry_config: Option<CurrentRetry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CurrentPubsubTarget {
    pub topic_name: String,
    pub data: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CurrentRetry {
    pub retry_count: Option<u32>,
    pub min_backoff_duration: Option<String>,
    pub max_backoff_duration: Option<String>,
}

/// Reads the JSON array printed by `gcloud scheduler jobs list --format=json`.
///
/// # Errors
/// [`SchedulerError::Current`] when it is not such an array.
pub fn parse_current(text: &str) -> Result<Vec<CurrentJob>, SchedulerError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|e| SchedulerError::Current(e.to_string()))
}

/// The commands, and remarks for the person running them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Each command as its words (`gcloud`, `scheduler`, …).
    pub commands: Vec<Vec<String>>,
    /// Things left alone on purpose (jobs in the cloud that the file does not mention).
    pub notes: Vec<String>,
}

impl Plan {
    /// One shell-quoted command per line.
    pub fn render(&self) -> String {
        self.commands
            .iter()
            .map(|words| super::shell::line(words) + "\n")
            .collect()
    }
}

/// Plans the commands that make `current` match `desired`.
///
/// # Errors
/// [`SchedulerError::Current`] when a job of the file exists with a target other than Pub/Sub
/// (gcloud cannot turn it into one; delete it first).
pub fn plan(
    desired: &[Job],
    current: &[CurrentJob],
    target: &Target,
) -> Result<Plan, SchedulerError> {
    let by_id: BTreeMap<&str, &CurrentJob> = current
        .iter()
        .map(|job| (job.name.rsplit('/').next().unwrap_or(&job.name), job))
        .collect();
    let mut plan = Plan::default();
    for job in desired {
        let base = |verb: &[&str]| -> Vec<String> {
            let mut words: Vec<String> = ["gcloud", "scheduler", "jobs"]
                .iter()
                .chain(verb)
                .map(|w| (*w).to_owned())
                .collect();
            words.push(job.name.clone());
            words.push(format!("--project={}", target.project));
            words.push(format!("--location={}", target.location));
            words
        };
        match by_id.get(job.name.as_str()) {
            None => {
                let mut words = base(&["create", "pubsub"]);
                words.extend(create_flags(job, target));
                plan.commands.push(words);
                if job.paused {
                    plan.commands.push(base(&["pause"]));
                }
            }
            Some(existing) => {
                let Some(pubsub) = &existing.pubsub_target else {
                    return Err(SchedulerError::Current(format!(
                        "job `{}` exists without a Pub/Sub target; delete it (gcloud scheduler jobs delete {} --location={}) and deploy again",
                        job.name, job.name, target.location
                    )));
                };
                let flags = update_flags(job, existing, pubsub, target);
                if !flags.is_empty() {
                    let mut words = base(&["update", "pubsub"]);
                    words.extend(flags);
                    plan.commands.push(words);
                }
                let paused = existing.state.as_deref() == Some("PAUSED");
                let enabled = existing.state.as_deref() == Some("ENABLED");
                if job.paused && !paused {
                    plan.commands.push(base(&["pause"]));
                } else if !job.paused && !enabled {
                    plan.commands.push(base(&["resume"]));
                }
            }
        }
    }
    for (id, _) in by_id {
        if !desired.iter().any(|job| job.name == id) {
            plan.notes.push(format!(
                "job `{id}` exists in {} but not in the file; left alone (delete it with: gcloud scheduler jobs delete {id} --project={} --location={})",
                target.location, target.project, target.location
            ));
        }
    }
    Ok(plan)
}

fn secs(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

/// `K=V,K2=V2`, or gcloud's `^DELIM^K=V…` form when a key or value holds a comma.
fn attribute_list<'a>(pairs: impl Iterator<Item = (&'a String, Option<&'a String>)>) -> String {
    let items: Vec<String> = pairs
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    if items.iter().all(|item| !item.contains(',')) {
        return items.join(",");
    }
    let delimiter = [";", "|", "~", "#", "!", "+", "%", "@"]
        .into_iter()
        .find(|d| items.iter().all(|item| !item.contains(d)))
        .unwrap_or("\u{1f}");
    format!("^{delimiter}^{}", items.join(delimiter))
}

fn create_flags(job: &Job, target: &Target) -> Vec<String> {
    let mut flags = vec![
        format!("--schedule={}", job.schedule),
        format!("--time-zone={}", job.time_zone),
        format!("--topic={}", target.topic),
    ];
    if !job.payload.is_empty() {
        flags.push(format!("--message-body={}", job.payload));
    }
    if !job.attributes.is_empty() {
        flags.push(format!(
            "--attributes={}",
            attribute_list(job.attributes.iter().map(|(k, v)| (k, Some(v))))
        ));
    }
    if !job.description.is_empty() {
        flags.push(format!("--description={}", job.description));
    }
    flags.push(format!("--max-retry-attempts={}", job.retry.count));
    flags.push(format!("--min-backoff={}", secs(job.retry.min_backoff)));
    flags.push(format!("--max-backoff={}", secs(job.retry.max_backoff)));
    flags
}

/// `"5s"`, `"0.500s"` → duration; absent → `default`.
fn api_duration(text: Option<&str>, default: Duration) -> Option<Duration> {
    match text {
        None => Some(default),
        Some(text) => text
            .strip_suffix('s')
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(Duration::from_secs_f64),
    }
}

fn update_flags(
    job: &Job,
    existing: &CurrentJob,
    pubsub: &CurrentPubsubTarget,
    target: &Target,
) -> Vec<String> {
    let mut flags = Vec::new();
    if existing
        .schedule
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        != job.schedule
    {
        flags.push(format!("--schedule={}", job.schedule));
    }
    if existing.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE) != job.time_zone {
        flags.push(format!("--time-zone={}", job.time_zone));
    }
    if pubsub.topic_name != target.topic {
        flags.push(format!("--topic={}", target.topic));
    }
    let data = pubsub
        .data
        .as_deref()
        .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
        .unwrap_or_default();
    if data != job.payload.as_bytes() {
        // gcloud cannot clear the body; an emptied payload (attributes only) keeps the old one.
        if !job.payload.is_empty() {
            flags.push(format!("--message-body={}", job.payload));
        }
    }
    if pubsub.attributes != job.attributes {
        if job.attributes.is_empty() {
            flags.push("--clear-attributes".into());
        } else {
            flags.push(format!(
                "--update-attributes={}",
                attribute_list(job.attributes.iter().map(|(k, v)| (k, Some(v))))
            ));
            let removed: Vec<&String> = pubsub
                .attributes
                .keys()
                .filter(|k| !job.attributes.contains_key(*k))
                .collect();
            if !removed.is_empty() {
                flags.push(format!(
                    "--remove-attributes={}",
                    attribute_list(removed.into_iter().map(|k| (k, None)))
                ));
            }
        }
    }
    if existing.description.as_deref().unwrap_or_default() != job.description {
        flags.push(format!("--description={}", job.description));
    }
    let retry = existing.retry_config.clone().unwrap_or_default();
    if retry.retry_count.unwrap_or(0) != job.retry.count {
        flags.push(format!("--max-retry-attempts={}", job.retry.count));
    }
    if api_duration(retry.min_backoff_duration.as_deref(), DEFAULT_MIN_BACKOFF)
        != Some(job.retry.min_backoff)
    {
        flags.push(format!("--min-backoff={}", secs(job.retry.min_backoff)));
    }
    if api_duration(retry.max_backoff_duration.as_deref(), DEFAULT_MAX_BACKOFF)
        != Some(job.retry.max_backoff)
    {
        flags.push(format!("--max-backoff={}", secs(job.retry.max_backoff)));
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::parse;

    fn target() -> Target {
        Target::new("proj", "europe-west3", "trigger").expect("valid target")
    }

    const FILE: &str = r#"
jobs:
  - name: morning
    schedule: "0 6 * * *"
    time_zone: Europe/Berlin
    payload: TweetiNoteStartTopic
    attributes: {source: scheduler}
    description: every morning
    retry: {count: 2, min_backoff: 10s, max_backoff: 300s}
  - name: weekly
    schedule: "0 7 * * MON"
    payload: {profile: gpu}
    paused: true
"#;

    /// What `gcloud scheduler jobs list --format=json` shows after the plan of FILE ran.
    fn deployed() -> serde_json::Value {
        serde_json::json!([
            {
                "name": "projects/proj/locations/europe-west3/jobs/morning",
                "schedule": "0 6 * * *",
                "timeZone": "Europe/Berlin",
                "description": "every morning",
                "state": "ENABLED",
                "pubsubTarget": {
                    "topicName": "projects/proj/topics/trigger",
                    "data": "VHdlZXRpTm90ZVN0YXJ0VG9waWM=",
                    "attributes": {"source": "scheduler"}
                },
                "retryConfig": {"retryCount": 2, "minBackoffDuration": "10s", "maxBackoffDuration": "300s", "maxDoublings": 5, "maxRetryDuration": "0s"},
                "userUpdateTime": "2026-11-22T06:00:00Z"
            },
            {
                "name": "projects/proj/locations/europe-west3/jobs/weekly",
                "schedule": "0 7 * * MON",
                "timeZone": "Etc/UTC",
                "state": "PAUSED",
                "pubsubTarget": {"topicName": "projects/proj/topics/trigger", "data": "eyJwcm9maWxlIjoiZ3B1In0="},
                "retryConfig": {"maxBackoffDuration": "3600s", "maxDoublings": 5, "minBackoffDuration": "5s"}
            }
        ])
    }

    fn lines(current: &serde_json::Value) -> Vec<String> {
        let jobs = parse(FILE).expect("valid");
        let current = parse_current(&current.to_string()).expect("current");
        plan(&jobs, &current, &target())
            .expect("plan")
            .render()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn nothing_deployed_creates_everything() {
        assert_eq!(
            lines(&serde_json::json!([])),
            [
                "gcloud scheduler jobs create pubsub morning --project=proj --location=europe-west3 '--schedule=0 6 * * *' --time-zone=Europe/Berlin --topic=projects/proj/topics/trigger --message-body=TweetiNoteStartTopic --attributes=source=scheduler '--description=every morning' --max-retry-attempts=2 --min-backoff=10s --max-backoff=300s",
                r#"gcloud scheduler jobs create pubsub weekly --project=proj --location=europe-west3 '--schedule=0 7 * * MON' --time-zone=Etc/UTC --topic=projects/proj/topics/trigger '--message-body={"profile":"gpu"}' --max-retry-attempts=0 --min-backoff=5s --max-backoff=3600s"#,
                "gcloud scheduler jobs pause weekly --project=proj --location=europe-west3",
            ]
        );
    }

    #[test]
    fn in_sync_plans_nothing() {
        assert_eq!(lines(&deployed()), Vec::<String>::new());
    }

    #[test]
    fn updates_only_what_changed() {
        let mut current = deployed();
        current[0]["schedule"] = "0 5 * * *".into();
        current[0]["pubsubTarget"]["data"] = "b2xk".into();
        current[0]["pubsubTarget"]["attributes"] = serde_json::json!({"source": "x", "old": "1"});
        current[0]["retryConfig"]["retryCount"] = 0.into();
        current[1]["timeZone"] = "Europe/Paris".into();
        current[1]["description"] = "old text".into();
        current[1]["pubsubTarget"]["topicName"] = "projects/proj/topics/other".into();
        assert_eq!(
            lines(&current),
            [
                "gcloud scheduler jobs update pubsub morning --project=proj --location=europe-west3 '--schedule=0 6 * * *' --message-body=TweetiNoteStartTopic --update-attributes=source=scheduler --remove-attributes=old --max-retry-attempts=2",
                "gcloud scheduler jobs update pubsub weekly --project=proj --location=europe-west3 --time-zone=Etc/UTC --topic=projects/proj/topics/trigger --description=",
            ]
        );
    }

    #[test]
    fn pauses_and_resumes() {
        let mut current = deployed();
        current[0]["state"] = "PAUSED".into();
        current[1]["state"] = "ENABLED".into();
        assert_eq!(
            lines(&current),
            [
                "gcloud scheduler jobs resume morning --project=proj --location=europe-west3",
                "gcloud scheduler jobs pause weekly --project=proj --location=europe-west3",
            ]
        );
    }

    #[test]
    fn clears_attributes_and_notes_unknown_jobs() {
        let mut current = deployed();
        current[1]["pubsubTarget"]["attributes"] = serde_json::json!({"a": "b"});
        let extra = serde_json::json!({"name": "projects/proj/locations/europe-west3/jobs/someone-elses", "schedule": "* * * * *", "state": "ENABLED", "pubsubTarget": {"topicName": "projects/proj/topics/x"}});
        current.as_array_mut().expect("array").push(extra);
        let jobs = parse(FILE).expect("valid");
        let planned = plan(
            &jobs,
            &parse_current(&current.to_string()).expect("current"),
            &target(),
        )
        .expect("plan");
        assert_eq!(
            planned.render(),
            "gcloud scheduler jobs update pubsub weekly --project=proj --location=europe-west3 --clear-attributes\n"
        );
        assert_eq!(planned.notes.len(), 1);
        assert!(planned.notes[0].contains("someone-elses"));
    }

    #[test]
    fn a_non_pubsub_job_of_the_same_name_is_an_error() {
        let current = serde_json::json!([{"name": "projects/proj/locations/europe-west3/jobs/morning", "schedule": "0 6 * * *", "httpTarget": {"uri": "https://x"}}]);
        let jobs = parse(FILE).expect("valid");
        let error = plan(
            &jobs,
            &parse_current(&current.to_string()).expect("current"),
            &target(),
        )
        .expect_err("refused");
        assert!(error.to_string().contains("`morning`"), "{error}");
    }

    #[test]
    fn attribute_lists_with_commas_use_another_delimiter() {
        let a = "a".to_owned();
        let v = "1,2".to_owned();
        let w = "x;y".to_owned();
        assert_eq!(
            attribute_list([(&a, Some(&v))].into_iter()),
            "^;^a=1,2".to_owned()
        );
        let b = "b".to_owned();
        assert_eq!(
            attribute_list([(&a, Some(&v)), (&b, Some(&w))].into_iter()),
            "^|^a=1,2|b=x;y".to_owned()
        );
    }

    #[test]
    fn topics_of_another_project_are_refused() {
        assert_eq!(
            Target::new("p", "l", "projects/p/topics/t")
                .expect("same")
                .topic,
            "projects/p/topics/t"
        );
        for bad in ["projects/q/topics/t", "projects/p/subs/t", "", "a/b"] {
            assert!(Target::new("p", "l", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn current_state_must_be_a_list() {
        assert!(parse_current("").expect("empty").is_empty());
        assert!(parse_current("{}").is_err());
    }
}
