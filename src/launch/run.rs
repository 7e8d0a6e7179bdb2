//! A launch whose profile names a notebook is a run: the instance gets the runner as its
//! post-startup script and the run's spec as metadata, and the run's record is written to Cloud
//! Storage before the create, so a run that reports, or an instance the reaper finds, always
//! has a record to update.
//!
//! The run id is derived from the trigger's dedupe key, so a redelivery names the same run,
//! the same metadata and the same record; a record that exists already is left as it is (the
//! run may have ended since, and its record says so).

use std::time::Duration;

use serde_json::{Map, Value};

use crate::naming::LABEL_RUN_ID;
use crate::profile::{Field, FieldError, Fields, LaunchSpec, RunTarget};
use crate::push::Trigger;
use crate::run::{Launch, Origin, RunId, RunRecord};
use crate::runner::RunSpec;

/// The papermill parameter that carries a web app's event.
pub const EVENT_PARAMETER: &str = "event";

/// The largest value Compute Engine keeps under one metadata key.
const MAX_METADATA_VALUE_BYTES: usize = 256 * 1024;

/// Who asked for a launch and what they asked: what a run's record keeps of it.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub trigger: &'a Trigger,
    pub profile: &'a str,
    /// The fields set over the profile; their `parameters` are in the spec already.
    pub overrides: &'a Fields,
    /// The app's event, the notebook's `event` parameter.
    pub event: Option<&'a Value>,
    pub origin: Option<&'a Origin>,
}

/// What runs need from the service: where runners report, and the runner.
#[derive(Debug)]
pub struct RunConfig {
    /// The service's own URL, without a trailing slash.
    pub service_url: Option<String>,
    /// `gs://…` of the runner.
    pub runner_script: Option<String>,
    pub report_within: Duration,
}

impl RunConfig {
    /// Refuses a profile whose runs execute on instances with a notebook when runs cannot
    /// report here, naming what is missing.
    ///
    /// # Errors
    /// A [`FieldError`] on `notebook`.
    pub fn check(&self, spec: &LaunchSpec) -> Result<(), FieldError> {
        // An execution's job runs the notebook itself: no runner, nothing reports here.
        if spec.run.is_none() || spec.backend.execution().is_some() {
            return Ok(());
        }
        let missing: Vec<&str> = [
            (
                self.service_url.is_none(),
                "SERVICE_URL (or PUSH_AUTH_AUDIENCE)",
            ),
            (self.runner_script.is_none(), "RUNNER_SCRIPT"),
        ]
        .into_iter()
        .filter_map(|(absent, name)| absent.then_some(name))
        .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(FieldError::new(
                Field::Notebook,
                format!(
                    "a run needs {} set on the service: its runner and the URL it reports to",
                    missing.join(" and ")
                ),
            ))
        }
    }

    /// Turns the spec into the run's instance (runner, metadata, run-id label) and returns the
    /// run's id and record, which keeps what was `asked`; `None` when the profile runs no
    /// notebook. `labels` are the instance's labels, `instance` its full name.
    ///
    /// # Errors
    /// A [`FieldError`] when runs are not configured or the parameters do not fit.
    pub fn prepare(
        &self,
        spec: &mut LaunchSpec,
        labels: &mut std::collections::BTreeMap<String, String>,
        asked: Asked<'_>,
        instance: &str,
    ) -> Result<Option<(RunId, RunRecord)>, FieldError> {
        self.check(spec)?;
        let (Some(target), Some(service_url), Some(runner)) =
            (&spec.run, &self.service_url, &self.runner_script)
        else {
            return Ok(None);
        };
        let run_id = RunId::derive(asked.trigger.key.as_str());
        let parameters = with_event(target.parameters.clone(), asked.event)?;
        let run = RunSpec {
            run_id: run_id.to_string(),
            notebook: target.notebook.clone(),
            output: target.output.clone(),
            parameters,
            max_run_time: target.max_run_time,
            report_url: format!("{service_url}/runs/{run_id}/complete"),
            report_audience: service_url.clone(),
            report_within: self.report_within,
            secrets: target.secrets.clone(),
        };
        let record = record_of(asked, target, &run.parameters, &run_id, Ran::On(instance));
        spec.metadata.extend(run.metadata());
        spec.post_startup_script = Some(runner.clone());
        labels.insert(LABEL_RUN_ID.to_owned(), run_id.to_string());
        Ok(Some((run_id, record)))
    }
}

/// Where a run executes, as its record names it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ran<'a> {
    /// On the instance of this name.
    On(&'a str),
    /// As the job of this name.
    As(&'a str),
}

/// The record a launch writes for the run `run_id` of `target` with `parameters` (the
/// event's included), keeping what was `asked`.
pub(super) fn record_of(
    asked: Asked<'_>,
    target: &RunTarget,
    parameters: &Map<String, Value>,
    run_id: &RunId,
    ran: Ran<'_>,
) -> RunRecord {
    let (instance, execution) = match ran {
        Ran::On(instance) => (instance.to_owned(), None),
        Ran::As(job) => (String::new(), Some(job.to_owned())),
    };
    let launch = Launch {
        run_id: run_id.clone(),
        trigger: asked.trigger.source.label().to_owned(),
        message_id: asked.trigger.message_id.clone(),
        profile: asked.profile.to_owned(),
        origin: asked.origin.cloned(),
        overrides: Fields {
            parameters: None,
            ..asked.overrides.clone()
        },
        notebook: target.notebook.clone(),
        parameters: parameters.clone(),
        instance,
        execution,
        output_prefix: target.output.clone(),
        retry: target.retry.clone(),
    };
    RunRecord::launched(launch, jiff::Timestamp::now())
}

/// The parameters with the event on top; all of it must fit one metadata value.
pub(super) fn with_event(
    mut parameters: Map<String, Value>,
    event: Option<&Value>,
) -> Result<Map<String, Value>, FieldError> {
    if let Some(event) = event {
        parameters.insert(EVENT_PARAMETER.to_owned(), event.clone());
    }
    let size = Value::Object(parameters.clone()).to_string().len();
    if size > MAX_METADATA_VALUE_BYTES {
        return Err(FieldError::new(
            Field::Parameters,
            format!(
                "{size} bytes of parameters and event exceed the {MAX_METADATA_VALUE_BYTES} a metadata value holds"
            ),
        ));
    }
    Ok(parameters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Fields;
    use crate::run::RunState;

    fn config(service_url: Option<&str>, runner: Option<&str>) -> RunConfig {
        RunConfig {
            service_url: service_url.map(str::to_owned),
            runner_script: runner.map(str::to_owned),
            report_within: Duration::from_secs(600),
        }
    }

    fn spec(notebook: bool) -> LaunchSpec {
        let fields = Fields {
            location: Some("us-central1-a".into()),
            container_image: Some("us-docker.pkg.dev/p/r/img".into()),
            notebook: notebook.then(|| "gs://bkt/nb/seed.ipynb".into()),
            output: notebook.then(|| "gs://bkt/runs".into()),
            parameters: notebook.then(|| Map::from_iter([("rows".to_owned(), Value::from(3))])),
            secrets: notebook.then(|| {
                std::collections::BTreeMap::from([(
                    "DB_PASSWORD".to_owned(),
                    "projects/p/secrets/db/versions/latest".to_owned(),
                )])
            }),
            ..Fields::default()
        };
        LaunchSpec::parse(&fields, "p").unwrap()
    }

    #[test]
    fn a_run_needs_the_service_url_and_the_runner_named() {
        let error = config(None, None).check(&spec(true)).unwrap_err();
        assert_eq!(error.field, Field::Notebook);
        assert!(
            error.reason.contains("SERVICE_URL") && error.reason.contains("RUNNER_SCRIPT"),
            "{error}"
        );
        let error = config(Some("https://s"), None)
            .check(&spec(true))
            .unwrap_err();
        assert!(
            !error.reason.contains("SERVICE_URL") && error.reason.contains("RUNNER_SCRIPT"),
            "{error}"
        );
        assert!(config(None, None).check(&spec(false)).is_ok());
        assert!(
            config(Some("https://s"), Some("gs://b/r.sh"))
                .check(&spec(true))
                .is_ok()
        );
    }

    #[test]
    fn prepare_makes_the_instance_a_run_and_names_its_record() {
        let config = config(Some("https://svc.run.app"), Some("gs://bkt/runner.sh"));
        let trigger = Trigger::from_cli(None);
        let mut spec = spec(true);
        let mut labels = std::collections::BTreeMap::new();
        let event = serde_json::json!({"upload": "gs://b/new.csv"});
        let (run_id, record) = config
            .prepare(
                &mut spec,
                &mut labels,
                Asked {
                    trigger: &trigger,
                    profile: "default",
                    overrides: &Fields {
                        machine_type: Some("n1-highmem-8".into()),
                        parameters: Some(Map::from_iter([("rows".to_owned(), Value::from(9))])),
                        ..Fields::default()
                    },
                    event: Some(&event),
                    origin: None,
                },
                "projects/p/locations/z/instances/i",
            )
            .unwrap()
            .unwrap();
        assert_eq!(run_id, RunId::derive(trigger.key.as_str()));
        assert_eq!(labels[LABEL_RUN_ID], run_id.as_str());
        assert_eq!(
            spec.post_startup_script.as_deref(),
            Some("gs://bkt/runner.sh")
        );
        let key = |k: &str| spec.metadata[&format!("notebook-trigger-{k}")].clone();
        assert_eq!(
            key("report-url"),
            format!("https://svc.run.app/runs/{run_id}/complete")
        );
        assert_eq!(key("report-audience"), "https://svc.run.app");
        assert_eq!(key("output"), "gs://bkt/runs");
        assert_eq!(
            key("parameters"),
            r#"{"event":{"upload":"gs://b/new.csv"},"rows":3}"#
        );
        assert_eq!(
            key("secrets"),
            "DB_PASSWORD=projects/p/secrets/db/versions/latest\n",
            "secrets travel by name only"
        );
        assert_eq!(record.output, format!("gs://bkt/runs/{run_id}/"));
        assert_eq!(record.state, RunState::Launched);
        assert_eq!(record.parameters["event"], event);
        assert_eq!(
            record.overrides,
            Fields {
                machine_type: Some("n1-highmem-8".into()),
                ..Fields::default()
            },
            "the record keeps the message's fields, its parameters once, merged"
        );
    }

    #[test]
    fn an_event_too_large_for_the_metadata_is_refused() {
        let huge = Value::from("x".repeat(MAX_METADATA_VALUE_BYTES));
        let error = with_event(Map::new(), Some(&huge)).unwrap_err();
        assert_eq!(error.field, Field::Parameters);
    }
}
