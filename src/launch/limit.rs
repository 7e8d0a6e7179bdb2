//! The service's bound on launches in progress (`MAX_CONCURRENT_LAUNCHES`): every launch holds
//! a permit while it runs, whoever asked for it (a message, an operator's rerun or "run now",
//! a retry), and one beyond the bound is refused at once ([`LaunchError::Busy`], 429), so that
//! Pub/Sub backs off, an operator is told to try again, and a retry waits for the next reap,
//! instead of the service queueing work until it falls over. A reap holds none: it is one
//! listing, scheduled, and refusing it would only delay the cleanup it exists for.

use tokio::sync::{Semaphore, SemaphorePermit};

use super::LaunchError;

/// How many launches may be in progress at once; one for the whole service.
#[derive(Debug)]
pub struct LaunchLimit {
    permits: Semaphore,
    max: usize,
}

impl LaunchLimit {
    pub fn new(max: usize) -> Self {
        Self {
            permits: Semaphore::new(max),
            max,
        }
    }

    /// A permit, held until it is dropped.
    ///
    /// # Errors
    /// [`LaunchError::Busy`] when `max` launches are in progress.
    pub fn hold(&self) -> Result<SemaphorePermit<'_>, LaunchError> {
        self.permits
            .try_acquire()
            .map_err(|_| LaunchError::Busy { limit: self.max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_beyond_the_bound_is_refused_until_a_launch_ends() {
        let limit = LaunchLimit::new(2);
        let first = limit.hold().unwrap();
        let _second = limit.hold().unwrap();
        let refused = limit.hold().unwrap_err();
        assert!(
            matches!(refused, LaunchError::Busy { limit: 2 }),
            "{refused}"
        );
        drop(first);
        assert!(limit.hold().is_ok());
    }
}
