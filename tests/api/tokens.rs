//! Google-like OIDC tokens for tests: RSA keys made with openssl at test time, a JWKS served
//! on a free port (counting its hits), and tokens signed right, wrong, or not at all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::local_server::LocalServer;
use crate::openssl::{openssl, rsa_key};

pub const AUDIENCE: &str = "https://notebook-trigger-test.a.run.app";
pub const PUSH_ACCOUNT: &str = "pubsub-push@test-project.iam.gserviceaccount.com";
pub const KID: &str = "google-key-1";

/// PEM of the key the JWKS publishes, of a foreign key, and of the published public key.
struct Keys {
    google: Vec<u8>,
    foreign: Vec<u8>,
    google_public: Vec<u8>,
}

/// Generated once per test binary: RSA key generation is slow.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for name in ["google.pem", "foreign.pem"] {
            rsa_key(dir.path(), name);
        }
        openssl(
            &["pkey", "-in", "google.pem", "-pubout", "-out", "public.pem"],
            dir.path(),
        );
        let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
        Keys {
            google: read("google.pem"),
            foreign: read("foreign.pem"),
            google_public: read("public.pem"),
        }
    })
}

/// A stand-in for Google's token issuer: its JWKS endpoint and its signing key.
pub struct Issuer {
    pub jwks_url: String,
    hits: Arc<AtomicU64>,
    _server: LocalServer,
}

async fn certs(
    State((hits, body)): State<(Arc<AtomicU64>, String)>,
) -> impl axum::response::IntoResponse {
    hits.fetch_add(1, Ordering::SeqCst);
    (
        [
            (
                "cache-control",
                "public, max-age=19800, must-revalidate, no-transform",
            ),
            ("content-type", "application/json; charset=UTF-8"),
        ],
        body,
    )
}

impl Issuer {
    pub async fn start() -> Self {
        let key = EncodingKey::from_rsa_pem(&keys().google).unwrap();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(KID.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let body = serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap();
        let hits = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new()
            .route("/oauth2/v3/certs", get(certs))
            .with_state((hits.clone(), body));
        let server = LocalServer::start(app).await;
        Self {
            jwks_url: server.url("/oauth2/v3/certs"),
            hits,
            _server: server,
        }
    }

    /// How often the service fetched the keys.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    /// The variables that turn checking on against this issuer.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PUSH_AUTH_AUDIENCE", AUDIENCE.to_owned()),
            ("PUSH_AUTH_SERVICE_ACCOUNTS", PUSH_ACCOUNT.to_owned()),
            ("PUSH_AUTH_JWKS_URL", self.jwks_url.clone()),
        ]
    }
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// The claims Pub/Sub's token carries (GCP facts §3.5), valid for an hour from now.
pub fn claims() -> Value {
    json!({
        "aud": AUDIENCE, "azp": "113774264463038321964", "email": PUSH_ACCOUNT,
        "email_verified": true, "exp": now() + 3600, "iat": now(),
        "iss": "https://accounts.google.com", "sub": "113774264463038321964",
    })
}

/// `claims()` with some fields replaced (`null` removes one).
pub fn claims_with(changes: Value) -> Value {
    let mut claims = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rs256(kid: Option<&str>) -> Header {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    header
}

/// Signed by the published key, as Google would.
pub fn google(claims: &Value) -> String {
    sign(
        rs256(Some(KID)),
        claims,
        &EncodingKey::from_rsa_pem(&keys().google).unwrap(),
    )
}

/// Signed by a key the JWKS does not publish, under the given key id.
pub fn foreign(claims: &Value, kid: &str) -> String {
    sign(
        rs256(Some(kid)),
        claims,
        &EncodingKey::from_rsa_pem(&keys().foreign).unwrap(),
    )
}

/// Signed by the published key but naming no key.
pub fn without_kid(claims: &Value) -> String {
    sign(
        rs256(None),
        claims,
        &EncodingKey::from_rsa_pem(&keys().google).unwrap(),
    )
}

/// `alg: none` with an empty signature.
pub fn unsigned(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": KID});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// The algorithm-confusion attack: HS256 keyed with the published public key.
pub fn hs256_with_public_key(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID.to_owned());
    sign(
        header,
        claims,
        &EncodingKey::from_secret(&keys().google_public),
    )
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
