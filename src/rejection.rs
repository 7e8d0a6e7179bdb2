//! Why a push is refused before any instance is created: its token, its envelope, its
//! payload, or a run whose notebook is missing or does not declare its parameters (the
//! launch's pre-flight, before the run record and the create).
//!
//! Nothing has been asked of the Notebooks API yet, so there is nothing for a redelivery to
//! resume, and each of these stays refused until someone fixes the sender or the deployment
//! (4xx; Pub/Sub dead-letters them). The one exception is a token that cannot be checked
//! because Google's signing keys are out of reach (503). `answer` maps each to its status.

use storage_client::StorageError;

use crate::papermill::{NotebookError, ParameterError};
use crate::payload::PayloadError;
use crate::profile::FieldError;
use crate::push::DecodeError;
use crate::push_token::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Request(#[from] DecodeError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("profile `{name}` does not exist (profiles: {known})")]
    UnknownProfile { name: String, known: String },
    /// The profile, with the message's overrides, breaks a rule of the API. The field error is
    /// what is wrong, not a cause under it: it is told in this message, not as a source.
    #[error("field `{}`: {}", .0.field, .0.reason)]
    Field(FieldError),
    /// The run's notebook is not in Cloud Storage: its run would fail on the VM.
    #[error(
        "field `notebook`: {notebook} (profile `{profile}`) does not exist: upload the notebook there, or set the profile's `notebook` to one that does"
    )]
    NotebookMissing {
        notebook: String,
        profile: String,
        #[source]
        source: StorageError,
    },
    #[error(
        "field `notebook`: {notebook} (profile `{profile}`) is not a notebook papermill can run"
    )]
    NotANotebook {
        notebook: String,
        profile: String,
        #[source]
        source: NotebookError,
    },
    /// A parameter the notebook does not declare, or of another type than it declares.
    #[error(transparent)]
    Parameter(#[from] ParameterError),
}

impl From<FieldError> for Rejection {
    fn from(error: FieldError) -> Self {
        Rejection::Field(error)
    }
}
