//! In-memory instances and operations whose lifecycle is computed lazily from timestamps.
//!
//! Nothing runs in the background: a mutation records *when* its operation will be done and
//! what the instance becomes then, and every read settles the instance against the clock first.
//! Ten thousand pending operations therefore cost ten thousand small records and no tasks, and
//! one `std::sync::Mutex` with short, await-free critical sections serves concurrent requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::ApiVersion;
use super::clock::{Clock, later};
use super::filter::Filter;
use super::lifecycle::{Pending, Settle, Transition, Verb};
use super::paging::{self, BadPageToken, Order};
use super::records::{InstanceRecord, OperationRecord};
use super::status::{ApiError, Code};

/// A create request as the emulator received it, valid or not, for tests to assert on what a
/// client actually sent. The store keeps the body as the bytes that came (`Body` = `Box<[u8]>`)
/// and parses it only when asked: a second JSON tree per create would double what every create
/// costs the emulator in allocations, and under load its page faults.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCreate<Body = Value> {
    pub api_version: ApiVersion,
    /// `projects/P/locations/ZONE`.
    pub parent: String,
    pub instance_id: Option<String>,
    pub request_id: Option<String>,
    /// The body as sent: its bytes in the store; parsed for [`EmulatorState::create_requests`]
    /// (`Value::Null` if it was not JSON).
    ///
    /// [`EmulatorState::create_requests`]: super::EmulatorState::create_requests
    pub body: Body,
}

impl<Body> RecordedCreate<Body> {
    pub fn map_body<To>(self, map: impl FnOnce(Body) -> To) -> RecordedCreate<To> {
        RecordedCreate {
            api_version: self.api_version,
            parent: self.parent,
            instance_id: self.instance_id,
            request_id: self.request_id,
            body: map(self.body),
        }
    }
}

/// Why the store refused a request; each maps to the canonical code the real API uses.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StoreError {
    #[error("Resource '{0}' was not found")]
    NotFound(String),
    #[error("Resource '{0}' already exists")]
    AlreadyExists(String),
    #[error("Instance {name} is {state} with an operation in progress; retry when it is done.")]
    Busy { name: String, state: &'static str },
    #[error("Instance {name} is {state}; it cannot {verb} from that state.")]
    WrongState {
        name: String,
        state: &'static str,
        verb: &'static str,
    },
    #[error("The page token is not one this server returned.")]
    BadPageToken,
    #[error("There were concurrent policy changes on {0}: read the policy again and retry.")]
    StalePolicy(String),
}

impl From<BadPageToken> for StoreError {
    fn from(_: BadPageToken) -> Self {
        StoreError::BadPageToken
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let code = match error {
            StoreError::NotFound(_) => Code::NotFound,
            StoreError::AlreadyExists(_) => Code::AlreadyExists,
            StoreError::Busy { .. } | StoreError::WrongState { .. } => Code::FailedPrecondition,
            StoreError::BadPageToken => Code::InvalidArgument,
            StoreError::StalePolicy(_) => Code::Aborted,
        };
        ApiError::new(code, error.to_string())
    }
}

/// A page of a list method.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub filter: Filter,
    pub order: Order,
    pub page_size: usize,
    pub page_token: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    instances: BTreeMap<(ApiVersion, String), InstanceRecord>,
    operations: HashMap<(ApiVersion, String), OperationRecord>,
    /// (version, verb, requestId) → operation name: a retried request gets its first answer.
    request_ids: HashMap<(ApiVersion, Verb, String), String>,
    creates: Vec<RecordedCreate<Box<[u8]>>>,
    /// IAM policies by (version, instance uid): a new instance of the same name starts afresh.
    policies: HashMap<(ApiVersion, String), Value>,
}

impl Inner {
    /// The instance after settling it against `now`, dropping it if it has gone.
    fn live(
        &mut self,
        version: ApiVersion,
        name: &str,
        now: Timestamp,
    ) -> Option<&mut InstanceRecord> {
        let key = (version, name.to_owned());
        if !self.instances.get_mut(&key)?.settle(now) {
            self.instances.remove(&key);
            return None;
        }
        self.instances.get_mut(&key)
    }

    fn settle_all(&mut self, now: Timestamp) {
        self.instances.retain(|_, record| record.settle(now));
    }

    fn replay(
        &self,
        version: ApiVersion,
        verb: Verb,
        request_id: Option<&str>,
        now: Timestamp,
    ) -> Option<Value> {
        let name = self
            .request_ids
            .get(&(version, verb, request_id?.to_owned()))?;
        Some(self.operations.get(&(version, name.clone()))?.render(now))
    }

    fn start_operation(
        &mut self,
        record: &InstanceRecord,
        verb: Verb,
        request_id: Option<String>,
        transition: Transition,
        now: Timestamp,
    ) -> (Value, Pending) {
        let until = later(now, transition.duration);
        let parent = record.name.split("/instances/").next().unwrap_or_default();
        let name = format!(
            "{parent}/operations/operation-{}-{}",
            now.as_millisecond(),
            uuid::Uuid::new_v4().simple()
        );
        let (outcome, then) = match (transition.failure, verb.final_state(record.state)) {
            (Some(error), _) => {
                let then = if verb == Verb::Create {
                    Settle::Vanish
                } else {
                    Settle::Stay
                };
                (Err(error.to_rpc_status()), then)
            }
            (None, Some(state)) => {
                let mut response = record.render(state, until);
                response["@type"] = json!(super::type_url(record.version, "Instance"));
                (Ok(response), Settle::Become(state))
            }
            (None, None) => (
                Ok(json!({"@type": "type.googleapis.com/google.protobuf.Empty"})),
                Settle::Vanish,
            ),
        };
        let operation = OperationRecord {
            version: record.version,
            name: name.clone(),
            verb,
            target: record.name.clone(),
            create_time: now,
            end_time: until,
            outcome,
        };
        let rendered = operation.render(now);
        self.operations
            .insert((record.version, name.clone()), operation);
        if let Some(request_id) = request_id {
            self.request_ids
                .insert((record.version, verb, request_id), name);
        }
        (
            rendered,
            Pending {
                shown: verb.transient_state(record.state),
                until,
                then,
            },
        )
    }
}

/// Instances, operations and the create log, behind one short-lived lock.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
}

/// What a create or a mutation started.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// The long-running operation, as the API answers it.
    pub operation: Value,
    /// When the operation is done; `None` when a retried request got the first one's answer and
    /// nothing new started.
    pub done_at: Option<Timestamp>,
}

impl Accepted {
    fn replayed(operation: Value) -> Self {
        Self {
            operation,
            done_at: None,
        }
    }
}

/// A validated create, ready for the store.
#[derive(Clone, Debug)]
pub struct Creation {
    pub version: ApiVersion,
    pub parent: String,
    pub instance_id: String,
    pub request_id: Option<String>,
    pub body: Map<String, Value>,
}

impl Store {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            clock,
        }
    }

    /// A poisoned lock only means another request panicked mid-way; the maps are still
    /// consistent at every statement boundary, so keep serving.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn record_create(&self, create: RecordedCreate<Box<[u8]>>) {
        self.lock().creates.push(create);
    }

    pub fn create_requests(&self) -> Vec<RecordedCreate<Box<[u8]>>> {
        self.lock().creates.clone()
    }

    /// Creates a PROVISIONING instance, or replays the operation of an earlier create with the
    /// same requestId (a retry after a lost answer must not become a 409).
    pub fn create(
        &self,
        creation: Creation,
        transition: Transition,
    ) -> Result<Accepted, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let version = creation.version;
        if let Some(operation) =
            inner.replay(version, Verb::Create, creation.request_id.as_deref(), now)
        {
            return Ok(Accepted::replayed(operation));
        }
        let name = format!("{}/instances/{}", creation.parent, creation.instance_id);
        if inner.live(version, &name, now).is_some() {
            return Err(StoreError::AlreadyExists(name));
        }
        let mut record = InstanceRecord {
            version,
            name: name.clone(),
            uid: uuid::Uuid::new_v4().to_string(),
            body: creation.body,
            create_time: now,
            update_time: now,
            state: "PROVISIONING",
            pending: None,
        };
        let (operation, pending) =
            inner.start_operation(&record, Verb::Create, creation.request_id, transition, now);
        let done_at = pending.until;
        record.pending = Some(pending);
        inner.instances.insert((version, name), record);
        Ok(Accepted {
            operation,
            done_at: Some(done_at),
        })
    }

    /// Starts delete, start or stop on an existing instance.
    pub fn mutate(
        &self,
        version: ApiVersion,
        name: &str,
        verb: Verb,
        request_id: Option<String>,
        transition: Transition,
    ) -> Result<Accepted, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if let Some(operation) = inner.replay(version, verb, request_id.as_deref(), now) {
            return Ok(Accepted::replayed(operation));
        }
        let record = inner
            .live(version, name, now)
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        if record.pending.is_some() {
            return Err(StoreError::Busy {
                name: name.to_owned(),
                state: record.shown_state(),
            });
        }
        if verb
            .required_state()
            .is_some_and(|required| required != record.state)
        {
            return Err(StoreError::WrongState {
                name: name.to_owned(),
                state: record.state,
                verb: verb.as_str(),
            });
        }
        let snapshot = record.clone();
        let (operation, pending) =
            inner.start_operation(&snapshot, verb, request_id, transition, now);
        let done_at = pending.until;
        if let Some(record) = inner.instances.get_mut(&(version, name.to_owned())) {
            record.update_time = now;
            record.pending = Some(pending);
        }
        Ok(Accepted {
            operation,
            done_at: Some(done_at),
        })
    }

    pub fn instance(&self, version: ApiVersion, name: &str) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let record = inner
            .live(version, name, now)
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        Ok(record.view())
    }

    pub fn operation(&self, version: ApiVersion, name: &str) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let inner = self.lock();
        let operation = inner
            .operations
            .get(&(version, name.to_owned()))
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        Ok(operation.render(now))
    }

    /// One page of instances under `projects/P/locations/L` (`L` may be `-`).
    pub fn list(
        &self,
        version: ApiVersion,
        parent: &str,
        query: &ListQuery,
    ) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.settle_all(now);
        let views = inner
            .instances
            .iter()
            .filter(|((v, name), _)| *v == version && in_parent(parent, name))
            .map(|(_, record)| record.view())
            .filter(|view| query.filter.matches(view))
            .collect();
        drop(inner);
        Ok(paging::page(
            views,
            &query.order,
            query.page_size,
            query.page_token.as_deref(),
            "instances",
        )?)
    }

    /// Every existing instance of both versions, settled, as the API would show it.
    pub fn instances(&self) -> Vec<Value> {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.settle_all(now);
        inner.instances.values().map(InstanceRecord::view).collect()
    }
}

/// Whether resource `name` lies under `projects/P/locations/L`; `L` may be `-`, every location.
pub(crate) fn in_parent(parent: &str, name: &str) -> bool {
    let (project, location) = parent
        .strip_prefix("projects/")
        .and_then(|rest| rest.split_once("/locations/"))
        .unwrap_or_default();
    let mut parts = name.split('/');
    parts.nth(1) == Some(project) && (location == "-" || parts.nth(1) == Some(location))
}

mod operations;
mod policies;
mod update;

pub(crate) use policies::{EMPTY_POLICY_ETAG, stale_etag};

#[cfg(test)]
mod tests;
