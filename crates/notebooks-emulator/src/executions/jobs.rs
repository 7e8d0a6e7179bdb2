//! Notebook execution jobs and their operations, in memory.
//!
//! Unlike instances, a job's life is not computed from timestamps: nothing about it is timed
//! by the API. It is created `JOB_STATE_PENDING` and stays so until something moves it: the
//! run of its notebook (with `--run-scripts`) or a test ([`Jobs::set_state`]). Its create and
//! delete operations are done when answered, as the job exists (or is gone) by then.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::path::Level;
use crate::clock::Clock;
use crate::paging;
use crate::store::{ListQuery, StoreError};

/// The state a job is created in.
pub const CREATED_STATE: &str = "JOB_STATE_PENDING";

/// An execution create as the emulator received it, valid or not, for tests to compare what
/// different clients send. The body is kept as the bytes that came and parsed when asked, as
/// for instance creates ([`crate::RecordedCreate`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedExecutionCreate<Body = Value> {
    /// `v1` or `v1beta1`: the version of the path the client used.
    pub api_version: &'static str,
    /// `projects/P/locations/REGION`.
    pub parent: String,
    /// `notebookExecutionJobId`, when the client chose one.
    pub job_id: Option<String>,
    /// The body as sent (`Value::Null` if it was not JSON).
    pub body: Body,
}

impl<Body> RecordedExecutionCreate<Body> {
    pub fn map_body<To>(self, map: impl FnOnce(Body) -> To) -> RecordedExecutionCreate<To> {
        RecordedExecutionCreate {
            api_version: self.api_version,
            parent: self.parent,
            job_id: self.job_id,
            body: map(self.body),
        }
    }
}

/// One job as stored: the fields the client set, and those the service owns.
#[derive(Clone, Debug)]
struct Job {
    body: Map<String, Value>,
    state: String,
    status: Option<Value>,
    create_time: Timestamp,
    update_time: Timestamp,
}

impl Job {
    fn view(&self, name: &str) -> Value {
        let mut out = self.body.clone();
        out.insert("name".into(), json!(name));
        out.insert("jobState".into(), json!(self.state));
        out.insert("createTime".into(), json!(self.create_time.to_string()));
        out.insert("updateTime".into(), json!(self.update_time.to_string()));
        if let Some(status) = &self.status {
            out.insert("status".into(), status.clone());
        }
        Value::Object(out)
    }
}

#[derive(Debug, Default)]
struct Inner {
    jobs: BTreeMap<String, Job>,
    /// Operations by name, rendered once: they are done when answered.
    operations: HashMap<String, Value>,
    creates: Vec<RecordedExecutionCreate<Box<[u8]>>>,
}

/// Jobs, their operations and the create log, behind one short-lived lock.
#[derive(Debug)]
pub struct Jobs {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
}

/// A number for a resource Google would number (operations, jobs without a chosen id): 19
/// digits, as Vertex AI's are.
pub fn numeric_id() -> String {
    let (high, _) = uuid::Uuid::new_v4().as_u64_pair();
    format!(
        "{}",
        1_000_000_000_000_000_000 + high % 8_000_000_000_000_000_000
    )
}

impl Jobs {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            clock,
        }
    }

    /// A poisoned lock only means another request panicked mid-way; the maps are consistent
    /// at every statement boundary.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn record_create(&self, create: RecordedExecutionCreate<Box<[u8]>>) {
        self.lock().creates.push(create);
    }

    pub fn create_requests(&self) -> Vec<RecordedExecutionCreate<Box<[u8]>>> {
        self.lock().creates.clone()
    }

    /// Whether `name` is an operation of this store (Notebooks v1 operations share the shape
    /// of their paths).
    pub fn has_operation(&self, name: &str) -> bool {
        self.lock().operations.contains_key(name)
    }

    /// Creates job `name` and answers its operation, done; ALREADY_EXISTS if the name is taken.
    pub fn create(
        &self,
        level: Level,
        parent: &str,
        name: &str,
        body: Map<String, Value>,
    ) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if inner.jobs.contains_key(name) {
            return Err(StoreError::AlreadyExists(name.to_owned()));
        }
        let job = Job {
            body,
            state: CREATED_STATE.to_owned(),
            status: None,
            create_time: now,
            update_time: now,
        };
        let mut response = job.view(name);
        response["@type"] = json!(level.type_url("NotebookExecutionJob"));
        inner.jobs.insert(name.to_owned(), job);
        let metadata = level.type_url("CreateNotebookExecutionJobOperationMetadata");
        Ok(record_operation(
            &mut inner, parent, metadata, response, now,
        ))
    }

    /// Deletes job `name`, whatever its state, and answers the operation, done.
    pub fn delete(&self, level: Level, parent: &str, name: &str) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner
            .jobs
            .remove(name)
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        let response = json!({"@type": "type.googleapis.com/google.protobuf.Empty"});
        let metadata = level.type_url("DeleteOperationMetadata");
        Ok(record_operation(
            &mut inner, parent, metadata, response, now,
        ))
    }

    /// The job as the API shows it (with the content of a direct notebook source).
    pub fn get(&self, name: &str) -> Result<Value, StoreError> {
        let inner = self.lock();
        let job = inner
            .jobs
            .get(name)
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        Ok(job.view(name))
    }

    /// One page of the jobs under `projects/P/locations/L` (`L` may be `-`), each passed
    /// through `view`, then filtered.
    pub fn list(
        &self,
        parent: &str,
        query: &ListQuery,
        view: impl Fn(Value) -> Value,
    ) -> Result<Value, StoreError> {
        let inner = self.lock();
        let views: Vec<Value> = inner
            .jobs
            .iter()
            .filter(|(name, _)| crate::store::in_parent(parent, name))
            .map(|(name, job)| job.view(name))
            .collect();
        drop(inner);
        let matching = views
            .into_iter()
            .filter(|job| query.filter.matches(&filter_view(job)))
            .map(view)
            .collect();
        Ok(paging::page(
            matching,
            &query.order,
            query.page_size,
            query.page_token.as_deref(),
            "notebookExecutionJobs",
        )?)
    }

    pub fn operation(&self, name: &str) -> Result<Value, StoreError> {
        self.lock()
            .operations
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))
    }

    /// Moves job `name` to `state` (a `JobState` name) with `status`, as its run or a test
    /// decides; NOT_FOUND once it is deleted.
    pub fn set_state(
        &self,
        name: &str,
        state: &str,
        status: Option<Value>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let job = inner
            .jobs
            .get_mut(name)
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        state.clone_into(&mut job.state);
        job.status = status;
        job.update_time = now;
        Ok(())
    }

    /// Every job, as `get` shows it.
    pub fn all(&self) -> Vec<Value> {
        let inner = self.lock();
        inner
            .jobs
            .iter()
            .map(|(name, job)| job.view(name))
            .collect()
    }
}

/// What a list filter sees of a job: the job, and its id as `notebookExecutionJob`, the
/// documented filter field.
fn filter_view(job: &Value) -> Value {
    let mut view = job.clone();
    let id = job["name"]
        .as_str()
        .and_then(|name| name.rsplit('/').next())
        .unwrap_or_default();
    view["notebookExecutionJob"] = json!(id);
    view
}

/// Stores a finished operation under the location and answers it.
fn record_operation(
    inner: &mut Inner,
    parent: &str,
    metadata_type: String,
    response: Value,
    now: Timestamp,
) -> Value {
    let name = format!("{parent}/operations/{}", numeric_id());
    let operation = json!({
        "name": name,
        "done": true,
        "metadata": {
            "@type": metadata_type,
            "genericMetadata": {
                "createTime": now.to_string(),
                "updateTime": now.to_string(),
            },
        },
        "response": response,
    });
    inner.operations.insert(name, operation.clone());
    operation
}
