//! Google's token signing keys: fetched when a token needs them, kept as long as
//! `Cache-Control` says within bounds, refreshed for an unknown `kid` at most once a minute, and
//! not fetched again for a few seconds after a failure. One request fetches at a time; the
//! others wait for its answer. A key already known outlives a failed refresh, as Google rotates
//! keys with overlap.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::TokenError;
use crate::cause;
use crate::notebooks::client::Timeouts;

/// A token with an unknown `kid` refreshes the keys at most this often, so that garbage
/// tokens cannot make the service hammer Google.
pub const UNKNOWN_KID_REFRESH: Duration = Duration::from_secs(60);

/// After a failed fetch, requests do not try again for this long (each would wait for the
/// timeout); they are answered 503 and Pub/Sub redelivers.
pub const FAILED_FETCH_PAUSE: Duration = Duration::from_secs(5);

/// Bounds on how long fetched keys are kept. `max-age` outside them is clamped: `no-cache`
/// or `max-age=0` would otherwise mean one fetch per request.
const MIN_KEY_AGE: Duration = Duration::from_secs(60);
const MAX_KEY_AGE: Duration = Duration::from_secs(24 * 3600);
/// When the answer carries no `max-age`.
const DEFAULT_KEY_AGE: Duration = Duration::from_secs(300);

/// Why the signing keys could not be fetched. Shared: requests that arrive just after a failed
/// fetch are answered with that failure rather than waiting for another.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot reach {url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered HTTP {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("{url} did not answer with a key set")]
    Body {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the key set at {url} holds no RS256 signing key")]
    NoSigningKey { url: String },
}

/// Google's signing keys, fetched when needed and kept as long as `Cache-Control` says.
pub(super) struct Jwks {
    url: String,
    http: reqwest::Client,
    state: Mutex<KeyState>,
}

#[derive(Default)]
struct KeyState {
    keys: HashMap<String, DecodingKey>,
    /// When the fetched keys go stale; `None` before the first successful fetch.
    fresh_until: Option<Instant>,
    /// The last fetch attempt and how it failed, if it did.
    last_attempt: Option<(Instant, Option<Arc<KeysError>>)>,
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<String> = self
            .state
            .try_lock()
            .map(|s| s.keys.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("Jwks")
            .field("url", &self.url)
            .field("kids", &kids)
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl Jwks {
    pub(super) fn new(url: String, timeouts: Timeouts) -> Result<Self, reqwest::Error> {
        Ok(Self {
            url,
            http: timeouts.http_client()?,
            state: Mutex::new(KeyState::default()),
        })
    }

    pub(super) async fn key(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        self.key_at(kid, Instant::now()).await
    }

    /// The key for `kid` at `now` (tests pass their own clock). One caller fetches at a time;
    /// the others wait for its result instead of fetching too.
    async fn key_at(&self, kid: &str, now: Instant) -> Result<DecodingKey, TokenError> {
        let mut state = self.state.lock().await;
        let fresh = state.fresh_until.is_some_and(|until| now < until);
        if fresh && let Some(key) = state.keys.get(kid) {
            return Ok(key.clone());
        }
        let may_fetch = match &state.last_attempt {
            None => true,
            Some((at, Some(_))) => now.duration_since(*at) >= FAILED_FETCH_PAUSE,
            Some((at, None)) => !fresh || now.duration_since(*at) >= UNKNOWN_KID_REFRESH,
        };
        if may_fetch {
            match self.fetch().await {
                Ok((keys, age)) => {
                    state.last_attempt = Some((now, None));
                    state.keys = keys;
                    state.fresh_until = Some(now + age);
                }
                Err(error) => {
                    tracing::warn!(error = %cause::chain(&error), "cannot fetch the token signing keys");
                    let error = Arc::new(error);
                    state.last_attempt = Some((now, Some(Arc::clone(&error))));
                    return match state.keys.get(kid) {
                        // Google rotates keys with overlap: a stale known key is still Google's.
                        Some(key) => Ok(key.clone()),
                        None => Err(TokenError::KeysUnavailable(error)),
                    };
                }
            }
        } else if let Some((_, Some(error))) = &state.last_attempt
            && state.keys.is_empty()
        {
            return Err(TokenError::KeysUnavailable(Arc::clone(error)));
        }
        state.keys.get(kid).cloned().ok_or_else(|| {
            TokenError::Rejected(format!("no Google signing key has the id `{kid}`"))
        })
    }

    /// The RS256 signing keys and how long to keep them.
    async fn fetch(&self) -> Result<(HashMap<String, DecodingKey>, Duration), KeysError> {
        let url = || self.url.clone();
        let response =
            self.http
                .get(&self.url)
                .send()
                .await
                .map_err(|source| KeysError::Transport {
                    url: url(),
                    source: source.without_url(),
                })?;
        if !response.status().is_success() {
            return Err(KeysError::Status {
                url: url(),
                status: response.status(),
            });
        }
        let age = response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map_or(DEFAULT_KEY_AGE, key_age);
        let set: JwkSet = response.json().await.map_err(|source| KeysError::Body {
            url: url(),
            source: source.without_url(),
        })?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
            .filter(|jwk| {
                matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256))
                    && matches!(
                        jwk.common.public_key_use,
                        None | Some(PublicKeyUse::Signature)
                    )
            })
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .collect();
        if keys.is_empty() {
            return Err(KeysError::NoSigningKey { url: url() });
        }
        Ok((keys, age))
    }
}

/// How long keys may be kept, from a `Cache-Control` value, within sane bounds.
fn key_age(cache_control: &str) -> Duration {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return MIN_KEY_AGE;
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            age = seconds
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age.map_or(DEFAULT_KEY_AGE, |a| a.clamp(MIN_KEY_AGE, MAX_KEY_AGE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::get;

    /// A JWKS endpoint whose answer and status tests change, counting its hits.
    #[derive(Clone, Default)]
    struct Server {
        hits: Arc<AtomicU64>,
        status: Arc<AtomicU16>,
        kids: Arc<std::sync::Mutex<Vec<&'static str>>>,
    }

    async fn certs(
        State(server): State<Server>,
    ) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
        server.hits.fetch_add(1, Ordering::SeqCst);
        let kids = server.kids.lock().unwrap().clone();
        let keys: Vec<serde_json::Value> = kids
            .iter()
            .map(|kid| serde_json::json!({"kty":"RSA","alg":"RS256","use":"sig","kid":kid,"n":"sXch","e":"AQAB"}))
            .collect();
        let status = StatusCode::from_u16(server.status.load(Ordering::SeqCst)).unwrap();
        (
            status,
            [(
                header::CACHE_CONTROL,
                "public, max-age=600, must-revalidate",
            )],
            serde_json::json!({ "keys": keys }).to_string(),
        )
    }

    async fn start(kids: &[&'static str]) -> (Server, Jwks) {
        let server = Server::default();
        server.status.store(200, Ordering::SeqCst);
        *server.kids.lock().unwrap() = kids.to_vec();
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://{}/certs", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/certs", get(certs))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let timeouts = Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(2),
        };
        (server, Jwks::new(url, timeouts).unwrap())
    }

    fn hits(server: &Server) -> u64 {
        server.hits.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn keys_are_kept_for_max_age_then_fetched_again() {
        let (server, jwks) = start(&["a"]).await;
        let t0 = Instant::now();
        jwks.key_at("a", t0).await.unwrap();
        jwks.key_at("a", t0 + Duration::from_secs(599))
            .await
            .unwrap();
        assert_eq!(hits(&server), 1, "cached for max-age=600");
        jwks.key_at("a", t0 + Duration::from_secs(601))
            .await
            .unwrap();
        assert_eq!(hits(&server), 2, "stale after max-age");
    }

    #[tokio::test]
    async fn an_unknown_kid_refreshes_at_most_once_a_minute() {
        let (server, jwks) = start(&["a"]).await;
        let t0 = Instant::now();
        jwks.key_at("a", t0).await.unwrap();
        for s in [1, 10, 59] {
            let error = jwks
                .key_at("new", t0 + Duration::from_secs(s))
                .await
                .unwrap_err();
            assert!(matches!(error, TokenError::Rejected(_)), "{error}");
        }
        assert_eq!(hits(&server), 1, "no refresh within the minute");
        server.kids.lock().unwrap().push("new");
        jwks.key_at("new", t0 + Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            hits(&server),
            2,
            "a rotated key is picked up after a minute"
        );
        jwks.key_at("new", t0 + Duration::from_secs(61))
            .await
            .unwrap();
        assert_eq!(hits(&server), 2);
    }

    #[tokio::test]
    async fn unreachable_keys_are_transient_and_recover() {
        let (server, jwks) = start(&["a"]).await;
        server.status.store(503, Ordering::SeqCst);
        let t0 = Instant::now();
        let error = jwks.key_at("a", t0).await.unwrap_err();
        assert!(matches!(error, TokenError::KeysUnavailable(_)), "{error}");
        let told = cause::chain(&error).to_string();
        assert!(told.contains("answered HTTP 503"), "{told}");
        let error = jwks
            .key_at("a", t0 + Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::KeysUnavailable(_)), "{error}");
        assert_eq!(
            cause::chain(&error).to_string(),
            told,
            "a request right after a failure is told that failure"
        );
        assert_eq!(hits(&server), 1, "no fetch storm right after a failure");
        server.status.store(200, Ordering::SeqCst);
        jwks.key_at("a", t0 + FAILED_FETCH_PAUSE).await.unwrap();
        assert_eq!(hits(&server), 2, "the next attempt recovers");
    }

    #[tokio::test]
    async fn a_known_key_outlives_a_failed_refresh() {
        let (server, jwks) = start(&["a"]).await;
        let t0 = Instant::now();
        jwks.key_at("a", t0).await.unwrap();
        server.status.store(500, Ordering::SeqCst);
        jwks.key_at("a", t0 + Duration::from_secs(700))
            .await
            .unwrap();
        let error = jwks
            .key_at("b", t0 + Duration::from_secs(800))
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::KeysUnavailable(_)), "{error}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unavailable_not_a_refusal() {
        let jwks = Jwks::new(
            "http://127.0.0.1:9/certs".into(),
            Timeouts {
                connect: Duration::from_secs(1),
                request: Duration::from_secs(1),
            },
        )
        .unwrap();
        let error = jwks.key("a").await.unwrap_err();
        assert!(matches!(error, TokenError::KeysUnavailable(_)), "{error}");
        let told = cause::chain(&error).to_string();
        assert!(
            told.contains("cannot reach http://127.0.0.1:9/certs")
                && told.to_lowercase().contains("refused"),
            "the answer names the address and what the network said: {told}"
        );
    }

    #[test]
    fn cache_control_sets_the_age_within_bounds() {
        assert_eq!(
            key_age("public, max-age=19800, must-revalidate, no-transform"),
            Duration::from_secs(19800)
        );
        assert_eq!(key_age("max-age=0"), MIN_KEY_AGE);
        assert_eq!(key_age("no-store"), MIN_KEY_AGE);
        assert_eq!(key_age("max-age=99999999"), MAX_KEY_AGE);
        assert_eq!(key_age("public"), DEFAULT_KEY_AGE);
        assert_eq!(key_age("max-age=soon"), DEFAULT_KEY_AGE);
    }

    #[tokio::test]
    async fn debug_output_shows_no_key_material() {
        let (_server, jwks) = start(&["kid-1"]).await;
        jwks.key_at("kid-1", Instant::now()).await.unwrap();
        let verifier = super::super::TokenVerifier {
            audience: "https://trigger.example".into(),
            service_accounts: ["push@p.iam.gserviceaccount.com".to_owned()].into(),
            keys: jwks,
        };
        let text = format!("{verifier:?}");
        assert!(
            text.contains("kid-1") && text.contains("push@p.iam"),
            "{text}"
        );
        assert!(!text.contains("sXch") && !text.contains("AQAB"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
