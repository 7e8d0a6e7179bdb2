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

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::cause;
use crate::launch::{LaunchError, Launched};
use crate::push::PushError;
use crate::push_token::TokenError;

/// Seconds a client should wait before retrying a 503 or 429 (Pub/Sub applies its own backoff).
const RETRY_AFTER_SECONDS: &str = "10";

/// The status for each failure: exhaustive, so a new variant cannot go unmapped.
pub fn status(error: &LaunchError) -> StatusCode {
    match error {
        LaunchError::TokenVerifier(error) => match error {
            TokenError::Missing | TokenError::Unreadable(_) | TokenError::Rejected(_) => {
                StatusCode::UNAUTHORIZED
            }
            TokenError::AccountNotAllowed(_) | TokenError::EmailNotVerified(_) => {
                StatusCode::FORBIDDEN
            }
            TokenError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        },
        LaunchError::Push(PushError::PayloadTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        LaunchError::Push(_)
        | LaunchError::Payload(_)
        | LaunchError::UnknownProfile { .. }
        | LaunchError::Field(_) => StatusCode::BAD_REQUEST,
        LaunchError::Call { source, .. } => retry_or_refuse(source.is_transient()),
        LaunchError::Operation { status, .. } => retry_or_refuse(status.code.is_transient()),
        LaunchError::V1Deprecated(_) => StatusCode::UNPROCESSABLE_ENTITY,
        LaunchError::Malformed(_)
        | LaunchError::Vanished { .. }
        | LaunchError::Recreated { .. }
        | LaunchError::PollTimeout { .. }
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

impl IntoResponse for LaunchError {
    fn into_response(self) -> Response {
        let status = status(&self);
        let error = cause::chain(&self).to_string();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::CredentialsError;
    use crate::notebooks::model::MalformedOperation;
    use crate::notebooks::{ClientError, Code, Status};

    fn code_http(code: Code) -> u16 {
        code.http_status().as_u16()
    }
    use crate::payload::PayloadError;
    use std::time::Duration;

    #[test]
    fn every_failure_has_its_status() {
        let status = |code| Status {
            code,
            message: "m".into(),
        };
        let api = |code| ClientError::Api {
            http: code_http(code),
            status: status(code),
        };
        let call = |code| LaunchError::Call {
            action: "create",
            instance: "i".into(),
            source: api(code),
        };
        let operation = |code| LaunchError::Operation {
            action: "create",
            instance: "i".into(),
            status: status(code),
        };
        let cases = [
            (LaunchError::Push(PushError::UnknownShape), 400),
            (
                LaunchError::Payload(PayloadError::BrokenJson("x".into())),
                400,
            ),
            (
                LaunchError::UnknownProfile {
                    name: "x".into(),
                    known: "default".into(),
                },
                400,
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
                },
                503,
            ),
            (operation(Code::PermissionDenied), 422),
            (operation(Code::ResourceExhausted), 503),
            (
                LaunchError::V1Deprecated(api(Code::FailedPrecondition)),
                422,
            ),
            (
                LaunchError::Malformed(MalformedOperation("o".into(), "neither")),
                503,
            ),
            (
                LaunchError::Vanished {
                    instance: "i".into(),
                    source: api(Code::NotFound),
                },
                503,
            ),
            (
                LaunchError::Recreated {
                    instance: "i".into(),
                },
                503,
            ),
            (
                LaunchError::PollTimeout {
                    instance: "i".into(),
                    waited: Duration::from_secs(1),
                    last_failure: None,
                },
                503,
            ),
            (LaunchError::ShuttingDown, 503),
            (LaunchError::Push(PushError::TooDeep), 400),
            (LaunchError::Payload(PayloadError::TooDeep), 400),
            (
                LaunchError::Push(PushError::PayloadTooLarge { size: 2, limit: 1 }),
                413,
            ),
            (LaunchError::Busy { limit: 1 }, 429),
            (LaunchError::TokenVerifier(TokenError::Missing), 401),
            (
                LaunchError::TokenVerifier(TokenError::Unreadable("x".into())),
                401,
            ),
            (
                LaunchError::TokenVerifier(TokenError::Rejected("x".into())),
                401,
            ),
            (
                LaunchError::TokenVerifier(TokenError::AccountNotAllowed("a@b.c".into())),
                403,
            ),
            (
                LaunchError::TokenVerifier(TokenError::EmailNotVerified("a@b.c".into())),
                403,
            ),
            (
                LaunchError::TokenVerifier(TokenError::KeysUnavailable(std::sync::Arc::new(
                    crate::push_token::KeysError::NoSigningKey { url: "u".into() },
                ))),
                503,
            ),
        ];
        for (error, expected) in cases {
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), expected);
            assert_eq!(
                response.headers().contains_key(header::RETRY_AFTER),
                expected == 503 || expected == 429
            );
            assert_eq!(
                response.headers().contains_key(header::WWW_AUTHENTICATE),
                expected == 401
            );
        }
    }
}
