//! A local emulator of the Notebooks REST API (v1 user-managed notebooks, v2 Workbench
//! instances).
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
//! No task runs per operation. A mutation stores when its operation will be done and what the
//! instance becomes then; every read settles instances against the clock first
//! (the `store` module). So `--provision-time` can be 30 s with 10 000 operations pending at no
//! cost, and a test with a [`ManualClock`] steps through states without sleeping.
//!
//! # Layout
//! - `server`: the emulator on a socket, and the `notebook-trigger emulator` subcommand;
//!   `config`: its flags; `state`: what the router and the test handle share.
//! - `routes`: routing, fault injection and the orchestration of each method; `request`:
//!   Google's resource paths (custom methods like `instances/ID:stop`), query and body;
//!   `system`: the system parameters every method takes (`$alt`, `prettyPrint`, `fields`, …)
//!   and the rendering of every answer; `fields`: partial responses; `create`: the checks
//!   `instances.create` makes; `update`: `instances.patch` and its update mask; `iam`: IAM
//!   policy methods; `locations`: the locations methods; `schema`: the vendored discovery
//!   documents (validation, methods, enum numbers); `filter`: list filters; `paging`: list
//!   order and page tokens.
//! - `store`: instances, operations, policies and the create log; `lifecycle`: which verb
//!   leads from which state to which; `records`: how stored instances and operations are
//!   rendered.
//! - `faults`: deterministic failures; `settings`: the knobs tests turn at runtime; `status`:
//!   `google.rpc.Status` in both of Google's shapes; `clock`: injectable time.

mod clock;
mod config;
mod create;
mod faults;
mod fields;
mod filter;
mod iam;
mod lifecycle;
mod locations;
mod paging;
mod records;
mod request;
mod routes;
mod schema;
mod server;
mod settings;
mod state;
mod status;
mod store;
mod system;
mod update;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{EmulatorArgs, EmulatorConfig, EmulatorConfigError};
pub use notebooks_wire::ApiVersion;
pub use routes::router;
pub use server::{Emulator, run};
pub use state::EmulatorState;
pub use status::{ApiError, Code};
pub use store::RecordedCreate;

/// The `@type` of a message of this version, as carried inside `google.protobuf.Any`.
fn type_url(version: ApiVersion, message: &str) -> String {
    format!(
        "type.googleapis.com/google.cloud.notebooks.{}.{message}",
        version.as_str()
    )
}
