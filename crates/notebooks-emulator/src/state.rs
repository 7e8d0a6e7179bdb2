//! The emulator's shared state: the store, the knobs and the request counters, one `Arc` that
//! the router and the test handle both hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::config::{EmulatorConfig, EmulatorConfigError};
use super::request;
use super::settings::Knobs;
use super::status::Code;
use super::store::{RecordedCreate, Store};

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
}

/// The emulator's state: cheap to clone, shared by the router and the test handle.
#[derive(Clone, Debug)]
pub struct EmulatorState(pub(crate) Arc<Shared>);

impl EmulatorState {
    /// # Errors
    /// A rate outside 0.0..=1.0 or an unknown status name.
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
        Ok(Self(Arc::new(Shared {
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
        })))
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
