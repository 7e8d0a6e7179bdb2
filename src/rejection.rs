//! Why a push is refused before any launch begins: its token, its envelope, or its payload.
//!
//! Nothing has been asked of the Notebooks API yet, so there is nothing for a redelivery to
//! resume, and each of these stays refused until someone fixes the sender or the deployment
//! (4xx; Pub/Sub dead-letters them). The one exception is a token that cannot be checked
//! because Google's signing keys are out of reach (503). `answer` maps each to its status.

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
}

impl From<FieldError> for Rejection {
    fn from(error: FieldError) -> Self {
        Rejection::Field(error)
    }
}
