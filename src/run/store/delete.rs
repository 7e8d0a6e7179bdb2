//! Deleting a run that retention judged old: its folder's objects first, then its record.
//!
//! In that order, a crash or a cut-short reap between the two leaves a record whose folder is
//! (partly) gone, which the next reap finds and finishes; the other order would leave objects
//! no record points to, which nobody would ever find again. The record is deleted only at the
//! generation that was judged, so a record written since (a late report) is judged again
//! rather than deleted unseen; two reaps deleting the same run both end well, one of them
//! finding the work done.

use reqwest::StatusCode;
use storage_client::{GsUri, StorageError};

use super::{RunRecord, RunStore, StoreError, layout};

/// How many objects are deleted at once.
const DELETE_CONCURRENCY: usize = 16;

/// What became of a run's folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderDeleted {
    /// Objects deleted by this call (an object another deleter took first counts too).
    pub deleted: usize,
    /// Objects left for a later call, past its bound.
    pub left: usize,
}

/// What became of a run's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordDeleted {
    /// This call deleted it.
    Deleted,
    /// It was not there any more: another deleter came first.
    Gone,
    /// It was written since it was judged, and is left for the next judgement.
    Changed,
}

impl RunStore {
    /// The record in `folder` and its generation, which [`RunStore::delete_record`] names.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be read or is not a record.
    pub async fn read_with_generation(
        &self,
        folder: &str,
    ) -> Result<Option<(RunRecord, u64)>, StoreError> {
        self.read_versioned(folder).await
    }

    /// The names of the objects in a run's folder (`gs://B/PREFIX/{run id}/`), not its record.
    ///
    /// # Errors
    /// [`StoreError`] when the folder cannot be listed.
    pub async fn folder_objects(&self, folder: &str) -> Result<Vec<String>, StoreError> {
        let uri = folder_uri(folder)?;
        let storage = self.client().await.map_err(StoreError::Credentials)?;
        storage
            .list(&uri.bucket, &uri.object)
            .await
            .map_err(|source| StoreError::Storage {
                uri: folder.to_owned(),
                source,
            })
    }

    /// Deletes at most `at_most` of the objects in a run's folder, `DELETE_CONCURRENCY` at a
    /// time; its record stays.
    ///
    /// # Errors
    /// [`StoreError`] when the folder cannot be listed or an object cannot be deleted (those
    /// deleted before stay deleted).
    pub async fn delete_folder(
        &self,
        folder: &str,
        at_most: usize,
    ) -> Result<FolderDeleted, StoreError> {
        let uri = folder_uri(folder)?;
        let names = self.folder_objects(folder).await?;
        let mut left = names.len().saturating_sub(at_most);
        let storage = self.client().await.map_err(StoreError::Credentials)?;
        let mut deleting = tokio::task::JoinSet::new();
        let mut deleted = 0;
        let mut failed = None;
        for name in names.into_iter().take(at_most) {
            while deleting.len() >= DELETE_CONCURRENCY {
                tally(
                    deleting.join_next().await,
                    (&mut deleted, &mut left),
                    &mut failed,
                );
            }
            let (storage, bucket) = (storage.clone(), uri.bucket.clone());
            deleting.spawn(async move {
                let done = storage.delete(&bucket, &name, None).await;
                (format!("gs://{bucket}/{name}"), done)
            });
        }
        while let Some(done) = deleting.join_next().await {
            tally(Some(done), (&mut deleted, &mut left), &mut failed);
        }
        match failed {
            Some(error) => Err(error),
            None => Ok(FolderDeleted { deleted, left }),
        }
    }

    /// Deletes the record in `folder` if it is still at `generation`, and before it the
    /// notebook copy a job of the run ran, if there is one: a failure leaves the record, so
    /// that a later retention finds the run again.
    ///
    /// # Errors
    /// [`StoreError`] when Cloud Storage refuses otherwise.
    pub async fn delete_record(
        &self,
        folder: &str,
        generation: u64,
    ) -> Result<RecordDeleted, StoreError> {
        let uri = layout::record_uri(folder)?;
        let storage = self.client().await.map_err(StoreError::Credentials)?;
        let copy = layout::notebook_copy_uri(folder)?;
        match storage.delete(&copy.bucket, &copy.object, None).await {
            Ok(()) => {}
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => {}
            Err(source) => {
                return Err(StoreError::Storage {
                    uri: copy.to_string(),
                    source,
                });
            }
        }
        match storage
            .delete(&uri.bucket, &uri.object, Some(generation))
            .await
        {
            Ok(()) => Ok(RecordDeleted::Deleted),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(RecordDeleted::Gone),
            Err(error) if error.is_conflict() => Ok(RecordDeleted::Changed),
            Err(source) => Err(StoreError::Storage {
                uri: uri.to_string(),
                source,
            }),
        }
    }
}

/// A run's folder as a bucket and an object prefix ending in `/`; only a run's own folder (its
/// record's place is derived from it), never a whole output.
fn folder_uri(folder: &str) -> Result<GsUri, StoreError> {
    layout::record_uri(folder)?;
    GsUri::parse(folder)
        .ok()
        .filter(|uri| uri.object.ends_with('/'))
        .ok_or_else(|| StoreError::Folder(folder.to_owned()))
}

/// One object's delete: its `gs://` URI and how it went.
type Deleted = (String, Result<(), StorageError>);

/// One delete's end: counted deleted when done or already gone, left when it did not finish,
/// kept as the error otherwise.
fn tally(
    done: Option<Result<Deleted, tokio::task::JoinError>>,
    (deleted, left): (&mut usize, &mut usize),
    failed: &mut Option<StoreError>,
) {
    match done {
        Some(Ok((_, Ok(())))) => *deleted += 1,
        Some(Ok((_, Err(error)))) if error.status() == Some(StatusCode::NOT_FOUND) => {
            *deleted += 1;
        }
        Some(Ok((uri, Err(source)))) => {
            failed.get_or_insert(StoreError::Storage { uri, source });
        }
        Some(Err(error)) => {
            tracing::warn!(error = %error, "an object's delete did not finish");
            *left += 1;
        }
        None => {}
    }
}
