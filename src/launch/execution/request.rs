//! What a trigger asks of the API when its profile's runs execute as jobs: the run, its job's
//! names and the job, derived in full before the first call, as for an instance.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::body::{JobOf, job};
use crate::executions::Job;
use crate::launch::Launcher;
use crate::launch::request::CreateRequest;
use crate::launch::run::{Asked, Ran, record_of, with_event};
use crate::launch::slot::Cap;
use crate::naming::{self, LABEL_RUN_ID};
use crate::profile::{ExecutionSpec, Field, FieldError, LaunchSpec};
use crate::rejection::Rejection;
use crate::run::{RunId, RunStore};

/// What the create of a job needs beyond its request: the notebook to parameterize and with
/// what.
#[derive(Debug)]
pub struct ExecutionPlan {
    /// `gs://…` of the profile's notebook.
    pub notebook: String,
    /// The notebook's generation that pre-flight checked, which the copy is written from;
    /// `None` until then, or when it was not checked (a redelivery of a started run).
    pub generation: Option<u64>,
    /// The run's parameters, the event's included.
    pub parameters: Map<String, Value>,
    /// The run's folder, which names where its copy goes.
    pub folder: String,
    /// The job to create, without its copy's generation and the notebook's kernel, which are
    /// known once the copy is written.
    pub job: Job,
}

impl Launcher {
    /// The request of a run that executes as a job: its record names the job, whose id
    /// derives from the run.
    pub(in crate::launch) fn execution_request(
        &self,
        spec: &LaunchSpec,
        execution: &ExecutionSpec,
        asked: Asked<'_>,
        dry_run: bool,
        cap: Option<Cap>,
    ) -> Result<CreateRequest, Rejection> {
        let target = spec.run.as_ref().ok_or_else(|| {
            FieldError::new(
                Field::Notebook,
                "an execution runs a notebook: set notebook",
            )
        })?;
        let trigger = asked.trigger;
        let run_id = RunId::derive(trigger.key.as_str());
        let id = naming::job_id(&self.prefix, run_id.as_str());
        let parent = format!("projects/{}/locations/{}", self.project, execution.region);
        let name = format!("{parent}/notebookExecutionJobs/{id}");
        let parameters = with_event(target.parameters.clone(), asked.event)?;
        let record = record_of(asked, target, &parameters, &run_id, Ran::As(&name));
        let copy = RunStore::notebook_copy(&record.output)
            .map_err(|e| FieldError::new(Field::Output, e.to_string()))?;
        let mut labels: BTreeMap<String, String> = spec.labels.clone();
        labels.extend(naming::provenance(trigger, asked.profile));
        labels.insert(LABEL_RUN_ID.to_owned(), run_id.to_string());
        let of = JobOf {
            run_id: run_id.as_str(),
            copy: &copy.to_string(),
            folder: &record.output,
        };
        let job = job(spec, execution, target, labels, of);
        let body = serde_json::to_vec(&job).expect("a job serializes");
        tracing::info!(job = %name, profile = asked.profile, run_id = %run_id, dry_run, "{}", if dry_run { "checked for a dry run" } else { "launching an execution" });
        Ok(CreateRequest {
            parent,
            id,
            name,
            body,
            request_id: naming::request_id(&trigger.key),
            key_hash: naming::key_hash(&trigger.key),
            profile: asked.profile.to_owned(),
            run_id: Some(run_id),
            folder: Some(record.output.clone()),
            execution: Some(Box::new(ExecutionPlan {
                notebook: target.notebook.clone(),
                generation: None,
                parameters,
                folder: record.output.clone(),
                job,
            })),
            record: Some(Box::new(record)),
            dry_run,
            cap,
        })
    }
}
