//! Where a run came from when no message asked for it: a retry of an earlier attempt, an
//! operator's rerun of an earlier run, or an operator's "run now". A run a message started has
//! none.
//!
//! Each attempt at a run is a run of its own (its own instance, record and folder), so that a
//! crash between attempts loses nothing and every attempt's files stay; the origin links it to
//! the first attempt, which names the run as a whole in the history.

use serde::{Deserialize, Serialize};

use super::RunId;
use crate::push::Source;

/// Who started a run the product launched itself, and from what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Attempt `attempt` (2 for the first retry) at the run whose first attempt is `of`.
    Retry { of: RunId, attempt: u32 },
    /// A new run of `of`'s profile and notebook, asked for by `by`.
    Rerun { of: RunId, by: String },
    /// A run of a profile asked for by `by`, from the history page or a terminal.
    RunNow { by: String },
}

impl Origin {
    /// The trigger source its launch is labelled with.
    pub fn source(&self) -> Source {
        match self {
            Origin::Retry { .. } => Source::Retry,
            Origin::Rerun { .. } => Source::Rerun,
            Origin::RunNow { .. } => Source::RunNow,
        }
    }

    /// Which attempt at its run a launch of this origin is.
    pub fn attempt(origin: Option<&Origin>) -> u32 {
        match origin {
            Some(Origin::Retry { attempt, .. }) => *attempt,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_says_its_kind_and_link_in_the_record() {
        let of = RunId::derive("pubsub:1");
        let retry = Origin::Retry {
            of: of.clone(),
            attempt: 2,
        };
        assert_eq!(
            serde_json::to_value(&retry).unwrap(),
            serde_json::json!({"kind": "retry", "of": of.as_str(), "attempt": 2})
        );
        let rerun: Origin = serde_json::from_value(
            serde_json::json!({"kind": "rerun", "of": of.as_str(), "by": "ana@example.com"}),
        )
        .unwrap();
        assert_eq!(rerun.source().label(), "rerun");
        assert_eq!(Origin::attempt(Some(&retry)), 2);
        assert_eq!(Origin::attempt(Some(&rerun)), 1);
        assert_eq!(Origin::attempt(None), 1);
    }
}
