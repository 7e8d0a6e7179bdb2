//! The parameterized notebook a job runs, written beside its run's record.
//!
//! The job reads the copy by its generation, so the copy is written once: a redelivery of
//! the message (which derives the same run, the same parameters and the same copy) finds it
//! written and uses the generation that is there, which the job it follows was created with.
//! Overwriting it would change the generation under a job that is already reading it.

use storage_client::GsUri;

use super::{RunStore, StoreError, layout};

/// Why a job's notebook copy is not written, or its generation not known.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the notebook copy {uri} has no generation in its metadata")]
    NoGeneration { uri: String },
}

impl RunStore {
    /// Where the run in `folder` keeps the notebook its job runs.
    ///
    /// # Errors
    /// [`StoreError::Folder`] when `folder` is not a run's folder.
    pub fn notebook_copy(folder: &str) -> Result<GsUri, StoreError> {
        layout::notebook_copy_uri(folder)
    }

    /// Writes `notebook` as the copy of the run in `folder`, where there is none yet, and
    /// returns the copy's generation: the one written, or the one found.
    ///
    /// # Errors
    /// [`CopyError`] when the copy cannot be written or read.
    pub async fn write_notebook_copy(
        &self,
        folder: &str,
        notebook: Vec<u8>,
    ) -> Result<(GsUri, u64), CopyError> {
        let uri = layout::notebook_copy_uri(folder)?;
        let failed = |source| StoreError::Storage {
            uri: uri.to_string(),
            source,
        };
        let storage = self.client().await.map_err(StoreError::Credentials)?;
        let written = storage
            .upload_if_generation(
                &uri.bucket,
                &uri.object,
                "application/x-ipynb+json",
                notebook,
                0,
            )
            .await;
        let metadata = match written {
            Ok(metadata) => metadata,
            Err(error) if error.is_conflict() => {
                tracing::info!(copy = %uri, "the run's notebook copy is written already; its job runs that one");
                storage
                    .metadata(&uri.bucket, &uri.object)
                    .await
                    .map_err(failed)?
            }
            Err(error) => return Err(failed(error).into()),
        };
        let generation = metadata["generation"]
            .as_str()
            .and_then(|text| text.parse().ok())
            .or_else(|| metadata["generation"].as_u64())
            .ok_or_else(|| CopyError::NoGeneration {
                uri: uri.to_string(),
            })?;
        Ok((uri, generation))
    }
}
