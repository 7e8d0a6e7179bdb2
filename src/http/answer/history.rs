//! The statuses of the run history's answers: who may not read (401, 403, 503 as for push
//! tokens), what was asked wrong (400), what is not there (404), and what Cloud Storage did
//! not give (503 for what may pass later, 502 for a record that is not one).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{error_response, token_status};
use crate::history::HistoryError;
use crate::http::{ReadError, RunsError};
use crate::run::StoreError;

/// 403 for reading that is not configured or an account not listed; a token's own failures
/// as for push.
pub fn read_status(error: &ReadError) -> StatusCode {
    match error {
        ReadError::Token(error) => token_status(error),
        ReadError::NotConfigured
        | ReadError::NotLoopback(_)
        | ReadError::NotAReader(_)
        | ReadError::EmailNotVerified(_) => StatusCode::FORBIDDEN,
    }
}

/// The status of each way a history request can fail: exhaustive, like the others.
pub fn runs_status(error: &RunsError) -> StatusCode {
    match error {
        RunsError::Query(_) | RunsError::Filter(_) | RunsError::RunId(_) => StatusCode::BAD_REQUEST,
        RunsError::NotFound(_) | RunsError::History(HistoryError::NoOutputs { .. }) => {
            StatusCode::NOT_FOUND
        }
        RunsError::History(HistoryError::Records { source, .. }) => match source {
            StoreError::Credentials(_)
            | StoreError::Storage { .. }
            | StoreError::Contended { .. } => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Corrupt { .. } => StatusCode::BAD_GATEWAY,
            StoreError::Folder(_) => StatusCode::INTERNAL_SERVER_ERROR,
        },
    }
}

impl IntoResponse for ReadError {
    fn into_response(self) -> Response {
        error_response(read_status(&self), &self)
    }
}

impl IntoResponse for RunsError {
    fn into_response(self) -> Response {
        error_response(runs_status(&self), &self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::credentials::CredentialsError;
    use crate::history::FilterError;
    use crate::push_token::{KeysError, TokenError};
    use crate::run::{InvalidRunId, RunId};

    fn records(source: StoreError) -> RunsError {
        RunsError::History(HistoryError::Records {
            output: "gs://b/runs".into(),
            source,
        })
    }

    #[test]
    fn every_refused_read_has_its_status() {
        let cases: [(ReadError, u16); 8] = [
            (ReadError::NotConfigured, 403),
            (ReadError::NotLoopback("10.0.0.1".into()), 403),
            (ReadError::NotAReader("a@b.c".into()), 403),
            (ReadError::EmailNotVerified("a@b.c".into()), 403),
            (ReadError::Token(TokenError::Missing), 401),
            (ReadError::Token(TokenError::Rejected("aud".into())), 401),
            (ReadError::Token(TokenError::Unreadable("x".into())), 401),
            (
                ReadError::Token(TokenError::KeysUnavailable(Arc::new(
                    KeysError::NoSigningKey { url: "u".into() },
                ))),
                503,
            ),
        ];
        crate::http::answer::assert_answers(cases);
    }

    #[test]
    fn every_failed_history_request_has_its_status() {
        let corrupt = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let cases: [(RunsError, u16); 9] = [
            (RunsError::Query("limit: invalid digit".into()), 400),
            (RunsError::Filter(FilterError::Since("x".into())), 400),
            (
                RunsError::Filter(FilterError::State {
                    given: "done".into(),
                    known: "failed".into(),
                }),
                400,
            ),
            (RunsError::RunId(InvalidRunId("x".into())), 400),
            (
                RunsError::NotFound(RunId::parse("r0123456789abcdef").unwrap()),
                404,
            ),
            (
                RunsError::History(HistoryError::NoOutputs { fix: "set it" }),
                404,
            ),
            (
                records(StoreError::Credentials(CredentialsError::Anonymous)),
                503,
            ),
            (
                records(StoreError::Corrupt {
                    uri: "gs://b/runs/r/run.json".into(),
                    source: corrupt,
                }),
                502,
            ),
            (records(StoreError::Folder("gs://b".into())), 500),
        ];
        crate::http::answer::assert_answers(cases);
    }
}
