//! Why a launch that began did not end with an instance, and the one type a push's failure has
//! whichever side it came from. Each error keeps what failed as its source; `answer` decides
//! the status from the variant and, for the API's failures, from their own `is_transient`.

use std::time::Duration;

use crate::executions::ExecutionsError;
use crate::notebooks::model::MalformedOperation;
use crate::notebooks::{ClientError, Status};
use crate::papermill::NotebookError;
use crate::poll::PollError;
use crate::rejection::Rejection;

use super::preflight::Unreadable;

/// Why a push ended without an instance: refused before its launch began, or a launch that
/// did not get there. `answer` maps each to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

impl Failure {
    /// Whether the launch found no room: its profile's `max_concurrent_runs` were going
    /// ([`LaunchError::NoSlot`]), or the service's `MAX_CONCURRENT_LAUNCHES`. Nothing was written
    /// or created, and the same launch may be tried again later: a retry that is busy stays
    /// due.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Failure::Launch(LaunchError::NoSlot { .. } | LaunchError::Busy { .. })
        )
    }
}

/// Why a launch that began did not end with an instance.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A call to the API failed; the [`ClientError`] says whether trying again can help.
    #[error("cannot {action} {instance}")]
    Call {
        action: &'static str,
        instance: String,
        #[source]
        source: ClientError,
    },
    /// The operation ended with an error; its code says whether trying again can help.
    #[error("the operation to {action} {instance} failed: {status}")]
    Operation {
        action: &'static str,
        instance: String,
        status: Status,
    },
    #[error(
        "the Notebooks v1 API refused the create; user-managed notebooks can no longer be created: set NOTEBOOKS_API_VERSION=v2 to create Workbench instances"
    )]
    V1Deprecated(#[source] ClientError),
    #[error(transparent)]
    Malformed(#[from] MalformedOperation),
    /// The id was taken at the create and free at the get: someone deleted the instance (or
    /// the job) in between. The next delivery creates it again, or finds its run ended.
    #[error("{instance} vanished between create and get")]
    Vanished {
        instance: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{instance} was created again by someone else while it was being replaced")]
    Recreated { instance: String },
    #[error(
        "{instance} is not ready after {waited:?} (POLL_TIMEOUT); the next delivery resumes it"
    )]
    PollTimeout {
        instance: String,
        waited: Duration,
        /// Why the last look got no answer, when it got none.
        #[source]
        last_failure: Option<Box<LaunchError>>,
    },
    #[error("shutting down; the next delivery resumes the launch")]
    ShuttingDown,
    /// The run's record could not be written; the create waits for it, so nothing is lost.
    #[error("the run's record is not written, so its instance is not created yet")]
    Record(#[source] crate::run::StoreError),
    #[error("{limit} launches are already running (MAX_CONCURRENT_LAUNCHES); try again later")]
    Busy { limit: usize },
    /// Every slot of the profile's cap is held, and the launch waits for one (`when_busy =
    /// queue`, or a launch the product started itself).
    #[error(
        "{max} runs of profile `{profile}` are going (max_concurrent_runs): this run waits for one to end and is tried again later"
    )]
    NoSlot { profile: String, max: u32 },
    /// The slots of the profile's cap could not be read or written; nothing was created.
    #[error(
        "the slots of the profile's max_concurrent_runs cannot be counted, so its run is not created yet"
    )]
    Slot(#[source] crate::run::SlotError),
    /// A call for a run's notebook execution job failed; the error says whether trying again
    /// can help.
    #[error("cannot {action} the notebook execution job {job}")]
    Execution {
        action: &'static str,
        job: String,
        #[source]
        source: ExecutionsError,
    },
    /// The job id derived from the run is taken by a job that is not this run's.
    #[error(
        "the notebook execution job {job} exists but is not this run's (its labels name another message): delete that job, or change ID_PREFIX"
    )]
    ExecutionTaken { job: String },
    /// The parameterized copy of the notebook a job runs could not be written.
    #[error(
        "the parameterized copy of {notebook} cannot be written, so its job is not created yet"
    )]
    Copy {
        notebook: String,
        #[source]
        source: crate::run::CopyError,
    },
    /// The notebook cannot be parameterized: no later delivery can write the job's copy.
    #[error("{notebook} cannot be parameterized for its execution")]
    Unparameterized {
        notebook: String,
        #[source]
        source: NotebookError,
    },
    #[error(
        "{notebook} is larger than the {max} bytes read to parameterize it for an execution: make the notebook smaller (clear its outputs)"
    )]
    NotebookTooLarge { notebook: String, max: usize },
    /// The run's notebook could not be read for its pre-flight; nothing was written or created.
    #[error("the notebook {notebook} cannot be read, so its run is not checked or created yet")]
    Notebook {
        notebook: String,
        #[source]
        source: Unreadable,
    },
}

impl LaunchError {
    /// Whether no later delivery can succeed: the API refused the launch for good. `answer`
    /// makes this a 422, and a run whose instance was refused so is over.
    pub fn is_permanent(&self) -> bool {
        match self {
            LaunchError::Call { source, .. } => !source.is_transient(),
            LaunchError::Operation { status, .. } => !status.code.is_transient(),
            LaunchError::Execution { source, .. } => !source.is_transient(),
            LaunchError::V1Deprecated(_)
            | LaunchError::ExecutionTaken { .. }
            | LaunchError::Unparameterized { .. }
            | LaunchError::NotebookTooLarge { .. } => true,
            LaunchError::Malformed(_)
            | LaunchError::Vanished { .. }
            | LaunchError::Recreated { .. }
            | LaunchError::PollTimeout { .. }
            | LaunchError::ShuttingDown
            | LaunchError::Record(_)
            | LaunchError::Busy { .. }
            | LaunchError::NoSlot { .. }
            | LaunchError::Slot(_)
            | LaunchError::Copy { .. }
            | LaunchError::Notebook { .. } => false,
        }
    }
}

/// A wait that ended without an outcome, as the launch of `instance` reports it.
pub(super) fn poll_error(error: PollError<LaunchError>, instance: &str) -> LaunchError {
    match error {
        PollError::Deadline {
            waited,
            last_failure,
        } => LaunchError::PollTimeout {
            instance: instance.to_owned(),
            waited,
            last_failure: last_failure.map(Box::new),
        },
        PollError::Cancelled => LaunchError::ShuttingDown,
        PollError::Failed(error) => error,
    }
}

/// A failed call to `action` `instance` ("cannot create projects/…/instances/nb").
pub(super) fn call_error(action: &'static str, instance: &str, source: ClientError) -> LaunchError {
    LaunchError::Call {
        action,
        instance: instance.to_owned(),
        source,
    }
}
