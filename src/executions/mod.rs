//! Vertex AI notebook execution jobs (`aiplatform` v1, `projects.locations.notebookExecutionJobs`),
//! as far as running a profile's notebook as a job needs them: create (with its long-running
//! operation), get, list and delete.
//!
//! `model` holds the job's wire shape as the discovery document names it; `client` speaks
//! HTTP with credentials and timeouts to the region's endpoint or an emulator; `follow` waits
//! on an operation with [`crate::poll`]. Like [`crate::notebooks`], it knows nothing of
//! profiles or runs: the job a run creates is built by `launch`, and what a job's state means
//! for a run is the run model's (`run::execution`).

pub mod client;
mod follow;
pub mod model;

pub use client::{ExecutionsClient, ExecutionsEndpoint, ExecutionsError};
pub use follow::OperationFollower;
pub use model::{
    ContainerImage, CustomEnvironmentSpec, GcsNotebookSource, Job, JobStatus, MachineSpec,
    NetworkSpec, PersistentDiskSpec, WorkbenchRuntime,
};
