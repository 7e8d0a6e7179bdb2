//! The Notebooks REST API, as far as launching and cleaning up after an instance needs it: v2
//! (Workbench instances) or v1 (user-managed notebooks, create shut down since 2025-04).
//!
//! `model` holds the operation, status and instance shapes; `client` speaks HTTP with
//! credentials, one shared connection pool and timeouts on every call; `protocol` chooses the
//! HTTP version an emulator is spoken to in. It knows nothing of profiles or runs: the bodies
//! it sends are built by `launch`.

pub mod client;
pub mod model;
pub mod protocol;

pub use client::{Call, ClientError, NotebooksClient};
pub use model::{Code, Instance, Operation, Status};

pub use notebooks_wire::ApiVersion;
