//! The emulator's notion of "now", injectable so lifecycle tests need no sleeping.
//!
//! Lifecycle states are computed from timestamps whenever an object is read, so the only moving
//! part is the clock: tests swap in a [`ManualClock`] and step it past `--provision-time`.
//! What must happen at a moment (an instance booting its script) waits for the clock with
//! [`Clock::reached`], so with a manual clock it happens when the test moves the clock, not
//! when real time passes.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

/// A future the clock resolves.
pub type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of wall-clock time (Google reports RFC 3339 timestamps, so this is not `Instant`).
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> Timestamp;

    /// Resolves once [`Clock::now`] is at or past `at`. By default, sleeps in real time.
    fn reached(&self, at: Timestamp) -> Wait<'_> {
        Box::pin(async move {
            loop {
                let left = self.now().duration_until(at);
                if left <= SignedDuration::ZERO {
                    return;
                }
                let left = Duration::try_from(left).unwrap_or(Duration::MAX);
                tokio::time::sleep(left.min(Duration::from_secs(3600))).await;
            }
        })
    }
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to, for deterministic lifecycle tests.
#[derive(Debug)]
pub struct ManualClock(watch::Sender<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(watch::Sender::new(start))
    }

    /// Moves the clock; whatever waits for a moment now passed goes ahead.
    pub fn advance(&self, by: Duration) {
        self.0.send_modify(|now| *now = later(*now, by));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.borrow()
    }

    fn reached(&self, at: Timestamp) -> Wait<'_> {
        let mut moves = self.0.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, which this future borrows.
            let _ = moves.wait_for(|now| *now >= at).await;
        })
    }
}

/// `at + by`, saturating: an absurd `--provision-time` means "never", not a panic.
pub fn later(at: Timestamp, by: Duration) -> Timestamp {
    SignedDuration::try_from(by)
        .ok()
        .and_then(|by| at.checked_add(by).ok())
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_waiters_when_moved_past_their_moment() {
        let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
        let at = later(clock.now(), Duration::from_secs(30));
        let mut wait = clock.reached(at);
        assert!(futures_poll_once(&mut wait).await.is_none());
        clock.advance(Duration::from_secs(29));
        assert!(futures_poll_once(&mut wait).await.is_none());
        clock.advance(Duration::from_secs(1));
        assert!(futures_poll_once(&mut wait).await.is_some());
    }

    /// Polls a future once, without waiting.
    async fn futures_poll_once(wait: &mut Wait<'_>) -> Option<()> {
        tokio::time::timeout(Duration::ZERO, wait.as_mut())
            .await
            .ok()
    }

    #[tokio::test]
    async fn the_system_clock_waits_in_real_time() {
        let clock = SystemClock;
        let at = later(clock.now(), Duration::from_millis(1));
        clock.reached(at).await;
        assert!(clock.now() >= at);
    }
}
