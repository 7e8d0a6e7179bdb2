//! The answer contract: every way a push can end, mapped to one HTTP status, in one place.
//!
//! Pub/Sub acknowledges on 102/200/201/202/204 and redelivers on anything else, then
//! dead-letters after `maxDeliveryAttempts`. So: 200 when the instance exists; 400 for a
//! request or payload that will never work (it ends in the dead-letter topic, where `replay`
//! can bring it back after a fix); 422 when the API refused the launch for good; 503 with
//! `Retry-After` for everything that may work next time, and 429 with `Retry-After` when too
//! many launches already run. With authenticated push: 401 when the token is missing or fails
//! a check, 403 when a valid Google token speaks for an account that may not push, 503 when
//! Google's keys cannot be fetched. Nothing a client sends yields a 500.
//!
//! A [`Rejection`] comes before any launch, a [`LaunchError`] from one that began; each has its
//! exhaustive match below. Whether an API failure is worth another delivery is the error's own
//! judgement (`is_transient`); this is where that judgement becomes 503 or 422. The run
//! history's answers (`GET /runs`) have theirs in `history`.

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
pub use history::{read_status, runs_status};

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
        | Rejection::Field(_) => StatusCode::BAD_REQUEST,
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
        LaunchError::Call { .. } | LaunchError::Operation { .. } | LaunchError::V1Deprecated(_) => {
            retry_or_refuse(!error.is_permanent())
        }
        LaunchError::Malformed(_)
        | LaunchError::Vanished { .. }
        | LaunchError::Recreated { .. }
        | LaunchError::PollTimeout { .. }
        | LaunchError::Record { .. }
        | LaunchError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        LaunchError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
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
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::credentials::CredentialsError;
    use crate::notebooks::model::MalformedOperation;
    use crate::notebooks::{ClientError, Code, Status};
    use crate::payload::PayloadError;
    use crate::push_token::KeysError;

    fn status_of(code: Code) -> Status {
        Status {
            code,
            message: "m".into(),
        }
    }

    fn api(code: Code) -> ClientError {
        ClientError::Api {
            http: code.http_status().as_u16(),
            status: status_of(code),
        }
    }

    fn call(code: Code) -> Failure {
        LaunchError::Call {
            action: "create",
            instance: "i".into(),
            source: api(code),
        }
        .into()
    }

    fn operation(code: Code) -> Failure {
        LaunchError::Operation {
            action: "create",
            instance: "i".into(),
            status: status_of(code),
        }
        .into()
    }

    fn rejected(rejection: impl Into<Rejection>) -> Failure {
        Failure::Rejected(rejection.into())
    }

    #[test]
    fn every_failure_has_its_status() {
        let cases: [(Failure, u16); 39] = [
            (rejected(DecodeError::UnknownShape), 400),
            (rejected(DecodeError::TooDeep), 400),
            (
                rejected(DecodeError::PayloadTooLarge { size: 2, limit: 1 }),
                413,
            ),
            (rejected(PayloadError::BrokenJson("x".into())), 400),
            (rejected(PayloadError::TooDeep), 400),
            (
                rejected(PayloadError::ParameterNotAllowed {
                    name: "x".into(),
                    allowed: "y".into(),
                }),
                400,
            ),
            (
                rejected(PayloadError::ParametersTooLarge { size: 2, limit: 1 }),
                400,
            ),
            (rejected(PayloadError::DryRunNotAllowed), 400),
            (
                rejected(PayloadError::ReservedMetadata {
                    key: "startup-script".into(),
                    reason: "r".into(),
                }),
                400,
            ),
            (
                rejected(PayloadError::BadParameter {
                    name: "__builtins__".into(),
                    reason: "r".into(),
                }),
                400,
            ),
            (
                rejected(PayloadError::NotALaunch(crate::payload::Action::Reap)),
                400,
            ),
            (
                rejected(PayloadError::NearMiss {
                    key: "paramters".into(),
                    meant: "parameters",
                    place: crate::payload::Place::Data,
                }),
                400,
            ),
            (
                rejected(PayloadError::BadAttribute {
                    attribute: "parameters",
                    reason: "r".into(),
                }),
                400,
            ),
            (
                rejected(PayloadError::FieldAttribute {
                    attribute: "machine_type".into(),
                    field: crate::profile::Field::MachineType,
                }),
                400,
            ),
            (
                rejected(PayloadError::EventRefused {
                    key: "upload".into(),
                    by_attributes: false,
                }),
                400,
            ),
            (
                rejected(Rejection::UnknownProfile {
                    name: "x".into(),
                    known: "default".into(),
                }),
                400,
            ),
            (rejected(TokenError::Missing), 401),
            (rejected(TokenError::Unreadable("x".into())), 401),
            (rejected(TokenError::Rejected("x".into())), 401),
            (rejected(TokenError::AccountNotAllowed("a@b.c".into())), 403),
            (rejected(TokenError::EmailNotVerified("a@b.c".into())), 403),
            (
                rejected(TokenError::KeysUnavailable(Arc::new(
                    KeysError::NoSigningKey { url: "u".into() },
                ))),
                503,
            ),
            (call(Code::PermissionDenied), 422),
            (call(Code::InvalidArgument), 422),
            (call(Code::Unavailable), 503),
            (call(Code::ResourceExhausted), 503),
            (
                LaunchError::Call {
                    action: "create",
                    instance: "i".into(),
                    source: ClientError::Credentials(CredentialsError::Anonymous),
                }
                .into(),
                503,
            ),
            (operation(Code::PermissionDenied), 422),
            (operation(Code::ResourceExhausted), 503),
            (
                LaunchError::V1Deprecated(api(Code::FailedPrecondition)).into(),
                422,
            ),
            (
                LaunchError::Malformed(MalformedOperation("o".into(), "neither")).into(),
                503,
            ),
            (
                LaunchError::Vanished {
                    instance: "i".into(),
                    source: api(Code::NotFound),
                }
                .into(),
                503,
            ),
            (
                LaunchError::Recreated {
                    instance: "i".into(),
                }
                .into(),
                503,
            ),
            (
                LaunchError::PollTimeout {
                    instance: "i".into(),
                    waited: Duration::from_secs(1),
                    last_failure: None,
                }
                .into(),
                503,
            ),
            (
                LaunchError::PollTimeout {
                    instance: "i".into(),
                    waited: Duration::from_secs(1),
                    last_failure: Some(Box::new(LaunchError::Call {
                        action: "follow",
                        instance: "i".into(),
                        source: api(Code::Unavailable),
                    })),
                }
                .into(),
                503,
            ),
            (LaunchError::ShuttingDown.into(), 503),
            (
                LaunchError::Record(StoreError::Folder("gs://b/runs".into())).into(),
                503,
            ),
            (LaunchError::Busy { limit: 1 }.into(), 429),
            (call(Code::Internal), 503),
        ];
        for (failure, expected) in cases {
            let said = cause::chain(&failure).to_string();
            let response = failure.into_response();
            assert_eq!(response.status().as_u16(), expected, "{said}");
            assert_eq!(
                response.headers().contains_key(header::RETRY_AFTER),
                expected == 503 || expected == 429,
                "{said}"
            );
            assert_eq!(
                response.headers().contains_key(header::WWW_AUTHENTICATE),
                expected == 401,
                "{said}"
            );
        }
    }

    #[test]
    fn every_refused_report_has_its_status() {
        use crate::completion::Refusal;
        use crate::run::{InvalidRunId, ReportError, RunId};
        let run = RunId::parse("r0123456789abcdef").unwrap();
        let body = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let corrupt = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let cases: [(CompletionError, u16); 14] = [
            (CompletionError::Token(TokenError::Missing), 401),
            (
                CompletionError::Token(TokenError::Rejected("aud".into())),
                401,
            ),
            (
                CompletionError::Token(TokenError::AccountNotAllowed("a".into())),
                403,
            ),
            (
                CompletionError::Token(TokenError::KeysUnavailable(Arc::new(
                    KeysError::NoSigningKey { url: "u".into() },
                ))),
                503,
            ),
            (CompletionError::Refused(Refusal::NotAnInstance), 403),
            (
                CompletionError::Refused(Refusal::NoSuchInstance("i".into())),
                403,
            ),
            (CompletionError::RunId(InvalidRunId("x".into())), 400),
            (CompletionError::Report(ReportError::Body(body)), 400),
            (
                CompletionError::Lookup {
                    instance: "i".into(),
                    source: api(Code::Unavailable),
                },
                503,
            ),
            (CompletionError::NoOutput("i".into(), run.clone()), 409),
            (
                CompletionError::NoRecord {
                    run: run.clone(),
                    folder: "gs://b/r/".into(),
                },
                503,
            ),
            (
                CompletionError::OtherRecord {
                    run: run.clone(),
                    found: RunId::parse("rffffffffffffffff").unwrap(),
                    folder: "gs://b/r/".into(),
                },
                409,
            ),
            (
                CompletionError::Store(StoreError::Credentials(CredentialsError::Anonymous)),
                503,
            ),
            (
                CompletionError::Store(StoreError::Corrupt {
                    uri: "gs://b/r/run.json".into(),
                    source: corrupt,
                }),
                409,
            ),
        ];
        assert_answers(cases);
    }

    #[tokio::test]
    async fn the_body_tells_the_error_with_its_causes() {
        let failure = Failure::from(LaunchError::PollTimeout {
            instance: "projects/p/locations/z/instances/nb".into(),
            waited: Duration::from_secs(540),
            last_failure: Some(Box::new(LaunchError::Call {
                action: "follow",
                instance: "projects/p/locations/z/instances/nb".into(),
                source: api(Code::Unavailable),
            })),
        });
        let body = failure.into_response().into_body();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            answer["error"],
            "projects/p/locations/z/instances/nb is not ready after 540s (POLL_TIMEOUT); the next delivery resumes it: cannot follow projects/p/locations/z/instances/nb: the Notebooks API answered HTTP 503 UNAVAILABLE: m"
        );
    }
}
