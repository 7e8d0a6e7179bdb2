//! The calls: buckets, media uploads, downloads (`download`), metadata and paged lists.

mod download;

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

/// Why a Cloud Storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("Cloud Storage at {url} cannot be reached")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Cloud Storage's answer for {what} is not readable")]
    Unreadable {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Cloud Storage answered {status} for {what}: {message}")]
    Refused {
        what: String,
        status: StatusCode,
        message: String,
    },
}

impl StorageError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            StorageError::Refused { status, .. } => Some(*status),
            StorageError::Unreachable { .. } | StorageError::Unreadable { .. } => None,
        }
    }

    /// Whether a generation precondition did not hold: another write came first.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(StatusCode::PRECONDITION_FAILED)
    }
}

/// A boundary part that cannot occur in `data`: a hash of it, retried in the unlikely case
/// that it does.
fn boundary_for(data: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut salt = 0u64;
    loop {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (data, salt).hash(&mut hasher);
        let candidate = format!("{:016x}", hasher.finish());
        if !data
            .windows(candidate.len())
            .any(|w| w == candidate.as_bytes())
        {
            return candidate;
        }
        salt += 1;
    }
}

/// Speaks the JSON API at one base URL (`http://127.0.0.1:PORT/` for an emulator).
#[derive(Clone, Debug)]
pub struct StorageClient {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl StorageClient {
    /// Anonymous, as Google's libraries are against an emulator.
    ///
    /// # Panics
    /// If the TLS backend cannot be initialised (the same condition under which reqwest's own
    /// `Client::new` panics).
    pub fn new(base: Url) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client with timeouts");
        Self {
            http,
            base,
            token: None,
        }
    }

    /// Sends `Authorization: Bearer TOKEN` with every call.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .pop_if_empty()
            .extend(segments);
        url
    }

    async fn send(
        &self,
        what: String,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, StorageError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|source| StorageError::Unreachable {
                url: self.base.to_string(),
                source,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|body| body["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        Err(StorageError::Refused {
            what,
            status,
            message,
        })
    }

    /// Creates `bucket`; one that exists already is fine (409 is not an error here).
    ///
    /// # Errors
    /// The bucket cannot be created.
    pub async fn ensure_bucket(&self, project: &str, bucket: &str) -> Result<(), StorageError> {
        let mut url = self.url(&["storage", "v1", "b"]);
        url.query_pairs_mut().append_pair("project", project);
        let request = self
            .http
            .request(Method::POST, url)
            .json(&json!({"name": bucket}));
        match self.send(format!("bucket {bucket}"), request).await {
            Ok(_) => Ok(()),
            Err(error) if error.status() == Some(StatusCode::CONFLICT) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Writes `gs://bucket/name` in one request (`uploadType=media`); returns the object's
    /// metadata.
    ///
    /// # Errors
    /// The object cannot be written.
    pub async fn upload(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
    ) -> Result<Value, StorageError> {
        let mut url = self.url(&["upload", "storage", "v1", "b", bucket, "o"]);
        url.query_pairs_mut()
            .append_pair("uploadType", "media")
            .append_pair("name", name);
        let request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(data);
        let response = self.send(format!("gs://{bucket}/{name}"), request).await?;
        json_of(response, bucket, name).await
    }

    /// [`upload_if_generation`](Self::upload_if_generation) of a JSON document: `false` when
    /// another write came first, which a compare-and-swap reads again rather than fails on.
    ///
    /// # Errors
    /// The object cannot be written.
    pub async fn swap_json(
        &self,
        bucket: &str,
        name: &str,
        body: Vec<u8>,
        generation: u64,
    ) -> Result<bool, StorageError> {
        match self
            .upload_if_generation(bucket, name, "application/json", body, generation)
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.is_conflict() => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Writes `gs://bucket/name` only if its live generation is `generation` (`0`: only if
    /// there is none): a compare-and-swap. Sent as a multipart upload, the form every Cloud
    /// Storage emulator here honours the precondition on as Google does; a precondition that
    /// does not hold is [`StorageError::Refused`] with 412 ([`StorageError::is_conflict`]).
    ///
    /// # Errors
    /// The object cannot be written, or another write came first.
    pub async fn upload_if_generation(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
        generation: u64,
    ) -> Result<Value, StorageError> {
        let mut url = self.url(&["upload", "storage", "v1", "b", bucket, "o"]);
        url.query_pairs_mut()
            .append_pair("uploadType", "multipart")
            .append_pair("ifGenerationMatch", &generation.to_string());
        let boundary = format!("notebook-trigger-{}", boundary_for(&data));
        let metadata = json!({"name": name, "contentType": content_type}).to_string();
        let mut body = Vec::with_capacity(data.len() + metadata.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\ncontent-type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/related; boundary={boundary}"),
            )
            .body(body);
        let response = self.send(format!("gs://{bucket}/{name}"), request).await?;
        json_of(response, bucket, name).await
    }

    /// The metadata of `gs://bucket/name` (`size`, `contentType`, `generation`, …).
    ///
    /// # Errors
    /// The object cannot be read (404 if it does not exist).
    pub async fn metadata(&self, bucket: &str, name: &str) -> Result<Value, StorageError> {
        let url = self.url(&["storage", "v1", "b", bucket, "o", name]);
        let response = self
            .send(format!("gs://{bucket}/{name}"), self.http.get(url))
            .await?;
        json_of(response, bucket, name).await
    }

    /// Deletes `gs://bucket/name`; with `generation`, only if that is still its live
    /// generation (a 412, [`StorageError::is_conflict`], when it was written since).
    ///
    /// # Errors
    /// The object cannot be deleted (404 if it does not exist).
    pub async fn delete(
        &self,
        bucket: &str,
        name: &str,
        generation: Option<u64>,
    ) -> Result<(), StorageError> {
        let mut url = self.url(&["storage", "v1", "b", bucket, "o", name]);
        if let Some(generation) = generation {
            url.query_pairs_mut()
                .append_pair("ifGenerationMatch", &generation.to_string());
        }
        self.send(format!("gs://{bucket}/{name}"), self.http.delete(url))
            .await
            .map(drop)
    }

    /// The names of the objects in `bucket` that start with `prefix`, following every page.
    ///
    /// # Errors
    /// The bucket cannot be listed.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        Ok(self
            .list_objects(bucket, prefix)
            .await?
            .into_iter()
            .map(|object| object.name)
            .collect())
    }

    /// The objects in `bucket` that start with `prefix`, with what a listing tells of each,
    /// following every page.
    ///
    /// # Errors
    /// The bucket cannot be listed.
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<ObjectInfo>, StorageError> {
        let mut objects = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.url(&["storage", "v1", "b", bucket, "o"]);
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("prefix", prefix);
                if let Some(token) = &page_token {
                    query.append_pair("pageToken", token);
                }
            }
            let response = self
                .send(format!("gs://{bucket}/{prefix}*"), self.http.get(url))
                .await?;
            let page = json_of(response, bucket, prefix).await?;
            objects.extend(
                page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(ObjectInfo::from_item),
            );
            match page["nextPageToken"].as_str() {
                Some(token) if !token.is_empty() => page_token = Some(token.to_owned()),
                _ => return Ok(objects),
            }
        }
    }
}

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub name: String,
    /// When the object was last written (RFC 3339), as the listing says.
    pub updated: Option<String>,
    pub size: Option<u64>,
}

impl ObjectInfo {
    /// From an item of `objects.list`; `None` without a name. The JSON API sends `size` as a
    /// decimal string.
    fn from_item(item: &Value) -> Option<Self> {
        Some(Self {
            name: item["name"].as_str()?.to_owned(),
            updated: item["updated"].as_str().map(str::to_owned),
            size: item["size"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| item["size"].as_u64()),
        })
    }
}

async fn json_of(
    response: reqwest::Response,
    bucket: &str,
    name: &str,
) -> Result<Value, StorageError> {
    response
        .json()
        .await
        .map_err(|source| StorageError::Unreadable {
            what: format!("gs://{bucket}/{name}"),
            source,
        })
}
