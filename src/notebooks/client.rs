//! HTTP calls to the Notebooks API: one shared reqwest client (rustls, connection pool) with
//! connect and request timeouts, a fresh token per call, and every failure turned into a
//! [`ClientError`] that says whether trying again can help.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::ApiVersion;
use super::model::{self, Code, Instance, InstancePage, Operation, Status};
use super::protocol::{Connections, EmulatorProtocol};
use crate::credentials::{Credentials, CredentialsError};

/// A failed call. Each says only its own part; the cause underneath (the HTTP client's error
/// down to the connection's, gcp_auth's, serde's) is its `source()`, for
/// [`cause::chain`](crate::cause::chain) to tell.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the Notebooks API{} ({url})", over(*.spoken))]
    Transport {
        url: String,
        /// The HTTP spoken, where the service chose it (to an emulator).
        spoken: Option<&'static str>,
        #[source]
        source: reqwest::Error,
    },
    #[error("the answer of the Notebooks API was cut off ({url})")]
    Cut {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("no access token for the Notebooks API")]
    Credentials(#[from] CredentialsError),
    #[error("the Notebooks API answered HTTP {http} {status}")]
    Api { http: u16, status: Status },
    #[error("unexpected answer from {url}")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot call {url}: not a path under the API root")]
    Path {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// ` over h2c`, ` over HTTP/1.1`, or nothing where TLS negotiates.
fn over(spoken: Option<&str>) -> String {
    spoken
        .map(|spoken| format!(" over {spoken}"))
        .unwrap_or_default()
}

impl ClientError {
    /// The canonical code, when the API answered with one.
    pub fn code(&self) -> Option<Code> {
        match self {
            ClientError::Api { status, .. } => Some(status.code),
            ClientError::Transport { .. }
            | ClientError::Cut { .. }
            | ClientError::Credentials(_)
            | ClientError::Decode { .. }
            | ClientError::Path { .. } => None,
        }
    }

    /// Whether the same call may succeed later without anyone changing anything: the API's
    /// transient codes, and every failure that never got an answer from it (the network, the
    /// token source, an answer cut or garbled on the way).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Api { status, .. } => status.code.is_transient(),
            ClientError::Transport { .. }
            | ClientError::Cut { .. }
            | ClientError::Credentials(_)
            | ClientError::Decode { .. }
            | ClientError::Path { .. } => true,
        }
    }
}

/// Where the API lives and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `https://notebooks.googleapis.com` or an emulator's `http://host:port`.
    pub base_url: Url,
    pub credentials: Credentials,
    /// How to speak to an emulator over plain TCP (see [`protocol`](super::protocol)); `None`
    /// for Google and `NOTEBOOKS_ENDPOINT`, where TLS negotiates HTTP/2.
    pub emulator_protocol: Option<EmulatorProtocol>,
}

/// Calls to the API in progress at once, across all launches. Google's front end serves about
/// a hundred streams at a time on an HTTP/2 connection; beyond that, calls wait here, before
/// anything is built for them, rather than inside the connection with their requests and
/// buffers allocated. After ten thousand pushes arrive at once, the process would otherwise
/// keep the memory of ten thousand simultaneous creates for as long as it runs.
pub const MAX_CALLS_IN_FLIGHT: usize = 100;

/// A wait for a call slot this long is logged: it means calls are queueing behind a burst.
const SLOW_SLOT: Duration = Duration::from_secs(1);

/// The Notebooks API client; cheap to clone, holds one connection pool.
#[derive(Debug, Clone)]
pub struct NotebooksClient {
    http: Connections,
    credentials: Credentials,
    version: ApiVersion,
    /// `{base_url}/{version}/`, parsed once: every call's URL is joined onto it, so the scheme
    /// and host are not parsed again (with IDNA processing) on every call.
    api_root: Url,
    calls: Arc<Semaphore>,
}

/// An API call as it goes on the wire, without its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: reqwest::Method,
    /// The full URL, with its query.
    pub url: Url,
}

/// Timeouts for every call.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Timeouts {
    /// An HTTP client (rustls, connection pool) whose every call is bounded by these timeouts;
    /// every outgoing call of the service is made with one.
    ///
    /// # Errors
    /// When the TLS stack cannot be initialised.
    pub fn http_client(self) -> Result<reqwest::Client, reqwest::Error> {
        self.client_builder().build()
    }

    fn client_builder(self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(self.connect)
            .timeout(self.request)
            .user_agent(concat!("notebook-trigger/", env!("CARGO_PKG_VERSION")))
    }
}

impl NotebooksClient {
    /// # Errors
    /// When the TLS stack cannot be initialised.
    pub fn new(
        endpoint: Endpoint,
        version: ApiVersion,
        timeouts: Timeouts,
    ) -> Result<Self, reqwest::Error> {
        let http = Connections::new(endpoint.emulator_protocol, &endpoint.base_url, || {
            timeouts.client_builder()
        })?;
        let mut api_root = endpoint.base_url;
        api_root.set_path(&format!(
            "{}/{version}/",
            api_root.path().trim_end_matches('/')
        ));
        Ok(Self {
            http,
            credentials: endpoint.credentials,
            version,
            api_root,
            calls: Arc::new(Semaphore::new(MAX_CALLS_IN_FLIGHT)),
        })
    }

    pub fn version(&self) -> ApiVersion {
        self.version
    }

    /// `instances.create` with the `Instance` as JSON text (as `launch` builds it), sent
    /// as [`create_call`](Self::create_call) says.
    ///
    /// # Errors
    /// [`ClientError`]; an existing id comes back as `Api` with [`Code::AlreadyExists`].
    pub async fn create_instance(
        &self,
        parent: &str,
        instance_id: &str,
        request_id: Uuid,
        body: &[u8],
    ) -> Result<Operation, ClientError> {
        let (method, path) = self.create_path(parent, instance_id, request_id);
        self.call(method, &path, Some(body)).await
    }

    /// The `instances.create` that [`create_instance`](Self::create_instance) sends, without
    /// its body: what a dry run shows. Both come from one declaration, so what is shown is
    /// what would be sent.
    ///
    /// # Errors
    /// [`ClientError::Path`] when the path cannot sit under the API root, as the create would.
    pub fn create_call(
        &self,
        parent: &str,
        instance_id: &str,
        request_id: Uuid,
    ) -> Result<Call, ClientError> {
        let (method, path) = self.create_path(parent, instance_id, request_id);
        Ok(Call {
            method,
            url: self.url(&path)?,
        })
    }

    /// The method and the path with its query of `instances.create`. v1 has no `requestId`:
    /// it is only sent to v2. A path rather than a URL, because that is what a call carries
    /// while it waits for a slot (see [`call`](Self::call)).
    fn create_path(
        &self,
        parent: &str,
        instance_id: &str,
        request_id: Uuid,
    ) -> (reqwest::Method, String) {
        let mut path = format!("{parent}/instances?instanceId={instance_id}");
        if self.version == ApiVersion::V2 {
            path.push_str(&format!("&requestId={request_id}"));
        }
        (reqwest::Method::POST, path)
    }

    /// `operations.get`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn get_operation(&self, name: &str) -> Result<Operation, ClientError> {
        self.call(reqwest::Method::GET, name, None).await
    }

    /// `instances.get`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn get_instance(&self, name: &str) -> Result<Instance, ClientError> {
        self.call(reqwest::Method::GET, name, None).await
    }

    /// `instances.delete`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn delete_instance(
        &self,
        name: &str,
        request_id: Uuid,
    ) -> Result<Operation, ClientError> {
        let path = match self.version {
            ApiVersion::V2 => format!("{name}?requestId={request_id}"),
            ApiVersion::V1 => name.to_owned(),
        };
        self.call(reqwest::Method::DELETE, &path, None).await
    }

    /// `instances.stop`; stopping a stopped instance is the API's business (it answers the
    /// same operation shape either way).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn stop_instance(&self, name: &str) -> Result<Operation, ClientError> {
        self.call(reqwest::Method::POST, &format!("{name}:stop"), Some(b"{}"))
            .await
    }

    /// `instances.list` under `parent` (`projects/P/locations/Z`) with a filter such as
    /// `labels.managed-by=notebook-trigger`, following every page.
    ///
    /// # Errors
    /// [`ClientError`] of the first page that fails.
    pub async fn list_instances(
        &self,
        parent: &str,
        filter: &str,
    ) -> Result<Vec<Instance>, ClientError> {
        let mut instances = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            // The root's own (empty) query is a form encoder for the page token's characters.
            let mut encoder = self.api_root.clone();
            {
                let mut query = encoder.query_pairs_mut();
                query.append_pair("filter", filter);
                if let Some(token) = &page_token {
                    query.append_pair("pageToken", token);
                }
            }
            let path = format!("{parent}/instances?{}", encoder.query().unwrap_or_default());
            let page: InstancePage = self.call(reqwest::Method::GET, &path, None).await?;
            instances.extend(page.instances);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(token) => page_token = Some(token),
                None => return Ok(instances),
            }
        }
    }

    /// One API call. Boxed because a launch keeps its future for as long as it waits, with
    /// thousands of others: unboxed, the HTTP client's futures would make every waiting launch
    /// kilobytes larger, though they only exist during the call itself.
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        json: Option<&[u8]>,
    ) -> Result<T, ClientError> {
        let queued = tokio::time::Instant::now();
        // Never closed; if it were, the calls would go ahead without a limit.
        let _permit = self.calls.acquire().await;
        let waited = queued.elapsed();
        if waited >= SLOW_SLOT {
            tracing::info!(
                waited_ms = waited.as_millis() as u64,
                limit = MAX_CALLS_IN_FLIGHT,
                "waited for a free API call slot"
            );
        }
        Box::pin(self.exchange(method, path, json)).await
    }

    /// The URL of `path` (`projects/…`, with its query) under the API root. "./": whatever the
    /// path holds (an operation name comes from the server), it stays a path under the root and
    /// can never name another scheme or host.
    fn url(&self, path: &str) -> Result<Url, ClientError> {
        self.api_root
            .join(&format!("./{path}"))
            .map_err(|source| ClientError::Path {
                url: self.shown_url(path),
                source: source.into(),
            })
    }

    /// The URL of `path` for an error message, built only when one is needed, so that a call
    /// does not copy its URL.
    fn shown_url(&self, path: &str) -> String {
        format!("{}{path}", self.api_root)
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        json: Option<&[u8]>,
    ) -> Result<T, ClientError> {
        let url = self.url(path)?;
        let transport = |spoken: Option<&'static str>| {
            move |source: reqwest::Error| ClientError::Transport {
                url: self.shown_url(path),
                spoken,
                source: source.without_url(),
            }
        };
        let speaker = self.http.speaker().await.map_err(transport(None))?;
        let transport = transport(speaker.spoken);
        let mut request = speaker.http.request(method, url);
        if let Some(authorization) = self.credentials.authorization().await? {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        if let Some(json) = json {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.to_vec());
        }
        // The URL is in the error once, ours; reqwest's copy would repeat it in the chain.
        let response = request.send().await.map_err(transport)?;
        let http = response.status().as_u16();
        // Bytes, not text: a success is parsed straight from them, without a UTF-8 pass and a
        // copy into a String on every call.
        let bytes = response.bytes().await.map_err(|source| ClientError::Cut {
            url: self.shown_url(path),
            source: source.without_url(),
        })?;
        if !(200..300).contains(&http) {
            return Err(ClientError::Api {
                http,
                status: model::error_status(http, &String::from_utf8_lossy(&bytes)),
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
            url: self.shown_url(path),
            source,
        })
    }
}

#[cfg(test)]
mod tests;
