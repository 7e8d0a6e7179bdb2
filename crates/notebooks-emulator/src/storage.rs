//! Cloud Storage, as emulated instances and the demo use it: `gs://` objects through Google's
//! JSON API.
//!
//! Everything here speaks the JSON API (`/storage/v1/…`, `/upload/storage/v1/…`), so one client
//! works against Google, against fake-gcs-server and against the small in-process store the
//! emulator serves on its own port when no other Cloud Storage is configured (which in turn
//! serves gcloud and Google's Python client as well as curl). Which one is
//! found the way Google's libraries and tools find an emulator: `STORAGE_EMULATOR_HOST`
//! (`host:port` or `http://host:port`), and scripts also get gcloud's
//! `CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE`.
//!
//! The client is the `storage-client` crate's, which the service uses too.

mod server;

pub use server::{Buckets, router};
pub use storage_client::{GsUri, StorageClient, StorageError, emulator_base_url};
