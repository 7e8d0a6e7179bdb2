//! Reading and writing run records in Cloud Storage.
//!
//! A record is one object (`layout` says where), replaced whole at each step, so a reader
//! never sees half of one. Every write is conditional on the generation it read: the launch
//! creates a record only where there is none (`ifGenerationMatch=0`), and each later step is a
//! compare-and-swap that is read again and retried when another writer came first. So a
//! report, a reaper and a second reaper may all act on one run at once, and each step is
//! applied to the record as it is, never over a newer one. A record that is not there is
//! `None` rather than an error: the reaper meets instances whose launch never wrote one.

mod copy;
mod delete;
mod layout;

use jiff::Timestamp;
use reqwest::StatusCode;
use storage_client::{StorageClient, StorageError};

use super::{RunId, RunRecord, RunState};
use crate::cloud_storage::CloudStorage;
use crate::credentials::{Credentials, CredentialsError};

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
    #[error("the run record {uri} kept changing under {attempts} attempts to update it")]
    Contended { uri: String, attempts: usize },
}

pub use copy::CopyError;
pub use delete::{FolderDeleted, RecordDeleted};
pub use layout::RECORDS_PREFIX;

/// Why one of a run's files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("`{0}` is not a gs:// object")]
    Uri(String),
    #[error("no access token for Cloud Storage")]
    Credentials(#[source] CredentialsError),
    #[error("{uri} cannot be read")]
    Storage {
        uri: String,
        #[source]
        source: StorageError,
    },
}

/// How many times a change is read and tried again while other writers keep coming first.
const UPDATE_ATTEMPTS: usize = 16;

/// What became of a run's new record at launch.
#[derive(Debug)]
pub enum Created {
    /// This launch wrote it.
    New,
    /// The run had one already (a redelivery): the run may have ended since, and it says so.
    Existing(Box<RunRecord>),
}

impl Created {
    /// The record found, when it tells that the run has ended already. A record still
    /// `launched` is an earlier delivery's of this same launch, which goes on to follow or
    /// create its instance.
    pub fn ended(self) -> Option<RunRecord> {
        match self {
            Created::Existing(record) if record.has_outcome() => Some(*record),
            Created::Existing(_) | Created::New => None,
        }
    }
}

/// What became of a change to a record.
#[derive(Debug)]
pub enum Updated {
    /// This write made the change: the state the record was in, and the record as written.
    Written { was: RunState, now: RunRecord },
    /// The record is past the change (another writer came first, or it never applied): the
    /// record as it is.
    Unchanged(RunRecord),
}

/// Run records in Cloud Storage (Google's, or an emulator's without credentials).
#[derive(Debug, Clone)]
pub struct RunStore {
    storage: CloudStorage,
}

impl RunStore {
    pub fn new(storage: StorageClient, credentials: Credentials) -> Self {
        Self::on(CloudStorage::new(storage, credentials))
    }

    /// The store in `storage` (the service's one Cloud Storage, see `startup`).
    pub fn on(storage: CloudStorage) -> Self {
        Self { storage }
    }

    /// The run's folder under an output prefix (`gs://B/PREFIX`): `gs://B/PREFIX/{run id}/`.
    pub fn folder(output: &str, run: &RunId) -> String {
        format!("{}/{run}/", output.trim_end_matches('/'))
    }

    /// The record of the run whose folder is `folder` (`gs://B/PREFIX/{run id}/`), `None`
    /// when there is none.
    ///
    /// # Errors
    /// [`StoreError`] when Cloud Storage cannot be asked or the object is not a record.
    pub async fn read(&self, folder: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.read_versioned(folder).await?.map(|(record, _)| record))
    }

    /// The record and its generation, which a conditional write names.
    async fn read_versioned(&self, folder: &str) -> Result<Option<(RunRecord, u64)>, StoreError> {
        let uri = layout::record_uri(folder)?;
        let storage = self.client().await.map_err(StoreError::Credentials)?;
        match storage.download_versioned(&uri.bucket, &uri.object).await {
            Ok((bytes, generation)) => serde_json::from_slice(&bytes)
                .map(|record| Some((record, generation)))
                .map_err(|source| StoreError::Corrupt {
                    uri: uri.to_string(),
                    source,
                }),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(source) => Err(StoreError::Storage {
                uri: uri.to_string(),
                source,
            }),
        }
    }

    /// Writes a launch's record only where its run has none yet: a redelivery, or anything
    /// that came first, leaves the existing record as it is.
    ///
    /// # Errors
    /// [`StoreError`] when the record cannot be read or written.
    pub async fn create(&self, record: &RunRecord) -> Result<Created, StoreError> {
        for _ in 0..UPDATE_ATTEMPTS {
            if self.write_if(record, 0).await? {
                return Ok(Created::New);
            }
            if let Some(existing) = self.read(&record.output).await? {
                tracing::info!(run = %record.run_id, "the run has a record already; left as it is");
                return Ok(Created::Existing(Box::new(existing)));
            }
        }
        Err(StoreError::Contended {
            uri: layout::record_uri(&record.output)?.to_string(),
            attempts: UPDATE_ATTEMPTS,
        })
    }

    /// Applies `change` to the record in `folder` as it is now: `change` returns the next
    /// record, or `None` when the record is past the change already. When another writer
    /// comes first, the record is read again and `change` asked again. `None` when the run
    /// has no record.
    ///
    /// # Errors
    /// [`StoreError`] when the record cannot be read or written, or kept changing.
    pub async fn update(
        &self,
        folder: &str,
        change: impl Fn(&RunRecord) -> Option<RunRecord>,
    ) -> Result<Option<Updated>, StoreError> {
        for _ in 0..UPDATE_ATTEMPTS {
            let Some((record, generation)) = self.read_versioned(folder).await? else {
                return Ok(None);
            };
            let Some(next) = change(&record) else {
                return Ok(Some(Updated::Unchanged(record)));
            };
            if self.write_if(&next, generation).await? {
                return Ok(Some(Updated::Written {
                    was: record.state,
                    now: next,
                }));
            }
        }
        Err(StoreError::Contended {
            uri: layout::record_uri(folder)?.to_string(),
            attempts: UPDATE_ATTEMPTS,
        })
    }

    /// Writes `record` if its object's generation is still `generation` (`0`: absent);
    /// `false` when another write came first.
    async fn write_if(&self, record: &RunRecord, generation: u64) -> Result<bool, StoreError> {
        let uri = layout::record_uri(&record.output)?;
        let body = serde_json::to_vec_pretty(record).map_err(|source| StoreError::Corrupt {
            uri: uri.to_string(),
            source,
        })?;
        let storage = self.client().await.map_err(StoreError::Credentials)?;
        storage
            .swap_json(&uri.bucket, &uri.object, body, generation)
            .await
            .map_err(|source| StoreError::Storage {
                uri: uri.to_string(),
                source,
            })
    }

    /// The service's secret `name`, kept beside the records of the output prefix `output`
    /// (`gs://B/notebook-trigger-records/NAME`, where no run's VM may read): the one object
    /// every instance of the service reads, written once by whichever comes first with
    /// `fresh`'s bytes.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be read or written.
    pub async fn secret(
        &self,
        output: &str,
        name: &str,
        fresh: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let prefix = layout::prefix_uri(output)?;
        let object = format!("{RECORDS_PREFIX}/{name}");
        let failed = |source| StoreError::Storage {
            uri: format!("gs://{}/{object}", prefix.bucket),
            source,
        };
        let storage = self.client().await.map_err(StoreError::Credentials)?;
        match storage.download(&prefix.bucket, &object).await {
            Ok(bytes) => return Ok(bytes),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => {}
            Err(error) => return Err(failed(error)),
        }
        let bytes = fresh();
        match storage
            .upload_if_generation(
                &prefix.bucket,
                &object,
                "application/octet-stream",
                bytes.clone(),
                0,
            )
            .await
        {
            Ok(_) => Ok(bytes),
            // Another instance wrote it first: theirs is the one.
            Err(error) if error.is_conflict() => storage
                .download(&prefix.bucket, &object)
                .await
                .map_err(failed),
            Err(error) => Err(failed(error)),
        }
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
        let prefix = layout::prefix_uri(output)?;
        let records = layout::records_of(&prefix);
        let storage = self.client().await.map_err(StoreError::Credentials)?;
        let objects = storage
            .list_objects(&records.bucket, &records.object)
            .await
            .map_err(|source| StoreError::Storage {
                uri: records.to_string(),
                source,
            })?;
        Ok(objects
            .into_iter()
            .filter_map(|object| {
                Some(Listed {
                    folder: layout::folder_of(&object.name, &records, &prefix)?,
                    updated: object.updated.as_deref().and_then(|u| u.parse().ok()),
                })
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

    /// The objects in a run's folder (`gs://B/PREFIX/{run id}/`), as `gs://` URIs, and its
    /// record last.
    ///
    /// # Errors
    /// [`StoreError`] when the folder cannot be listed.
    pub async fn objects(&self, folder: &str) -> Result<Vec<String>, StoreError> {
        let record = layout::record_uri(folder)?;
        let uri = storage_client::GsUri::parse(folder)
            .map_err(|_| StoreError::Folder(folder.to_owned()))?;
        let storage = self.client().await.map_err(StoreError::Credentials)?;
        let names = storage
            .list(&uri.bucket, &uri.object)
            .await
            .map_err(|source| StoreError::Storage {
                uri: folder.to_owned(),
                source,
            })?;
        Ok(names
            .into_iter()
            .map(|name| format!("gs://{}/{name}", uri.bucket))
            .chain(std::iter::once(record.to_string()))
            .collect())
    }

    /// The bytes of `uri`, one of a run's files (`gs://B/O`), when it holds at most `max`;
    /// `None` when it holds more, found without reading past `max`.
    ///
    /// # Errors
    /// [`OutputError`] when it cannot be read.
    pub async fn output(&self, uri: &str, max: usize) -> Result<Option<Vec<u8>>, OutputError> {
        let object =
            storage_client::GsUri::parse(uri).map_err(|_| OutputError::Uri(uri.to_owned()))?;
        let storage = self.client().await.map_err(OutputError::Credentials)?;
        storage
            .download_at_most(&object.bucket, &object.object, max)
            .await
            .map_err(|source| OutputError::Storage {
                uri: uri.to_owned(),
                source,
            })
    }

    /// The Cloud Storage records are kept in: the slots of profiles' caps are kept beside
    /// them.
    pub(in crate::run) fn storage(&self) -> &CloudStorage {
        &self.storage
    }

    /// The client with a fresh token, or anonymous.
    async fn client(&self) -> Result<StorageClient, CredentialsError> {
        self.storage.client().await
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
