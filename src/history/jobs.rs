//! The live state of runs that execute as jobs. A job is not an instance the listing of
//! managed instances finds, and Vertex AI lists jobs per region, so each run still recorded
//! `launched` asks its own job, by the name its record keeps, a few at a time: those are the
//! runs going now, a handful in any listing. A job that has ended shows its state until the
//! next reap, or `runs show`, records the run's end.

use std::collections::HashMap;

use tokio::task::JoinSet;

use super::History;
use crate::cause;
use crate::executions::{ExecutionsError, Job};
use crate::run::{RunRecord, RunState};

/// How many jobs are asked at once.
const ASKED_AT_ONCE: usize = 8;

impl History {
    /// The state of the job of each run in `records` recorded `launched` that executes as
    /// one, by run id; a warning for each job that could not be asked.
    pub(super) async fn job_states(
        &self,
        records: &[RunRecord],
    ) -> (HashMap<String, String>, Vec<String>) {
        let mut states = HashMap::new();
        let mut warnings = Vec::new();
        let Some(jobs) = &self.jobs else {
            return (states, warnings);
        };
        let mut asking = JoinSet::new();
        let going = records
            .iter()
            .filter(|record| record.state == RunState::Launched)
            .filter_map(|record| Some((record.run_id.to_string(), record.execution.clone()?)));
        for (run, job) in going {
            while asking.len() >= ASKED_AT_ONCE {
                collect(asking.join_next().await, &mut states, &mut warnings);
            }
            let jobs = jobs.clone();
            asking.spawn(async move {
                let asked = jobs.get_job(&job).await;
                (run, job, asked)
            });
        }
        while let Some(done) = asking.join_next().await {
            collect(Some(done), &mut states, &mut warnings);
        }
        (states, warnings)
    }
}

/// The run, its job, and what the job said.
type Asked = (String, String, Result<Job, ExecutionsError>);

fn collect(
    done: Option<Result<Asked, tokio::task::JoinError>>,
    states: &mut HashMap<String, String>,
    warnings: &mut Vec<String>,
) {
    match done {
        Some(Ok((run, _, Ok(job)))) => {
            states.insert(run, job.job_state.unwrap_or_default());
        }
        Some(Ok((_, _, Err(error)))) if error.is_not_found() => {}
        Some(Ok((_, job, Err(error)))) => {
            let warning = format!(
                "the job {job} cannot be looked at, so its live state is not shown: {}",
                cause::chain(&error)
            );
            tracing::warn!("{warning}");
            warnings.push(warning);
        }
        Some(Err(error)) => {
            let warning = format!("a job's state could not be asked: {error}");
            tracing::warn!("{warning}");
            warnings.push(warning);
        }
        None => {}
    }
}
