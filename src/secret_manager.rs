//! Secret Manager as the service reads it: one secret version's payload, with the service's
//! own credentials, from Google's API or from the Notebooks emulator's (which serves the same
//! `v1/{name}:access` under `/secretmanager/` on its port).
//!
//! The service reads a secret only when it needs it and keeps it in memory only for that use,
//! so a rotated version (`…/versions/latest`) is picked up at the next read and no value is
//! ever logged or written.

use base64::Engine as _;
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::credentials::{Credentials, CredentialsError};

/// Google's Secret Manager API.
pub const GOOGLE_SECRET_MANAGER: &str = "https://secretmanager.googleapis.com/";
/// The largest payload Secret Manager holds (64 KiB); nothing larger is read.
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no access token for Secret Manager")]
    Credentials(#[source] CredentialsError),
    #[error("Secret Manager cannot be reached")]
    Network(#[source] reqwest::Error),
    #[error(
        "Secret Manager answered {status} for {version}: {message} (grant the service's account roles/secretmanager.secretAccessor on the secret)"
    )]
    Refused {
        version: String,
        status: StatusCode,
        message: String,
    },
    #[error("the payload of {version} is not UTF-8 text of at most 64 KiB")]
    Payload { version: String },
}

/// Reads secret versions.
#[derive(Debug, Clone)]
pub struct SecretManager {
    http: reqwest::Client,
    /// `https://secretmanager.googleapis.com/` or `http://EMULATOR/secretmanager/`.
    base: Url,
    credentials: Credentials,
}

#[derive(Deserialize)]
struct Access {
    payload: Payload,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    data: String,
}

impl SecretManager {
    pub fn new(http: reqwest::Client, base: Url, credentials: Credentials) -> Self {
        Self {
            http,
            base,
            credentials,
        }
    }

    /// The payload of `version` (`projects/P/secrets/S/versions/V`), as text.
    ///
    /// # Errors
    /// [`SecretError`] saying why, never the payload.
    pub async fn access(&self, version: &str) -> Result<String, SecretError> {
        let url = self
            .base
            .join(&format!("v1/{version}:access"))
            .map_err(|_| SecretError::Payload {
                version: version.to_owned(),
            })?;
        let mut request = self.http.get(url);
        if let Some(token) = self
            .credentials
            .access_token()
            .await
            .map_err(SecretError::Credentials)?
        {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(SecretError::Network)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(SecretError::Network)?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(SecretError::Refused {
                version: version.to_owned(),
                status,
                message,
            });
        }
        let payload = || SecretError::Payload {
            version: version.to_owned(),
        };
        let access: Access = serde_json::from_slice(&bytes).map_err(|_| payload())?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(access.payload.data.trim())
            .map_err(|_| payload())?;
        if data.len() > MAX_PAYLOAD_BYTES {
            return Err(payload());
        }
        String::from_utf8(data).map_err(|_| payload())
    }
}
