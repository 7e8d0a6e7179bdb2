//! Following an operation or an instance to its end, under the launch's one deadline and
//! cancellation: transient failures of a look are looked past, and the last of them is what a
//! wait cut at `POLL_TIMEOUT` reports.

use super::error::{call_error, poll_error};
use super::{LaunchError, Launcher, Plan, Progress};
use crate::cause;
use crate::notebooks::model::Finished;
use crate::notebooks::{ClientError, Instance, Operation};
use crate::poll::Step;

impl Launcher {
    /// Follows the operation of `action` to its end; one the API returned already done is not
    /// polled.
    pub(super) async fn wait_operation(
        &self,
        plan: &Plan<'_>,
        operation: Operation,
        action: &'static str,
        phase: &str,
    ) -> Result<serde_json::Value, LaunchError> {
        let name = operation.name.clone();
        let mut first = Some(operation);
        let result = plan
            .poller
            .wait(
                || {
                    let known = first.take();
                    let name = &name;
                    async move {
                        let operation = match known {
                            Some(operation) => Ok(operation),
                            None => self.client.get_operation(name).await,
                        };
                        match operation.map(Operation::outcome) {
                            Ok(Ok(None)) => Step::Pending { state: None },
                            Ok(Ok(Some(Finished::Response(response)))) => Step::Done(response),
                            Ok(Ok(Some(Finished::Error(status)))) => {
                                Step::Failed(LaunchError::Operation {
                                    action,
                                    instance: plan.request.name.clone(),
                                    status,
                                })
                            }
                            Ok(Err(malformed)) => Step::Failed(malformed.into()),
                            Err(error) => poll_failure(error, name),
                        }
                    }
                },
                |state, elapsed| {
                    (plan.progress)(Progress {
                        instance: &plan.request.name,
                        phase,
                        state,
                        elapsed,
                    })
                },
            )
            .await;
        result.map_err(|e| poll_error(e, &plan.request.name))
    }

    /// Waits until an existing instance leaves its transitional states.
    pub(super) async fn follow_instance(&self, plan: &Plan<'_>) -> Result<Instance, LaunchError> {
        let result = plan
            .poller
            .wait(
                || async {
                    match self.client.get_instance(&plan.request.name).await {
                        Ok(instance) if instance.is_settled() => Step::Done(instance),
                        Ok(instance) => Step::Pending {
                            state: instance.state,
                        },
                        Err(error) => poll_failure(error, &plan.request.name),
                    }
                },
                |state, elapsed| {
                    (plan.progress)(Progress {
                        instance: &plan.request.name,
                        phase: "following",
                        state,
                        elapsed,
                    })
                },
            )
            .await;
        result.map_err(|e| poll_error(e, &plan.request.name))
    }
}

/// A failed `get`: transient failures are worth another look within the deadline.
fn poll_failure<T>(error: ClientError, what: &str) -> Step<T, LaunchError> {
    let transient = error.is_transient();
    let error = call_error("follow", what, error);
    if transient {
        tracing::debug!(error = %cause::chain(&error), "poll failed, polling again");
        Step::Retry(error)
    } else {
        Step::Failed(error)
    }
}
