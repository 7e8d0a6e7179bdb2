//! The emulator's shared state: the store, the knobs and the request counters, one `Arc` that
//! the router and the test handle both hold.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::Url;

use super::clock::{Clock, SystemClock};
use super::config::{EmulatorConfig, EmulatorConfigError};
use super::console::Consoles;
use super::executions::{Jobs, RecordedExecutionCreate, Runs};
use super::identity::Signer;
use super::machines::Machines;
use super::request;
use super::secrets::Secrets;
use super::settings::Knobs;
use super::status::{ApiError, Code};
use super::storage::{self, Buckets};
use super::store::{RecordedCreate, Store};
use super::tokens::AccessTokens;

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) knobs: Knobs,
    pub(crate) seed: u64,
    pub(crate) v1_legacy: bool,
    /// Every HTTP request, for [`EmulatorState::request_count`].
    pub(crate) requests: AtomicU64,
    /// API requests only (not `GET /`): the index request faults are keyed by, so readiness
    /// probes do not shift the fault sequence.
    pub(crate) api_requests: AtomicU64,
    /// Tokens the metadata servers issued.
    pub(crate) tokens: Arc<AccessTokens>,
    /// The emulator's own Cloud Storage, unless `--storage-emulator-host` names another.
    pub(crate) buckets: Option<Arc<Buckets>>,
    /// The other Cloud Storage, when one is named.
    pub(crate) storage_host: Option<Url>,
    pub(crate) secrets: Arc<Secrets>,
    /// Made at start-up with `--run-scripts`, else when first needed: generating an RSA key
    /// takes a moment.
    pub(crate) signer: OnceLock<Signer>,
    pub(crate) consoles: Consoles,
    /// Set once the emulator listens, with `--run-scripts`.
    pub(crate) machines: OnceLock<Machines>,
    /// Vertex AI notebook execution jobs.
    pub(crate) executions: Arc<Jobs>,
    /// Set once the emulator listens, with `--run-scripts`: jobs that run their notebook.
    pub(crate) runs: OnceLock<Runs>,
}

/// The emulator's state: cheap to clone, shared by the router and the test handle.
#[derive(Clone, Debug)]
pub struct EmulatorState(pub(crate) Arc<Shared>);

impl EmulatorState {
    /// # Errors
    /// A rate outside 0.0..=1.0, an unknown status name or an unusable Cloud Storage host.
    pub fn new(config: &EmulatorConfig) -> Result<Self, EmulatorConfigError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`EmulatorState::new`] with an injected clock, for lifecycle tests without sleeps.
    ///
    /// # Errors
    /// A rate outside 0.0..=1.0 or an unknown status name.
    pub fn with_clock(
        config: &EmulatorConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EmulatorConfigError> {
        for (name, value) in [
            ("fault rate", config.fault_rate),
            ("operation failure rate", config.operation_failure_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(EmulatorConfigError::Rate { name, value });
            }
        }
        let code =
            Code::parse(&config.operation_failure_status).map_err(EmulatorConfigError::Status)?;
        let storage_host = config
            .storage_emulator_host
            .as_deref()
            .filter(|host| !host.trim().is_empty())
            .map(storage::emulator_base_url)
            .transpose()
            .map_err(EmulatorConfigError::StorageHost)?;
        let tokens = Arc::new(AccessTokens::new(clock.clone()));
        let buckets = storage_host
            .is_none()
            .then(|| Arc::new(Buckets::new(clock.clone(), tokens.clone())));
        let secrets = Arc::new(Secrets::new(clock.clone(), tokens.clone()));
        Ok(Self(Arc::new(Shared {
            executions: Arc::new(Jobs::new(clock.clone())),
            runs: OnceLock::new(),
            store: Store::new(clock),
            knobs: Knobs::new(
                config.provision_time,
                config.fault_rate,
                config.operation_failure_rate,
                code,
            ),
            seed: config.seed,
            v1_legacy: config.v1_legacy,
            requests: AtomicU64::new(0),
            api_requests: AtomicU64::new(0),
            tokens,
            buckets,
            storage_host,
            secrets,
            signer: OnceLock::new(),
            consoles: Consoles::default(),
            machines: OnceLock::new(),
        })))
    }

    pub(crate) fn signer(&self) -> &Signer {
        self.0.signer.get_or_init(Signer::generate)
    }

    /// The emulator's own Cloud Storage (`None` when `--storage-emulator-host` names another),
    /// for putting objects in place before any client runs.
    pub fn local_storage(&self) -> Option<&Buckets> {
        self.0.buckets.as_deref()
    }

    /// What instance `name` (`projects/P/locations/Z/instances/ID`) printed on its serial
    /// console so far.
    pub fn console(&self, name: &str) -> String {
        self.0.consoles.read(name, 0).0
    }

    /// The process groups of running post-startup scripts, by instance name.
    pub fn script_groups(&self) -> std::collections::HashMap<String, i32> {
        self.0
            .machines
            .get()
            .map(Machines::groups)
            .unwrap_or_default()
    }

    /// Current instances of both versions, lifecycle settled, as `GET` would show them.
    pub fn instances(&self) -> Vec<serde_json::Value> {
        self.0.store.instances()
    }

    /// Every create that reached validation (accepted or rejected), in arrival order. Requests
    /// answered with an injected fault never got that far and are not listed.
    pub fn create_requests(&self) -> Vec<RecordedCreate> {
        self.0
            .store
            .create_requests()
            .into_iter()
            .map(|create| {
                create.map_body(|body| request::json_body(&body).unwrap_or(serde_json::Value::Null))
            })
            .collect()
    }

    /// Every notebook execution create that reached validation (accepted or rejected), in
    /// arrival order, as [`EmulatorState::create_requests`] lists instance creates.
    pub fn execution_create_requests(&self) -> Vec<RecordedExecutionCreate> {
        self.0
            .executions
            .create_requests()
            .into_iter()
            .map(|create| {
                create.map_body(|body| request::json_body(&body).unwrap_or(serde_json::Value::Null))
            })
            .collect()
    }

    /// Every notebook execution job, as `notebookExecutionJobs.get` shows it.
    pub fn executions(&self) -> Vec<serde_json::Value> {
        self.0.executions.all()
    }

    /// Moves execution job `name` (`projects/P/locations/R/notebookExecutionJobs/ID`) to
    /// `job_state` (a `JobState` name such as `JOB_STATE_SUCCEEDED`), with `status` (a
    /// `google.rpc.Status`, `{"code": 5, "message": …}`) or none, as Vertex AI would when the
    /// run moves on: what a test does where no notebook runs.
    ///
    /// # Errors
    /// The job does not exist, or `job_state` is no `JobState` name.
    pub fn set_execution_state(
        &self,
        name: &str,
        job_state: &str,
        status: Option<serde_json::Value>,
    ) -> Result<(), ApiError> {
        let known = super::schema::aiplatform()
            .property("GoogleCloudAiplatformV1NotebookExecutionJob", "jobState")
            .is_some_and(|(_, spec)| {
                spec["enum"]
                    .as_array()
                    .is_some_and(|names| names.iter().any(|n| n == job_state))
            });
        if !known {
            return Err(ApiError::new(
                Code::InvalidArgument,
                format!(
                    "\"{job_state}\" is not a JobState name (JOB_STATE_SUCCEEDED, JOB_STATE_FAILED, …)."
                ),
            ));
        }
        Ok(self.0.executions.set_state(name, job_state, status)?)
    }

    /// HTTP requests served, including injected faults, 404s and readiness probes.
    pub fn request_count(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// # Panics
    /// If `rate` lies outside 0.0..=1.0.
    pub fn set_fault_rate(&self, rate: f64) {
        self.0.knobs.set_fault_rate(rate);
    }

    /// Applies to operations started from now on.
    pub fn set_provision_time(&self, duration: Duration) {
        self.0.knobs.set_provision_time(duration);
    }

    /// # Panics
    /// If `rate` lies outside 0.0..=1.0 or `status` is not a canonical code name.
    pub fn set_operation_failure(&self, rate: f64, status: &str) {
        let code = Code::parse(status).unwrap_or_else(|message| panic!("{message}"));
        self.0.knobs.set_operation_failure(rate, code);
    }
}
