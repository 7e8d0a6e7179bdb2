//! Launches the product starts itself: the next attempt of a run its profile retries, an
//! operator's rerun of a run, an operator's "run now" of a profile.
//!
//! They go through the same create request and launch as a message's, with no payload to
//! read: the profile, its fields and the parameters are given, and a message's override
//! policy does not apply, since whoever starts them holds the deployment's own rights (the
//! service, or an account in `RUNS_OPERATORS`). Every rule of the profile still does. Each is
//! named by a key, so that two services starting the same retry, or one form posted twice,
//! start one run: the key derives the run id, the instance id and the create's request id as a
//! message id does.

use serde_json::{Map, Value};

use super::{Failure, Launched, Launcher, Progress};
use crate::payload::LaunchRequest;
use crate::profile::Fields;
use crate::push::{Source, Trigger};
use crate::run::{Origin, RunId, RunRecord};

/// A launch the product starts itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Relaunch {
    pub profile: String,
    /// The fields over the profile, `parameters` included.
    pub overrides: Fields,
    pub origin: Origin,
    /// Names this launch among its origin's: the attempt for a retry, the request's own id for
    /// an operator's.
    pub key: String,
}

impl Relaunch {
    /// The attempt after `record`'s, with what `record`'s attempt ran.
    pub fn retry(record: &RunRecord) -> Relaunch {
        let of = record.first_attempt().clone();
        let attempt = record.attempt() + 1;
        Relaunch {
            profile: record.profile.clone(),
            overrides: same_run(record, Map::new()),
            key: retry_key(&of, attempt),
            origin: Origin::Retry { of, attempt },
        }
    }

    /// The run id of attempt `attempt` at the run whose first attempt is `first`, as its
    /// retry names it: the history links a run's attempts with it.
    pub fn attempt_run_id(first: &RunId, attempt: u32) -> RunId {
        match attempt {
            0 | 1 => first.clone(),
            _ => RunId::derive(
                Trigger::relaunch(Source::Retry, &retry_key(first, attempt))
                    .key
                    .as_str(),
            ),
        }
    }

    /// A new run of `record`'s profile and notebook, its parameters with `parameters` over
    /// them, asked for by `by`; `request` names this rerun (a form's token, a terminal's fresh
    /// id), so that asking twice with the same one starts one run.
    pub fn rerun(
        record: &RunRecord,
        parameters: Map<String, Value>,
        by: &str,
        request: &str,
    ) -> Relaunch {
        Relaunch {
            profile: record.profile.clone(),
            overrides: same_run(record, parameters),
            key: format!("{}:{request}", record.run_id),
            origin: Origin::Rerun {
                of: record.run_id.clone(),
                by: by.to_owned(),
            },
        }
    }

    /// A run of `profile` with `parameters` over its own, asked for by `by`; `request` names
    /// it as for a rerun.
    pub fn run_now(
        profile: &str,
        parameters: Map<String, Value>,
        by: &str,
        request: &str,
    ) -> Relaunch {
        Relaunch {
            profile: profile.to_owned(),
            overrides: Fields {
                parameters: (!parameters.is_empty()).then_some(parameters),
                ..Fields::default()
            },
            key: request.to_owned(),
            origin: Origin::RunNow { by: by.to_owned() },
        }
    }

    /// The run this launch starts: derived from its key, as a message's from its id.
    pub fn run_id(&self) -> RunId {
        RunId::derive(self.trigger().key.as_str())
    }

    fn trigger(&self) -> Trigger {
        Trigger::relaunch(self.origin.source(), &self.key)
    }
}

/// The key of attempt `attempt` at the run whose first attempt is `first`.
fn retry_key(first: &RunId, attempt: u32) -> String {
    format!("{first}#{attempt}")
}

/// What `record`'s run launched (its message's fields, its notebook, its parameters merged),
/// with `parameters` over its parameters.
fn same_run(record: &RunRecord, parameters: Map<String, Value>) -> Fields {
    let mut merged = record.parameters.clone();
    merged.extend(parameters);
    Fields {
        notebook: Some(record.notebook.clone()),
        parameters: Some(merged),
        ..record.overrides.clone()
    }
}

impl Launcher {
    /// Launches `relaunch` as a message's launch is launched, and waits as it waits.
    ///
    /// # Errors
    /// [`Failure`], as a message's launch: a refusal of the profile or its fields, or the
    /// launch's own.
    pub async fn relaunch(
        &self,
        relaunch: Relaunch,
        progress: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Result<Launched, Failure> {
        let trigger = relaunch.trigger();
        let request = LaunchRequest {
            profile: Some(relaunch.profile),
            overrides: relaunch.overrides,
            ..LaunchRequest::default()
        };
        let create = self.create_request_from(&trigger, request, Some(&relaunch.origin))?;
        self.launch(&trigger, Box::new(create), progress).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_names_the_next_attempt_once_whoever_starts_it() {
        let mut first = RunRecord::example("1", "2026-12-01T10:00:00Z");
        first.parameters = Map::from_iter([("rows".to_owned(), Value::from(3))]);
        first.overrides.machine_type = Some("n1-highmem-8".into());
        let second = Relaunch::retry(&first);
        assert_eq!(
            second.origin,
            Origin::Retry {
                of: first.run_id.clone(),
                attempt: 2
            }
        );
        assert_eq!(second, Relaunch::retry(&first), "two services, one retry");
        assert_eq!(
            second.overrides.machine_type.as_deref(),
            Some("n1-highmem-8")
        );
        assert_eq!(second.overrides.parameters, Some(first.parameters.clone()));
        assert_eq!(
            second.overrides.notebook.as_deref(),
            Some("gs://b/nb/seed.ipynb")
        );

        let mut attempt_two = first.clone();
        attempt_two.run_id = second.run_id();
        attempt_two.origin = Some(second.origin.clone());
        let third = Relaunch::retry(&attempt_two);
        assert_eq!(
            third.origin,
            Origin::Retry {
                of: first.run_id.clone(),
                attempt: 3
            },
            "every attempt links to the first"
        );
        assert!(![first.run_id.clone(), second.run_id()].contains(&third.run_id()));
        assert_eq!(Relaunch::attempt_run_id(&first.run_id, 1), first.run_id);
        assert_eq!(Relaunch::attempt_run_id(&first.run_id, 2), second.run_id());
        assert_eq!(Relaunch::attempt_run_id(&first.run_id, 3), third.run_id());
    }

    #[test]
    fn a_rerun_merges_its_parameters_and_its_request_names_it() {
        let mut old = RunRecord::example("1", "2026-12-01T10:00:00Z");
        old.parameters = Map::from_iter([
            ("rows".to_owned(), Value::from(3)),
            ("day".to_owned(), Value::from("mon")),
        ]);
        let new = Map::from_iter([("rows".to_owned(), Value::from(5))]);
        let rerun = Relaunch::rerun(&old, new.clone(), "ana@example.com", "t1");
        let parameters = rerun.overrides.parameters.clone().unwrap();
        assert_eq!(
            (parameters["rows"].clone(), parameters["day"].clone()),
            (Value::from(5), Value::from("mon"))
        );
        assert_eq!(
            rerun.run_id(),
            Relaunch::rerun(&old, new.clone(), "bo@example.com", "t1").run_id()
        );
        assert_ne!(
            rerun.run_id(),
            Relaunch::rerun(&old, new, "ana@example.com", "t2").run_id()
        );
        let now = Relaunch::run_now("nightly", Map::new(), "ana@example.com", "t1");
        assert_eq!(now.overrides, Fields::default());
        assert_ne!(now.run_id(), rerun.run_id(), "kinds never share a key");
    }
}
