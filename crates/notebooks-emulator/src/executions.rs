//! Vertex AI notebook executions (`aiplatform.googleapis.com`, `NotebookExecutionJob`): the
//! managed way to run a notebook once, which the product's `execution` backend drives.
//!
//! # What is served
//! `projects.locations.notebookExecutionJobs` `create` (with `notebookExecutionJobId`; a
//! second create of an id answers 409 ALREADY_EXISTS), `get` and `list` (`filter` on
//! `displayName`, `jobState`, `labels.KEY`, `notebookExecutionJob`, in either spelling; `=`,
//! `!=`, `:`; no regular expressions; `orderBy` on `display_name`, `create_time`,
//! `update_time`; `pageSize`/`pageToken`; `view`, whose BASIC default leaves direct notebook
//! contents out), `delete` (in any state), and `projects.locations.operations.get` for their
//! operations, under `v1` and `v1beta1` alike (gcloud's `beta workbench executions` and `colab
//! executions` speak `v1beta1`, Google's v1 clients `v1`), on the same host as the Notebooks API: gcloud reaches it with
//! `CLOUDSDK_API_ENDPOINT_OVERRIDES_AIPLATFORM=http://HOST:PORT/`. Bodies are checked against
//! Google's discovery document (`discovery/aiplatform.v1.json`: revision 20261106 cut to the
//! two resources above and the schemas they reach, otherwise as published; `v1beta1` bodies
//! are checked against it too), and what it cannot say is checked in [`plan`].
//!
//! A Notebooks v1 operation (`v1/projects/P/locations/ZONE/operations/ID`) and a Vertex AI one
//! (`v1/projects/P/locations/REGION/operations/ID`) have paths of the same shape; a `v1`
//! operation path is this module's when its name is one of its operations, and the Notebooks
//! API's otherwise.
//!
//! # How a job moves
//! A job is created `JOB_STATE_PENDING` and its operation is done at once. Without
//! `--run-scripts` it stays so until a test moves it ([`crate::EmulatorState::set_execution_state`]).
//! With `--run-scripts` it really runs: see [`run`].
//!
//! # Not verified against Google
//! - Where the executed notebook lands under `gcsOutputUri`. Google's documentation says only
//!   that the results are stored in the Cloud Storage bucket given
//!   (<https://cloud.google.com/colab/docs/schedule-notebook-run>), and the discovery document
//!   says `gcsOutputUri` is "The Cloud Storage location to upload the result to". The emulator
//!   writes `{gcsOutputUri}/{jobId}/{notebook file name}` ([`run::output_object`]).
//! - The status a failed run carries: code 2 (UNKNOWN) and papermill's report of the failing
//!   cell; a run past its `executionTimeout` ends FAILED with code 4 (DEADLINE_EXCEEDED).
//! - The id rule: Google documents none for `notebookExecutionJobId`; the emulator takes
//!   1 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit.
//! - `workbenchRuntime.customContainerImage` is recorded and shown, never run: the notebook runs
//!   in the emulator's own `python3` with the kernels installed there.

mod jobs;
mod path;
mod plan;
mod run;

use std::sync::Arc;

use axum::http::Method;
use serde_json::Value;

pub(crate) use jobs::Jobs;
pub use jobs::RecordedExecutionCreate;
pub(crate) use run::Runs;

use self::path::{Level, Target};
use self::plan::{Plan, ROOT};
use crate::list_request::list_query;
use crate::request::{json_body, query_value};
use crate::schema::{Discovery, aiplatform};
use crate::status::{ApiError, Code};

/// The schema of a job in the discovery document.
const JOB_SCHEMA: &str = "GoogleCloudAiplatformV1NotebookExecutionJob";

/// The fields `notebookExecutionJobs.list` sorts on, as documented.
const ORDER_FIELDS: &[&str] = &["displayName", "createTime", "updateTime"];

/// Whether a request for `path` (custom-method colons decoded) is this module's.
pub fn serves(jobs: &Jobs, path: &str) -> bool {
    match path::parse(path) {
        Some(parsed) => match (&parsed.target, parsed.level) {
            (Target::Operation { name, .. }, Level::V1) => jobs.has_operation(name),
            _ => true,
        },
        None => false,
    }
}

/// The discovery document's method for `path` (any version read as `v1`): what rendering
/// needs to know of the answer.
pub fn response_schema(method: &Method, path: &str) -> Option<(&'static Discovery, &'static str)> {
    let api = aiplatform();
    let as_v1 = path.replacen("/v1beta1/", "/v1/", 1);
    Some((
        api,
        api.method(method.as_str(), &as_v1)?.response.as_deref()?,
    ))
}

/// Answers a request [`serves`] accepted.
pub fn handle(
    jobs: &Arc<Jobs>,
    runs: Option<&Runs>,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Value, ApiError> {
    let not_found = || ApiError::new(Code::NotFound, format!("Method not found: {method} {path}"));
    let parsed = path::parse(path).ok_or_else(not_found)?;
    let (api, level, parent) = (aiplatform(), parsed.level, parsed.parent);
    match (parsed.target, method) {
        (Target::Jobs, &Method::POST) => create(jobs, runs, level, &parent, query, body),
        (Target::Jobs, &Method::GET) => {
            api.check_query("notebookExecutionJobs", "list", query)?;
            list(jobs, &parent, query)
        }
        (Target::Jobs, _) => Err(ApiError::method_not_allowed(method.as_str(), "GET, POST")),
        (Target::Job { name }, &Method::GET) => {
            api.check_query("notebookExecutionJobs", "get", query)?;
            let full = full_view(query);
            Ok(jobs.get(&name).map(|job| view(job, full))?)
        }
        (Target::Job { name }, &Method::DELETE) => {
            api.check_query("notebookExecutionJobs", "delete", query)?;
            let operation = jobs.delete(level, &parent, &name)?;
            if let Some(runs) = runs {
                runs.halt_later(&name);
            }
            Ok(operation)
        }
        (Target::Job { .. }, _) => {
            Err(ApiError::method_not_allowed(method.as_str(), "GET, DELETE"))
        }
        (Target::Operation { name, verb: None }, &Method::GET) => {
            api.check_query("operations", "get", query)?;
            Ok(jobs.operation(&name)?)
        }
        (Target::Operation { verb: None, .. }, _) => {
            Err(ApiError::method_not_allowed(method.as_str(), "GET"))
        }
        (
            Target::Operation {
                verb: Some(verb), ..
            },
            _,
        ) if api.has_method("operations", &verb) => Err(ApiError::new(
            Code::Unimplemented,
            format!("The emulator does not implement projects.locations.operations.{verb}."),
        )),
        (Target::Operation { .. } | Target::Unknown, _) => Err(not_found()),
    }
}

/// `notebookExecutionJobs.create`: recorded first (rejected creates included), then checked
/// as Google checks it, then stored, and run with `--run-scripts`.
fn create(
    jobs: &Arc<Jobs>,
    runs: Option<&Runs>,
    level: Level,
    parent: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Value, ApiError> {
    let job_id = query_value(query, "notebookExecutionJobId").map(str::to_owned);
    jobs.record_create(RecordedExecutionCreate {
        api_version: level.as_str(),
        parent: parent.to_owned(),
        job_id: job_id.clone(),
        body: body.into(),
    });
    let api = aiplatform();
    api.check_query("notebookExecutionJobs", "create", query)?;
    let body = api.check_body(JOB_SCHEMA, ROOT, &json_body(body)?)?;
    let plan = Plan::of(&body)?;
    let job_id = match job_id {
        Some(id) => checked_job_id(id)?,
        None => jobs::numeric_id(),
    };
    let name = format!("{parent}/notebookExecutionJobs/{job_id}");
    let operation = jobs.create(level, parent, &name, body)?;
    if let Some(runs) = runs {
        runs.start(jobs.clone(), &name, &job_id, plan);
    }
    Ok(operation)
}

/// 1 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit:
/// an id that is one path segment and one object-name segment, whatever it holds.
fn checked_job_id(id: String) -> Result<String, ApiError> {
    let bytes = id.as_bytes();
    let valid = (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-';
    if valid {
        return Ok(id);
    }
    let message = format!(
        "Invalid notebook_execution_job_id \"{id}\": it must be 1 to 63 lowercase letters, digits \
         and hyphens, starting and ending with a letter or digit."
    );
    Err(ApiError::new(Code::InvalidArgument, message.clone())
        .with_field_violation("notebook_execution_job_id", &message))
}

/// `view=NOTEBOOK_EXECUTION_JOB_VIEW_FULL` (or its number) asks for direct notebook contents.
fn full_view(query: &[(String, String)]) -> bool {
    matches!(
        query_value(query, "view"),
        Some("NOTEBOOK_EXECUTION_JOB_VIEW_FULL" | "2")
    )
}

/// The BASIC view "includes all fields except for direct notebook inputs".
fn view(mut job: Value, full: bool) -> Value {
    if !full {
        if let Some(source) = job
            .get_mut("directNotebookSource")
            .and_then(Value::as_object_mut)
        {
            source.remove("content");
        }
    }
    job
}

/// `notebookExecutionJobs.list`; filter fields may be spelled as in the API or in snake_case.
fn list(jobs: &Jobs, parent: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    let mut list = list_query(query, ORDER_FIELDS)?;
    if query_value(query, "filter").is_some_and(|filter| filter.contains("=~")) {
        return Err(ApiError::new(
            Code::Unimplemented,
            "The emulator does not implement regular expressions (=~) in list filters.",
        ));
    }
    list.filter = std::mem::take(&mut list.filter).map_fields(crate::schema::camel_case);
    let full = full_view(query);
    Ok(jobs.list(parent, &list, |job| view(job, full))?)
}
