//! Reading and writing run records in Cloud Storage.
//!
//! A record is one object, `{output}/{run id}/run.json`, replaced whole at each step, so a
//! reader never sees half of one. A record that is not there is `None` rather than an error:
//! the reaper meets instances whose launch never wrote one.

use std::sync::Arc;

use jiff::Timestamp;
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

    /// The records under an output prefix (`gs://B/PREFIX`), as one listing finds them: not
    /// read yet, so that a history reads only as many as it shows. With `since`, a record last
    /// written before it is left out: its run was launched before `since` too.
    ///
    /// # Errors
    /// [`StoreError`] when the prefix cannot be listed.
    pub async fn listed(
        &self,
        output: &str,
        since: Option<Timestamp>,
    ) -> Result<Vec<Listed>, StoreError> {
        let prefix = prefix_uri(output)?;
        let storage = self.client().await?;
        let objects = storage
            .list_objects(&prefix.bucket, &prefix.object)
            .await
            .map_err(|source| StoreError::Storage {
                uri: prefix.to_string(),
                source,
            })?;
        Ok(objects
            .into_iter()
            .filter(|object| is_record_name(&object.name, &prefix.object))
            .map(|object| Listed {
                folder: format!(
                    "gs://{}/{}",
                    prefix.bucket,
                    object.name.trim_end_matches(RunRecord::FILE)
                ),
                updated: object.updated.as_deref().and_then(|u| u.parse().ok()),
            })
            .filter(|listed| {
                since
                    .zip(listed.updated)
                    .is_none_or(|(since, updated)| updated >= since)
            })
            .collect())
    }

    /// The records in `folders`, read `READ_CONCURRENCY` at a time.
    ///
    /// A record that cannot be read or parsed is left out and said in [`Records::unreadable`]:
    /// one damaged object must not hide the history of every other run.
    pub async fn read_all(&self, folders: impl IntoIterator<Item = String>) -> Records {
        let mut records = Records::default();
        let mut reading = tokio::task::JoinSet::new();
        for folder in folders {
            while reading.len() >= READ_CONCURRENCY {
                collect(reading.join_next().await, &mut records);
            }
            let store = self.clone();
            reading.spawn(async move { store.read(&folder).await });
        }
        while let Some(done) = reading.join_next().await {
            collect(Some(done), &mut records);
        }
        records
    }

    /// The objects in a run's folder (`gs://B/PREFIX/{run id}/`), as `gs://` URIs.
    ///
    /// # Errors
    /// [`StoreError`] when the folder cannot be listed.
    pub async fn objects(&self, folder: &str) -> Result<Vec<String>, StoreError> {
        let uri = record_uri(folder)?;
        let object_prefix = uri.object.trim_end_matches(RunRecord::FILE);
        let storage = self.client().await?;
        let names = storage
            .list(&uri.bucket, object_prefix)
            .await
            .map_err(|source| StoreError::Storage {
                uri: folder.to_owned(),
                source,
            })?;
        Ok(names
            .into_iter()
            .map(|name| format!("gs://{}/{name}", uri.bucket))
            .collect())
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

/// How many records are downloaded at once: enough to hide the latency of one request each,
/// few enough that a listing of thousands does not open thousands of connections.
const READ_CONCURRENCY: usize = 32;

/// A record a listing found: its run's folder, and when the record was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// `gs://B/PREFIX/{run id}/`.
    pub folder: String,
    /// `None` when the listing did not say.
    pub updated: Option<Timestamp>,
}

/// Records that were read, and why some could not be.
#[derive(Debug, Default)]
pub struct Records {
    pub found: Vec<RunRecord>,
    /// One line per record left out: its folder and why.
    pub unreadable: Vec<String>,
}

/// One record's read (its error names the record).
type Read = Result<Option<RunRecord>, StoreError>;

/// Keeps a record that was read; says why one was not.
fn collect(done: Option<Result<Read, tokio::task::JoinError>>, records: &mut Records) {
    let left_out = match done {
        Some(Ok(Ok(Some(record)))) => {
            records.found.push(record);
            return;
        }
        Some(Ok(Ok(None))) | None => return,
        Some(Ok(Err(error))) => {
            format!("a run record is left out: {}", crate::cause::chain(&error))
        }
        Some(Err(error)) => format!("a run record's read did not finish: {error}"),
    };
    tracing::warn!("{left_out}");
    records.unreadable.push(left_out);
}

/// `PREFIX/{run id}/run.json` directly under the prefix, not a file a notebook wrote deeper.
fn is_record_name(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(RunRecord::FILE))
        .and_then(|run| run.strip_suffix('/'))
        .is_some_and(|run| RunId::parse(run).is_ok())
}

/// The output prefix as a bucket and an object prefix ending in `/` (empty for a bucket).
fn prefix_uri(output: &str) -> Result<GsUri, StoreError> {
    let rest = output
        .strip_prefix("gs://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|rest| !rest.is_empty() && !rest.starts_with('/'))
        .ok_or_else(|| StoreError::Folder(output.to_owned()))?;
    let (bucket, object) = match rest.split_once('/') {
        Some((bucket, object)) => (bucket, format!("{object}/")),
        None => (rest, String::new()),
    };
    Ok(GsUri {
        bucket: bucket.to_owned(),
        object,
    })
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

    #[test]
    fn a_history_reads_only_the_records_directly_under_its_prefix() {
        let prefix = prefix_uri("gs://b/runs/").unwrap();
        assert_eq!(
            (prefix.bucket.as_str(), prefix.object.as_str()),
            ("b", "runs/")
        );
        let bucket = prefix_uri("gs://b").unwrap();
        assert_eq!((bucket.bucket.as_str(), bucket.object.as_str()), ("b", ""));
        for bad in ["b/runs", "gs://", "gs:///runs"] {
            assert!(
                matches!(prefix_uri(bad), Err(StoreError::Folder(_))),
                "{bad}"
            );
        }
        assert!(is_record_name("runs/r0123456789abcdef/run.json", "runs/"));
        assert!(is_record_name("r0123456789abcdef/run.json", ""));
        for not in [
            "runs/r0123456789abcdef/outputs/run.json",
            "runs/r0123456789abcdef/seed.ipynb",
            "runs/run.json",
            "runs/not-a-run/run.json",
            "other/r0123456789abcdef/run.json",
        ] {
            assert!(!is_record_name(not, "runs/"), "{not}");
        }
    }
}
