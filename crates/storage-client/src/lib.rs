//! A Cloud Storage client for the few JSON API calls the product makes: the service's run
//! records, the emulator's post-startup scripts, the demo's files.
//!
//! It is plain reqwest rather than the official `google-cloud-storage` crate: that one ignores
//! `STORAGE_EMULATOR_HOST`, lists objects only over gRPC (which fake-gcs-server does not serve)
//! and adds several megabytes and minutes of build to the binary, for five calls. Everything
//! here speaks the JSON API (`/storage/v1/…`, `/upload/storage/v1/…`), so one client works
//! against Google, fake-gcs-server and the emulator's in-process store alike.
//!
//! - `client`: the calls, and errors that keep their cause.
//! - `uri`: `gs://BUCKET/OBJECT`, and the base URL of a `STORAGE_EMULATOR_HOST` value.

mod client;
mod uri;

pub use client::{ObjectInfo, StorageClient, StorageError};
pub use uri::{GsUri, emulator_base_url};
