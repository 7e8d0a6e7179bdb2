//! Why a completion report was not taken. `answer` maps each to its status.

use crate::notebooks::ClientError;
use crate::push_token::TokenError;
use crate::run::{InvalidRunId, ReportError, RunId, StoreError};

use super::check::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum CompletionError {
    #[error("the report's token was refused")]
    Token(#[source] TokenError),
    #[error("the report was refused")]
    Refused(#[source] Refusal),
    #[error("the report's path names no run")]
    RunId(#[source] InvalidRunId),
    #[error("cannot look up instance {instance}; try again")]
    Lookup {
        instance: String,
        #[source]
        source: ClientError,
    },
    #[error(
        "instance {0} names no output folder (notebook-trigger-output), so run {1} has no record"
    )]
    NoOutput(String, RunId),
    #[error("run {run} has no record in {folder} yet; try again")]
    NoRecord { run: RunId, folder: String },
    #[error("the record in {folder} is for run {found}, not {run}")]
    OtherRecord {
        run: RunId,
        found: RunId,
        folder: String,
    },
    #[error("the run record is not available; try again")]
    Store(#[source] StoreError),
    #[error("the report is refused")]
    Report(#[source] ReportError),
}
