//! The statuses of an operator's requests (rerun, cancel, run now): who may not act (401, 403,
//! 503 as for reading), what was asked wrong (400), what is not there (404), a run that has
//! ended already (409), and a launch's own statuses for the launch it starts.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{error_response, read_status, status};
use crate::http::forms::{CheckError, FormKeyError};
use crate::http::operate::ActError;
use crate::operate::OperateError;
use crate::run::StoreError;

/// The status of each way an operator's request can end undone: exhaustive, like the others.
pub fn act_status(error: &ActError) -> StatusCode {
    match error {
        ActError::Read(error) => read_status(error),
        ActError::NotOperator(_) | ActError::Form(CheckError::Token(_)) => StatusCode::FORBIDDEN,
        ActError::Body(_) | ActError::RunId(_) => StatusCode::BAD_REQUEST,
        ActError::Form(CheckError::Key(FormKeyError::NoOutput)) => StatusCode::NOT_FOUND,
        ActError::Form(CheckError::Key(FormKeyError::Store(error))) => store_status(error),
        ActError::Operate(error) => operate_status(error),
    }
}

fn operate_status(error: &OperateError) -> StatusCode {
    match error {
        OperateError::NotFound(_) | OperateError::NoOutputs => StatusCode::NOT_FOUND,
        OperateError::Ended { .. } => StatusCode::CONFLICT,
        OperateError::TooManyAttempts(_) => StatusCode::BAD_GATEWAY,
        OperateError::Store { source, .. } => store_status(source),
        OperateError::Stop { source, .. } if source.is_transient() => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        OperateError::Stop { .. } => StatusCode::BAD_GATEWAY,
        OperateError::Delete { source, .. } if source.is_transient() => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        OperateError::Delete { .. } => StatusCode::BAD_GATEWAY,
        OperateError::Launch(failure) => status(failure),
    }
}

/// 503 for what may pass later, 502 for an object that is not what it should be.
fn store_status(error: &StoreError) -> StatusCode {
    match error {
        StoreError::Credentials(_) | StoreError::Storage { .. } | StoreError::Contended { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        StoreError::Corrupt { .. } => StatusCode::BAD_GATEWAY,
        StoreError::Folder(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ActError {
    fn into_response(self) -> Response {
        error_response(act_status(&self), &self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::CredentialsError;
    use crate::http::ReadError;
    use crate::http::forms::FormTokenError;
    use crate::http::operators::NotOperator;
    use crate::launch::{Failure, LaunchError};
    use crate::notebooks::ClientError;
    use crate::push_token::TokenError;
    use crate::rejection::Rejection;
    use crate::run::{InvalidRunId, RunId, RunState};

    #[test]
    fn every_undone_operator_request_has_its_status() {
        let run = || RunId::parse("r0123456789abcdef").unwrap();
        let anonymous = || StoreError::Credentials(CredentialsError::Anonymous);
        let cases: [(ActError, u16); 19] = [
            (ReadError::Token(TokenError::Missing).into(), 401),
            (ReadError::NotAReader("a@b.c".into()).into(), 403),
            (NotOperator::NotConfigured.into(), 403),
            (NotOperator::NotListed("a@b.c".into()).into(), 403),
            (
                NotOperator::CrossSite("Sec-Fetch-Site: cross-site".into()).into(),
                403,
            ),
            (CheckError::Token(FormTokenError::Missing).into(), 403),
            (CheckError::Token(FormTokenError::Forged).into(), 403),
            (CheckError::Key(FormKeyError::NoOutput).into(), 404),
            (
                CheckError::Key(FormKeyError::Store(anonymous())).into(),
                503,
            ),
            (ActError::Body("parameters: not JSON".into()), 400),
            (InvalidRunId("x".into()).into(), 400),
            (OperateError::NotFound(run()).into(), 404),
            (OperateError::TooManyAttempts(run()).into(), 502),
            (
                OperateError::Ended {
                    run: run(),
                    state: RunState::Succeeded,
                }
                .into(),
                409,
            ),
            (
                OperateError::Stop {
                    run: run(),
                    instance: "projects/p/locations/z/instances/i".into(),
                    source: ClientError::Credentials(CredentialsError::Anonymous),
                }
                .into(),
                503,
            ),
            (
                OperateError::Delete {
                    run: run(),
                    job: "projects/p/locations/r/notebookExecutionJobs/j".into(),
                    source: crate::executions::ExecutionsError::Credentials(
                        CredentialsError::Anonymous,
                    ),
                }
                .into(),
                503,
            ),
            (
                OperateError::Delete {
                    run: run(),
                    job: "projects/p/locations/r/notebookExecutionJobs/j".into(),
                    source: crate::executions::ExecutionsError::Name { name: "x".into() },
                }
                .into(),
                502,
            ),
            (
                OperateError::Launch(Failure::Rejected(Rejection::UnknownProfile {
                    name: "x".into(),
                    known: "default".into(),
                }))
                .into(),
                400,
            ),
            (
                OperateError::Launch(Failure::Launch(LaunchError::Busy { limit: 1 })).into(),
                429,
            ),
        ];
        crate::http::answer::assert_answers(cases);
    }
}
