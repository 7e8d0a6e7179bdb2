//! The Notebooks REST API, as far as launching an instance needs it.
//!
//! `body` turns a validated [`LaunchSpec`](crate::profile::LaunchSpec) into the exact JSON the
//! v2 (Workbench instances) or v1 (user-managed notebooks, create shut down since 2025-04) API
//! takes; `model` holds the operation, status and instance shapes; `client` speaks HTTP with
//! credentials, one shared connection pool and timeouts on every call; `protocol` chooses the
//! HTTP version an emulator is spoken to in.

pub mod body;
pub mod client;
pub mod model;
pub mod protocol;

pub use client::{Call, ClientError, NotebooksClient};
pub use model::{Code, Instance, Operation, Status};

pub use notebooks_wire::ApiVersion;
