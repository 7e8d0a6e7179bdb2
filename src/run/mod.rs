//! Runs: one execution of a notebook, from the message that asked for it to the instance gone.
//!
//! The Notebooks API only knows instances, and its create operation ends when the VM is up.
//! A run is the product's own idea of what happened on it: [`RunId`] names it (stable across
//! redeliveries of the same message, and carried in the instance's labels and metadata);
//! [`CompletionReport`] is what the runner on the VM says when it is done, with the
//! [`Failure`] it read from the executed notebook when a cell raised and the notebook's result
//! ([`RESULT_FILE`]); [`Cleanup`] says
//! what becomes of the instance after a success or a failure; [`RunRecord`] is the run's story,
//! kept beside its outputs so it outlives the instance, with the [`Origin`] of a run the
//! product started itself (a retry, a rerun, a "run now") and the [`NextAttempt`] that
//! follows an attempt its profile retries; [`reaper`] decides what to do with
//! instances whose run ended without anyone cleaning up, and [`retention`] which ended runs are
//! old enough to delete. [`RunStore`] keeps records in Cloud
//! Storage. [`RunEvents`] announces each [`RunEvent`] on Pub/Sub, for whoever wants to hear of
//! it, and [`notify::Notifier`] tells the webhooks each profile names. [`Transitions`] is the
//! one way a run ends and is cleaned up (record, event, notification, cleanup, and the slot of
//! its profile's cap given back to the [`Slots`]), and [`ManagedInstances`] the one listing of
//! the instances the product made.

mod attempt;
mod cleanup;
mod events;
pub mod execution;
mod failure;
mod id;
pub mod instances;
pub mod notify;
mod origin;
pub mod reaper;
mod record;
mod report;
mod result;
pub mod retention;
mod slots;
mod store;
pub mod text;
mod transition;

pub use attempt::NextAttempt;
pub use cleanup::{Cleanup, CleanupPolicy};
pub use events::{RunEvent, RunEvents};
pub use failure::{Failure, plain_text};
pub use id::{InvalidRunId, RunId};
pub use instances::ManagedInstances;
pub use origin::Origin;
pub use record::{CancelRequest, CleanupRecord, LateReport, Launch, RunRecord, RunState};
pub use report::{CompletionReport, Outcome, ReportError};
pub use result::{MAX_RESULT_BYTES, MAX_RESULT_DEPTH, RESULT_FILE};
pub use slots::{Freed, Place, SlotError, Slots, UNRECORDED_AFTER, bucket_of};
pub use store::{
    CopyError, Created, FolderDeleted, Listed, OutputError, RECORDS_PREFIX, RecordDeleted, Records,
    RunStore, StoreError, Updated,
};
pub use transition::{Actor, Transitions};
