//! Authenticated push: only Pub/Sub, speaking for an allowed service account, may launch.
//!
//! Anyone who can reach the endpoint could otherwise create (paid) instances. With
//! `PUSH_AUTH_AUDIENCE` set, every request must carry the OIDC token Pub/Sub attaches
//! (`Authorization: Bearer <JWT>`), and it is checked the way Google's own samples say to,
//! including what they leave out: RS256 only, the key picked by `kid` from Google's JWKS,
//! `iss`, `aud`, `exp`/`iat` with at most 60 s of leeway, and `email` among
//! `PUSH_AUTH_SERVICE_ACCOUNTS` with `email_verified`.
//!
//! Built on jsonwebtoken with a JWKS cache of our own rather than google-cloud-auth's
//! `idtoken` verifier: that one takes the algorithm from the token header, caches keys for a
//! fixed hour whatever `Cache-Control` says, fetches the JWKS again for every unknown `kid`
//! (so garbage tokens turn into requests to Google), uses a client without timeouts, fails
//! concurrent verifications while one holds its cache lock, and checks a single email.
//!
//! Failures are split by what the caller can do about them: no or unreadable token, or a
//! token that fails a check, is 401; a valid Google token for an account that is not allowed
//! (or not verified) is 403; keys that cannot be fetched are 503, so Pub/Sub redelivers
//! instead of an outage becoming a permanent refusal.
//!
//! - `verify`: reading the bearer token and every check of its header and claims.
//! - `jwks`: Google's signing keys, fetched, cached and refreshed within bounds.

mod jwks;
mod verify;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;

use crate::notebooks::client::Timeouts;
use jwks::Jwks;

pub use jwks::{FAILED_FETCH_PAUSE, KeysError, UNKNOWN_KID_REFRESH};
pub use verify::{Claims, ComputeEngine, GoogleClaims, bearer_in};

/// Where Google publishes the keys that sign its ID tokens.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// Both spellings Google uses for its ID tokens' issuer.
pub const ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];

/// Clock difference tolerated on `exp` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(60);

/// What the deployment asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushAuthMode {
    /// No `PUSH_AUTH_AUDIENCE`: requests are not checked here (Cloud Run IAM may check them).
    Unset,
    /// `PUSH_AUTH=off`: the same, chosen explicitly.
    Off,
    /// Every request needs a token.
    Verify(VerifySettings),
}

/// The checks a token must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySettings {
    /// `PUSH_AUTH_AUDIENCE`: the subscription's `--push-auth-token-audience`.
    pub audience: String,
    /// `PUSH_AUTH_SERVICE_ACCOUNTS`: emails that may push.
    pub service_accounts: BTreeSet<String>,
    /// `PUSH_AUTH_JWKS_URL`: Google's JWKS, or a test server's.
    pub jwks_url: String,
}

/// Why a request was not let through. `answer` maps each to 401, 403 or 503.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("no `Authorization: Bearer` token")]
    Missing,
    #[error("the bearer token is not a readable JWT: {0}")]
    Unreadable(String),
    #[error("the bearer token was refused: {0}")]
    Rejected(String),
    #[error("the token's email `{0}` is not in PUSH_AUTH_SERVICE_ACCOUNTS")]
    AccountNotAllowed(String),
    #[error("the token's email `{0}` is not verified")]
    EmailNotVerified(String),
    #[error("Google's token signing keys cannot be fetched; try again")]
    KeysUnavailable(#[source] Arc<KeysError>),
}

/// Checks the tokens on push requests.
pub struct TokenVerifier {
    audience: String,
    service_accounts: BTreeSet<String>,
    keys: Jwks,
}

impl fmt::Debug for TokenVerifier {
    /// Names the audience, accounts and key ids; never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("audience", &self.audience)
            .field("service_accounts", &self.service_accounts)
            .field("keys", &self.keys)
            .finish()
    }
}

impl TokenVerifier {
    /// # Errors
    /// When the HTTP client for the JWKS cannot be built.
    pub fn new(settings: &VerifySettings, timeouts: Timeouts) -> Result<Self, reqwest::Error> {
        Ok(Self {
            audience: settings.audience.clone(),
            service_accounts: settings.service_accounts.clone(),
            keys: Jwks::new(settings.jwks_url.clone(), timeouts)?,
        })
    }

    /// Checks the request's bearer token; returns the caller's email.
    ///
    /// # Errors
    /// [`TokenError`] saying which check failed; never the token itself.
    pub async fn check(&self, headers: &HeaderMap) -> Result<String, TokenError> {
        self.verify(verify::bearer(headers)?).await
    }

    /// Checks the request's bearer token but not its account, and returns what it says: for
    /// callers whose account is decided elsewhere (a run's VM, by its instance). The verifier's
    /// `service_accounts` are not consulted.
    ///
    /// # Errors
    /// [`TokenError`] saying which check failed; never the token itself.
    pub async fn claims(&self, headers: &HeaderMap) -> Result<Claims, TokenError> {
        self.verify_claims(verify::bearer(headers)?).await
    }

    /// Checks `token` as [`TokenVerifier::claims`] checks a request's: for tokens carried
    /// elsewhere than `Authorization`.
    ///
    /// # Errors
    /// [`TokenError`] saying which check failed; never the token itself.
    pub async fn claims_of(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_claims(token).await
    }
}
