//! Who may read the run history: the check in front of `GET /runs` and `GET /runs/{run id}`.
//!
//! With `RUNS_READERS`, the caller's email must be on the list, taken from a Google ID token
//! in one of the two headers Cloud Run reads:
//!
//! - `X-Serverless-Authorization`, which `gcloud run services proxy` sets (its proxy puts the
//!   active account's gcloud ID token there). Cloud Run checks that token (signature,
//!   audience, `run.invoker`) and forwards it with the signature replaced by
//!   `SIGNATURE_REMOVED_BY_GOOGLE`, so such a token is read, not verified, here: its issuer,
//!   expiry and verified email are checked, and Cloud Run's IAM check is what makes it true.
//!   That holds only on a service deployed `--no-allow-unauthenticated`, as `deploy/` does.
//!   A token in this header that still carries a signature is verified in full.
//! - `Authorization: Bearer`, verified in full here: signature under Google's keys, issuer,
//!   `RUNS_AUTH_AUDIENCE`, expiry, then the email.
//!
//! `RUNS_AUTH=off` lets every request through (Cloud Run IAM alone decides); with neither set
//! the routes answer 403 naming both, except in the embedded demo, where callers on loopback
//! may read. The accounts of `RUNS_OPERATORS` read too, on the same check; what more they may
//! do is `operators`'s to say.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, header};
use base64::Engine as _;
use serde::Deserialize;

use crate::notebooks::client::Timeouts;
use crate::push_token::{self, ISSUERS, LEEWAY, TokenError, TokenVerifier, VerifySettings};

/// What the deployment said about reading runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunsAuthMode {
    /// Neither variable: refused with 403 naming both, except in the embedded demo (start-up
    /// opens it to loopback callers there).
    Unset,
    /// `RUNS_AUTH=off`: not checked here; Cloud Run IAM must protect the service.
    Off,
    /// `RUNS_READERS`: only these accounts, on tokens checked here.
    Readers(ReaderSettings),
}

/// The checks a reader's token must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderSettings {
    /// Emails of the accounts that may read.
    pub readers: BTreeSet<String>,
    /// Emails of the accounts that may also act on runs (`RUNS_OPERATORS`).
    pub operators: BTreeSet<String>,
    /// `aud` of a signed token in `Authorization` (`RUNS_AUTH_AUDIENCE`).
    pub audience: String,
    /// `PUSH_AUTH_JWKS_URL`: Google's keys, or a test server's.
    pub jwks_url: String,
}

/// gcloud's OAuth client id: the `aud` of every ID token gcloud mints for its active account
/// (`gcloud auth print-identity-token`, and what `gcloud run services proxy` sends).
pub const GCLOUD_CLIENT_ID: &str = "32555940559.apps.googleusercontent.com";

/// The header Cloud Run checks first, and forwards without the signature.
pub const SERVERLESS_AUTHORIZATION: HeaderName =
    HeaderName::from_static("x-serverless-authorization");

/// What Cloud Run puts where the signature of a token it checked was.
const SIGNATURE_REMOVED: &str = "SIGNATURE_REMOVED_BY_GOOGLE";

/// The check, as the deployment chose it.
#[derive(Debug)]
pub enum Readers {
    /// Neither `RUNS_READERS` nor `RUNS_AUTH`: every request is refused.
    NotConfigured,
    /// `RUNS_AUTH=off`.
    Open,
    /// The embedded demo with nothing configured: callers on this machine.
    Loopback,
    /// `RUNS_READERS`.
    /// Boxed: held once for the service's life, it need not size the other variants.
    Listed {
        accounts: BTreeSet<String>,
        operators: BTreeSet<String>,
        verifier: Box<TokenVerifier>,
    },
}

/// Why a request may not read runs. `answer` maps each to 401, 403 or 503.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "reading runs is not configured: set RUNS_READERS (the accounts that may read, checked \
         on Google-signed ID tokens) or RUNS_AUTH=off (Cloud Run IAM alone decides who reads)"
    )]
    NotConfigured,
    #[error(
        "the embedded demo shows runs to callers on this machine only, not to {0}; set \
         RUNS_READERS or RUNS_AUTH=off"
    )]
    NotLoopback(String),
    #[error(transparent)]
    Token(TokenError),
    #[error("the token's email `{0}` is not in RUNS_READERS or RUNS_OPERATORS")]
    NotAReader(String),
    #[error("the token's email `{0}` is not verified")]
    EmailNotVerified(String),
}

/// Who is reading: an email, or why none is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    Account(String),
    /// `RUNS_AUTH=off`: whoever Cloud Run let in.
    Unchecked,
    /// A caller on this machine, in the embedded demo.
    Loopback,
}

/// The claims read from a token Cloud Run has checked.
#[derive(Debug, Deserialize)]
struct ForwardedClaims {
    iss: String,
    exp: i64,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
}

impl Readers {
    /// The check `mode` asks for; `embedded` opens an unconfigured demo to loopback.
    ///
    /// # Errors
    /// When the HTTP client for the JWKS cannot be built.
    pub fn new(
        mode: &RunsAuthMode,
        embedded: bool,
        timeouts: Timeouts,
    ) -> Result<Self, reqwest::Error> {
        Ok(match mode {
            RunsAuthMode::Unset if embedded => Readers::Loopback,
            RunsAuthMode::Unset => Readers::NotConfigured,
            RunsAuthMode::Off => Readers::Open,
            RunsAuthMode::Readers(ReaderSettings {
                readers,
                operators,
                audience,
                jwks_url,
            }) => Readers::Listed {
                accounts: readers.clone(),
                operators: operators.clone(),
                verifier: Box::new(TokenVerifier::new(
                    &VerifySettings {
                        audience: audience.clone(),
                        service_accounts: BTreeSet::new(),
                        jwks_url: jwks_url.clone(),
                    },
                    timeouts,
                )?),
            },
        })
    }

    /// Whether this request may read, and as whom.
    ///
    /// # Errors
    /// [`ReadError`] saying what is missing or refused; never a token.
    pub async fn check(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<Reader, ReadError> {
        let (accounts, operators, verifier) = match self {
            Readers::NotConfigured => return Err(ReadError::NotConfigured),
            Readers::Open => return Ok(Reader::Unchecked),
            Readers::Loopback => {
                return match peer {
                    Some(peer) if peer.ip().is_loopback() => Ok(Reader::Loopback),
                    Some(peer) => Err(ReadError::NotLoopback(peer.ip().to_string())),
                    None => Err(ReadError::NotLoopback("an unknown address".into())),
                };
            }
            Readers::Listed {
                accounts,
                operators,
                verifier,
            } => (accounts, operators, verifier),
        };
        let (email, verified) = match push_token::bearer_in(headers, &SERVERLESS_AUTHORIZATION) {
            Ok(token) if token.ends_with(&format!(".{SIGNATURE_REMOVED}")) => {
                let claims = forwarded(token, now()).map_err(ReadError::Token)?;
                let verified = claims.email_verified == Some(serde_json::Value::Bool(true));
                (claims.email, verified)
            }
            Ok(token) => {
                let claims = verifier.claims_of(token).await.map_err(ReadError::Token)?;
                (claims.email.clone(), claims.email_verified())
            }
            Err(TokenError::Missing) => {
                let claims = verifier.claims(headers).await.map_err(ReadError::Token)?;
                (claims.email.clone(), claims.email_verified())
            }
            Err(error) => return Err(ReadError::Token(error)),
        };
        let email =
            email.ok_or_else(|| ReadError::NotAReader("(none: the token has no email)".into()))?;
        if !accounts.contains(&email) && !operators.contains(&email) {
            return Err(ReadError::NotAReader(email));
        }
        if !verified {
            return Err(ReadError::EmailNotVerified(email));
        }
        Ok(Reader::Account(email))
    }

    /// What start-up says about reading runs.
    pub fn describe(&self) -> String {
        match self {
            Readers::NotConfigured => "GET /runs is refused (403): set RUNS_READERS or RUNS_AUTH=off".into(),
            Readers::Open => "RUNS_AUTH=off: GET /runs is not checked here; Cloud Run IAM (--no-allow-unauthenticated) must protect it".into(),
            Readers::Loopback => "demo: GET /runs is open to callers on this machine".into(),
            Readers::Listed {
                accounts,
                operators,
                ..
            } => format!(
                "GET /runs needs a Google ID token of one of {}; rerun, cancel and run now one of {}",
                accounts.iter().chain(operators).cloned().collect::<Vec<_>>().join(", "),
                if operators.is_empty() {
                    "RUNS_OPERATORS (none set)".to_owned()
                } else {
                    operators.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            ),
        }
    }
}

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

/// The claims of a token Cloud Run checked and forwarded without its signature: Google's
/// issuer and not expired; the rest was Cloud Run's to check.
fn forwarded(token: &str, now: i64) -> Result<ForwardedClaims, TokenError> {
    let unreadable =
        || TokenError::Unreadable(format!("the {SERVERLESS_AUTHORIZATION} token is not a JWT"));
    let mut parts = token.split('.');
    let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => payload,
        _ => return Err(unreadable()),
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| unreadable())?;
    let claims: ForwardedClaims = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
    if !ISSUERS.contains(&claims.iss.as_str()) {
        return Err(TokenError::Rejected(format!(
            "the issuer `{}` is not Google's",
            claims.iss
        )));
    }
    if claims.exp.saturating_add(secs(LEEWAY)) < now {
        return Err(TokenError::Rejected("the token has expired".into()));
    }
    Ok(claims)
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// The bearer header a request carries, for logs: which way the caller came.
pub fn carried(headers: &HeaderMap) -> &'static str {
    if headers.contains_key(&SERVERLESS_AUTHORIZATION) {
        "x-serverless-authorization"
    } else if headers.contains_key(header::AUTHORIZATION) {
        "authorization"
    } else {
        "none"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn token(claims: serde_json::Value, signature: &str) -> String {
        let encode = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.{signature}",
            encode(serde_json::json!({"alg": "RS256", "kid": "k"})),
            encode(claims)
        )
    }

    fn listed(accounts: &[&str]) -> Readers {
        Readers::Listed {
            accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
            operators: BTreeSet::new(),
            verifier: Box::new(
                TokenVerifier::new(
                    &VerifySettings {
                        audience: GCLOUD_CLIENT_ID.into(),
                        service_accounts: BTreeSet::new(),
                        jwks_url: "http://127.0.0.1:9/certs".into(),
                    },
                    Timeouts {
                        connect: Duration::from_millis(200),
                        request: Duration::from_millis(200),
                    },
                )
                .unwrap(),
            ),
        }
    }

    fn forwarded_headers(claims: serde_json::Value) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Bearer {}", token(claims, SIGNATURE_REMOVED));
        headers.insert(
            SERVERLESS_AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        headers
    }

    #[tokio::test]
    async fn a_token_cloud_run_checked_is_read_for_its_email_and_the_list_decides() {
        let readers = listed(&["ana@example.com"]);
        let claims = |email: &str, verified: bool, iss: &str, exp: i64| {
            serde_json::json!({"iss": iss, "exp": exp, "email": email, "email_verified": verified,
                               "aud": GCLOUD_CLIENT_ID})
        };
        let later = now() + 600;
        let check = |claims| {
            let headers = forwarded_headers(claims);
            let readers = &readers;
            async move { readers.check(&headers, None).await }
        };
        assert_eq!(
            check(claims(
                "ana@example.com",
                true,
                "https://accounts.google.com",
                later
            ))
            .await
            .unwrap(),
            Reader::Account("ana@example.com".into())
        );
        assert!(matches!(
            check(claims("bob@example.com", true, "accounts.google.com", later)).await,
            Err(ReadError::NotAReader(email)) if email == "bob@example.com"
        ));
        assert!(matches!(
            check(claims(
                "ana@example.com",
                false,
                "accounts.google.com",
                later
            ))
            .await,
            Err(ReadError::EmailNotVerified(_))
        ));
        assert!(matches!(
            check(claims(
                "ana@example.com",
                true,
                "https://evil.example",
                later
            ))
            .await,
            Err(ReadError::Token(TokenError::Rejected(_)))
        ));
        assert!(matches!(
            check(claims(
                "ana@example.com",
                true,
                "accounts.google.com",
                now() - 3600
            ))
            .await,
            Err(ReadError::Token(TokenError::Rejected(_)))
        ));
        assert!(matches!(
            readers.check(&HeaderMap::new(), None).await,
            Err(ReadError::Token(TokenError::Missing))
        ));
    }

    #[tokio::test]
    async fn a_token_with_a_signature_is_verified_not_read() {
        let readers = listed(&["ana@example.com"]);
        let mut headers = HeaderMap::new();
        let forged = token(
            serde_json::json!({"iss": "accounts.google.com", "exp": now() + 600,
                               "email": "ana@example.com", "email_verified": true}),
            "AAAA",
        );
        headers.insert(
            SERVERLESS_AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {forged}")).unwrap(),
        );
        let refused = readers.check(&headers, None).await.unwrap_err();
        assert!(
            matches!(refused, ReadError::Token(TokenError::KeysUnavailable(_))),
            "the keys are asked for (and cannot be had here): {refused}"
        );
    }

    #[tokio::test]
    async fn unconfigured_reading_is_refused_but_the_demo_opens_it_to_loopback() {
        let timeouts = Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(1),
        };
        let none = HeaderMap::new();
        let closed = Readers::new(&RunsAuthMode::Unset, false, timeouts).unwrap();
        assert!(matches!(
            closed.check(&none, Some(([127, 0, 0, 1], 5).into())).await,
            Err(ReadError::NotConfigured)
        ));
        let demo = Readers::new(&RunsAuthMode::Unset, true, timeouts).unwrap();
        assert_eq!(
            demo.check(&none, Some(([127, 0, 0, 1], 5).into()))
                .await
                .unwrap(),
            Reader::Loopback
        );
        assert!(matches!(
            demo.check(&none, Some(([192, 168, 1, 9], 5).into())).await,
            Err(ReadError::NotLoopback(ip)) if ip == "192.168.1.9"
        ));
        let open = Readers::new(&RunsAuthMode::Off, true, timeouts).unwrap();
        assert_eq!(
            open.check(&none, Some(([192, 168, 1, 9], 5).into()))
                .await
                .unwrap(),
            Reader::Unchecked
        );
    }
}
