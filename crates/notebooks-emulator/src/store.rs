//! In-memory instances and operations whose lifecycle is computed lazily from timestamps.
//!
//! Nothing runs in the background: a mutation records *when* its operation will be done and
//! what the instance becomes then, and every read settles the instance against the clock first.
//! Ten thousand pending operations therefore cost ten thousand small records and no tasks, and
//! one `std::sync::Mutex` with short, await-free critical sections serves concurrent requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::ApiVersion;
use super::clock::{Clock, later};
use super::filter::Filter;
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
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let code = match error {
            StoreError::NotFound(_) => Code::NotFound,
            StoreError::AlreadyExists(_) => Code::AlreadyExists,
            StoreError::Busy { .. } | StoreError::WrongState { .. } => Code::FailedPrecondition,
            StoreError::BadPageToken => Code::InvalidArgument,
        };
        ApiError::new(code, error.to_string())
    }
}

/// The long-running methods the emulator implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Create,
    Delete,
    Start,
    Stop,
}

impl Verb {
    /// The `OperationMetadata.verb` value, also the custom-method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Delete => "delete",
            Verb::Start => "start",
            Verb::Stop => "stop",
        }
    }

    /// What the instance reads while the operation runs. Neither API has a DELETING state;
    /// `DELETED` is the nearest one both define.
    fn transient_state(self) -> &'static str {
        match self {
            Verb::Create => "PROVISIONING",
            Verb::Delete => "DELETED",
            Verb::Start => "STARTING",
            Verb::Stop => "STOPPING",
        }
    }

    /// What a successful operation leaves behind; `None` means the instance is gone.
    fn final_state(self) -> Option<&'static str> {
        match self {
            Verb::Create | Verb::Start => Some("ACTIVE"),
            Verb::Stop => Some("STOPPED"),
            Verb::Delete => None,
        }
    }

    /// The state an instance must be in for this verb to start.
    fn required_state(self) -> Option<&'static str> {
        match self {
            Verb::Start => Some("STOPPED"),
            Verb::Stop => Some("ACTIVE"),
            Verb::Create | Verb::Delete => None,
        }
    }
}

/// How a long-running mutation should go: decided by the caller from the fault plan.
#[derive(Clone, Debug)]
pub struct Plan {
    pub duration: Duration,
    /// `Some` makes the operation end with this error and leaves the instance as it was (a
    /// failed create leaves no instance).
    pub failure: Option<ApiError>,
}

/// What happens to an instance when its pending operation is done.
#[derive(Clone, Copy, Debug)]
enum Settle {
    Become(&'static str),
    Vanish,
    Stay,
}

#[derive(Clone, Debug)]
struct Pending {
    shown: &'static str,
    until: Timestamp,
    then: Settle,
}

#[derive(Clone, Debug)]
struct InstanceRecord {
    version: ApiVersion,
    name: String,
    uid: String,
    body: Map<String, Value>,
    create_time: Timestamp,
    update_time: Timestamp,
    state: &'static str,
    pending: Option<Pending>,
}

impl InstanceRecord {
    /// Applies a finished operation; `false` if the instance no longer exists.
    fn settle(&mut self, now: Timestamp) -> bool {
        let Some(pending) = self.pending.as_ref().filter(|p| p.until <= now) else {
            return true;
        };
        let (until, then) = (pending.until, pending.then);
        self.pending = None;
        match then {
            Settle::Become(state) => {
                self.state = state;
                self.update_time = until;
                true
            }
            Settle::Stay => true,
            Settle::Vanish => false,
        }
    }

    fn shown_state(&self) -> &'static str {
        self.pending.as_ref().map_or(self.state, |p| p.shown)
    }

    /// The instance as the API shows it, in `state` as of `update_time`.
    fn render(&self, state: &str, update_time: Timestamp) -> Value {
        let mut out = self.body.clone();
        let mut put = |key: &str, value: Value| {
            out.insert(key.to_owned(), value);
        };
        put("name", json!(self.name));
        put("state", json!(state));
        put("createTime", json!(self.create_time.to_string()));
        put("updateTime", json!(update_time.to_string()));
        put("creator", json!(CREATOR));
        if self.version == ApiVersion::V2 {
            put("id", json!(self.uid));
            put(
                "healthState",
                json!(if state == "ACTIVE" {
                    "HEALTHY"
                } else {
                    "HEALTH_STATE_UNSPECIFIED"
                }),
            );
        }
        if state == "ACTIVE" {
            put(
                "proxyUri",
                json!(format!(
                    "{}-dot-emulator.notebooks.googleusercontent.com",
                    self.uid
                )),
            );
        }
        Value::Object(out)
    }

    fn view(&self) -> Value {
        self.render(self.shown_state(), self.update_time)
    }
}

/// The identity the emulator reports as `creator` (it checks no credentials).
pub const CREATOR: &str = "emulator-user@notebook-trigger.invalid";

#[derive(Clone, Debug)]
struct OperationRecord {
    version: ApiVersion,
    name: String,
    verb: Verb,
    target: String,
    create_time: Timestamp,
    end_time: Timestamp,
    /// The response (with `@type`) or the `google.rpc.Status`, fixed when the operation starts.
    outcome: Result<Value, Value>,
}

impl OperationRecord {
    fn render(&self, now: Timestamp) -> Value {
        let done = self.end_time <= now;
        let mut metadata = json!({
            "@type": super::type_url(self.version, "OperationMetadata"),
            "createTime": self.create_time.to_string(),
            "target": self.target,
            "verb": self.verb.as_str(),
            "requestedCancellation": false,
            "apiVersion": self.version.as_str(),
        });
        let mut operation = json!({"name": self.name, "done": done});
        if done {
            metadata["endTime"] = json!(self.end_time.to_string());
            match &self.outcome {
                Ok(response) => operation["response"] = response.clone(),
                Err(status) => operation["error"] = status.clone(),
            }
        }
        operation["metadata"] = metadata;
        operation
    }
}

/// A page of `instances.list`.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub filter: Filter,
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
        plan: Plan,
        now: Timestamp,
    ) -> (Value, Pending) {
        let until = later(now, plan.duration);
        let parent = record.name.split("/instances/").next().unwrap_or_default();
        let name = format!(
            "{parent}/operations/operation-{}-{}",
            now.as_millisecond(),
            uuid::Uuid::new_v4().simple()
        );
        let (outcome, then) = match (plan.failure, verb.final_state()) {
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
                shown: verb.transient_state(),
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

    pub fn record_create(&self, create: RecordedCreate<Box<[u8]>>) {
        self.lock().creates.push(create);
    }

    pub fn create_requests(&self) -> Vec<RecordedCreate<Box<[u8]>>> {
        self.lock().creates.clone()
    }

    /// Creates a PROVISIONING instance, or replays the operation of an earlier create with the
    /// same requestId (a retry after a lost answer must not become a 409).
    pub fn create(&self, creation: Creation, plan: Plan) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let version = creation.version;
        if let Some(operation) =
            inner.replay(version, Verb::Create, creation.request_id.as_deref(), now)
        {
            return Ok(operation);
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
            inner.start_operation(&record, Verb::Create, creation.request_id, plan, now);
        record.pending = Some(pending);
        inner.instances.insert((version, name), record);
        Ok(operation)
    }

    /// Starts delete, start or stop on an existing instance.
    pub fn mutate(
        &self,
        version: ApiVersion,
        name: &str,
        verb: Verb,
        request_id: Option<String>,
        plan: Plan,
    ) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if let Some(operation) = inner.replay(version, verb, request_id.as_deref(), now) {
            return Ok(operation);
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
        let (operation, pending) = inner.start_operation(&snapshot, verb, request_id, plan, now);
        if let Some(record) = inner.instances.get_mut(&(version, name.to_owned())) {
            record.update_time = now;
            record.pending = Some(pending);
        }
        Ok(operation)
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

    /// One page of instances under `projects/P/locations/L` (`L` may be `-`), by name.
    pub fn list(
        &self,
        version: ApiVersion,
        parent: &str,
        query: &ListQuery,
    ) -> Result<Value, StoreError> {
        let after = match &query.page_token {
            Some(token) => {
                let bytes = URL_SAFE_NO_PAD
                    .decode(token)
                    .map_err(|_| StoreError::BadPageToken)?;
                Some(String::from_utf8(bytes).map_err(|_| StoreError::BadPageToken)?)
            }
            None => None,
        };
        let (project, location) = parent
            .strip_prefix("projects/")
            .and_then(|rest| rest.split_once("/locations/"))
            .unwrap_or_default();
        let in_parent = |name: &str| {
            let mut parts = name.split('/');
            parts.nth(1) == Some(project) && (location == "-" || parts.nth(1) == Some(location))
        };
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.settle_all(now);
        let mut page = Vec::new();
        let mut last = None;
        let mut more = false;
        let start = (version, after.clone().unwrap_or_default());
        for ((_, name), record) in inner.instances.range(start..) {
            if record.version != version {
                break;
            }
            if after.as_deref() == Some(name.as_str()) || !in_parent(name) {
                continue;
            }
            let view = record.view();
            if !query.filter.matches(&view) {
                continue;
            }
            if page.len() == query.page_size {
                more = true;
                break;
            }
            last = Some(name.clone());
            page.push(view);
        }
        let mut answer = Map::new();
        if !page.is_empty() {
            answer.insert("instances".to_owned(), Value::Array(page));
        }
        if let Some(last) = last.filter(|_| more) {
            answer.insert(
                "nextPageToken".to_owned(),
                json!(URL_SAFE_NO_PAD.encode(last)),
            );
        }
        Ok(Value::Object(answer))
    }

    /// Every existing instance of both versions, settled, as the API would show it.
    pub fn instances(&self) -> Vec<Value> {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.settle_all(now);
        inner.instances.values().map(InstanceRecord::view).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::clock::ManualClock;
    use super::*;

    const PARENT: &str = "projects/p/locations/us-central1-a";

    fn setup() -> (Arc<ManualClock>, Store) {
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        (clock.clone(), Store::new(clock))
    }

    fn creation(id: &str, request_id: Option<&str>) -> Creation {
        let body = json!({"gceSetup": {"machineType": "n1-standard-4"}, "labels": {"team": "a"}});
        Creation {
            version: ApiVersion::V2,
            parent: PARENT.to_owned(),
            instance_id: id.to_owned(),
            request_id: request_id.map(str::to_owned),
            body: body.as_object().unwrap().clone(),
        }
    }

    fn plan(secs: u64) -> Plan {
        Plan {
            duration: Duration::from_secs(secs),
            failure: None,
        }
    }

    fn name(id: &str) -> String {
        format!("{PARENT}/instances/{id}")
    }

    #[test]
    fn create_provisions_then_becomes_active_without_any_task() {
        let (clock, store) = setup();
        let operation = store.create(creation("a", None), plan(30)).unwrap();
        assert_eq!(operation["done"], false);
        assert_eq!(
            operation["metadata"]["@type"],
            "type.googleapis.com/google.cloud.notebooks.v2.OperationMetadata"
        );
        assert_eq!(operation["metadata"]["verb"], "create");
        assert_eq!(operation["metadata"]["target"], name("a"));
        let op_name = operation["name"].as_str().unwrap();
        assert!(op_name.starts_with(&format!("{PARENT}/operations/operation-")));
        assert_eq!(
            store.instance(ApiVersion::V2, &name("a")).unwrap()["state"],
            "PROVISIONING"
        );

        clock.advance(Duration::from_secs(29));
        assert_eq!(
            store.operation(ApiVersion::V2, op_name).unwrap()["done"],
            false
        );
        clock.advance(Duration::from_secs(1));
        let done = store.operation(ApiVersion::V2, op_name).unwrap();
        assert_eq!(done["done"], true);
        assert_eq!(
            done["response"]["@type"],
            "type.googleapis.com/google.cloud.notebooks.v2.Instance"
        );
        assert_eq!(done["response"]["state"], "ACTIVE");
        assert_eq!(done["response"]["gceSetup"]["machineType"], "n1-standard-4");
        assert_eq!(done["metadata"]["endTime"], "2026-01-01T00:00:30Z");
        let instance = store.instance(ApiVersion::V2, &name("a")).unwrap();
        assert_eq!(instance["state"], "ACTIVE");
        assert_eq!(instance["updateTime"], "2026-01-01T00:00:30Z");
        assert_eq!(instance["createTime"], "2026-01-01T00:00:00Z");
    }

    #[test]
    fn stop_start_and_delete_move_state_the_same_way() {
        let (clock, store) = setup();
        store.create(creation("a", None), plan(10)).unwrap();
        let n = name("a");
        assert!(matches!(
            store.mutate(ApiVersion::V2, &n, Verb::Stop, None, plan(5)),
            Err(StoreError::Busy { .. })
        ));
        clock.advance(Duration::from_secs(10));
        assert!(matches!(
            store.mutate(ApiVersion::V2, &n, Verb::Start, None, plan(5)),
            Err(StoreError::WrongState { .. })
        ));
        let state = |store: &Store| {
            store
                .instance(ApiVersion::V2, &n)
                .map(|i| i["state"].clone())
        };

        let stop = store
            .mutate(ApiVersion::V2, &n, Verb::Stop, None, plan(5))
            .unwrap();
        assert_eq!(state(&store).unwrap(), "STOPPING");
        clock.advance(Duration::from_secs(5));
        assert_eq!(state(&store).unwrap(), "STOPPED");
        let stop = store
            .operation(ApiVersion::V2, stop["name"].as_str().unwrap())
            .unwrap();
        assert_eq!(stop["response"]["state"], "STOPPED");

        store
            .mutate(ApiVersion::V2, &n, Verb::Start, None, plan(5))
            .unwrap();
        assert_eq!(state(&store).unwrap(), "STARTING");
        clock.advance(Duration::from_secs(5));
        assert_eq!(state(&store).unwrap(), "ACTIVE");

        let delete = store
            .mutate(ApiVersion::V2, &n, Verb::Delete, None, plan(5))
            .unwrap();
        assert_eq!(state(&store).unwrap(), "DELETED");
        clock.advance(Duration::from_secs(5));
        assert_eq!(state(&store), Err(StoreError::NotFound(n.clone())));
        let delete = store
            .operation(ApiVersion::V2, delete["name"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            delete["response"],
            json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
        );
        assert!(store.instances().is_empty());
    }

    #[test]
    fn failed_create_leaves_nothing_and_failed_stop_keeps_state() {
        let (clock, store) = setup();
        let error = ApiError::new(Code::ResourceExhausted, "Quota exceeded");
        let failing = Plan {
            duration: Duration::from_secs(1),
            failure: Some(error.clone()),
        };
        let operation = store.create(creation("a", None), failing.clone()).unwrap();
        assert_eq!(
            store.instance(ApiVersion::V2, &name("a")).unwrap()["state"],
            "PROVISIONING"
        );
        clock.advance(Duration::from_secs(1));
        let operation = store
            .operation(ApiVersion::V2, operation["name"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            operation["error"],
            json!({"code": 8, "message": "Quota exceeded"})
        );
        assert!(operation.get("response").is_none());
        assert!(store.instance(ApiVersion::V2, &name("a")).is_err());

        store.create(creation("b", None), plan(1)).unwrap();
        clock.advance(Duration::from_secs(1));
        store
            .mutate(ApiVersion::V2, &name("b"), Verb::Stop, None, failing)
            .unwrap();
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            store.instance(ApiVersion::V2, &name("b")).unwrap()["state"],
            "ACTIVE"
        );
    }

    #[test]
    fn request_id_replays_and_a_new_one_conflicts() {
        let (_clock, store) = setup();
        let first = store.create(creation("a", Some("r1")), plan(5)).unwrap();
        let again = store.create(creation("a", Some("r1")), plan(5)).unwrap();
        assert_eq!(first, again);
        assert_eq!(
            store.create(creation("a", Some("r2")), plan(5)),
            Err(StoreError::AlreadyExists(name("a")))
        );
    }

    #[test]
    fn list_pages_by_name_filters_labels_and_spans_locations() {
        let (_clock, store) = setup();
        for i in 0..7 {
            store
                .create(creation(&format!("i-{i}"), None), plan(5))
                .unwrap();
        }
        let mut other = creation("elsewhere", None);
        other.parent = "projects/p/locations/europe-west1-b".to_owned();
        other.body.insert("labels".to_owned(), json!({"team": "b"}));
        store.create(other, plan(5)).unwrap();

        let mut query = ListQuery {
            page_size: 3,
            ..ListQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = store.list(ApiVersion::V2, PARENT, &query).unwrap();
            seen.extend(
                page["instances"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["name"].as_str().unwrap().to_owned()),
            );
            match page["nextPageToken"].as_str() {
                Some(token) => query.page_token = Some(token.to_owned()),
                None => break,
            }
        }
        assert_eq!(
            seen,
            (0..7).map(|i| name(&format!("i-{i}"))).collect::<Vec<_>>()
        );

        let all = ListQuery {
            page_size: 100,
            ..ListQuery::default()
        };
        let everywhere = store
            .list(ApiVersion::V2, "projects/p/locations/-", &all)
            .unwrap();
        assert_eq!(everywhere["instances"].as_array().unwrap().len(), 8);
        let team_b = ListQuery {
            filter: Filter::parse("labels.team=b").unwrap(),
            ..all.clone()
        };
        let page = store
            .list(ApiVersion::V2, "projects/p/locations/-", &team_b)
            .unwrap();
        assert_eq!(page["instances"].as_array().unwrap().len(), 1);
        assert_eq!(store.list(ApiVersion::V1, PARENT, &all).unwrap(), json!({}));
        let bad = ListQuery {
            page_token: Some("!!".to_owned()),
            ..all
        };
        assert_eq!(
            store.list(ApiVersion::V2, PARENT, &bad),
            Err(StoreError::BadPageToken)
        );
    }

    #[test]
    fn ten_thousand_pending_operations_are_cheap() {
        let (clock, store) = setup();
        for i in 0..10_000 {
            store
                .create(creation(&format!("i-{i}"), None), plan(60))
                .unwrap();
        }
        clock.advance(Duration::from_secs(60));
        let instances = store.instances();
        assert_eq!(instances.len(), 10_000);
        assert!(instances.iter().all(|i| i["state"] == "ACTIVE"));
    }
}
