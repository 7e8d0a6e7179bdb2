//! Retries: the next attempt of a run whose attempt ended in an outcome its profile retries.
//!
//! Every step is in the records (`run::NextAttempt` says how), so a retry survives the process
//! that scheduled it. Two paths launch a due retry, and either suffices:
//! - right after an attempt's end is recorded (by its report or by a reap), [`Retrier::ended`]
//!   schedules the retry and starts a timer in this process that launches it when due; the
//!   timer ends with the service (on Cloud Run, a service idle between requests may not get
//!   the CPU to fire it);
//! - every reap runs [`Retrier::sweep`] over the records written lately (those of the last
//!   [`Retrier::SWEEP_SINCE`], which the reap reads once for all its parts), launches each
//!   retry that is due and not launched, and schedules any whose end was recorded by a
//!   process that died before it scheduled it.
//!
//! Both launch through [`Launcher::relaunch`], idempotent by the next attempt's key, so a timer
//! and a reap, or two reaps, launching the same retry start one attempt, and the first to be
//! done marks it launched on the ended attempt's record. A retry whose profile refuses it now
//! (gone, changed, its notebook removed) is marked refused and not tried again; one that
//! failed to launch for a passing reason is launched by the next reap.
//!
//! An operator's cancel of the ended attempt stops its retry (`run::attempt`). A launch and a
//! cancel can cross: the launcher read the record before the cancel was written. So whoever
//! sees both cancels the attempt that was launched: the launcher, when marking its launch
//! finds the cancel; the cancel, when it finds the attempt's record; and a sweep, when a
//! cancelled run's retry is not marked launched (its launcher died between the launch and the
//! mark), looks for that attempt and cancels it, or marks the retry refused when there is none.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::cause;
use crate::launch::{Failure, Launcher, Progress, Relaunch};
use crate::operate::{OperateError, Operations};
use crate::profile::MAX_RETRY_DELAY;
use crate::run::{NextAttempt, RunEvent, RunRecord, RunStore, StoreError, Updated};

/// How far back a sweep looks beyond the longest retry delay: a retry due longer ago than
/// this (the service was down a day) is not launched any more.
const SWEEP_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// How many retries one sweep launches at once.
const LAUNCHES_AT_ONCE: usize = 8;

/// Schedules and launches retries; one for the whole service.
#[derive(Debug)]
pub struct Retrier {
    launcher: Arc<Launcher>,
    /// Cancels an attempt launched while its run's cancel was being written.
    operations: Operations,
    records: RunStore,
}

/// What a sweep did about one ended attempt's retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retried {
    /// The ended attempt.
    pub run_id: String,
    /// The attempt that follows it.
    pub next_run_id: String,
    pub next_attempt: u32,
    /// `scheduled for T`, `launched (outcome)`, `dry-run`, `refused: …` or `failed: …`.
    pub result: String,
}

impl Retried {
    /// The line `reap` prints for it.
    pub fn line(&self) -> String {
        format!(
            "retry {} as attempt {} ({}): {}",
            self.run_id, self.next_attempt, self.next_run_id, self.result
        )
    }

    fn of(record: &RunRecord, next: &NextAttempt, result: String) -> Self {
        Self {
            run_id: record.run_id.to_string(),
            next_run_id: next.run_id.to_string(),
            next_attempt: next.attempt,
            result,
        }
    }
}

impl Retrier {
    /// How far back the records a sweep judges were written: the longest retry delay and a
    /// day beyond it.
    pub const SWEEP_SINCE: Duration =
        Duration::from_secs(MAX_RETRY_DELAY.as_secs() + SWEEP_WINDOW.as_secs());

    pub fn new(launcher: Arc<Launcher>, operations: Operations, records: RunStore) -> Self {
        Self {
            launcher,
            operations,
            records,
        }
    }

    /// After `record`'s end was recorded: schedules its retry when one is owed, and starts
    /// the timer that launches it when due. Never fails: what cannot be written now is
    /// logged, and the next reap schedules it.
    pub async fn ended(self: &Arc<Self>, record: &RunRecord) {
        if !record.owes_retry() {
            return;
        }
        match self.schedule(record, Timestamp::now()).await {
            Ok(Some(next)) => self.start_timer(record.output.clone(), next.at),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(run = %record.run_id, error = %cause::chain(&error), "the retry is not scheduled; the next reap schedules it");
            }
        }
    }

    /// Writes `record`'s next attempt, judged at `now`, and announces `retrying`; `None`
    /// when no retry is owed any more (another writer scheduled it first).
    async fn schedule(
        &self,
        record: &RunRecord,
        now: Timestamp,
    ) -> Result<Option<NextAttempt>, StoreError> {
        let run_id = Relaunch::retry(record).run_id();
        let Some(next) = record.next_attempt_at(run_id, now) else {
            return Ok(None);
        };
        let updated = self
            .launcher
            .transitions
            .step(
                &record.output,
                |now| now.retry_scheduled(&next),
                RunEvent::Retrying,
            )
            .await?;
        let scheduled = matches!(updated, Some(Updated::Written { .. }));
        if scheduled {
            tracing::info!(run = %record.run_id, state = record.state.as_str(), next_run = %next.run_id, attempt = next.attempt, at = %next.at, "retry scheduled");
        }
        Ok(scheduled.then_some(next))
    }

    /// Launches the retry of the attempt in `folder` at `at`, unless the service stops first.
    fn start_timer(self: &Arc<Self>, folder: String, at: Timestamp) {
        let retrier = Arc::clone(self);
        let cancel = self.launcher.cancel.clone();
        tokio::spawn(async move {
            let wait = Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or_default();
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            match retrier.records.read(&folder).await {
                Ok(Some(record)) => {
                    retrier.launch_due(record, Timestamp::now()).await;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(folder, error = %cause::chain(&error), "the due retry's record cannot be read; the next reap launches it");
                }
            }
        });
    }

    /// Launches `record`'s next attempt when it is due at `now`, and marks it on `record`.
    async fn launch_due(&self, record: RunRecord, now: Timestamp) -> Option<Retried> {
        let next = record.retry_due(now)?.clone();
        let launched = self
            .launcher
            .relaunch(Relaunch::retry(&record), &quiet)
            .await;
        let (refused, result) = match launched {
            Ok(launched) => (None, format!("launched ({})", launched.outcome)),
            Err(Failure::Rejected(refusal)) => {
                let reason = cause::chain(&refusal).to_string();
                (Some(reason.clone()), format!("refused: {reason}"))
            }
            Err(Failure::Launch(error)) => {
                let result = format!("failed: {}", cause::chain(&error));
                tracing::warn!(run = %record.run_id, next_run = %next.run_id, %result, "the retry did not launch; the next reap tries again");
                return Some(Retried::of(&record, &next, result));
            }
        };
        let at = Timestamp::now();
        let marked = self
            .records
            .update(&record.output, |now| match &refused {
                None => now.retry_launched(at),
                Some(reason) => now.retry_refused(reason),
            })
            .await;
        match marked {
            Ok(Some(Updated::Written { now, .. } | Updated::Unchanged(now)))
                if refused.is_none() =>
            {
                self.cancel_if_asked(&now, &next).await;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(run = %record.run_id, error = %cause::chain(&error), "the retry's launch is not marked; the next reap follows it again");
            }
        }
        tracing::info!(run = %record.run_id, next_run = %next.run_id, attempt = next.attempt, %result, "retry");
        Some(Retried::of(&record, &next, result))
    }

    /// Cancels `next`, launched after `record`, when `record`'s run was cancelled meanwhile.
    async fn cancel_if_asked(&self, record: &RunRecord, next: &NextAttempt) {
        let Some(cancel) = &record.cancel else {
            return;
        };
        match self.operations.cancel(&next.run_id, &cancel.by).await {
            Ok(_) | Err(OperateError::Ended { .. }) => {
                tracing::info!(run = %record.run_id, next_run = %next.run_id, by = %cancel.by, "the retry launched as its run was cancelled is cancelled");
            }
            Err(error) => {
                // Its launch is marked: no reap looks at it again. A cancel recorded on it is
                // finished by the reaper after RUN_GRACE; one not recorded is the operator's.
                tracing::warn!(run = %record.run_id, next_run = %next.run_id, error = %cause::chain(&error), "the retry launched as its run was cancelled could not be cancelled: cancel it with `runs cancel {}`", next.run_id);
            }
        }
    }

    /// The retry of a cancelled run that was not marked launched: the attempt launched (its
    /// launcher died before the mark) is cancelled and the launch marked; when there is none,
    /// the retry is marked refused, so that no reap looks again.
    async fn follow_cancelled(&self, record: RunRecord) -> Option<Retried> {
        let next = record.retry_launched_despite_cancel()?.clone();
        let cancel = record.cancel.clone()?;
        let launched = match self.operations.cancel(&next.run_id, &cancel.by).await {
            Ok(_) | Err(OperateError::Ended { .. }) => true,
            Err(OperateError::NotFound(_)) => false,
            Err(error) => {
                let result = format!("failed: {}", cause::chain(&error));
                tracing::warn!(run = %record.run_id, next_run = %next.run_id, %result, "the cancelled run's retry is not followed; the next reap tries again");
                return Some(Retried::of(&record, &next, result));
            }
        };
        let at = Timestamp::now();
        let refusal = format!("cancelled by {} at {}", cancel.by, cancel.at);
        let marked = self
            .records
            .update(&record.output, |now| {
                if launched {
                    now.retry_launched(at)
                } else {
                    now.retry_refused(&refusal)
                }
            })
            .await;
        if let Err(error) = marked {
            tracing::warn!(run = %record.run_id, error = %cause::chain(&error), "the cancelled run's retry is not marked; the next reap follows it again");
        }
        let result = if launched {
            "cancelled: it was launched as its run was cancelled"
        } else {
            "not launched: its run was cancelled"
        };
        Some(Retried::of(&record, &next, result.to_owned()))
    }

    /// Of `records` (those written in the last [`Self::SWEEP_SINCE`]), schedules each retry
    /// owed and launches each one due at `now`, unless `dry_run`.
    pub async fn sweep(
        self: &Arc<Self>,
        records: impl IntoIterator<Item = RunRecord>,
        now: Timestamp,
        dry_run: bool,
    ) -> Vec<Retried> {
        let mut done = Vec::new();
        let mut launches = JoinSet::new();
        for record in records {
            let Some(due) = self.judge(record, now, dry_run, &mut done).await else {
                continue;
            };
            while launches.len() >= LAUNCHES_AT_ONCE {
                done.extend(launches.join_next().await.and_then(Result::ok).flatten());
            }
            let retrier = Arc::clone(self);
            launches.spawn(async move {
                match due {
                    Due::Launch(record) => retrier.launch_due(record, now).await,
                    Due::FollowCancel(record) => retrier.follow_cancelled(record).await,
                }
            });
        }
        while let Some(finished) = launches.join_next().await {
            done.extend(finished.ok().flatten());
        }
        done
    }

    /// What a sweep does about `record`: schedules an owed retry (with a timer, or at once
    /// when it is due already) and returns a record whose retry is to be launched now.
    async fn judge(
        self: &Arc<Self>,
        record: RunRecord,
        now: Timestamp,
        dry_run: bool,
        done: &mut Vec<Retried>,
    ) -> Option<Due> {
        if let Some(next) = record.retry_launched_despite_cancel() {
            if dry_run {
                done.push(Retried::of(
                    &record,
                    next,
                    "dry-run: to follow its run's cancel".to_owned(),
                ));
                return None;
            }
            return Some(Due::FollowCancel(record));
        }
        if record.owes_retry() {
            if dry_run {
                let next = record.next_attempt_at(Relaunch::retry(&record).run_id(), now)?;
                done.push(Retried::of(
                    &record,
                    &next,
                    "dry-run: to schedule".to_owned(),
                ));
                return None;
            }
            let next = match self.schedule(&record, now).await {
                Ok(Some(next)) => next,
                Ok(None) => return None,
                Err(error) => {
                    let result = format!("failed: {}", cause::chain(&error));
                    tracing::warn!(run = %record.run_id, %result, "the retry is not scheduled; the next reap tries again");
                    return None;
                }
            };
            if next.at > now {
                self.start_timer(record.output.clone(), next.at);
                done.push(Retried::of(
                    &record,
                    &next,
                    format!("scheduled for {}", next.at),
                ));
                return None;
            }
            let mut scheduled = record;
            scheduled.next_attempt = Some(next);
            return Some(Due::Launch(scheduled));
        }
        let next = record.retry_due(now)?;
        if dry_run {
            done.push(Retried::of(&record, next, "dry-run".to_owned()));
            return None;
        }
        Some(Due::Launch(record))
    }
}

/// What a sweep does next about an ended attempt's retry.
enum Due {
    /// Launch it: it is due.
    Launch(RunRecord),
    /// Its run was cancelled and its launch is not marked: cancel what was launched.
    FollowCancel(RunRecord),
}

/// A retry's launch reports no progress: it is logged where it ends.
fn quiet(_: Progress<'_>) {}
