//! The knobs tests may turn while the emulator runs, shared lock-free with request handlers.
//!
//! A test that wants "the next ten requests fail" or "operations now take 50 ms" must not
//! restart the server (and lose its state), so these live in atomics rather than in the
//! immutable configuration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::status::Code;

#[derive(Debug)]
pub struct Knobs {
    provision_nanos: AtomicU64,
    fault_rate_bits: AtomicU64,
    /// Rate and code change together, so they share one (briefly held) lock.
    operation_failure: Mutex<(f64, Code)>,
}

/// Checks a probability flag.
///
/// # Errors
/// A message for clap when the value is not a number within 0.0..=1.0.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("`{text}` is not a fraction between 0.0 and 1.0"))
    }
}

fn checked_rate(rate: f64) -> f64 {
    assert!(
        (0.0..=1.0).contains(&rate),
        "a rate must lie within 0.0..=1.0, got {rate}"
    );
    rate
}

impl Knobs {
    /// # Panics
    /// If a rate lies outside 0.0..=1.0 (flags are validated by [`parse_rate`] before).
    pub fn new(
        provision_time: Duration,
        fault_rate: f64,
        failure_rate: f64,
        failure_code: Code,
    ) -> Self {
        let knobs = Self {
            provision_nanos: AtomicU64::new(0),
            fault_rate_bits: AtomicU64::new(0),
            operation_failure: Mutex::new((checked_rate(failure_rate), failure_code)),
        };
        knobs.set_provision_time(provision_time);
        knobs.set_fault_rate(fault_rate);
        knobs
    }

    pub fn provision_time(&self) -> Duration {
        Duration::from_nanos(self.provision_nanos.load(Ordering::Relaxed))
    }

    pub fn set_provision_time(&self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.provision_nanos.store(nanos, Ordering::Relaxed);
    }

    pub fn fault_rate(&self) -> f64 {
        f64::from_bits(self.fault_rate_bits.load(Ordering::Relaxed))
    }

    /// # Panics
    /// If `rate` lies outside 0.0..=1.0.
    pub fn set_fault_rate(&self, rate: f64) {
        self.fault_rate_bits
            .store(checked_rate(rate).to_bits(), Ordering::Relaxed);
    }

    pub fn operation_failure(&self) -> (f64, Code) {
        *self
            .operation_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// # Panics
    /// If `rate` lies outside 0.0..=1.0.
    pub fn set_operation_failure(&self, rate: f64, code: Code) {
        *self
            .operation_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (checked_rate(rate), code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_fractions() {
        assert_eq!(parse_rate("0.25"), Ok(0.25));
        assert_eq!(parse_rate("1"), Ok(1.0));
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("-0.1").is_err());
        assert!(parse_rate("NaN").is_err());
        assert!(parse_rate("often").is_err());
    }

    #[test]
    fn knobs_turn_at_runtime() {
        let knobs = Knobs::new(Duration::from_secs(30), 0.0, 0.0, Code::ResourceExhausted);
        knobs.set_fault_rate(0.5);
        knobs.set_provision_time(Duration::from_millis(5));
        knobs.set_operation_failure(1.0, Code::PermissionDenied);
        assert_eq!(knobs.fault_rate(), 0.5);
        assert_eq!(knobs.provision_time(), Duration::from_millis(5));
        assert_eq!(knobs.operation_failure(), (1.0, Code::PermissionDenied));
    }
}
