//! A launch whose profile's runs execute as Vertex AI notebook execution jobs: the same
//! message, policy, run id, record, events, slots and retries as a run on an instance, with a
//! create step of its own.
//!
//! - `request`: the job and its names, derived from the trigger before the first call.
//! - `body`: the job a profile describes.
//! - `create`: the parameterized copy, the create and its operation, and a redelivery's 409.

pub mod body;
mod create;
mod request;

pub use request::ExecutionPlan;
