//! Secret Manager, the part a notebook run needs, at `/secretmanager/v1/…` on the emulator's
//! port: `projects.secrets.create`, `projects.secrets.addVersion`,
//! `projects.secrets.versions.access`, and a secret's `getIamPolicy` and `setIamPolicy`.
//! Scripts get `CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER` pointing there, which gcloud
//! reads too; paths, bodies and answers are those of Google's discovery document
//! (`secretmanager` v1), errors are Google's `{"error":{"code","message","status"}}`.
//!
//! Secrets are seeded the way they are made on Google: create the secret, add a version
//! (`gcloud secrets create S --data-file=F` does both), grant an account access.
//!
//! Who may do what. A request without credentials is the project's owner, as everywhere in
//! the emulator (tests, and gcloud with credentials disabled, seed secrets so). A token that an
//! instance's metadata server issued is that instance's service account: it may read the
//! versions of a secret whose policy grants it `roles/secretmanager.secretAccessor` (or
//! `roles/secretmanager.admin`, `roles/owner`) in a binding without a condition, and do nothing
//! else, since the project's own IAM is not emulated. Any other token is refused as Google
//! refuses a token it did not issue. As on Google, an account without access learns nothing of
//! whether a secret exists: it is told PERMISSION_DENIED "(or it may not exist)".
//!
//! Not emulated: listing, getting, updating, disabling, destroying and deleting (answered
//! `501 UNIMPLEMENTED`), version aliases, regional secrets, rotation and expiry; names keep the
//! project as given, where Google answers with the project's number.

mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Map, Value};

pub use store::Secrets;

use crate::request::{decode_colons, json_body};
use crate::status::{ApiError, Code};

/// Where the emulator serves Secret Manager: the root a client is pointed at.
pub const ROOT: &str = "/secretmanager/";

/// Who sends a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// No credentials: the project's owner.
    Owner,
    /// A token from an instance's metadata server: that instance's service account.
    Account(String),
}

/// The routes over `secrets`.
pub fn router(secrets: Arc<Secrets>) -> Router {
    Router::new()
        .route("/secretmanager/v1/projects/{project}/secrets", post(create))
        .route(
            "/secretmanager/v1/projects/{project}/secrets/{*rest}",
            any(on_secret),
        )
        .with_state(secrets)
}

type Params = Query<BTreeMap<String, String>>;

async fn create(
    State(secrets): State<Arc<Secrets>>,
    Path(project): Path<String>,
    Query(query): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = caller(&secrets, &headers).and_then(|caller| {
        let secret_id = query.get("secretId").map(String::as_str);
        secrets.create(&caller, &project, secret_id, &json_object(&body)?)
    });
    respond(answer)
}

/// `S:addVersion`, `S:getIamPolicy`, `S:setIamPolicy` and `S/versions/V:access` under a
/// project's secrets.
async fn on_secret(
    State(secrets): State<Arc<Secrets>>,
    Path((project, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rest = decode_colons(&rest);
    let answer = caller(&secrets, &headers).and_then(|caller| {
        let (path, verb) = rest.rsplit_once(':').unwrap_or((&rest, ""));
        let secret = |id: &str| format!("projects/{project}/secrets/{id}");
        let segments: Vec<&str> = path.split('/').collect();
        match (segments.as_slice(), verb, &method) {
            ([id], "addVersion", &Method::POST) => {
                secrets.add_version(&caller, &secret(id), &json_object(&body)?)
            }
            ([id], "getIamPolicy", &Method::GET) => secrets.policy(&caller, &secret(id)),
            ([id], "setIamPolicy", &Method::POST) => {
                secrets.set_policy(&caller, &secret(id), &json_object(&body)?)
            }
            ([id, "versions", version], "access", &Method::GET) => {
                secrets.access(&caller, &secret(id), version)
            }
            _ => Err(ApiError::new(
                Code::Unimplemented,
                format!(
                    "{method} {ROOT}v1/projects/{project}/secrets/{rest} is not a method the emulator's Secret Manager serves (create, addVersion, versions.access, getIamPolicy, setIamPolicy)."
                ),
            )),
        }
    });
    respond(answer)
}

/// Who the request comes from, by its bearer token.
fn caller(secrets: &Secrets, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Caller::Owner);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    token
        .and_then(|token| secrets.holder(token))
        .map(Caller::Account)
        .ok_or_else(|| {
            ApiError::new(
                Code::Unauthenticated,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            )
        })
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match json_body(body)? {
        Value::Object(object) => Ok(object),
        other => Err(ApiError::new(
            Code::InvalidArgument,
            format!("Invalid JSON payload received. Expected an object, got {other}."),
        )),
    }
}

fn respond(answer: Result<Value, ApiError>) -> Response {
    match answer {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}
