//! The answer contract: every way a push can end, mapped to one HTTP status, in one place.
//!
//! Pub/Sub acknowledges on 102/200/201/202/204 and redelivers on anything else, then
//! dead-letters after `maxDeliveryAttempts`. So: 200 when the instance exists; 400 for a
//! request or payload that will never work (it ends in the dead-letter topic, where `replay`
//! can bring it back after a fix); 422 when the API refused the launch for good; 503 with
//! `Retry-After` for everything that may work next time, and 429 with `Retry-After` when too
//! many launches already run, or all of a profile's `max_concurrent_runs` (the message waits
//! in the subscription: that is the queue). With authenticated push: 401 when the token is missing or fails
//! a check, 403 when a valid Google token speaks for an account that may not push, 503 when
//! Google's keys cannot be fetched. Nothing a client sends yields a 500.
//!
//! A [`Rejection`] comes before any launch, a [`LaunchError`] from one that began; each has its
//! exhaustive match below. Whether an API failure is worth another delivery is the error's own
//! judgement (`is_transient`); this is where that judgement becomes 503 or 422. The run
//! history's answers (`GET /runs`) have theirs in `history`, an operator's (rerun, cancel, run
//! now) in `operate`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::cause;
use crate::completion::{Completed, CompletionError};
use crate::launch::{Failure, LaunchError, Launched};
use crate::push::DecodeError;
use crate::push_token::TokenError;
use crate::rejection::Rejection;
use crate::run::StoreError;

mod history;
mod operate;
pub use history::{read_status, runs_status};
pub use operate::act_status;

/// Seconds a client should wait before retrying a 503 or 429 (Pub/Sub applies its own backoff).
const RETRY_AFTER_SECONDS: &str = "10";

/// The status of a push that ended without an instance.
pub fn status(failure: &Failure) -> StatusCode {
    match failure {
        Failure::Rejected(rejection) => rejection_status(rejection),
        Failure::Launch(error) => launch_status(error),
    }
}

/// The status of each refusal before a launch: exhaustive, so a new variant cannot go unmapped.
pub fn rejection_status(rejection: &Rejection) -> StatusCode {
    match rejection {
        Rejection::Token(error) => token_status(error),
        Rejection::Request(DecodeError::PayloadTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        Rejection::Request(_)
        | Rejection::Payload(_)
        | Rejection::UnknownProfile { .. }
        | Rejection::Field(_)
        | Rejection::NotebookMissing { .. }
        | Rejection::NotANotebook { .. }
        | Rejection::Parameter(_) => StatusCode::BAD_REQUEST,
    }
}

/// 401 for a token that is missing or fails a check, 403 for a valid one that may not do
/// this, 503 when the keys to check it cannot be fetched.
fn token_status(error: &TokenError) -> StatusCode {
    match error {
        TokenError::Missing | TokenError::Unreadable(_) | TokenError::Rejected(_) => {
            StatusCode::UNAUTHORIZED
        }
        TokenError::AccountNotAllowed(_) | TokenError::EmailNotVerified(_) => StatusCode::FORBIDDEN,
        TokenError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The status of each way a completion report can be refused: exhaustive, like the others.
/// The runner gives up on 400, 401, 403 and 409 (and then stops its own instance) and retries
/// 503 until `REPORT_WITHIN`: so 503 is for what may pass later, including a record the launch
/// has not written yet, and 409 for a run whose record cannot be found or trusted.
pub fn completion_status(error: &CompletionError) -> StatusCode {
    match error {
        CompletionError::Token(error) => token_status(error),
        CompletionError::Refused(_) => StatusCode::FORBIDDEN,
        CompletionError::RunId(_) | CompletionError::Report(_) => StatusCode::BAD_REQUEST,
        CompletionError::Lookup { .. } | CompletionError::NoRecord { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        CompletionError::NoOutput(..) | CompletionError::OtherRecord { .. } => StatusCode::CONFLICT,
        CompletionError::Store(error) => match error {
            StoreError::Credentials(_)
            | StoreError::Storage { .. }
            | StoreError::Contended { .. } => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Folder(_) | StoreError::Corrupt { .. } => StatusCode::CONFLICT,
        },
    }
}

/// The status of each way a launch can fail: exhaustive, so a new variant cannot go unmapped.
/// Whether the API's refusal is for good is the launch's own judgement (`is_permanent`), the
/// same that ends the run's record.
pub fn launch_status(error: &LaunchError) -> StatusCode {
    match error {
        LaunchError::Call { .. }
        | LaunchError::Operation { .. }
        | LaunchError::V1Deprecated(_)
        | LaunchError::Execution { .. } => retry_or_refuse(!error.is_permanent()),
        LaunchError::ExecutionTaken { .. }
        | LaunchError::Unparameterized { .. }
        | LaunchError::NotebookTooLarge { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        LaunchError::Malformed(_)
        | LaunchError::Vanished { .. }
        | LaunchError::Recreated { .. }
        | LaunchError::PollTimeout { .. }
        | LaunchError::Record { .. }
        | LaunchError::Notebook { .. }
        | LaunchError::Copy { .. }
        | LaunchError::Slot(_)
        | LaunchError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        LaunchError::Busy { .. } | LaunchError::NoSlot { .. } => StatusCode::TOO_MANY_REQUESTS,
    }
}

/// 503 for what another delivery may get past, 422 for what the API refuses for good.
fn retry_or_refuse(transient: bool) -> StatusCode {
    if transient {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

impl IntoResponse for Launched {
    fn into_response(self) -> Response {
        (StatusCode::OK, Json(self)).into_response()
    }
}

impl IntoResponse for Completed {
    fn into_response(self) -> Response {
        (StatusCode::OK, Json(self)).into_response()
    }
}

/// `{"error": …}` with the error and all its causes, and the headers its status calls for.
impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = status(&self);
        error_response(status, &self)
    }
}

impl IntoResponse for CompletionError {
    fn into_response(self) -> Response {
        let status = completion_status(&self);
        error_response(status, &self)
    }
}

fn error_response(status: StatusCode, error: &(dyn std::error::Error + 'static)) -> Response {
    let error = cause::chain(error).to_string();
    let mut response = (status, Json(json!({ "error": error }))).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
    }
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Each error answers its status, with the headers `error_response` adds to it: the table
/// tests of every kind of refusal share it.
#[cfg(test)]
fn assert_answers<E: IntoResponse + std::error::Error + 'static>(
    cases: impl IntoIterator<Item = (E, u16)>,
) {
    for (error, expected) in cases {
        let said = cause::chain(&error).to_string();
        let response = error.into_response();
        assert_eq!(response.status().as_u16(), expected, "{said}");
        let has = |name| response.headers().contains_key(name);
        assert_eq!(has(header::WWW_AUTHENTICATE), expected == 401, "{said}");
        assert_eq!(
            has(header::RETRY_AFTER),
            matches!(expected, 429 | 503),
            "{said}"
        );
    }
}

#[cfg(test)]
mod tests;
