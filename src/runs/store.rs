//! Reading and writing run records in Cloud Storage.
//!
//! A record is one object, `{output}/{run id}/run.json`, replaced whole at each step, so a
//! reader never sees half of one. A record that is not there is `None` rather than an error:
//! the reaper meets instances whose launch never wrote one.

use std::sync::Arc;

use reqwest::StatusCode;
use storage_client::{GsUri, StorageClient, StorageError};
use tokio::sync::OnceCell;

use super::{RunId, RunRecord};
use crate::credentials::{Credentials, CredentialsError};

/// Cloud Storage's JSON API.
const GOOGLE_STORAGE: &str = "https://storage.googleapis.com/";

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{0}` is not a gs:// folder a run record can be kept in")]
    Folder(String),
    #[error("no access token for Cloud Storage")]
    Credentials(#[source] CredentialsError),
    #[error("the run record {uri} cannot be read or written")]
    Storage {
        uri: String,
        #[source]
        source: StorageError,
    },
    #[error("the run record {uri} is not a run record")]
    Corrupt {
        uri: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Run records in Cloud Storage (Google's, or an emulator's without credentials).
#[derive(Debug, Clone)]
pub struct RunStore {
    storage: StorageClient,
    /// Found on first use for Google's store: a service that never takes a report (or runs
    /// against emulators) needs no Cloud Storage credentials to start.
    credentials: Arc<OnceCell<Credentials>>,
}

impl RunStore {
    pub fn new(storage: StorageClient, credentials: Credentials) -> Self {
        Self {
            storage,
            credentials: Arc::new(OnceCell::new_with(Some(credentials))),
        }
    }

    /// The store the settings name: `STORAGE_EMULATOR_HOST` or `local` (an embedded
    /// emulator's) without credentials, else Google's with Application Default Credentials.
    pub fn from_settings(emulator: Option<&reqwest::Url>, local: Option<reqwest::Url>) -> Self {
        match emulator.cloned().or(local) {
            Some(base) => Self::new(StorageClient::new(base), Credentials::Anonymous),
            None => Self {
                storage: StorageClient::new(
                    reqwest::Url::parse(GOOGLE_STORAGE).expect("Google's storage URL"),
                ),
                credentials: Arc::new(OnceCell::new()),
            },
        }
    }

    /// The run's folder under an output prefix (`gs://B/PREFIX`): `gs://B/PREFIX/{run id}/`.
    pub fn folder(output: &str, run: &RunId) -> String {
        format!("{}/{run}/", output.trim_end_matches('/'))
    }

    /// The record in `folder` (`gs://B/PREFIX/{run id}/`), `None` when there is none.
    ///
    /// # Errors
    /// [`StoreError`] when Cloud Storage cannot be asked or the object is not a record.
    pub async fn read(&self, folder: &str) -> Result<Option<RunRecord>, StoreError> {
        let uri = record_uri(folder)?;
        let storage = self.client().await?;
        match storage.download(&uri.bucket, &uri.object).await {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| StoreError::Corrupt {
                        uri: uri.to_string(),
                        source,
                    })
            }
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(source) => Err(StoreError::Storage {
                uri: uri.to_string(),
                source,
            }),
        }
    }

    /// Writes the record unless its run has one already (a redelivery): the run may have ended
    /// since, and its record says so.
    ///
    /// # Errors
    /// [`StoreError`] when the record cannot be read or written.
    pub async fn ensure(&self, record: &RunRecord) -> Result<(), StoreError> {
        if self.read(&record.output).await?.is_some() {
            tracing::info!(run = %record.run_id, "the run has a record already; left as it is");
            return Ok(());
        }
        self.write(record).await
    }

    /// Replaces the record in its own folder (`record.output`).
    ///
    /// # Errors
    /// [`StoreError`] when the object cannot be written.
    pub async fn write(&self, record: &RunRecord) -> Result<(), StoreError> {
        let uri = record_uri(&record.output)?;
        let body = serde_json::to_vec_pretty(record).map_err(|source| StoreError::Corrupt {
            uri: uri.to_string(),
            source,
        })?;
        let storage = self.client().await?;
        storage
            .upload(&uri.bucket, &uri.object, "application/json", body)
            .await
            .map(drop)
            .map_err(|source| StoreError::Storage {
                uri: uri.to_string(),
                source,
            })
    }

    /// The client with a fresh token (the credentials cache it), or anonymous.
    async fn client(&self) -> Result<StorageClient, StoreError> {
        let credentials = self
            .credentials
            .get_or_try_init(Credentials::detect)
            .await
            .map_err(StoreError::Credentials)?;
        let authorization = credentials
            .authorization()
            .await
            .map_err(StoreError::Credentials)?;
        Ok(
            match authorization
                .as_deref()
                .and_then(|a| a.strip_prefix("Bearer "))
            {
                Some(token) => self.storage.clone().with_token(token),
                None => self.storage.clone(),
            },
        )
    }
}

fn record_uri(folder: &str) -> Result<GsUri, StoreError> {
    if !folder.ends_with('/') {
        return Err(StoreError::Folder(folder.to_owned()));
    }
    GsUri::parse(&format!("{folder}{}", RunRecord::FILE))
        .map_err(|_| StoreError::Folder(folder.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_keeps_its_record_in_its_own_folder() {
        let run = RunId::parse("r0123456789abcdef").unwrap();
        for output in ["gs://b/runs", "gs://b/runs/"] {
            assert_eq!(
                RunStore::folder(output, &run),
                "gs://b/runs/r0123456789abcdef/"
            );
        }
        let uri = record_uri("gs://b/runs/r0123456789abcdef/").unwrap();
        assert_eq!(uri.object, "runs/r0123456789abcdef/run.json");
        for bad in ["gs://b/runs", "https://b/x/", "gs:///x/"] {
            assert!(
                matches!(record_uri(bad), Err(StoreError::Folder(_))),
                "{bad}"
            );
        }
    }
}
