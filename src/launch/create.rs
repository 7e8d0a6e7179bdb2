//! The create call and its operation. A redelivery sends the same request id and so gets the
//! same operation back; when that operation failed transiently, the create is sent again under
//! a fresh request id (the derived instance id still prevents a duplicate).

use super::LaunchError;
use super::error::{call_error, poll_error};
use super::{Launcher, Plan, Progress};
use crate::notebooks::{ApiVersion, Code, Instance, Operation};

impl Launcher {
    pub(super) async fn create_and_wait(&self, plan: &Plan<'_>) -> Result<Instance, CreateError> {
        (plan.progress)(Progress {
            instance: &plan.request.name,
            phase: "creating",
            state: None,
            elapsed: plan.poller.elapsed(),
        });
        // Boxed: the call lives only until the API answers, and inline it would size the
        // state of every launch for as long as it waits on the operation.
        let mut operation = Box::pin(self.create(plan, plan.request.request_id)).await?;
        if operation.error_code().is_some_and(Code::is_transient) {
            // The request id replayed an earlier attempt that failed transiently (quota, say).
            // The instance id still guards against duplicates, so a fresh request id is safe.
            tracing::info!(operation = %operation.name, "the request id replays a failed attempt; creating again with a new request id");
            operation = Box::pin(self.create(plan, uuid::Uuid::new_v4())).await?;
        }
        match self
            .wait_operation(plan, operation, "create", "provisioning")
            .await
        {
            Ok(response) => Ok(instance_from(response, &plan.request.name)),
            Err(LaunchError::Operation { status, .. }) if status.code == Code::AlreadyExists => {
                Err(CreateError::Exists)
            }
            Err(error) => Err(CreateError::Launch(error)),
        }
    }

    /// `instances.create`, under the wait's deadline and cancellation (see [`Poller::bounded`]).
    async fn create(
        &self,
        plan: &Plan<'_>,
        request_id: uuid::Uuid,
    ) -> Result<Operation, CreateError> {
        let call = self.client.create_instance(
            &plan.request.parent,
            plan.request.id.as_str(),
            request_id,
            &plan.request.body,
        );
        let answer = plan
            .poller
            .bounded(call)
            .await
            .map_err(|error| CreateError::Launch(poll_error(error, &plan.request.name)))?;
        match answer {
            Ok(operation) => Ok(operation),
            Err(error) if error.code() == Some(Code::AlreadyExists) => Err(CreateError::Exists),
            Err(error)
                if self.client.version() == ApiVersion::V1
                    && error.code() == Some(Code::FailedPrecondition) =>
            {
                Err(CreateError::Launch(LaunchError::V1Deprecated(error)))
            }
            Err(error) => Err(CreateError::Launch(call_error(
                "create",
                &plan.request.name,
                error,
            ))),
        }
    }
}

/// How a create ended without an instance of its own.
pub(super) enum CreateError {
    /// The id is taken (409, or an operation that ended ALREADY_EXISTS).
    Exists,
    Launch(LaunchError),
}

fn instance_from(response: serde_json::Value, name: &str) -> Instance {
    serde_json::from_value(response).unwrap_or_else(|_| Instance {
        name: name.to_owned(),
        ..Instance::default()
    })
}
