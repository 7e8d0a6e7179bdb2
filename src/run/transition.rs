//! The end of a run and the cleanup after it: the one sequence the runner's report and the
//! reaper both go through.
//!
//! First the end is recorded and announced, then the cleanup is done, recorded and announced.
//! In that order, because the end is what must not be lost: a cleanup that fails, or never
//! happens because the process died, is owed and a later reap does it, while an outcome not
//! written is gone. A cleanup is done even when its record cannot be written (the instance
//! costs money whatever the record says); the failure is logged and the next reap records it.
//!
//! The report and the reaper (or two reapers) may clean up the same instance at once, so an
//! answer meaning "already done" counts as done: deleting an instance that is gone, stopping
//! one that is stopped or stopping.

use std::sync::Arc;

use jiff::Timestamp;
use uuid::Uuid;

use super::{Cleanup, CleanupRecord, RunEvent, RunEvents, RunRecord, RunStore, StoreError};
use crate::cause;
use crate::notebooks::{ClientError, Code, NotebooksClient};

/// Who ended a run or cleaned up after it, as its record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The runner's report, taken by the service.
    Report,
    /// The reaper, for a run nobody reported or cleaned up after.
    Reaper,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Report => "report",
            Actor::Reaper => "reaper",
        }
    }
}

/// What a run's end and cleanup touch: its instance, its record and its events.
#[derive(Debug, Clone)]
pub struct Transitions {
    client: NotebooksClient,
    records: RunStore,
    /// Where each step is announced, when `RUN_EVENTS_TOPIC` is set.
    events: Option<Arc<RunEvents>>,
}

impl Transitions {
    pub fn new(client: NotebooksClient, records: RunStore, events: Option<Arc<RunEvents>>) -> Self {
        Self {
            client,
            records,
            events,
        }
    }

    /// Writes `ended`, the record of a run that just reached its end, and announces it.
    ///
    /// # Errors
    /// The record could not be written; nothing was announced.
    pub async fn end(&self, ended: &RunRecord) -> Result<(), StoreError> {
        self.records.write(ended).await?;
        if let Some(events) = &self.events {
            events.publish(RunEvent::Reached(ended.state), ended).await;
        }
        Ok(())
    }

    /// Does `action` to `instance`, then records it in the run's `record` (when the instance
    /// has one) and announces it. The cleanup as recorded, its error included, is returned
    /// whether or not the record could be written.
    pub async fn clean_up(
        &self,
        instance: &str,
        action: Cleanup,
        by: Actor,
        record: Option<RunRecord>,
    ) -> CleanupRecord {
        let error = apply(&self.client, instance, action)
            .await
            .err()
            .map(|e| cause::chain(&e).to_string());
        let cleanup = CleanupRecord {
            action,
            at: Timestamp::now(),
            error,
            by: by.as_str().to_owned(),
        };
        if let Some(record) = record {
            let record = record.cleaned(cleanup.clone());
            match self.records.write(&record).await {
                Ok(()) => {
                    if let Some(events) = &self.events {
                        events.publish(RunEvent::CleanedUp, &record).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(run = %record.run_id, by = by.as_str(), error = %cause::chain(&error), "the cleanup is not recorded; the next reap records it");
                }
            }
        }
        cleanup
    }
}

/// Does `action` to `instance`; `Ok` once the API accepted it or it was already done.
async fn apply(
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
