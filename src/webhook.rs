//! Webhooks: a JSON body POSTed to a URL someone configured, tried again while it may still
//! succeed.
//!
//! A receiver that is down, overloaded or rate limiting (a network error, a 5xx, a 429) is
//! tried again after a growing delay, a bounded number of times and within a bounded time,
//! each attempt under its own timeout; one that refuses the request (any other 4xx) would
//! refuse it again, so it is not. A redirect is followed only to the same scheme, host and
//! port: a webhook that answers with a redirect elsewhere cannot make the service send its
//! body somewhere nobody configured. The URL is never logged (a webhook URL is a credential);
//! its host is.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::{StatusCode, Url, redirect};
use tokio_util::sync::CancellationToken;

use crate::cause;
use crate::poll::Backoff;

/// The most redirects followed, all on the webhook's own host.
const MAX_REDIRECTS: usize = 3;
/// How much of a refusal's body is kept to say why.
const MAX_REASON_BYTES: usize = 200;

/// How often and how long a delivery is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The delays between attempts.
    pub backoff: Backoff,
    /// No attempt starts later than this after the first.
    pub within: Duration,
    /// Each attempt's limit, connecting included.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 5,
            backoff: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(30),
            },
            within: Duration::from_secs(120),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// The delay before each attempt after the first, as long as they start within
    /// [`Retry::within`].
    pub fn delays(&self) -> Vec<Duration> {
        let mut total = Duration::ZERO;
        (0..self.attempts.saturating_sub(1))
            .map(|n| self.backoff.delay(n))
            .take_while(|delay| {
                total += *delay;
                total <= self.within
            })
            .collect()
    }
}

/// Why one attempt did not deliver.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("answered {status}{}", reason(.body))]
    Status {
        status: StatusCode,
        /// The start of the answer's body, which often says why.
        body: String,
        /// What `Retry-After` asked for, on a 429 or 503.
        retry_after: Option<Duration>,
    },
    #[error("could not be reached")]
    Network(#[source] reqwest::Error),
}

fn reason(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

impl AttemptError {
    /// Whether the same request may succeed later: the receiver was unreachable, failed, or
    /// asked to slow down.
    pub fn retryable(&self) -> bool {
        match self {
            AttemptError::Network(_) => true,
            AttemptError::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
        }
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered {
        attempts: u32,
    },
    /// The receiver refused it, or every attempt failed: the last error.
    Failed {
        attempts: u32,
        error: String,
    },
    /// The service is shutting down; the delivery stopped before it was done.
    Stopped {
        attempts: u32,
    },
}

/// POSTs JSON to webhooks; one client for the service.
#[derive(Debug, Clone)]
pub struct Webhooks {
    http: reqwest::Client,
    retry: Retry,
}

impl Webhooks {
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots).
    pub fn new(retry: Retry) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(retry.timeout)
            .connect_timeout(retry.timeout)
            .redirect(redirect::Policy::custom(same_origin_only))
            .build()?;
        Ok(Self { http, retry })
    }

    /// One POST of `body` to `url`.
    ///
    /// # Errors
    /// [`AttemptError`]: the answer was not a success, or there was none.
    pub async fn post_once(&self, url: &Url, body: &serde_json::Value) -> Result<(), AttemptError> {
        let response = self
            .http
            .post(url.clone())
            .json(body)
            .send()
            .await
            .map_err(AttemptError::Network)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut response = response;
        let start = match response.chunk().await {
            Ok(Some(bytes)) => bytes,
            _ => Default::default(),
        };
        let body = String::from_utf8_lossy(&start[..start.len().min(MAX_REASON_BYTES)])
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        Err(AttemptError::Status {
            status,
            body,
            retry_after,
        })
    }

    /// POSTs `body` to `url` until it is delivered, refused, out of attempts or time, or
    /// `cancel` fires; logs each attempt and the result.
    pub async fn deliver(
        &self,
        url: &Url,
        body: &serde_json::Value,
        cancel: &CancellationToken,
    ) -> Delivery {
        let destination = url.host_str().unwrap_or_default();
        let mut delays = self.retry.delays().into_iter();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = tokio::select! {
                () = cancel.cancelled() => return stopped(attempts - 1, destination),
                outcome = self.post_once(url, body) => outcome,
            };
            let error = match outcome {
                Ok(()) => {
                    tracing::info!(destination, attempt = attempts, "webhook delivered");
                    return Delivery::Delivered { attempts };
                }
                Err(error) => error,
            };
            let said = cause::chain(&error).to_string();
            let delay = delays.next().filter(|_| error.retryable());
            let Some(delay) = delay else {
                tracing::warn!(destination, attempt = attempts, error = %said, "webhook not delivered; giving up");
                return Delivery::Failed {
                    attempts,
                    error: said,
                };
            };
            let delay = match &error {
                AttemptError::Status {
                    retry_after: Some(asked),
                    ..
                } => delay.max(*asked).min(self.retry.backoff.max),
                _ => delay,
            };
            tracing::warn!(destination, attempt = attempts, error = %said, retry_in = ?delay, "webhook not delivered; trying again");
            tokio::select! {
                () = cancel.cancelled() => return stopped(attempts, destination),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }
}

fn stopped(attempts: u32, destination: &str) -> Delivery {
    tracing::warn!(
        destination,
        attempts,
        "webhook not delivered: the service is stopping"
    );
    Delivery::Stopped { attempts }
}

/// Follows a redirect only to the scheme, host and port first asked, and only a few times.
fn same_origin_only(attempt: redirect::Attempt<'_>) -> redirect::Action {
    let Some(first) = attempt.previous().first() else {
        return attempt.stop();
    };
    let same = attempt.url().scheme() == first.scheme()
        && attempt.url().host_str() == first.host_str()
        && attempt.url().port_or_known_default() == first.port_or_known_default();
    if same && attempt.previous().len() <= MAX_REDIRECTS {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
