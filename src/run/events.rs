//! Run events: one Pub/Sub message per change of a run's state, so a team can route what
//! matters to it (failures to mail or chat, say) with a subscription and a filter of its own,
//! without polling records.
//!
//! A message's attributes say what happened (`run_id`, `event`, `state`, `profile`, which
//! `attempt` at its run it is and, for a retry, the `first_attempt`'s run id; for an outcome
//! its `error`, when a cell raised the `exception`'s name, and the notebook's `result` as
//! compact JSON when it fits an attribute (the data always has it); for a cleanup `action`,
//! `by` and the cleanup's `error`; for `retrying` the `next_attempt`, its `next_run_id` and the
//! `retry_at` time it is launched at), so a subscription filter can pick events without
//! reading the data; the data is the run record as it was written at that step, the failing
//! cell and its traceback included. Events are
//! published at least once and, for one run, one after another: a subscriber that must not act
//! twice keys on `run_id` and `event`.
//!
//! Publishing never decides a launch or a report: it runs under a timeout, and a failure is
//! logged and otherwise ignored (the record in Cloud Storage stays the run's story).

use std::collections::BTreeMap;
use std::time::Duration;

use google_cloud_pubsub::client::Publisher;
use tokio::sync::OnceCell;

use super::{RunRecord, RunState};
use crate::cause;
use crate::pubsub::{self, Outgoing, PubSubEndpoint, PubSubError};

/// The largest attribute value Pub/Sub takes, in bytes.
const MAX_ATTRIBUTE_BYTES: usize = 1024;

/// One change of a run's state, as a message announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEvent {
    /// The run reached this state: `launched` when its instance was created, the others when
    /// its report was taken.
    Reached(RunState),
    /// The run was still going past its profile's `expected_duration` when a reap looked:
    /// announced once per run (the record's `overdue_at`).
    Overdue,
    /// A cleanup was done (or tried) and recorded, by the report or by the reaper.
    CleanedUp,
    /// The attempt ended in an outcome its profile retries: the next attempt is scheduled.
    Retrying,
}

impl RunEvent {
    /// Every event: the states of a run, then its being overdue, its cleanup and its retry.
    pub const ALL: [RunEvent; RunState::ALL.len() + 3] = {
        let mut all = [RunEvent::CleanedUp; RunState::ALL.len() + 3];
        let mut i = 0;
        while i < RunState::ALL.len() {
            all[i] = RunEvent::Reached(RunState::ALL[i]);
            i += 1;
        }
        all[i] = RunEvent::Overdue;
        all[i + 2] = RunEvent::Retrying;
        all
    };

    /// The event named `name` (its `event` attribute).
    pub fn from_name(name: &str) -> Option<RunEvent> {
        RunEvent::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// The `event` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            RunEvent::Reached(state) => state.as_str(),
            RunEvent::Overdue => "overdue",
            RunEvent::CleanedUp => "cleaned_up",
            RunEvent::Retrying => "retrying",
        }
    }

    /// The message announcing this event of `record`: attributes to filter on, the record as
    /// data.
    pub fn message(self, record: &RunRecord) -> Outgoing {
        let mut attributes = BTreeMap::from([
            ("run_id".to_owned(), record.run_id.to_string()),
            ("event".to_owned(), self.as_str().to_owned()),
            ("state".to_owned(), record.state.as_str().to_owned()),
            ("profile".to_owned(), record.profile.clone()),
            ("trigger".to_owned(), record.trigger.clone()),
            ("attempt".to_owned(), record.attempt().to_string()),
        ]);
        // What the run executes on: its instance, or its job.
        if !record.instance.is_empty() {
            attributes.insert("instance".to_owned(), record.instance.clone());
        }
        if let Some(job) = &record.execution {
            attributes.insert("execution".to_owned(), job.clone());
        }
        if record.attempt() > 1 {
            let first = record.first_attempt().to_string();
            attributes.insert("first_attempt".to_owned(), first);
        }
        if let RunEvent::Reached(_) = self {
            if !record.error.is_empty() {
                attributes.insert("error".to_owned(), truncated(&record.error).to_owned());
            }
            if let Some(failure) = record.failure.as_ref().filter(|f| !f.ename.is_empty()) {
                attributes.insert("exception".to_owned(), truncated(&failure.ename).to_owned());
            }
            let result = record.result.as_ref().map(serde_json::Value::to_string);
            if let Some(result) = result.filter(|r| r.len() <= MAX_ATTRIBUTE_BYTES) {
                attributes.insert("result".to_owned(), result);
            }
        }
        if let (RunEvent::Overdue, Some(at)) = (self, record.overdue_at) {
            attributes.insert("overdue_at".to_owned(), at.to_string());
        }
        if let (RunEvent::CleanedUp, Some(cleanup)) = (self, &record.cleanup) {
            attributes.insert("action".to_owned(), cleanup.action.as_str().to_owned());
            attributes.insert("by".to_owned(), cleanup.by.clone());
            if let Some(error) = &cleanup.error {
                attributes.insert("error".to_owned(), truncated(error).to_owned());
            }
        }
        if let (RunEvent::Retrying, Some(next)) = (self, &record.next_attempt) {
            attributes.insert("next_attempt".to_owned(), next.attempt.to_string());
            attributes.insert("next_run_id".to_owned(), next.run_id.to_string());
            attributes.insert("retry_at".to_owned(), next.at.to_string());
        }
        Outgoing {
            data: serde_json::to_vec(record).expect("a run record serialises"),
            attributes,
            ordering_key: None,
        }
    }
}

/// `text` cut to what an attribute value holds, on a character boundary.
fn truncated(text: &str) -> &str {
    super::text::head(text, MAX_ATTRIBUTE_BYTES)
}

/// Publishes run events to `RUN_EVENTS_TOPIC`; built once at start-up and shared.
#[derive(Debug)]
pub struct RunEvents {
    endpoint: PubSubEndpoint,
    /// `projects/P/topics/T`.
    topic: String,
    timeout: Duration,
    /// Built on first use, under the timeout: a service that never publishes needs no Pub/Sub
    /// credentials to start, and one that could not build it tries again at the next event.
    publisher: OnceCell<Publisher>,
}

impl RunEvents {
    /// Events to `topic` (a topic id in the endpoint's project, or `projects/P/topics/T`),
    /// each publish given at most `timeout`.
    ///
    /// # Errors
    /// A usage error when `topic` is not a topic name.
    pub fn new(
        endpoint: PubSubEndpoint,
        topic: &str,
        timeout: Duration,
    ) -> Result<Self, PubSubError> {
        Ok(Self {
            topic: endpoint.topic(topic)?,
            endpoint,
            timeout,
            publisher: OnceCell::new(),
        })
    }

    /// `projects/P/topics/T`.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Announces `event` of `record` and returns the message id. Never fails and never waits
    /// longer than the timeout: a message that could not be published is logged with its
    /// cause, and `None` returned.
    pub async fn publish(&self, event: RunEvent, record: &RunRecord) -> Option<String> {
        let message = event.message(record);
        let outcome = tokio::time::timeout(self.timeout, self.send(message))
            .await
            .unwrap_or(Err(PubSubError::Timeout(self.timeout)));
        match outcome {
            Ok(id) => {
                tracing::info!(run = %record.run_id, event = event.as_str(), topic = %self.topic, message_id = %id, "run event published");
                Some(id)
            }
            Err(error) => {
                tracing::warn!(run = %record.run_id, event = event.as_str(), topic = %self.topic, error = %cause::chain(&error), "run event not published");
                None
            }
        }
    }

    async fn send(&self, message: Outgoing) -> Result<String, PubSubError> {
        let publisher = self
            .publisher
            .get_or_try_init(|| self.endpoint.publisher(&self.topic))
            .await?;
        pubsub::send(publisher, &self.topic, message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Cleanup, CleanupRecord, RunId};

    fn record(state: RunState, cleanup: Option<CleanupRecord>) -> RunRecord {
        RunRecord {
            profile: "nightly".into(),
            state,
            cleanup,
            ..RunRecord::example("7", "2026-12-01T10:00:00Z")
        }
    }

    fn cleanup(error: Option<String>) -> CleanupRecord {
        CleanupRecord {
            action: Cleanup::Stop,
            at: "2026-12-01T10:05:00Z".parse().unwrap(),
            error,
            by: "reaper".into(),
        }
    }

    #[test]
    fn every_state_is_an_event_then_overdue_cleanup_and_retry() {
        let names: Vec<&str> = RunEvent::ALL.iter().map(|e| e.as_str()).collect();
        let states: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names[..states.len()], states[..]);
        assert_eq!(names[states.len()..], ["overdue", "cleaned_up", "retrying"]);
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
    }

    #[test]
    fn a_state_becomes_attributes_to_filter_on_and_the_record_as_data() {
        let record = record(RunState::Failed, None);
        let message = RunEvent::Reached(RunState::Failed).message(&record);
        let attribute = |k: &str| message.attributes.get(k).map(String::as_str);
        assert_eq!(attribute("run_id"), Some(record.run_id.as_str()));
        assert_eq!(attribute("event"), Some("failed"));
        assert_eq!(attribute("state"), Some("failed"));
        assert_eq!(attribute("profile"), Some("nightly"));
        assert_eq!(attribute("trigger"), Some("pubsub"));
        assert_eq!(attribute("instance"), Some(record.instance.as_str()));
        assert_eq!(attribute("attempt"), Some("1"));
        for absent in [
            "action",
            "by",
            "error",
            "first_attempt",
            "next_attempt",
            "execution",
        ] {
            assert_eq!(attribute(absent), None, "{absent}");
        }
        let data: RunRecord = serde_json::from_slice(&message.data).unwrap();
        assert_eq!(data, record);
        assert_eq!(message.ordering_key, None);
    }

    #[test]
    fn a_run_that_executes_as_a_job_names_its_job_and_no_instance() {
        let job = "projects/p/locations/us-central1/notebookExecutionJobs/notebook-r1";
        let record = RunRecord {
            instance: String::new(),
            execution: Some(job.to_owned()),
            ..record(RunState::Succeeded, None)
        };
        let message = RunEvent::Reached(RunState::Succeeded).message(&record);
        assert_eq!(
            message.attributes.get("execution").map(String::as_str),
            Some(job)
        );
        assert!(!message.attributes.contains_key("instance"), "{message:?}");
    }

    #[test]
    fn a_cleanup_says_what_was_done_by_whom_and_why_it_failed() {
        let done = record(RunState::Succeeded, Some(cleanup(None)));
        let message = RunEvent::CleanedUp.message(&done);
        assert_eq!(message.attributes["event"], "cleaned_up");
        assert_eq!(message.attributes["state"], "succeeded");
        assert_eq!(message.attributes["action"], "stop");
        assert_eq!(message.attributes["by"], "reaper");
        assert!(!message.attributes.contains_key("error"));

        let long = format!("UNAVAILABLE: {}", "é".repeat(MAX_ATTRIBUTE_BYTES));
        let failed = record(RunState::TimedOut, Some(cleanup(Some(long.clone()))));
        let message = RunEvent::CleanedUp.message(&failed);
        let error = &message.attributes["error"];
        assert!(error.len() <= MAX_ATTRIBUTE_BYTES && error.len() > MAX_ATTRIBUTE_BYTES - 2);
        assert!(long.starts_with(error.as_str()));
        let data: RunRecord = serde_json::from_slice(&message.data).unwrap();
        assert_eq!(data.cleanup.unwrap().error, Some(long));
    }

    #[test]
    fn an_outcome_names_its_error_and_the_exception_a_cell_raised() {
        let raised = RunRecord {
            error: "cell 3 raised ValueError: the data is bad".into(),
            failure: Some(crate::run::Failure {
                cell_index: 2,
                source: "f()".into(),
                ename: "ValueError".into(),
                evalue: "the data is bad".into(),
                traceback: "ValueError: the data is bad".into(),
            }),
            ..record(RunState::Failed, Some(cleanup(None)))
        };
        let message = RunEvent::Reached(RunState::Failed).message(&raised);
        assert_eq!(message.attributes["error"], raised.error);
        assert_eq!(message.attributes["exception"], "ValueError");
        let data: RunRecord = serde_json::from_slice(&message.data).unwrap();
        assert_eq!(data.failure, raised.failure);
        let cleaned = RunEvent::CleanedUp.message(&raised);
        assert!(!cleaned.attributes.contains_key("exception"));
        assert!(
            !cleaned.attributes.contains_key("error"),
            "a cleanup's error is its own"
        );
    }

    #[test]
    fn a_retry_names_its_attempts_and_when_the_next_one_starts() {
        let first = record(RunState::Failed, None);
        let next = crate::run::NextAttempt {
            run_id: RunId::derive("retry:x#2"),
            attempt: 2,
            at: "2026-12-01T10:06:00Z".parse().unwrap(),
            launched: None,
            refused: None,
        };
        let scheduled = RunRecord {
            next_attempt: Some(next.clone()),
            ..first.clone()
        };
        let message = RunEvent::Retrying.message(&scheduled);
        assert_eq!(message.attributes["event"], "retrying");
        assert_eq!(message.attributes["state"], "failed");
        assert_eq!(message.attributes["attempt"], "1");
        assert_eq!(message.attributes["next_attempt"], "2");
        assert_eq!(message.attributes["next_run_id"], next.run_id.as_str());
        assert_eq!(message.attributes["retry_at"], "2026-12-01T10:06:00Z");
        let second = RunRecord {
            run_id: next.run_id.clone(),
            origin: Some(crate::run::Origin::Retry {
                of: first.run_id.clone(),
                attempt: 2,
            }),
            ..record(RunState::Launched, None)
        };
        let message = RunEvent::Reached(RunState::Launched).message(&second);
        assert_eq!(message.attributes["attempt"], "2");
        assert_eq!(message.attributes["first_attempt"], first.run_id.as_str());
        assert!(!message.attributes.contains_key("next_attempt"));
    }

    #[test]
    fn an_overdue_run_is_announced_with_when_it_was_found() {
        let at: jiff::Timestamp = "2026-12-01T10:30:00Z".parse().unwrap();
        let overdue = record(RunState::Launched, None).overdue(at).unwrap();
        let message = RunEvent::Overdue.message(&overdue);
        assert_eq!(message.attributes["event"], "overdue");
        assert_eq!(message.attributes["state"], "launched");
        assert_eq!(message.attributes["overdue_at"], "2026-12-01T10:30:00Z");
        assert_eq!(RunEvent::from_name("overdue"), Some(RunEvent::Overdue));
        assert_eq!(RunEvent::from_name("overdo"), None);
    }

    #[test]
    fn a_result_is_an_attribute_when_it_fits_one_and_always_in_the_data() {
        let short = RunRecord {
            result: Some(serde_json::json!({"rows": 12, "table": "sales"})),
            ..record(RunState::Succeeded, Some(cleanup(None)))
        };
        let message = RunEvent::Reached(RunState::Succeeded).message(&short);
        assert_eq!(
            message.attributes["result"],
            r#"{"rows":12,"table":"sales"}"#
        );
        assert!(
            !RunEvent::CleanedUp
                .message(&short)
                .attributes
                .contains_key("result")
        );
        let long = RunRecord {
            result: Some(serde_json::json!("x".repeat(MAX_ATTRIBUTE_BYTES))),
            ..short
        };
        let message = RunEvent::Reached(RunState::Succeeded).message(&long);
        assert!(!message.attributes.contains_key("result"));
        let data: RunRecord = serde_json::from_slice(&message.data).unwrap();
        assert_eq!(data.result, long.result);
    }

    #[test]
    fn a_state_event_leaves_an_earlier_cleanup_out_of_its_attributes() {
        let record = record(RunState::Failed, Some(cleanup(None)));
        let message = RunEvent::Reached(RunState::Failed).message(&record);
        assert!(!message.attributes.contains_key("action"));
    }

    #[test]
    fn help_and_the_readme_name_every_event() {
        let names: Vec<&str> = RunEvent::ALL.iter().map(|e| e.as_str()).collect();
        let help = crate::config::VARIABLES
            .iter()
            .find(|v| v.name == "RUN_EVENTS_TOPIC")
            .expect("RUN_EVENTS_TOPIC is declared")
            .meaning;
        assert!(help.contains(&names.join(", ")), "{help}");
        let readme = include_str!("../../README.md");
        let table = readme
            .split("| Event | When |\n|---|---|\n")
            .nth(1)
            .expect("the README has the table of run events");
        let listed: Vec<&str> = table
            .lines()
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.split('`').nth(1))
            .collect();
        assert_eq!(listed, names);
    }

    #[test]
    fn a_topic_is_named_in_the_service_project_or_in_full() {
        let endpoint = |emulator: Option<&str>| PubSubEndpoint {
            project: "p".into(),
            emulator: emulator.map(str::to_owned),
        };
        let short = RunEvents::new(endpoint(None), "run-events", Duration::from_secs(1)).unwrap();
        assert_eq!(short.topic(), "projects/p/topics/run-events");
        let full = RunEvents::new(
            endpoint(None),
            "projects/q/topics/ops",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(full.topic(), "projects/q/topics/ops");
        assert!(
            RunEvents::new(endpoint(None), "projects/q/subscriptions/x", Duration::ZERO).is_err()
        );
    }

    #[tokio::test]
    async fn an_unreachable_topic_ends_in_a_log_line_not_an_error_or_a_hang() {
        // A closed local port: the client retries; the timeout must end it.
        let endpoint = PubSubEndpoint {
            project: "p".into(),
            emulator: Some("127.0.0.1:9".into()),
        };
        let events = RunEvents::new(endpoint, "run-events", Duration::from_millis(300)).unwrap();
        let published = tokio::time::timeout(
            Duration::from_secs(60),
            events.publish(RunEvent::CleanedUp, &record(RunState::Succeeded, None)),
        )
        .await
        .expect("publishing is bounded by its own timeout");
        assert_eq!(published, None);
    }
}
