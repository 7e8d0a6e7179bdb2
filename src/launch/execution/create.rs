//! The create of a run's job: the parameterized copy written beside the run's record, the job
//! created from it by its generation, and its operation followed. A redelivery finds the job
//! id taken (409) and follows the job when its labels say it is this message's run; a job of
//! another run under the id is never adopted.

use super::ExecutionPlan;
use crate::executions::{ExecutionsError, GcsNotebookSource, Job, OperationFollower};
use crate::launch::error::poll_error;
use crate::launch::{Failure, LaunchError, Launched, Launcher, Outcome, Plan, Progress};
use crate::naming::{LABEL_KEY, LABEL_RUN_ID};
use crate::notebooks::Code;
use crate::notebooks::model::Finished;
use crate::papermill::{self, MAX_NOTEBOOK_BYTES, Notebook};
use crate::poll::PollError;
use crate::push::Trigger;

impl Launcher {
    /// Creates the job of `plan`, or follows the one an earlier delivery created.
    pub(in crate::launch) async fn execute(
        &self,
        plan: &Plan<'_>,
        execution: &ExecutionPlan,
    ) -> Result<(Outcome, Job), LaunchError> {
        let request = &plan.request;
        let progress = |phase: &str| {
            (plan.progress)(Progress {
                instance: &request.name,
                phase,
                state: None,
                elapsed: plan.poller.elapsed(),
            });
        };
        progress("writing the parameterized notebook");
        let job = self.with_copy(execution).await?;
        progress("creating");
        let body = serde_json::to_vec(&job).expect("a job serializes");
        let call = self
            .executions
            .create(&request.parent, request.id.as_str(), &body);
        let created = plan
            .poller
            .bounded(call)
            .await
            .map_err(|error| poll_error(error, &request.name))?;
        let operation = match created {
            Ok(operation) => operation,
            Err(error) if error.is_already_exists() => return self.existing_job(plan).await,
            Err(source) => return Err(execution_error("create", &request.name, source)),
        };
        let follower = OperationFollower {
            client: &self.executions,
            poller: &plan.poller,
        };
        let finished = follower
            .finish(operation, |_| progress("queueing"))
            .await
            .map_err(|error| follow_error(error, &request.name))?;
        match finished {
            Finished::Response(response) => {
                let created = serde_json::from_value(response).unwrap_or(Job {
                    name: request.name.clone(),
                    ..job
                });
                Ok((Outcome::Created, created))
            }
            Finished::Error(status) if status.code == Code::AlreadyExists => {
                self.existing_job(plan).await
            }
            Finished::Error(status) => Err(LaunchError::Operation {
                action: "create",
                instance: request.name.clone(),
                status,
            }),
        }
    }

    /// The job with its notebook: the copy of the profile's notebook with the run's parameters
    /// injected, as papermill would, written beside the run's record (or found written by an
    /// earlier delivery), named by its generation, and run in the notebook's own kernel.
    async fn with_copy(&self, execution: &ExecutionPlan) -> Result<Job, LaunchError> {
        let notebook = &execution.notebook;
        let downloaded = self
            .preflight
            .download(notebook, execution.generation)
            .await?;
        let Some(bytes) = downloaded else {
            return Err(LaunchError::NotebookTooLarge {
                notebook: notebook.clone(),
                max: MAX_NOTEBOOK_BYTES,
            });
        };
        let unparameterized = |source| LaunchError::Unparameterized {
            notebook: notebook.clone(),
            source,
        };
        let kernel = Notebook::read(&bytes).map_err(unparameterized)?.kernel;
        let copy =
            papermill::parameterize(&bytes, &execution.parameters).map_err(unparameterized)?;
        let (uri, generation) = self
            .records
            .write_notebook_copy(&execution.folder, copy)
            .await
            .map_err(|source| LaunchError::Copy {
                notebook: notebook.clone(),
                source,
            })?;
        Ok(Job {
            gcs_notebook_source: Some(GcsNotebookSource {
                uri: uri.to_string(),
                generation: Some(generation.to_string()),
            }),
            kernel_name: Some(kernel),
            ..execution.job.clone()
        })
    }

    /// The answer of a launch whose job was created or followed; a job refused for good ends
    /// its run, as an instance refused for good does.
    pub(in crate::launch) async fn executed(
        &self,
        trigger: &Trigger,
        plan: &Plan<'_>,
        executed: Result<(Outcome, Job), LaunchError>,
    ) -> Result<Launched, Failure> {
        let request = &plan.request;
        let (outcome, job) = match executed {
            Ok(done) => done,
            Err(error) => {
                if let (true, Some(folder)) = (error.is_permanent(), &request.folder) {
                    self.not_launched(folder, &error).await;
                }
                return Err(error.into());
            }
        };
        if let (Some(record), Outcome::Created) = (&request.record, outcome) {
            self.transitions.announce_launched(record).await;
        }
        let state = job
            .job_state
            .unwrap_or_else(|| "JOB_STATE_UNSPECIFIED".to_owned());
        Ok(plan.launched(trigger, outcome, request.name.clone(), state))
    }

    /// The job id is taken: follow this run's job, refuse another's. A job gone by the time
    /// it is read (deleted in between) is [`LaunchError::Vanished`]: the message comes back
    /// and creates it again, or finds its run ended.
    async fn existing_job(&self, plan: &Plan<'_>) -> Result<(Outcome, Job), LaunchError> {
        let request = &plan.request;
        let job = self
            .executions
            .get_job(&request.name)
            .await
            .map_err(|source| {
                if source.is_not_found() {
                    LaunchError::Vanished {
                        instance: request.name.clone(),
                        source: Box::new(source),
                    }
                } else {
                    execution_error("get", &request.name, source)
                }
            })?;
        let run = request.run_id.as_ref().map(|run| run.as_str());
        let ours = job.labels.get(LABEL_KEY) == Some(&request.key_hash)
            && job.labels.get(LABEL_RUN_ID).map(String::as_str) == run;
        if !ours {
            tracing::warn!(job = %request.name, "the job id is taken by a job that is not this run's; it is left alone");
            return Err(LaunchError::ExecutionTaken {
                job: request.name.clone(),
            });
        }
        tracing::info!(job = %request.name, state = ?job.job_state, "already created by an earlier delivery of this message; following it");
        Ok((Outcome::AlreadyLaunched, job))
    }
}

/// A wait on the job's operation that ended without its end, as a launch reports it.
fn follow_error(error: PollError<ExecutionsError>, job: &str) -> LaunchError {
    let error = match error {
        PollError::Deadline {
            waited,
            last_failure,
        } => PollError::Deadline {
            waited,
            last_failure: last_failure.map(|e| execution_error("follow", job, e)),
        },
        PollError::Cancelled => PollError::Cancelled,
        PollError::Failed(e) => PollError::Failed(execution_error("follow", job, e)),
    };
    poll_error(error, job)
}

fn execution_error(action: &'static str, job: &str, source: ExecutionsError) -> LaunchError {
    LaunchError::Execution {
        action,
        job: job.to_owned(),
        source,
    }
}
