//! Every step of a run's record: its launch, its end and the cleanup after it, the one
//! sequence the launch, the runner's report and the reaper all go through.
//!
//! First the end is recorded and announced, then the cleanup is done, recorded and announced,
//! and then the run's slot of its profile's cap is given back: only once its instance is not
//! up any more, so that a profile never has more instances up than its cap.
//! In that order, because the end is what must not be lost: a cleanup that fails, or never
//! happens because the process died, is owed (the record says so) and a later report or reap
//! does it, while an outcome not written is gone. A slot not given back (the process died
//! in between) is freed by the next launch that needs it or the next reap, which read that
//! its holder's run has ended and been cleaned up. A cleanup is done even when its record
//! cannot be written (the instance costs money whatever the record says); the failure is
//! logged and the next reap records it.
//!
//! Each step is a compare-and-swap on the record ([`RunStore::update`]) that applies only to
//! a record that has not gone past it, so racing writers cannot undo each other: the first
//! outcome written stands, the first accepted cleanup stays, and only the writer whose write
//! made a step announces it, on Pub/Sub and to the profile's webhooks (`notify`). A run still
//! going past its `expected_duration` is a step too (`overdue_at`), announced once the same
//! way. An answer meaning "already done" counts as done: deleting an
//! instance that is gone or being deleted, stopping one that is stopped or stopping.

use std::sync::Arc;

use jiff::Timestamp;
use uuid::Uuid;

use super::notify::Notifier;
use super::store::{Created, Updated};
use super::{
    Cleanup, CleanupRecord, RunEvent, RunEvents, RunRecord, RunState, RunStore, Slots, StoreError,
};
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
    /// The slots of profiles' caps: a run's is given back when its end is recorded.
    slots: Slots,
    /// Where each step is announced, when `RUN_EVENTS_TOPIC` is set.
    events: Option<Arc<RunEvents>>,
    /// Who tells the profiles' webhooks, when some profile names one.
    notifier: Option<Arc<Notifier>>,
}

impl Transitions {
    pub fn new(client: NotebooksClient, records: RunStore, events: Option<Arc<RunEvents>>) -> Self {
        Self {
            client,
            slots: Slots::new(records.clone()),
            records,
            events,
            notifier: None,
        }
    }

    /// These transitions, each step also told to the webhooks of `notifier`.
    pub fn with_notifier(self, notifier: Arc<Notifier>) -> Self {
        Self {
            notifier: Some(notifier),
            ..self
        }
    }

    /// Announces `event` of `record`: a run event, and the notifications it sends.
    async fn announce(&self, event: RunEvent, record: &RunRecord) {
        if let Some(notifier) = &self.notifier {
            notifier.notify(event, record);
        }
        if let Some(events) = &self.events {
            events.publish(event, record).await;
        }
    }

    /// The slots of profiles' caps, which launches take and the reaper frees.
    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    /// Whether steps are announced: `RUN_EVENTS_TOPIC` is set, or a profile notifies.
    pub fn announces(&self) -> bool {
        self.events.is_some() || self.notifier.is_some()
    }

    /// Writes a new run's record, only where the run has none yet.
    ///
    /// # Errors
    /// The record could not be read or written.
    pub async fn launch(&self, record: &RunRecord) -> Result<Created, StoreError> {
        self.records.create(record).await
    }

    /// Whether the run in `folder` has a record: an earlier delivery of its message started
    /// it. A record that cannot be read counts as none.
    pub async fn recorded(&self, folder: &str) -> bool {
        matches!(self.records.read(folder).await, Ok(Some(_)))
    }

    /// Announces that a launch's instance exists.
    pub async fn announce_launched(&self, record: &RunRecord) {
        self.announce(RunEvent::Reached(RunState::Launched), record)
            .await;
    }

    /// Moves the record of the run in `folder` by `step` (which returns `None` for a record
    /// already past it) and announces the state it reached, when this write moved it; a run
    /// that has ended with no instance left to clean up gives its slot back. `None` when the
    /// run has no record.
    ///
    /// # Errors
    /// The record could not be read or written; nothing was announced.
    pub async fn end(
        &self,
        folder: &str,
        step: impl Fn(&RunRecord) -> Option<RunRecord>,
    ) -> Result<Option<Updated>, StoreError> {
        let updated = self.records.update(folder, step).await?;
        if let Some(Updated::Written { was, now }) = &updated {
            if *was != now.state {
                self.announce(RunEvent::Reached(now.state), now).await;
            }
        }
        let record = match &updated {
            Some(Updated::Written { now, .. } | Updated::Unchanged(now)) => Some(now),
            None => None,
        };
        if let Some(record) = record.filter(|r| r.has_outcome() && !r.needs_cleanup()) {
            self.give_back(record).await;
        }
        Ok(updated)
    }

    /// Moves the record of the run in `folder` by `step` (as [`end`](Self::end)) and announces
    /// `event` when this write moved it: a step after the run's end, such as its retry.
    ///
    /// # Errors
    /// The record could not be read or written; nothing was announced.
    pub async fn step(
        &self,
        folder: &str,
        step: impl Fn(&RunRecord) -> Option<RunRecord>,
        event: RunEvent,
    ) -> Result<Option<Updated>, StoreError> {
        let updated = self.records.update(folder, step).await?;
        if let Some(Updated::Written { now, .. }) = &updated {
            self.announce(event, now).await;
        }
        Ok(updated)
    }

    /// Records that the run in `folder` was found still going at `at`, past what it should
    /// take, and announces it `overdue`, when this write recorded it: once per run, however
    /// many reaps find it. `None` when the run has no record.
    ///
    /// # Errors
    /// The record could not be read or written; nothing was announced.
    pub async fn overdue(
        &self,
        folder: &str,
        at: Timestamp,
    ) -> Result<Option<Updated>, StoreError> {
        let updated = self
            .records
            .update(folder, |record| record.overdue(at))
            .await?;
        if let Some(Updated::Written { now, .. }) = &updated {
            self.announce(RunEvent::Overdue, now).await;
        }
        Ok(updated)
    }

    /// Gives back the slot the ended run of `record` holds, when it holds one still: its
    /// instance is cleaned up, or it never had one. A slot not given back now is freed later
    /// by whoever finds the run so.
    pub async fn give_back(&self, record: &RunRecord) {
        let Some(lease) = &record.lease else {
            return;
        };
        match self.slots.release(lease, &record.run_id).await {
            Ok(true) => tracing::info!(run = %record.run_id, slot = %lease, "slot given back"),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(run = %record.run_id, slot = %lease, error = %cause::chain(&error), "the slot is not given back; the next launch that needs it, or the next reap, frees it");
            }
        }
    }

    /// Writes the record of a run skipped for its profile's cap (`record` is `skipped`), only
    /// where the run has none yet, and announces it. The record found instead, when another
    /// delivery of the run wrote one first.
    ///
    /// # Errors
    /// The record could not be read or written.
    pub async fn skip(&self, record: &RunRecord) -> Result<Option<RunRecord>, StoreError> {
        match self.records.create(record).await? {
            Created::New => {
                self.announce(RunEvent::Reached(record.state), record).await;
                Ok(None)
            }
            Created::Existing(existing) => Ok(Some(*existing)),
        }
    }

    /// Does `action` to `instance`, then records it in the record of the run in `folder`
    /// (when the instance runs one) and announces it. The cleanup as done, its error
    /// included, is returned whether or not the record could be written.
    pub async fn clean_up(
        &self,
        instance: &str,
        action: Cleanup,
        by: Actor,
        folder: Option<&str>,
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
        let Some(folder) = folder else {
            return cleanup;
        };
        match self
            .records
            .update(folder, |record| record.cleaned(&cleanup))
            .await
        {
            Ok(Some(Updated::Written { now, .. })) => {
                self.announce(RunEvent::CleanedUp, &now).await;
                self.give_back(&now).await;
            }
            Ok(Some(Updated::Unchanged(record))) if record.has_outcome() => {
                self.give_back(&record).await;
            }
            Ok(Some(Updated::Unchanged(record))) if !record.has_outcome() => {
                // Its end could not be recorded first: the record says nothing of this
                // cleanup until a later reap ends the run and records what it finds.
                tracing::warn!(run = %record.run_id, by = by.as_str(), "the cleanup is not recorded: the run's end is not recorded yet");
            }
            Ok(Some(Updated::Unchanged(_)) | None) => {}
            Err(error) => {
                tracing::warn!(folder, by = by.as_str(), error = %cause::chain(&error), "the cleanup is not recorded; the next reap records it");
            }
        }
        cleanup
    }
}

impl Transitions {
    /// Stops a cancelled run's `instance`, so that its runner gets the signal it reports
    /// `cancelled` on; `Ok` when the stop was accepted or the instance is stopping, stopped or
    /// gone already. The record says nothing of it: the run's end and cleanup follow as for
    /// any run.
    ///
    /// # Errors
    /// The API's refusal.
    pub async fn stop(&self, instance: &str) -> Result<(), ClientError> {
        apply(&self.client, instance, Cleanup::Stop).await
    }

    /// Stops `instance`, just created for the run in `folder`, when a cancel of the run was
    /// recorded while it was being created: the API refuses to stop an instance whose create
    /// is under way, so the cancel leaves the stop to the launch. Never fails: what cannot
    /// be done is logged, and the reaper stops the instance of a cancelled run after
    /// RUN_GRACE.
    pub async fn stop_if_cancelled(&self, folder: &str, instance: &str) {
        let cancel = match self.records.read(folder).await {
            Ok(Some(record)) if !record.has_outcome() => record.cancel,
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(folder, error = %cause::chain(&error), "the run's record cannot be read after its create: a cancel asked meanwhile is not looked for");
                None
            }
        };
        let Some(cancel) = cancel else {
            return;
        };
        tracing::info!(folder, instance, by = %cancel.by, "cancelled while its instance was created: stopping it");
        if let Err(error) = self.stop(instance).await {
            tracing::warn!(folder, instance, error = %cause::chain(&error), "the cancelled run's new instance could not be stopped");
        }
    }
}

/// Does `action` to `instance`; `Ok` once the API accepted it or it was already done, by
/// this call or by another cleaner whose delete or stop is under way.
async fn apply(
    client: &NotebooksClient,
    instance: &str,
    action: Cleanup,
) -> Result<(), ClientError> {
    let asked = match action {
        Cleanup::Keep => return Ok(()),
        Cleanup::Delete => client
            .delete_instance(instance, Uuid::new_v4())
            .await
            .map(drop),
        Cleanup::Stop => client.stop_instance(instance).await.map(drop),
    };
    let Err(error) = asked else {
        return Ok(());
    };
    if error.code() == Some(Code::NotFound) {
        return Ok(());
    }
    match client.get_instance(instance).await {
        Err(now) if now.code() == Some(Code::NotFound) => Ok(()),
        Ok(now) if already(action, now.state.as_deref()) => Ok(()),
        _ => Err(error),
    }
}

/// Whether an instance in `state` is where `action` takes it, or on its way there.
fn already(action: Cleanup, state: Option<&str>) -> bool {
    match action {
        Cleanup::Keep => true,
        Cleanup::Delete => matches!(state, Some("DELETING" | "DELETED")),
        Cleanup::Stop => matches!(state, Some("STOPPING" | "STOPPED" | "DELETING" | "DELETED")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cleanup_under_way_counts_as_done() {
        assert!(already(Cleanup::Delete, Some("DELETING")));
        assert!(!already(Cleanup::Delete, Some("STOPPED")));
        assert!(already(Cleanup::Stop, Some("STOPPING")));
        assert!(already(Cleanup::Stop, Some("DELETING")));
        assert!(!already(Cleanup::Stop, Some("ACTIVE")));
        assert!(!already(Cleanup::Stop, None));
        assert!(already(Cleanup::Keep, Some("ACTIVE")));
    }
}
