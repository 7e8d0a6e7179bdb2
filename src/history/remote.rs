//! The history as a running service shows it (`GET /runs`, `GET /runs/{run id}`), for a
//! terminal that has no configuration of its own or whose only way in is
//! `gcloud run services proxy`: the service's settings, credentials and access rules apply.
//!
//! The filter goes to the service as typed, so the service's parser (the same one) decides,
//! and its refusal comes back with its status and message. An operator's rerun, cancel and
//! "run now" go the same way ([`act`]), as JSON to the service's operator routes.

use reqwest::{StatusCode, Url};

use super::{FilterText, Listing, RunDetail};
use crate::run::RunId;

/// How long the service gets to answer: it reads Cloud Storage and lists instances first.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long an operator's request may take: a rerun or a "run now" answers once its instance
/// is up, within the service's `POLL_TIMEOUT` (at most 600 s, Pub/Sub's push deadline).
const ACT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(660);

/// Why the service gave no history.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{url} cannot be asked")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}: {message}")]
    Refused {
        url: String,
        status: StatusCode,
        message: String,
    },
    #[error("{url} answered something that is not a run history")]
    Unreadable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
}

/// `GET /runs` with the filter as typed.
///
/// # Errors
/// [`RemoteError`].
pub async fn listing(service: &Url, filter: &FilterText) -> Result<Listing, RemoteError> {
    let mut url = endpoint(service, &["runs"]);
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in [
            ("since", filter.since.clone()),
            ("profile", filter.profile.clone()),
            ("state", filter.state.clone()),
            ("limit", filter.limit.map(|l| l.to_string())),
        ] {
            if let Some(value) = value {
                query.append_pair(name, &value);
            }
        }
    }
    get(url).await
}

/// `GET /runs/{run id}`.
///
/// # Errors
/// [`RemoteError`]; an unknown run is the service's 404.
pub async fn run(service: &Url, run: &RunId) -> Result<RunDetail, RemoteError> {
    get(endpoint(service, &["runs", run.as_str()])).await
}

/// `segments` below the service's own path (a proxy may serve it under one).
fn endpoint(service: &Url, segments: &[&str]) -> Url {
    let mut url = service.clone();
    url.set_query(None);
    url.path_segments_mut()
        .expect("an http(s) URL has path segments")
        .pop_if_empty()
        .extend(segments);
    url
}

/// `POST` of `body` (JSON) to `segments` below the service, as an operator: its answer.
///
/// # Errors
/// [`RemoteError`]; the service's refusal with its status and message.
pub async fn act(
    service: &Url,
    segments: &[&str],
    body: &serde_json::Value,
) -> Result<serde_json::Value, RemoteError> {
    let url = endpoint(service, segments);
    let request = reqwest::Client::new()
        .post(url.clone())
        .json(body)
        .timeout(ACT_TIMEOUT);
    send(url, request).await
}

async fn get<T: serde::de::DeserializeOwned>(url: Url) -> Result<T, RemoteError> {
    let request = reqwest::Client::new().get(url.clone()).timeout(TIMEOUT);
    send(url, request).await
}

async fn send<T: serde::de::DeserializeOwned>(
    url: Url,
    request: reqwest::RequestBuilder,
) -> Result<T, RemoteError> {
    let shown = url.to_string();
    let response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|source| RemoteError::Unreachable {
            url: shown.clone(),
            source,
        })?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|body| body["error"].as_str().map(str::to_owned))
            .unwrap_or(text);
        return Err(RemoteError::Refused {
            url: shown,
            status,
            message,
        });
    }
    response
        .json()
        .await
        .map_err(|source| RemoteError::Unreadable { url: shown, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routes_sit_below_the_service_path() {
        let run = RunId::derive("pubsub:1");
        for (base, expected) in [
            ("http://localhost:8080", "http://localhost:8080/runs"),
            ("http://localhost:8080/", "http://localhost:8080/runs"),
            (
                "https://proxy.example/nt/?x=1",
                "https://proxy.example/nt/runs",
            ),
        ] {
            let base = Url::parse(base).unwrap();
            assert_eq!(endpoint(&base, &["runs"]).as_str(), expected);
        }
        let base = Url::parse("http://localhost:8080").unwrap();
        assert_eq!(
            endpoint(&base, &["runs", run.as_str()]).as_str(),
            format!("http://localhost:8080/runs/{run}")
        );
    }
}
