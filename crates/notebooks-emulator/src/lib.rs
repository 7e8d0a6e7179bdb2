//! A local emulator of the Notebooks REST API (v1 user-managed notebooks, v2 Workbench
//! instances), and of Vertex AI's notebook execution jobs on the same host.
//!
//! # Why it exists
//! Creating a real Workbench instance takes minutes, costs money, needs credentials and cannot
//! be made to fail on demand. The product's create-and-poll path, its retry policy and its
//! handling of Google's error shapes still need to be exercised on every commit; this emulator
//! serves the same paths, JSON shapes, validation errors and long-running operations as
//! `notebooks.googleapis.com`, in milliseconds, and can inject faults reproducibly. Google's own
//! `gcloud` accepts it (see `tests/gcloud_emulator.rs`), which is the evidence that its shapes
//! are right.
//!
//! # How lifecycle works
//! No task runs per operation (unless scripts run, below). A mutation stores when its operation will be done and what the
//! instance becomes then; every read settles instances against the clock first
//! (the `store` module). So `--provision-time` can be 30 s with 10 000 operations pending at no
//! cost, and a test with a [`ManualClock`] steps through states without sleeping.
//!
//! # A local Workbench
//! With `--run-scripts` an instance that becomes ACTIVE runs its `post-startup-script` from
//! Cloud Storage as a local process, with a metadata server of its own, and `stop`/`delete`
//! end it (the `machines` module says how, and how ACTIVE is noticed on a lazy lifecycle).
//! Cloud Storage is fake-gcs-server or any JSON API emulator named by
//! `STORAGE_EMULATOR_HOST`, or else the emulator's own, on its port.
//!
//! # Layout
//! - `server`: the emulator on a socket, and the `notebook-trigger emulator` subcommand;
//!   `config`: its flags; `state`: what the router and the test handle share.
//! - `routes`: routing, fault injection and which handler answers each method; `request`:
//!   Google's resource paths (custom methods like `instances/ID:stop`), query and body;
//!   `system`: the system parameters every method takes (`$alt`, `prettyPrint`, `fields`, …)
//!   and the rendering of every answer; `fields`: partial responses; `create`: the checks
//!   `instances.create` makes; `update`: `instances.patch` and its update mask; `iam`: IAM
//!   policy methods; `locations`: the locations methods; `transitions`: how a lifecycle
//!   operation will go (injected failures) and what it sets off on running instances;
//!   `list_request`: the page size, filter and order a list method was asked for; `schema`:
//!   the vendored discovery documents (validation, methods, enum numbers); `filter`: list
//!   filters; `paging`: list order and page tokens.
//! - `store`: instances, operations, policies and the create log; `lifecycle`: which verb
//!   leads from which state to which; `records`: how stored instances and operations are
//!   rendered.
//! - `machines`: instances that run their post-startup script; `metadata`: an instance's
//!   metadata server; `guest`: what an instance knows about itself; `identity`: the key that
//!   signs identity tokens, and its JWKS; `tokens`: access tokens; `console`: serial consoles;
//!   `storage`: the Cloud Storage client and the in-process store; `secrets`: the part of
//!   Secret Manager that scripts read their secrets from.
//! - `executions`: Vertex AI's `notebookExecutionJobs` and their operations, and, with
//!   `--run-scripts`, their notebooks run by papermill; what of it is not verified against
//!   Google is said there.
//! - `faults`: deterministic failures; `settings`: the knobs tests turn at runtime; `status`:
//!   `google.rpc.Status` in both of Google's shapes; `clock`: injectable time.

mod clock;
mod config;
mod console;
mod create;
mod executions;
mod faults;
mod fields;
mod filter;
mod guest;
mod iam;
mod identity;
mod lifecycle;
mod list_request;
mod locations;
mod machines;
mod metadata;
mod paging;
mod records;
mod request;
mod routes;
mod schema;
mod secrets;
mod server;
mod settings;
mod state;
mod status;
pub mod storage;
mod store;
mod system;
mod tokens;
mod transitions;
mod update;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{EmulatorArgs, EmulatorConfig, EmulatorConfigError};
pub use executions::RecordedExecutionCreate;
pub use identity::JWKS_PATH;
pub use notebooks_wire::ApiVersion;
pub use routes::router;
pub use server::{Emulator, run};
pub use state::EmulatorState;
pub use status::{ApiError, Code};
pub use store::RecordedCreate;

/// The post-startup script of the embedded demo's instances (`demo/post-startup.sh`): it reads
/// its metadata, takes an identity token and writes a file next to itself in Cloud Storage.
pub const DEMO_SCRIPT: &str = include_str!("../demo/post-startup.sh");

/// The `@type` of a message of this version, as carried inside `google.protobuf.Any`.
fn type_url(version: ApiVersion, message: &str) -> String {
    format!(
        "type.googleapis.com/google.cloud.notebooks.{}.{message}",
        version.as_str()
    )
}
