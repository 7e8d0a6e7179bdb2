//! Waiting for a long-running operation without outliving the push request.
//!
//! Pub/Sub holds a push request open for at most the ack deadline (≤ 600 s) and redelivers
//! after it; Cloud Run kills the container 10 s after SIGTERM. So the wait has a deadline
//! (`POLL_TIMEOUT`, default 540 s) and a cancellation token, and either ends it with an error
//! that becomes a 503: the next delivery resumes the same operation. Polling backs off
//! exponentially *without* jitter: polls of one operation do not need spreading out, and fixed
//! delays keep the behaviour predictable and testable.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Delays between polls: `initial`, doubling, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(15),
        }
    }
}

impl Backoff {
    /// The delay after the `attempt`-th poll (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.initial
            .saturating_mul(2u32.saturating_pow(attempt.min(31)))
            .min(self.max)
    }
}

/// What one look at the operation found.
#[derive(Debug)]
pub enum Step<T, E> {
    Done(T),
    /// Not finished; `state` is shown in progress output.
    Pending {
        state: Option<String>,
    },
    /// The look itself failed in a way worth another look (a 503 on `operations.get`); kept
    /// so that a wait ending at the deadline can say what went wrong last.
    Retry(E),
    /// Finished badly, or cannot be followed.
    Failed(E),
}

/// Why the wait ended without an outcome.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PollError<E> {
    #[error("still not done after {waited:?}")]
    Deadline {
        waited: Duration,
        /// The failure of the last look, when it failed: what kept the wait from an answer.
        last_failure: Option<E>,
    },
    #[error("shutting down")]
    Cancelled,
    #[error(transparent)]
    Failed(E),
}

/// Polls until done, failed, past the deadline, or cancelled.
#[derive(Debug, Clone)]
pub struct Poller {
    backoff: Backoff,
    started: Instant,
    deadline: Instant,
    cancel: CancellationToken,
}

impl Poller {
    /// The deadline counts from now: create it when the request arrives.
    pub fn new(backoff: Backoff, timeout: Duration, cancel: CancellationToken) -> Self {
        let started = Instant::now();
        Self {
            backoff,
            started,
            deadline: started + timeout,
            cancel,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Runs one call under the same deadline and cancellation as the polls. A create may wait
    /// for one of the client's call slots behind a burst of other launches, or for a slow
    /// answer; it must not outlive the push request any more than a poll may, and a shutdown
    /// must not wait for it.
    ///
    /// # Errors
    /// [`PollError::Deadline`] (with no failure: the call did not end) or
    /// [`PollError::Cancelled`]; never `Failed`.
    pub async fn bounded<T, E>(&self, call: impl Future<Output = T>) -> Result<T, PollError<E>> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(PollError::Cancelled),
            result = tokio::time::timeout_at(self.deadline, call) => {
                result.map_err(|_| self.deadline_passed(None))
            }
        }
    }

    fn deadline_passed<E>(&self, last_failure: Option<E>) -> PollError<E> {
        PollError::Deadline {
            waited: self.elapsed(),
            last_failure,
        }
    }

    /// Runs `step` with no wait first, then after each backoff delay.
    ///
    /// # Errors
    /// [`PollError`]: the step's own failure, the deadline, or cancellation.
    pub async fn wait<T, E, F, Fut>(
        &self,
        mut step: F,
        mut on_pending: impl FnMut(Option<&str>, Duration),
    ) -> Result<T, PollError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Step<T, E>>,
    {
        let mut attempt = 0;
        let mut last_failure = None;
        loop {
            let outcome = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Err(PollError::Cancelled),
                // Boxed: a step's call lives only while it runs, and inline it would size
                // the state of every wait while it sleeps between steps.
                result = tokio::time::timeout_at(self.deadline, Box::pin(step())) => match result {
                    Ok(outcome) => outcome,
                    Err(_) => return Err(self.deadline_passed(last_failure)),
                },
            };
            match outcome {
                Step::Done(value) => return Ok(value),
                Step::Failed(error) => return Err(PollError::Failed(error)),
                Step::Pending { state } => {
                    last_failure = None;
                    on_pending(state.as_deref(), self.elapsed());
                }
                Step::Retry(error) => last_failure = Some(error),
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(self.deadline_passed(last_failure));
            }
            let wake = (now + self.backoff.delay(attempt)).min(self.deadline);
            attempt += 1;
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Err(PollError::Cancelled),
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff::default();
        let delays: Vec<u64> = (0..7).map(|a| b.delay(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 15, 15, 15]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(15));
    }

    type Times = Arc<Mutex<Vec<Duration>>>;

    /// Records the (virtual) time of each poll; done at the `done_at`-th poll.
    fn recorder(
        done_at: usize,
    ) -> (
        Times,
        impl FnMut() -> std::future::Ready<Step<&'static str, ()>>,
    ) {
        let times = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let log = times.clone();
        let step = move || {
            let mut log = log.lock().unwrap();
            log.push(start.elapsed());
            std::future::ready(if log.len() == done_at {
                Step::Done("ok")
            } else {
                Step::Pending { state: None }
            })
        };
        (times, step)
    }

    #[tokio::test(start_paused = true)]
    async fn polls_on_the_backoff_schedule_until_done() {
        let poller = Poller::new(
            Backoff::default(),
            Duration::from_secs(540),
            CancellationToken::new(),
        );
        let (times, step) = recorder(6);
        assert_eq!(poller.wait(step, |_, _| {}).await, Ok("ok"));
        let secs: Vec<u64> = times
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs)
            .collect();
        assert_eq!(secs, [0, 1, 3, 7, 15, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline_after_a_last_look() {
        let poller = Poller::new(
            Backoff::default(),
            Duration::from_secs(20),
            CancellationToken::new(),
        );
        let (times, step) = recorder(usize::MAX);
        assert_eq!(
            poller.wait(step, |_, _| {}).await,
            Err(PollError::Deadline {
                waited: Duration::from_secs(20),
                last_failure: None
            })
        );
        let secs: Vec<u64> = times
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs)
            .collect();
        assert_eq!(
            secs,
            [0, 1, 3, 7, 15, 20],
            "the last look happens at the deadline"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_bounded_call_ends_with_its_answer_the_deadline_or_a_shutdown() {
        let cancel = CancellationToken::new();
        let poller = Poller::new(Backoff::default(), Duration::from_secs(20), cancel.clone());
        assert_eq!(poller.bounded::<_, ()>(async { 7 }).await, Ok(7));

        let never = std::future::pending::<()>();
        assert_eq!(
            poller.bounded::<_, ()>(never).await,
            Err(PollError::Deadline {
                waited: Duration::from_secs(20),
                last_failure: None
            })
        );

        let poller = Poller::new(Backoff::default(), Duration::from_secs(20), cancel.clone());
        let started = Instant::now();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            cancel.cancel();
        });
        assert_eq!(
            poller.bounded::<_, ()>(std::future::pending::<()>()).await,
            Err(PollError::Cancelled)
        );
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        canceller.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_ends_the_wait_at_once() {
        let cancel = CancellationToken::new();
        let poller = Poller::new(Backoff::default(), Duration::from_secs(540), cancel.clone());
        let (_, step) = recorder(usize::MAX);
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            cancel.cancel();
        });
        let started = Instant::now();
        assert_eq!(
            poller.wait(step, |_, _| {}).await,
            Err(PollError::Cancelled)
        );
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        canceller.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_step_is_cut_at_the_deadline() {
        let poller = Poller::new(
            Backoff::default(),
            Duration::from_secs(3),
            CancellationToken::new(),
        );
        let result: Result<(), PollError<()>> = poller.wait(std::future::pending, |_, _| {}).await;
        assert_eq!(
            result,
            Err(PollError::Deadline {
                waited: Duration::from_secs(3),
                last_failure: None
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failures_and_retries() {
        let poller = Poller::new(
            Backoff::default(),
            Duration::from_secs(60),
            CancellationToken::new(),
        );
        let mut calls = 0;
        let result = poller
            .wait(
                || {
                    calls += 1;
                    std::future::ready(match calls {
                        1 => Step::Retry("503"),
                        _ => Step::<(), &str>::Failed("quota"),
                    })
                },
                |_, _| {},
            )
            .await;
        assert_eq!(result, Err(PollError::Failed("quota")));
        assert_eq!(calls, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_that_ends_at_the_deadline_says_what_failed_last() {
        let poller = Poller::new(
            Backoff::default(),
            Duration::from_secs(10),
            CancellationToken::new(),
        );
        let mut calls = 0;
        let result = poller
            .wait(
                || {
                    calls += 1;
                    std::future::ready(match calls {
                        1 => Step::<(), _>::Retry("connection refused"),
                        2 => Step::Pending { state: None },
                        _ => Step::Retry("protocol error"),
                    })
                },
                |_, _| {},
            )
            .await;
        assert_eq!(
            result,
            Err(PollError::Deadline {
                waited: Duration::from_secs(10),
                last_failure: Some("protocol error")
            })
        );

        let poller = Poller::new(
            Backoff::default(),
            Duration::from_secs(10),
            CancellationToken::new(),
        );
        let mut calls = 0;
        let result = poller
            .wait(
                || {
                    calls += 1;
                    std::future::ready(match calls {
                        1 => Step::<(), _>::Retry("connection refused"),
                        _ => Step::Pending { state: None },
                    })
                },
                |_, _| {},
            )
            .await;
        assert_eq!(
            result,
            Err(PollError::Deadline {
                waited: Duration::from_secs(10),
                last_failure: None
            }),
            "a look that got an answer since clears the failure"
        );
    }
}
