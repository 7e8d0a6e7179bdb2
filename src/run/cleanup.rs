//! What becomes of an instance once its run is over.
//!
//! A finished run's VM only costs money, so a success deletes it by default. A failure stops
//! it instead: compute ends, and the disk stays for someone to look at what went wrong
//! (`KEEP_STOPPED` later lets the reaper delete it). Either can be `keep` for debugging.

use std::fmt;
use std::str::FromStr;

use super::{Outcome, RunState};

/// One thing to do with a finished run's instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cleanup {
    Delete,
    Stop,
    Keep,
}

impl Cleanup {
    pub fn as_str(self) -> &'static str {
        match self {
            Cleanup::Delete => "delete",
            Cleanup::Stop => "stop",
            Cleanup::Keep => "keep",
        }
    }
}

impl fmt::Display for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cleanup {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "delete" => Ok(Cleanup::Delete),
            "stop" => Ok(Cleanup::Stop),
            "keep" => Ok(Cleanup::Keep),
            other => Err(format!("`{other}` is not delete, stop or keep")),
        }
    }
}

/// `ON_COMPLETE` and `ON_FAILURE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    pub on_complete: Cleanup,
    pub on_failure: Cleanup,
}

impl Default for CleanupPolicy {
    fn default() -> Self {
        Self {
            on_complete: Cleanup::Delete,
            on_failure: Cleanup::Stop,
        }
    }
}

impl CleanupPolicy {
    /// A time-out or a cancelled run counts as a failure: its disk may explain it.
    pub fn for_outcome(self, outcome: Outcome) -> Cleanup {
        if outcome.is_success() {
            self.on_complete
        } else {
            self.on_failure
        }
    }

    /// The cleanup a recorded end calls for: only a success is complete; a run that never
    /// reported counts as a failure.
    pub fn for_state(self, state: RunState) -> Cleanup {
        if state == RunState::Succeeded {
            self.on_complete
        } else {
            self.on_failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_deletes_and_everything_else_stops_by_default() {
        let policy = CleanupPolicy::default();
        assert_eq!(policy.for_outcome(Outcome::Succeeded), Cleanup::Delete);
        for outcome in [Outcome::Failed, Outcome::TimedOut, Outcome::Cancelled] {
            assert_eq!(policy.for_outcome(outcome), Cleanup::Stop, "{outcome:?}");
        }
    }

    #[test]
    fn cleanup_parses_its_three_words_and_names_them_otherwise() {
        for cleanup in [Cleanup::Delete, Cleanup::Stop, Cleanup::Keep] {
            assert_eq!(cleanup.as_str().parse(), Ok(cleanup));
        }
        assert!(
            "destroy"
                .parse::<Cleanup>()
                .unwrap_err()
                .contains("delete, stop or keep")
        );
    }
}
