//! The id is taken. Our own instance (an earlier delivery of the same message made it, as its
//! provenance label says) is followed until it settles; another trigger's instance is left
//! alone or replaced, as `ON_EXISTING` says.

use super::create::CreateError;
use super::error::call_error;
use super::{LaunchError, Launcher, OnExisting, Outcome, Plan, Progress};
use crate::naming;
use crate::notebooks::{Code, Instance};

impl Launcher {
    /// The id is taken: follow our own instance, or apply `ON_EXISTING` to a foreign one.
    pub(super) async fn existing(
        &self,
        plan: &Plan<'_>,
    ) -> Result<(Outcome, Instance), LaunchError> {
        let instance = self
            .client
            .get_instance(&plan.request.name)
            .await
            .map_err(|source| match source.code() {
                Some(Code::NotFound) => LaunchError::Vanished {
                    instance: plan.request.name.clone(),
                    source: Box::new(source),
                },
                _ => call_error("get", &plan.request.name, source),
            })?;
        if instance.labels.get(naming::LABEL_KEY) == Some(&plan.request.key_hash) {
            tracing::info!(instance = %plan.request.name, state = ?instance.state, "already launched by an earlier delivery of this message; following it");
            let instance = self.follow_instance(plan).await?;
            return Ok((Outcome::AlreadyLaunched, instance));
        }
        match self.on_existing {
            OnExisting::Skip => {
                tracing::warn!(instance = %plan.request.name, state = ?instance.state, "instance id taken by another trigger's instance; skipping (ON_EXISTING=skip)");
                Ok((Outcome::Skipped, instance))
            }
            OnExisting::Replace => {
                tracing::warn!(instance = %plan.request.name, "instance id taken by another trigger's instance; replacing it (ON_EXISTING=replace)");
                (plan.progress)(Progress {
                    instance: &plan.request.name,
                    phase: "deleting",
                    state: instance.state.as_deref(),
                    elapsed: plan.poller.elapsed(),
                });
                let operation = self
                    .client
                    .delete_instance(&plan.request.name, uuid::Uuid::new_v4())
                    .await
                    .map_err(|e| call_error("delete", &plan.request.name, e))?;
                self.wait_operation(plan, operation, "delete", "deleting")
                    .await?;
                match self.create_and_wait(plan).await {
                    Ok(instance) => Ok((Outcome::Replaced, instance)),
                    Err(CreateError::Exists) => Err(LaunchError::Recreated {
                        instance: plan.request.name.clone(),
                    }),
                    Err(CreateError::Launch(error)) => Err(error),
                }
            }
        }
    }
}
