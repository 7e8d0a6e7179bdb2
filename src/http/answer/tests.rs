//! The table of every refusal and failure with its status, and the body that tells it.

use super::*;
use std::sync::Arc;
use std::time::Duration;

use crate::credentials::CredentialsError;
use crate::launch::Unreadable;
use crate::notebooks::model::MalformedOperation;
use crate::notebooks::{ClientError, Code, Status};
use crate::papermill::{NotebookError, ParameterError};
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

fn storage(status: u16) -> storage_client::StorageError {
    storage_client::StorageError::Refused {
        what: "gs://b/nb.ipynb".into(),
        status: axum::http::StatusCode::from_u16(status).unwrap(),
        message: "m".into(),
    }
}

fn unreadable(source: Unreadable) -> Failure {
    LaunchError::Notebook {
        notebook: "gs://b/nb.ipynb".into(),
        source,
    }
    .into()
}

#[test]
fn every_failure_has_its_status() {
    let cases: [(Failure, u16); 55] = [
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
                source: Box::new(api(Code::NotFound)),
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
        (
            LaunchError::NoSlot {
                profile: "nightly".into(),
                max: 2,
            }
            .into(),
            429,
        ),
        (
            LaunchError::Slot(crate::run::SlotError::NotASlot("x".into())).into(),
            503,
        ),
        (execution(Code::Unavailable), 503),
        (execution(Code::InvalidArgument), 422),
        (
            LaunchError::ExecutionTaken {
                job: "projects/p/locations/r/notebookExecutionJobs/j".into(),
            }
            .into(),
            422,
        ),
        (
            LaunchError::Copy {
                notebook: "gs://b/n.ipynb".into(),
                source: crate::run::CopyError::NoGeneration {
                    uri: "gs://b/c.ipynb".into(),
                },
            }
            .into(),
            503,
        ),
        (
            LaunchError::Unparameterized {
                notebook: "gs://b/n.ipynb".into(),
                source: crate::papermill::NotebookError::NoCells,
            }
            .into(),
            422,
        ),
        (
            LaunchError::NotebookTooLarge {
                notebook: "gs://b/n.ipynb".into(),
                max: 1,
            }
            .into(),
            422,
        ),
        (call(Code::Internal), 503),
        (
            rejected(Rejection::NotebookMissing {
                notebook: "gs://b/nb.ipynb".into(),
                profile: "default".into(),
                source: storage(404),
            }),
            400,
        ),
        (
            rejected(Rejection::NotANotebook {
                notebook: "gs://b/nb.ipynb".into(),
                profile: "default".into(),
                source: NotebookError::NoCells,
            }),
            400,
        ),
        (
            rejected(ParameterError::Undeclared {
                name: "colour".into(),
                notebook: "gs://b/nb.ipynb".into(),
                declared: "n_rows".into(),
            }),
            400,
        ),
        (
            rejected(ParameterError::WrongType {
                name: "n_rows".into(),
                found: "a string",
                expected: "int".into(),
                declaration: "n_rows = 5".into(),
                notebook: "gs://b/nb.ipynb".into(),
            }),
            400,
        ),
        (unreadable(Unreadable::Denied(storage(403))), 503),
        (unreadable(Unreadable::Storage(storage(500))), 503),
        (unreadable(Unreadable::Replaced { checked: 7 }), 503),
        (
            unreadable(Unreadable::Credentials(CredentialsError::Anonymous)),
            503,
        ),
    ];
    for (failure, expected) in cases {
        let said = cause::chain(&failure).to_string();
        // A busy launch is the one kind a retry waits out: exactly the 429s.
        assert_eq!(failure.is_busy(), expected == 429, "{said}");
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

/// A failed call for a job, answered with `code`.
fn execution(code: Code) -> Failure {
    LaunchError::Execution {
        action: "create",
        job: "projects/p/locations/r/notebookExecutionJobs/j".into(),
        source: crate::executions::ExecutionsError::Api {
            http: code.http_status().as_u16(),
            status: crate::notebooks::Status {
                code,
                message: String::new(),
            },
        },
    }
    .into()
}
