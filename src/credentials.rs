//! Credentials for Google APIs: Application Default Credentials through gcp_auth, or none at
//! all when talking to an emulator.
//!
//! gcp_auth looks, in order, at `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's ADC file, the
//! metadata server (what Cloud Run provides) and `gcloud auth print-access-token`. It caches and
//! refreshes tokens itself, so callers ask for a token on every request.

use std::fmt;
use std::sync::Arc;

/// The one scope the Notebooks API needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Where access tokens come from.
#[derive(Clone)]
pub enum Credentials {
    /// Emulators take no credentials; sending none keeps tokens away from them.
    Anonymous,
    Google(Arc<dyn gcp_auth::TokenProvider>),
}

impl fmt::Debug for Credentials {
    /// Never prints key material: only which kind of credentials are in use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Credentials::Anonymous"),
            Credentials::Google(_) => f.write_str("Credentials::Google(<redacted>)"),
        }
    }
}

/// Credentials could not be found or could not produce what was asked of them; the source is
/// gcp_auth's own account of why.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "no Google credentials found (set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or run on Google Cloud)"
    )]
    NotFound(#[source] gcp_auth::Error),
    #[error("the Google credentials gave no access token")]
    Token(#[source] gcp_auth::Error),
    #[error("the Google credentials name no project")]
    Project(#[source] gcp_auth::Error),
    #[error("emulator credentials name no project")]
    Anonymous,
}

impl Credentials {
    /// Application Default Credentials.
    ///
    /// # Errors
    /// [`CredentialsError::NotFound`] when no source of credentials is available.
    pub async fn detect() -> Result<Self, CredentialsError> {
        gcp_auth::provider()
            .await
            .map(Credentials::Google)
            .map_err(CredentialsError::NotFound)
    }

    /// The `Authorization` header value, if these credentials send one.
    ///
    /// # Errors
    /// [`CredentialsError::Token`] when a token cannot be obtained (a transient condition: the
    /// metadata server or the token endpoint did not answer).
    pub async fn authorization(&self) -> Result<Option<String>, CredentialsError> {
        Ok(self
            .access_token()
            .await?
            .map(|token| format!("Bearer {token}")))
    }

    /// The access token itself, for clients that set the header themselves.
    ///
    /// # Errors
    /// As [`Credentials::authorization`].
    pub async fn access_token(&self) -> Result<Option<String>, CredentialsError> {
        match self {
            Credentials::Anonymous => Ok(None),
            Credentials::Google(provider) => {
                let token = provider
                    .token(&[SCOPE])
                    .await
                    .map_err(CredentialsError::Token)?;
                Ok(Some(token.as_str().to_owned()))
            }
        }
    }

    /// The project the credentials belong to (the metadata server's, on Cloud Run).
    ///
    /// # Errors
    /// [`CredentialsError`] when the credentials do not name a project.
    pub async fn project_id(&self) -> Result<String, CredentialsError> {
        match self {
            Credentials::Anonymous => Err(CredentialsError::Anonymous),
            Credentials::Google(provider) => provider
                .project_id()
                .await
                .map(|p| p.to_string())
                .map_err(CredentialsError::Project),
        }
    }
}
