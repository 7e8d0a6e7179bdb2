//! Runs that execute as notebook execution jobs, ended when their job has: the API tells
//! nobody when a job ends, so every reap reads the job of each such run still recorded
//! `launched` (and `runs show` reads the one it shows), and a job in a terminal state ends its
//! run through the same [`Transitions`](crate::run::Transitions) as a runner's report, with
//! the state `run::execution` maps and the files the run's folder holds.
//!
//! Exactly once: the end is a compare-and-swap on the record, so of two reaps that read the
//! same ended job, one writes the end and announces it, and retries only what it wrote. A reap
//! that dies between reading the job and writing the record leaves the record `launched`, and
//! the next reap reads the job again. A job gone from the API (deleted from outside) is
//! `lost`; one still going past its run's `max_run_time` and `RUN_GRACE` (its own
//! `executionTimeout` should have ended it) is deleted and its run recorded `unreported`, as
//! an instance up past its time is.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::Reaper;
use super::recent::Recent;
use crate::cause;
use crate::executions::Job;
use crate::profile::MAX_RUN_TIME_LIMIT;
use crate::run::execution::{JobEnd, end_of};
use crate::run::{RunRecord, RunState, Updated};

/// A run whose job a reap found ended, gone, or overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutedRun {
    pub run_id: String,
    pub job: String,
    /// The state the run is recorded in.
    pub state: String,
    pub reason: String,
    /// `dry-run`, `done`, `skipped: …` or `failed: …`.
    pub result: String,
}

impl ExecutedRun {
    pub(super) fn line(&self) -> String {
        format!(
            "execution of run {} ({}): {}, {} ({})",
            self.run_id, self.job, self.state, self.reason, self.result
        )
    }
}

/// What a look at a run's job found.
enum Found {
    Going,
    Ended(JobEnd),
    Gone,
    /// Still going past its run's time and grace.
    Overdue(String),
}

impl Reaper {
    /// How far back the records of runs whose jobs are read were written: the longest a job
    /// runs, then RUN_GRACE and RUN_LOST_AFTER (for one that ended since the last reap).
    pub(super) fn sync_window(&self) -> Duration {
        MAX_RUN_TIME_LIMIT + self.policy.grace + self.policy.lost_after
    }

    /// Reads the job of every run recorded `launched` that executes as one (of the records
    /// written within [`Self::sync_window`]), and ends each run whose job has ended. The
    /// records of the runs still going, for the overdue check.
    pub(super) async fn reap_executions(
        &self,
        recent: &Recent,
        now: Timestamp,
        dry_run: bool,
    ) -> (Vec<ExecutedRun>, Vec<RunRecord>) {
        let window = self.sync_window();
        let mut ended = Vec::new();
        let mut going = Vec::new();
        for record in recent.within(window, now) {
            if record.state != RunState::Launched || record.execution.is_none() {
                continue;
            }
            match self.sync_execution(record, now, dry_run).await {
                Some(done) => ended.push(done),
                None => going.push(record.clone()),
            }
        }
        (ended, going)
    }

    /// Reads the job of the run `record` and ends the run when its job has ended, is gone, or
    /// is overdue; `None` when it is going (or could not be read, which the next look
    /// retries) or the run does not execute as a job.
    pub async fn sync_execution(
        &self,
        record: &RunRecord,
        now: Timestamp,
        dry_run: bool,
    ) -> Option<ExecutedRun> {
        let job = record.execution.as_deref()?;
        let executions = self.executions.as_ref()?;
        let found = match executions.get_job(job).await {
            Ok(read) => self.judge_job(record, &read, now),
            Err(error) if error.is_not_found() => self.missing(record, now),
            Err(error) => {
                tracing::warn!(run = %record.run_id, job, error = %cause::chain(&error), "cannot read the run's job; the next reap tries again");
                return None;
            }
        };
        let (state, reason) = match &found {
            Found::Going => return None,
            Found::Ended(end) => (end.state, format!("its job ended {}", end.state.as_str())),
            Found::Gone => (RunState::Lost, format!("its job {job} is gone")),
            Found::Overdue(why) => (RunState::Unreported, why.clone()),
        };
        let result = if dry_run {
            "dry-run".to_owned()
        } else {
            self.end_execution(record, found).await
        };
        tracing::info!(run = %record.run_id, job, state = state.as_str(), reason = %reason, result = %result, "execution");
        Some(ExecutedRun {
            run_id: record.run_id.to_string(),
            job: job.to_owned(),
            state: state.as_str().to_owned(),
            reason,
            result,
        })
    }

    /// A run whose job is not there: gone once the run was launched longer than
    /// RUN_LOST_AFTER ago, as a run whose instance is not there is lost; before, its launch
    /// may still be making it (the record is written first, then the notebook's copy, then
    /// the create), and a reap under way must not end a run that is about to start.
    fn missing(&self, record: &RunRecord, now: Timestamp) -> Found {
        let since = Duration::try_from(now.duration_since(record.launched)).unwrap_or_default();
        if since > self.policy.lost_after {
            Found::Gone
        } else {
            Found::Going
        }
    }

    fn judge_job(&self, record: &RunRecord, job: &Job, now: Timestamp) -> Found {
        if let Some(end) = end_of(job) {
            return Found::Ended(end);
        }
        let limit = job
            .execution_timeout
            .as_deref()
            .and_then(|text| notebooks_wire::duration::parse(text).ok())
            .unwrap_or(MAX_RUN_TIME_LIMIT)
            + self.policy.grace;
        let since = job.create_time.unwrap_or(record.launched);
        let up_for = Duration::try_from(now.duration_since(since)).unwrap_or(Duration::ZERO);
        if up_for > limit {
            return Found::Overdue(format!(
                "its job is still {} after {}, past its executionTimeout and RUN_GRACE ({})",
                job.job_state.as_deref().unwrap_or("JOB_STATE_UNSPECIFIED"),
                notebooks_wire::duration::display(up_for),
                notebooks_wire::duration::display(limit)
            ));
        }
        Found::Going
    }

    /// Ends the run as `found` says (deleting an overdue job first), and schedules its retry
    /// when this reap's write ended it.
    async fn end_execution(&self, record: &RunRecord, found: Found) -> String {
        let folder = &record.output;
        let written = match found {
            Found::Going => return "skipped: the job is going".to_owned(),
            Found::Ended(end) => {
                // The job's `gcsOutputUri` is the run's folder, so whatever Google writes there
                // is listed, wherever beneath it: Dataform's `NotebookAction.job_id` ("also the
                // ID used for the outputs created in Google Cloud Storage buckets",
                // cloud.google.com/python/docs/reference/dataform/latest) suggests
                // `{gcsOutputUri}/{job id}/{notebook}`, which no page of the API confirms.
                let outputs = match self.records.objects(folder).await {
                    // The record is listed last; it is not one of the run's files.
                    Ok(mut objects) => {
                        objects.pop();
                        objects
                    }
                    Err(error) => {
                        return format!(
                            "failed: the run's files cannot be listed: {}",
                            cause::chain(&error)
                        );
                    }
                };
                self.transitions
                    .end(folder, |now| now.executed(&end, &outputs))
                    .await
            }
            Found::Gone => {
                let reason = format!(
                    "its job {} is gone",
                    record.execution.as_deref().unwrap_or_default()
                );
                self.transitions.end(folder, |now| now.lost(&reason)).await
            }
            Found::Overdue(reason) => {
                if let Err(error) = self.delete_job(record).await {
                    return format!("failed: {error}");
                }
                self.transitions
                    .end(folder, |now| now.unreported(&reason))
                    .await
            }
        };
        match written {
            Ok(Some(Updated::Written { now, .. })) => {
                self.ended(&now).await;
                "done".to_owned()
            }
            Ok(_) => "skipped: the record moved meanwhile".to_owned(),
            Err(error) => format!("failed: {}", cause::chain(&error)),
        }
    }

    /// Deletes the job of the run `record`: the v1 API's only way to stop one. Gone already
    /// counts as done.
    async fn delete_job(&self, record: &RunRecord) -> Result<(), String> {
        let (Some(job), Some(executions)) = (record.execution.as_deref(), &self.executions) else {
            return Ok(());
        };
        match executions.delete_job(job).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            Err(error) => Err(cause::chain(&error).to_string()),
        }
    }
}
