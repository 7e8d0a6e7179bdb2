//! What a notebook execution job's state means for its run. The job ends on Google's side and
//! nothing tells the service: a reap (or `runs show`) reads the job, and a job in a terminal
//! state ends its run through the same [`Transitions`](super::Transitions) as a runner's
//! report, with the state this table gives and the error the job's `status` says.

use jiff::Timestamp;

use super::{RunRecord, RunState};
use crate::executions::Job;
use crate::notebooks::Code;

/// How a job ended, as its run's record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEnd {
    pub state: RunState,
    /// The job's `status.message`, with its state when that says more than the run's.
    pub error: String,
    /// When the job last changed: its end.
    pub finished: Option<Timestamp>,
    pub started: Option<Timestamp>,
}

/// The run state of a job in `job_state` whose `status` has `code`; `None` while it is going.
pub fn run_state(job_state: &str, code: Code) -> Option<RunState> {
    match job_state {
        "JOB_STATE_SUCCEEDED" => Some(RunState::Succeeded),
        "JOB_STATE_FAILED" if code == Code::DeadlineExceeded => Some(RunState::TimedOut),
        "JOB_STATE_FAILED" | "JOB_STATE_PARTIALLY_SUCCEEDED" => Some(RunState::Failed),
        "JOB_STATE_CANCELLED" => Some(RunState::Cancelled),
        "JOB_STATE_EXPIRED" => Some(RunState::TimedOut),
        // QUEUED, PENDING, RUNNING, CANCELLING, PAUSED, UPDATING, UNSPECIFIED, and any state
        // the API adds later: not an end the service can name.
        _ => None,
    }
}

/// How `job` ended; `None` while it is going.
pub fn end_of(job: &Job) -> Option<JobEnd> {
    let job_state = job.job_state.as_deref().unwrap_or("JOB_STATE_UNSPECIFIED");
    let status = job.status.clone().unwrap_or_default();
    let state = run_state(job_state, status.code())?;
    let error = match state {
        RunState::Succeeded => String::new(),
        _ if status.message.is_empty() => format!("the job ended {job_state}"),
        RunState::Failed if job_state != "JOB_STATE_FAILED" => {
            format!("the job ended {job_state}: {}", status.message)
        }
        _ => status.message,
    };
    Some(JobEnd {
        state,
        error,
        finished: job.update_time,
        started: job.create_time,
    })
}

impl RunRecord {
    /// The record of a run whose job ended as `end`, with the `outputs` its folder holds;
    /// `None` once the run has an outcome. A job cancelled because an operator asked keeps
    /// the operator in its error.
    pub fn executed(&self, end: &JobEnd, outputs: &[String]) -> Option<Self> {
        (self.state == RunState::Launched).then(|| {
            let mut next = self.clone();
            next.state = end.state;
            next.error = match (&self.cancel, end.state) {
                (Some(cancel), RunState::Cancelled) => {
                    format!("cancelled by {} at {}", cancel.by, cancel.at)
                }
                _ => end.error.clone(),
            };
            next.started = end.started;
            next.finished = end.finished;
            next.outputs = outputs.to_vec();
            next
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executions::JobStatus;

    #[test]
    fn each_job_state_maps_to_its_run_state() {
        let table = [
            ("JOB_STATE_SUCCEEDED", Code::Ok, Some(RunState::Succeeded)),
            ("JOB_STATE_FAILED", Code::Unknown, Some(RunState::Failed)),
            (
                "JOB_STATE_FAILED",
                Code::DeadlineExceeded,
                Some(RunState::TimedOut),
            ),
            ("JOB_STATE_CANCELLED", Code::Ok, Some(RunState::Cancelled)),
            ("JOB_STATE_EXPIRED", Code::Ok, Some(RunState::TimedOut)),
            (
                "JOB_STATE_PARTIALLY_SUCCEEDED",
                Code::Ok,
                Some(RunState::Failed),
            ),
            ("JOB_STATE_QUEUED", Code::Ok, None),
            ("JOB_STATE_PENDING", Code::Ok, None),
            ("JOB_STATE_RUNNING", Code::Ok, None),
            ("JOB_STATE_CANCELLING", Code::Ok, None),
            ("JOB_STATE_PAUSED", Code::Ok, None),
            ("JOB_STATE_UPDATING", Code::Ok, None),
            ("JOB_STATE_UNSPECIFIED", Code::Ok, None),
            ("JOB_STATE_SOMETHING_NEW", Code::Ok, None),
        ];
        for (job_state, code, expected) in table {
            assert_eq!(run_state(job_state, code), expected, "{job_state} {code:?}");
        }
    }

    fn job(state: &str, code: i32, message: &str) -> Job {
        Job {
            job_state: Some(state.into()),
            status: Some(JobStatus {
                code,
                message: message.into(),
            }),
            update_time: Some("2026-12-01T10:05:00Z".parse().unwrap()),
            ..Job::default()
        }
    }

    #[test]
    fn a_failed_job_gives_its_run_the_status_message() {
        let end = end_of(&job(
            "JOB_STATE_FAILED",
            2,
            "NameError: name 'x' is not defined",
        ))
        .unwrap();
        assert_eq!(end.state, RunState::Failed);
        assert_eq!(end.error, "NameError: name 'x' is not defined");
        let partial = end_of(&job("JOB_STATE_PARTIALLY_SUCCEEDED", 0, "")).unwrap();
        assert_eq!(partial.error, "the job ended JOB_STATE_PARTIALLY_SUCCEEDED");
        assert!(end_of(&job("JOB_STATE_RUNNING", 0, "")).is_none());
        assert_eq!(
            end_of(&job("JOB_STATE_SUCCEEDED", 0, "")).unwrap().error,
            ""
        );
    }

    #[test]
    fn a_run_ends_once_with_its_jobs_end_and_outputs() {
        let record = RunRecord::example("m1", "2026-12-01T10:00:00Z");
        let end = end_of(&job("JOB_STATE_SUCCEEDED", 0, "")).unwrap();
        let outputs = vec!["gs://b/runs/r/seed.ipynb".to_owned()];
        let ended = record.executed(&end, &outputs).unwrap();
        assert_eq!(ended.state, RunState::Succeeded);
        assert_eq!(ended.outputs, outputs);
        assert_eq!(ended.finished, end.finished);
        assert_eq!(ended.executed(&end, &outputs), None, "an outcome stands");
        let cancelled = record
            .cancel_requested("ops@example.com", "2026-12-01T10:01:00Z".parse().unwrap())
            .unwrap();
        let end = end_of(&job("JOB_STATE_CANCELLED", 1, "cancelled")).unwrap();
        let ended = cancelled.executed(&end, &[]).unwrap();
        assert!(
            ended.error.starts_with("cancelled by ops@example.com"),
            "{}",
            ended.error
        );
    }
}
