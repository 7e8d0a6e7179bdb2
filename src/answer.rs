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
        LaunchError::Refused { .. } | LaunchError::V1Deprecated { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        LaunchError::Transient(_) | LaunchError::PollTimeout { .. } | LaunchError::ShuttingDown => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        LaunchError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
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
        let mut response = (status, Json(json!({"error": self.to_string()}))).into_response();
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
    use crate::notebooks::{Code, Status};
    use crate::payload::PayloadError;
    use std::time::Duration;

    #[test]
    fn every_failure_has_its_status() {
        let refused = |code| LaunchError::Refused {
            action: "create",
            instance: "i".into(),
            status: Status {
                code,
                message: "m".into(),
            },
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
            (refused(Code::PermissionDenied), 422),
            (
                LaunchError::V1Deprecated {
                    message: "m".into(),
                },
                422,
            ),
            (LaunchError::Transient("t".into()), 503),
            (
                LaunchError::PollTimeout {
                    instance: "i".into(),
                    waited: Duration::from_secs(1),
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
                LaunchError::TokenVerifier(TokenError::KeysUnavailable("x".into())),
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
