//! Downloads: whole, or bounded so that an object larger than memory should hold is found
//! without reading it; of the live generation, or of one named.

use reqwest::StatusCode;

use super::{StorageClient, StorageError};

/// Why a download bounded by `usize::MAX` always has its bytes: nothing is longer.
const UNBOUNDED: &str = "no object holds more than usize::MAX bytes";

impl StorageClient {
    /// The bytes of `gs://bucket/name` and the generation they are (from `x-goog-generation`,
    /// which Google and the emulators send with every media download).
    ///
    /// # Errors
    /// The object cannot be read (404 if it does not exist), or the answer names no generation.
    pub async fn download_versioned(
        &self,
        bucket: &str,
        name: &str,
    ) -> Result<(Vec<u8>, u64), StorageError> {
        let read = self
            .download_versioned_at_most(bucket, name, None, usize::MAX)
            .await?;
        Ok(read.expect(UNBOUNDED))
    }

    /// The bytes of `gs://bucket/name`.
    ///
    /// # Errors
    /// The object cannot be read (404 if it does not exist).
    pub async fn download(&self, bucket: &str, name: &str) -> Result<Vec<u8>, StorageError> {
        let read = self.download_at_most(bucket, name, usize::MAX).await?;
        Ok(read.expect(UNBOUNDED))
    }

    /// The bytes of `gs://bucket/name` when there are at most `max` of them; `None` when there
    /// are more, found without reading past `max` (the object may be larger than memory
    /// should hold).
    ///
    /// # Errors
    /// The object cannot be read (404 if it does not exist).
    pub async fn download_at_most(
        &self,
        bucket: &str,
        name: &str,
        max: usize,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let bounded = self.bounded_download(bucket, name, None, max).await?;
        Ok(bounded.map(|(bytes, _)| bytes))
    }

    /// [`download_at_most`](Self::download_at_most) with the generation the bytes are, as
    /// [`download_versioned`](Self::download_versioned) gives it: of `generation` when one is
    /// named, else the live one.
    ///
    /// # Errors
    /// The object cannot be read (404 if it does not exist, or has no such generation: a
    /// bucket without versioning keeps none but the live one), or the answer names no
    /// generation.
    pub async fn download_versioned_at_most(
        &self,
        bucket: &str,
        name: &str,
        generation: Option<u64>,
        max: usize,
    ) -> Result<Option<(Vec<u8>, u64)>, StorageError> {
        match self.bounded_download(bucket, name, generation, max).await? {
            None => Ok(None),
            Some((bytes, Some(generation))) => Ok(Some((bytes, generation))),
            Some((_, None)) => Err(StorageError::Refused {
                what: format!("gs://{bucket}/{name}"),
                status: StatusCode::BAD_GATEWAY,
                message: "the download names no generation (x-goog-generation)".to_owned(),
            }),
        }
    }

    /// The bytes of `generation` (or the live ones), when at most `max`, and the generation
    /// the answer names.
    async fn bounded_download(
        &self,
        bucket: &str,
        name: &str,
        generation: Option<u64>,
        max: usize,
    ) -> Result<Option<(Vec<u8>, Option<u64>)>, StorageError> {
        let mut url = self.url(&["storage", "v1", "b", bucket, "o", name]);
        url.query_pairs_mut().append_pair("alt", "media");
        if let Some(generation) = generation {
            url.query_pairs_mut()
                .append_pair("generation", &generation.to_string());
        }
        let what = format!("gs://{bucket}/{name}");
        let mut response = self.send(what.clone(), self.http.get(url)).await?;
        if response
            .content_length()
            .is_some_and(|length| length > max as u64)
        {
            return Ok(None);
        }
        let generation = response
            .headers()
            .get("x-goog-generation")
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        let mut bytes = Vec::new();
        while let Some(chunk) =
            response
                .chunk()
                .await
                .map_err(|source| StorageError::Unreadable {
                    what: what.clone(),
                    source,
                })?
        {
            if bytes.len() + chunk.len() > max {
                return Ok(None);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some((bytes, generation)))
    }
}
