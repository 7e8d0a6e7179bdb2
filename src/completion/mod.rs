//! `POST /runs/{run id}/complete`: the runner's report, taken only from the run's own VM.
//!
//! The order matters more than anything here: first the token (a Google-signed identity
//! token for this service's URL), then the instance it names, fetched from the Notebooks API
//! and checked against the run (`check`). Only then is the run's record read, the report
//! parsed against it, the completed record written, and the cleanup the policy asks for done
//! and recorded. A refusal at any step changes nothing.
//!
//! The record moves by compare-and-swap, so of two reports sent at once one is taken and the
//! other is a repeat. A report for a run whose record already tells its end changes nothing
//! and is answered 200, so a runner that lost an answer can repeat itself; if the cleanup that
//! end calls for was never recorded (the process died in between), the repeat does it. A
//! report after the reaper recorded the run `unreported` (or `lost`) is kept beside that
//! outcome, which stands. A cleanup that fails is recorded with its error and still answered
//! 200: the runner cannot help, the reaper tries again. With run events, the outcome is
//! announced once its record is written, and the cleanup once it is recorded; a repeated or
//! late report announces nothing new.
//!
//! A report that ends a run in an outcome its profile retries schedules the next attempt
//! (see [`retry`](crate::retry)) after the cleanup, before the answer.
//!
//! - `check`: whether a token speaks for a run's instance.
//! - `error`: why a report was not taken.

pub mod check;
mod error;

use std::sync::Arc;

use axum::http::HeaderMap;
use serde::Serialize;

use crate::notebooks::{Code, Instance, NotebooksClient};
use crate::push_token::{Claims, TokenVerifier};
use crate::retry::Retrier;
use crate::run::instances::run_folder;
use crate::run::{
    Actor, CleanupPolicy, CleanupRecord, CompletionReport, RunId, RunRecord, RunState, RunStore,
    Transitions, Updated,
};

pub use check::Refusal;
pub use error::CompletionError;

/// Takes reports; shared by every request.
#[derive(Debug)]
pub struct Completer {
    client: NotebooksClient,
    records: RunStore,
    /// Checks runners' tokens: audience the service's URL, keys from `RUN_TOKEN_JWKS_URL`.
    tokens: TokenVerifier,
    project: String,
    cleanup: CleanupPolicy,
    transitions: Transitions,
    /// Schedules the retry of a run that ended in an outcome its profile retries.
    retries: Option<Arc<Retrier>>,
}

/// The answer to a report that was taken (or had been).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completed {
    pub run_id: RunId,
    pub state: RunState,
    /// `true` when an earlier report had already been taken and nothing changed.
    pub repeated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<CleanupRecord>,
}

impl Completer {
    pub fn new(
        client: NotebooksClient,
        records: RunStore,
        tokens: TokenVerifier,
        project: String,
        cleanup: CleanupPolicy,
        transitions: Transitions,
    ) -> Self {
        Self {
            client,
            records,
            tokens,
            project,
            cleanup,
            transitions,
            retries: None,
        }
    }

    /// The completer that schedules the retry of each run whose report ends it in an outcome
    /// its profile retries.
    #[must_use]
    pub fn with_retries(mut self, retrier: Arc<Retrier>) -> Self {
        self.retries = Some(retrier);
        self
    }

    /// Schedules `record`'s retry when its profile retries its outcome.
    async fn retry(&self, record: &RunRecord) {
        if let Some(retrier) = &self.retries {
            retrier.ended(record).await;
        }
    }

    /// Takes the report `body` sent to `/runs/{run}/complete` with `headers`.
    ///
    /// # Errors
    /// [`CompletionError`]; nothing was changed when one is returned.
    pub async fn complete(
        &self,
        run: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Completed, CompletionError> {
        let claims = self
            .tokens
            .claims(headers)
            .await
            .map_err(CompletionError::Token)?;
        let run = RunId::parse(run).map_err(CompletionError::RunId)?;
        let instance = self.reporting_instance(&claims, &run).await?;
        let (folder, record) = self.record_of(&instance, &run).await?;
        if record.completed_by_report() {
            return Ok(self.repeated(&instance, &folder, record).await);
        }
        let report =
            CompletionReport::parse(body, &run, &folder).map_err(CompletionError::Report)?;
        let updated = self
            .transitions
            .end(&folder, |record| record.completed(&report))
            .await
            .map_err(CompletionError::Store)?;
        let ended = match updated {
            Some(Updated::Written { now, .. }) => now,
            // Another report of the same run came first: this one is a repeat.
            Some(Updated::Unchanged(record)) => {
                return Ok(self.repeated(&instance, &folder, record).await);
            }
            None => {
                return Err(CompletionError::NoRecord {
                    run: run.clone(),
                    folder: folder.clone(),
                });
            }
        };
        if ended.late_report.is_some() {
            tracing::warn!(run = %run, state = ended.state.as_str(), outcome = report.outcome.as_str(), "late report: kept beside the run's recorded end, which stands");
            return Ok(self.finish(&instance, &folder, ended, false).await);
        }
        let action = self.cleanup.for_outcome(report.outcome);
        let cleanup = self
            .transitions
            .clean_up(&instance.name, action, Actor::Report, Some(&folder))
            .await;
        match &cleanup.error {
            None => {
                tracing::info!(run = %run, outcome = report.outcome.as_str(), instance = %instance.name, cleanup = %action, "run reported; cleanup accepted")
            }
            Some(error) => {
                tracing::warn!(run = %run, outcome = report.outcome.as_str(), instance = %instance.name, cleanup = %action, %error, "run reported; cleanup failed, the reaper tries again")
            }
        }
        self.retry(&ended).await;
        Ok(Completed {
            run_id: run,
            state: ended.state,
            repeated: false,
            cleanup: Some(cleanup),
        })
    }

    /// The answer to a report whose run's end is recorded already; changes nothing but the
    /// cleanup when one is still owed (the process that recorded the end died before it).
    async fn repeated(&self, instance: &Instance, folder: &str, record: RunRecord) -> Completed {
        tracing::info!(run = %record.run_id, state = record.state.as_str(), "repeated report: the run's record already tells its end");
        self.finish(instance, folder, record, true).await
    }

    /// Answers for `record`, doing the cleanup it still owes first.
    async fn finish(
        &self,
        instance: &Instance,
        folder: &str,
        record: RunRecord,
        repeated: bool,
    ) -> Completed {
        let cleanup = if record.needs_cleanup() {
            let action = self.cleanup.for_state(record.state);
            tracing::info!(run = %record.run_id, cleanup = %action, "the run's cleanup is owed: done now");
            Some(
                self.transitions
                    .clean_up(&instance.name, action, Actor::Report, Some(folder))
                    .await,
            )
        } else {
            record.cleanup.clone()
        };
        // The process that recorded the end may have died before it scheduled the retry.
        self.retry(&record).await;
        Completed {
            run_id: record.run_id,
            state: record.state,
            repeated,
            cleanup,
        }
    }

    /// The instance the token speaks for, fetched and checked to be the run's own.
    async fn reporting_instance(
        &self,
        claims: &Claims,
        run: &RunId,
    ) -> Result<Instance, CompletionError> {
        let name = check::instance_name(claims, &self.project).map_err(CompletionError::Refused)?;
        let instance = match self.client.get_instance(&name).await {
            Ok(instance) => instance,
            Err(error) if error.code() == Some(Code::NotFound) => {
                return Err(CompletionError::Refused(Refusal::NoSuchInstance(name)));
            }
            Err(source) => {
                return Err(CompletionError::Lookup {
                    instance: name,
                    source,
                });
            }
        };
        check::speaks_for(&instance, claims, run).map_err(CompletionError::Refused)?;
        Ok(instance)
    }

    /// The run's folder, from its instance, and the record in it, which must be the run's.
    async fn record_of(
        &self,
        instance: &Instance,
        run: &RunId,
    ) -> Result<(String, RunRecord), CompletionError> {
        let folder = run_folder(instance)
            .ok_or_else(|| CompletionError::NoOutput(instance.name.clone(), run.clone()))?;
        let record = self
            .records
            .read(&folder)
            .await
            .map_err(CompletionError::Store)?
            .ok_or_else(|| CompletionError::NoRecord {
                run: run.clone(),
                folder: folder.clone(),
            })?;
        if record.run_id != *run {
            return Err(CompletionError::OtherRecord {
                run: run.clone(),
                found: record.run_id,
                folder,
            });
        }
        Ok((folder, record))
    }
}
