//! Doing a [`Cleanup`] to an instance, so that doing it twice is harmless.
//!
//! The report and the reaper (or two reapers) may clean up the same instance at once, so an
//! answer meaning "already done" counts as done: deleting an instance that is gone, stopping
//! one that is stopped or stopping.

use jiff::Timestamp;
use uuid::Uuid;

use super::{Cleanup, CleanupRecord};
use crate::cause;
use crate::notebooks::{ClientError, Code, NotebooksClient};

/// Does `action` to `instance`; `Ok` once the API accepted it or it was already done.
///
/// # Errors
/// The API's refusal or a failure to reach it.
pub async fn apply(
    client: &NotebooksClient,
    instance: &str,
    action: Cleanup,
) -> Result<(), ClientError> {
    match action {
        Cleanup::Keep => Ok(()),
        Cleanup::Delete => match client.delete_instance(instance, Uuid::new_v4()).await {
            Err(error) if error.code() == Some(Code::NotFound) => Ok(()),
            other => other.map(drop),
        },
        Cleanup::Stop => match client.stop_instance(instance).await {
            Err(error) if error.code() == Some(Code::FailedPrecondition) => {
                match client.get_instance(instance).await {
                    Ok(now) if matches!(now.state.as_deref(), Some("STOPPED" | "STOPPING")) => {
                        Ok(())
                    }
                    _ => Err(error),
                }
            }
            Err(error) if error.code() == Some(Code::NotFound) => Ok(()),
            other => other.map(drop),
        },
    }
}

/// [`apply`], as the record tells it: the action, when, by whom, and the error if any.
pub async fn apply_recorded(
    client: &NotebooksClient,
    instance: &str,
    action: Cleanup,
    by: &str,
) -> CleanupRecord {
    let error = apply(client, instance, action)
        .await
        .err()
        .map(|e| cause::chain(&e).to_string());
    CleanupRecord {
        action,
        at: Timestamp::now(),
        error,
        by: by.to_owned(),
    }
}
