//! The diff between `scheduler.yaml` and the jobs that exist: the gcloud commands that make
//! the cloud match the file, and nothing more.
//!
//! A plan, not direct API calls, because the deploy script already drives everything through
//! gcloud (one login, one set of flags, `--dry-run` shows what would happen), and because a
//! person can read and run the lines by hand. A second deploy with an unchanged file plans
//! nothing: that is what makes the deploy idempotent for Scheduler.

use std::collections::BTreeMap;

use super::current::CurrentJob;
use super::flags::{create_flags, update_flags};
use super::{Job, SchedulerError, SchedulerTarget};

/// The commands, and remarks for the person running them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SchedulerPlan {
    /// Each command as its words (`gcloud`, `scheduler`, …).
    pub commands: Vec<Vec<String>>,
    /// Things left alone on purpose (jobs in the cloud that the file does not mention).
    pub notes: Vec<String>,
}

impl SchedulerPlan {
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
    target: &SchedulerTarget,
) -> Result<SchedulerPlan, SchedulerError> {
    let by_id: BTreeMap<&str, &CurrentJob> = current
        .iter()
        .map(|job| (job.name.rsplit('/').next().unwrap_or(&job.name), job))
        .collect();
    let mut plan = SchedulerPlan::default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::{parse, parse_current};

    fn target() -> SchedulerTarget {
        SchedulerTarget::new("proj", "europe-west3", "trigger").expect("valid target")
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
}
