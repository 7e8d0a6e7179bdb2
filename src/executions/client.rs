//! HTTP calls to `notebookExecutionJobs` and their operations: one shared reqwest client
//! with the service's timeouts, a fresh token per call, and every failure an
//! [`ExecutionsError`] that says whether trying again can help.
//!
//! Google serves the API per region (`https://{region}-aiplatform.googleapis.com/v1/`), so
//! the host of each call comes from the region in the name it acts on; an emulator serves
//! every region on its one host (`http://HOST/v1/`), beside its Notebooks API. A region is
//! held to `[a-z0-9-]` before it becomes part of a host name: an operation's name comes from
//! the server, and must not be able to send the next call (with its token) anywhere else.

use reqwest::Url;
use serde::de::DeserializeOwned;

use super::model::{Job, JobPage};
use crate::credentials::{Credentials, CredentialsError};
use crate::notebooks::model::{MalformedOperation, error_status};
use crate::notebooks::{Call, Code, Operation, Status};

/// A failed call. Each says only its own part; the cause underneath is its `source()`.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionsError {
    #[error("cannot reach the Vertex AI API ({url})")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the answer of the Vertex AI API was cut off ({url})")]
    Cut {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("no access token for the Vertex AI API")]
    Credentials(#[from] CredentialsError),
    #[error("the Vertex AI API answered HTTP {http} {status}")]
    Api { http: u16, status: Status },
    #[error("unexpected answer from {url}")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{name}` is not a name under projects/P/locations/REGION/")]
    Name { name: String },
    #[error(transparent)]
    Malformed(#[from] MalformedOperation),
}

impl ExecutionsError {
    /// The canonical code, when the API answered with one.
    pub fn code(&self) -> Option<Code> {
        match self {
            ExecutionsError::Api { status, .. } => Some(status.code),
            _ => None,
        }
    }

    /// The job (or operation) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(Code::NotFound)
    }

    /// The job id is taken.
    pub fn is_already_exists(&self) -> bool {
        self.code() == Some(Code::AlreadyExists)
    }

    /// Whether the same call may succeed later without anyone changing anything: the API's
    /// transient codes, and every failure that never got an answer from it.
    pub fn is_transient(&self) -> bool {
        match self {
            ExecutionsError::Api { status, .. } => status.code.is_transient(),
            ExecutionsError::Name { .. } | ExecutionsError::Malformed(_) => false,
            ExecutionsError::Transport { .. }
            | ExecutionsError::Cut { .. }
            | ExecutionsError::Credentials(_)
            | ExecutionsError::Decode { .. } => true,
        }
    }
}

/// Where the API is.
#[derive(Debug, Clone)]
pub enum ExecutionsEndpoint {
    /// `https://{region}-aiplatform.googleapis.com`.
    Google,
    /// An emulator's `http://HOST:PORT/`, for every region.
    Emulator(Url),
}

/// The `notebookExecutionJobs` client; cheap to clone, holds one connection pool.
#[derive(Debug, Clone)]
pub struct ExecutionsClient {
    http: reqwest::Client,
    credentials: Credentials,
    endpoint: ExecutionsEndpoint,
}

impl ExecutionsClient {
    pub fn new(
        http: reqwest::Client,
        credentials: Credentials,
        endpoint: ExecutionsEndpoint,
    ) -> Self {
        Self {
            http,
            credentials,
            endpoint,
        }
    }

    /// `notebookExecutionJobs.create` under `parent` (`projects/P/locations/R`) with the job
    /// as JSON text, sent as [`create_call`](Self::create_call) says.
    ///
    /// # Errors
    /// [`ExecutionsError`]; a taken id comes back as `Api` with [`Code::AlreadyExists`].
    pub async fn create(
        &self,
        parent: &str,
        job_id: &str,
        body: &[u8],
    ) -> Result<Operation, ExecutionsError> {
        let call = self.create_call(parent, job_id)?;
        self.exchange(call, Some(body)).await
    }

    /// The create [`create`](Self::create) sends, without its body: what a dry run shows.
    ///
    /// # Errors
    /// [`ExecutionsError::Name`] for a parent that is not `projects/P/locations/R`.
    pub fn create_call(&self, parent: &str, job_id: &str) -> Result<Call, ExecutionsError> {
        let mut url = self.url(parent, "/notebookExecutionJobs")?;
        url.query_pairs_mut()
            .append_pair("notebookExecutionJobId", job_id);
        Ok(Call {
            method: reqwest::Method::POST,
            url,
        })
    }

    /// `operations.get`.
    ///
    /// # Errors
    /// [`ExecutionsError`].
    pub async fn get_operation(&self, name: &str) -> Result<Operation, ExecutionsError> {
        self.get(name).await
    }

    /// `notebookExecutionJobs.get`.
    ///
    /// # Errors
    /// [`ExecutionsError`]; a job that is gone is `Api` with [`Code::NotFound`].
    pub async fn get_job(&self, name: &str) -> Result<Job, ExecutionsError> {
        self.get(name).await
    }

    /// `notebookExecutionJobs.delete`: the v1 API's only way to stop a job.
    ///
    /// # Errors
    /// [`ExecutionsError`].
    pub async fn delete_job(&self, name: &str) -> Result<Operation, ExecutionsError> {
        let call = Call {
            method: reqwest::Method::DELETE,
            url: self.url(name, "")?,
        };
        self.exchange(call, None).await
    }

    /// `notebookExecutionJobs.list` under `parent` with `filter` (the API's syntax, e.g.
    /// `displayName="r0123456789abcdef"`), following every page.
    ///
    /// # Errors
    /// [`ExecutionsError`] of the first page that fails.
    pub async fn list_jobs(&self, parent: &str, filter: &str) -> Result<Vec<Job>, ExecutionsError> {
        let mut jobs = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.url(parent, "/notebookExecutionJobs")?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("filter", filter);
                if let Some(token) = &page_token {
                    query.append_pair("pageToken", token);
                }
            }
            let call = Call {
                method: reqwest::Method::GET,
                url,
            };
            let page: JobPage = self.exchange(call, None).await?;
            jobs.extend(page.notebook_execution_jobs);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(token) => page_token = Some(token),
                None => return Ok(jobs),
            }
        }
    }

    async fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T, ExecutionsError> {
        let call = Call {
            method: reqwest::Method::GET,
            url: self.url(name, "")?,
        };
        self.exchange(call, None).await
    }

    /// The URL of `name` (`projects/P/locations/R/…`) followed by `tail`, on the host of its
    /// region.
    fn url(&self, name: &str, tail: &str) -> Result<Url, ExecutionsError> {
        let refused = || ExecutionsError::Name {
            name: name.chars().take(200).collect(),
        };
        let parts: Vec<&str> = name.split('/').collect();
        let safe = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        let region = match parts[..] {
            ["projects", project, "locations", region, ..]
                if safe(project)
                    && parts.iter().all(|part| safe(part))
                    && region
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') =>
            {
                region
            }
            _ => return Err(refused()),
        };
        let root = match &self.endpoint {
            ExecutionsEndpoint::Google => format!("https://{region}-aiplatform.googleapis.com/"),
            ExecutionsEndpoint::Emulator(base) => base.as_str().to_owned(),
        };
        let root = Url::parse(&root).map_err(|_| refused())?;
        root.join(&format!("./v1/{name}{tail}"))
            .map_err(|_| refused())
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        call: Call,
        json: Option<&[u8]>,
    ) -> Result<T, ExecutionsError> {
        let shown = call
            .url
            .as_str()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut request = self.http.request(call.method, call.url);
        if let Some(authorization) = self.credentials.authorization().await? {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        if let Some(json) = json {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.to_vec());
        }
        let response = request
            .send()
            .await
            .map_err(|source| ExecutionsError::Transport {
                url: shown.clone(),
                source: source.without_url(),
            })?;
        let http = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| ExecutionsError::Cut {
                url: shown.clone(),
                source: source.without_url(),
            })?;
        if !(200..300).contains(&http) {
            return Err(ExecutionsError::Api {
                http,
                status: error_status(http, &String::from_utf8_lossy(&bytes)),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|source| ExecutionsError::Decode { url: shown, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(endpoint: ExecutionsEndpoint) -> ExecutionsClient {
        ExecutionsClient::new(reqwest::Client::new(), Credentials::Anonymous, endpoint)
    }

    #[test]
    fn each_region_has_its_host_and_an_emulator_serves_them_all() {
        let google = client(ExecutionsEndpoint::Google);
        let call = google
            .create_call(
                "projects/p/locations/us-central1",
                "notebook-r0123456789abcdef",
            )
            .unwrap();
        assert_eq!(
            call.url.as_str(),
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/notebookExecutionJobs?notebookExecutionJobId=notebook-r0123456789abcdef"
        );
        let emulator = client(ExecutionsEndpoint::Emulator(
            Url::parse("http://127.0.0.1:8085/").unwrap(),
        ));
        let url = emulator
            .url("projects/p/locations/europe-west4/operations/o1", "")
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8085/v1/projects/p/locations/europe-west4/operations/o1"
        );
    }

    #[test]
    fn a_name_from_the_server_cannot_send_a_call_elsewhere() {
        let google = client(ExecutionsEndpoint::Google);
        for bad in [
            "projects/p/locations/evil.com#/operations/o",
            "projects/p/locations/us-central1/../../x",
            "projects/p/locations/a@b/operations/o",
            "//evil.com/v1/x",
            "projects/p",
            "projects/p/locations/US/operations/o",
            "projects/p/locations/us-central1/operations/o?x=1",
        ] {
            assert!(
                matches!(google.url(bad, ""), Err(ExecutionsError::Name { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_say_whether_trying_again_can_help() {
        let api = |code: Code| ExecutionsError::Api {
            http: code.http_status().as_u16(),
            status: Status {
                code,
                message: String::new(),
            },
        };
        assert!(api(Code::AlreadyExists).is_already_exists());
        assert!(api(Code::NotFound).is_not_found());
        assert!(api(Code::Unavailable).is_transient());
        assert!(!api(Code::InvalidArgument).is_transient());
        assert!(!ExecutionsError::Name { name: "x".into() }.is_transient());
    }
}
