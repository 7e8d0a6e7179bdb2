//! The metadata server of one emulated instance, under `/computeMetadata/v1/`.
//!
//! Each running instance gets a server of its own on a loopback port, and its script finds it
//! through `GCE_METADATA_HOST`, the variable Google's libraries honour. The port is the
//! instance's identity, as the network origin is on Compute Engine: a shared server would need
//! a path or a secret to tell instances apart, which `GCE_METADATA_HOST` (a bare `host:port`)
//! cannot carry and no client library sends.
//!
//! As on Compute Engine, a request without `Metadata-Flavor: Google` (or with
//! `X-Forwarded-For`) is refused with 403, and every answer carries `Metadata-Flavor: Google`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::guest::Guest;
use super::identity::{IDENTITY_LIFETIME, ISSUER};
use super::state::EmulatorState;

/// The scope instances' tokens carry: Workbench instances run with `cloud-platform`.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

const FLAVOR: &str = "metadata-flavor";

#[derive(Debug)]
struct Context {
    guest: Guest,
    state: EmulatorState,
}

/// The routes of `guest`'s metadata server.
pub fn router(guest: Guest, state: EmulatorState) -> Router {
    Router::new()
        .route("/", get(|| async { "computeMetadata/\n" }))
        .route(
            "/computeMetadata/v1",
            get(|| async { "instance/\nproject/\n" }),
        )
        .route(
            "/computeMetadata/v1/",
            get(|| async { "instance/\nproject/\n" }),
        )
        .route("/computeMetadata/v1/{*path}", get(value))
        .fallback(|| async { not_found() })
        .layer(middleware::from_fn(require_flavor))
        .layer(middleware::map_response(
            |mut response: Response| async move {
                response
                    .headers_mut()
                    .insert(FLAVOR, HeaderValue::from_static("Google"));
                response
            },
        ))
        .with_state(Arc::new(Context { guest, state }))
}

async fn require_flavor(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let flavored = headers.get(FLAVOR).is_some_and(|value| value == "Google");
    if headers.contains_key("x-forwarded-for") {
        return (
            StatusCode::FORBIDDEN,
            "Request had an X-Forwarded-For header and was refused.\n",
        )
            .into_response();
    }
    if !flavored {
        return (
            StatusCode::FORBIDDEN,
            "Missing required header \"Metadata-Flavor\": \"Google\"\n",
        )
            .into_response();
    }
    next.run(request).await
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found\n").into_response()
}

/// A value as the real server sends one: plain text, `Content-Type: application/text`.
fn text(value: impl Into<String>) -> Response {
    ([(header::CONTENT_TYPE, "application/text")], value.into()).into_response()
}

/// A directory listing: one entry per line, subdirectories with a trailing slash.
fn listing<'a>(entries: impl IntoIterator<Item = &'a str>) -> Response {
    text(
        entries
            .into_iter()
            .map(|e| format!("{e}\n"))
            .collect::<String>(),
    )
}

async fn value(
    State(context): State<Arc<Context>>,
    Path(path): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let guest = &context.guest;
    let recursive = query.get("recursive").is_some_and(|v| v == "true");
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        ["instance"] => listing([
            "attributes/",
            "hostname",
            "id",
            "name",
            "service-accounts/",
            "zone",
        ]),
        ["instance", "attributes"] if recursive => axum::Json(&guest.attributes).into_response(),
        ["instance", "attributes"] => listing(guest.attributes.keys().map(String::as_str)),
        ["instance", "attributes", key] => guest
            .attributes
            .get(*key)
            .map_or_else(not_found, |value| text(value.clone())),
        ["instance", "name"] => text(guest.name.clone()),
        ["instance", "id"] => text(guest.id.to_string()),
        ["instance", "zone"] => text(format!(
            "projects/{}/zones/{}",
            guest.project_number, guest.zone
        )),
        ["instance", "hostname"] => text(format!(
            "{}.{}.c.{}.internal",
            guest.name, guest.zone, guest.project_id
        )),
        ["instance", "service-accounts"] => {
            listing(["default/", &format!("{}/", guest.service_account)])
        }
        ["instance", "service-accounts", account, rest @ ..]
            if *account == "default" || *account == guest.service_account =>
        {
            service_account(&context, rest, recursive, &query)
        }
        ["project"] => listing(["numeric-project-id", "project-id"]),
        ["project", "project-id"] => text(guest.project_id.clone()),
        ["project", "numeric-project-id"] => text(guest.project_number.to_string()),
        _ => not_found(),
    }
}

fn service_account(
    context: &Context,
    rest: &[&str],
    recursive: bool,
    query: &BTreeMap<String, String>,
) -> Response {
    let guest = &context.guest;
    match rest {
        [] if recursive => axum::Json(json!({
            "aliases": ["default"],
            "email": guest.service_account,
            "scopes": [SCOPE],
        }))
        .into_response(),
        [] => listing(["aliases", "email", "identity", "scopes", "token"]),
        ["aliases"] => listing(["default"]),
        ["email"] => text(guest.service_account.clone()),
        ["scopes"] => listing([SCOPE]),
        ["token"] => {
            let token = context.state.0.tokens.issue(&guest.service_account);
            axum::Json(json!({
                "access_token": token.access_token,
                "expires_in": token.expires_in,
                "token_type": "Bearer",
            }))
            .into_response()
        }
        ["identity"] => match query.get("audience").filter(|a| !a.is_empty()) {
            None => (
                StatusCode::BAD_REQUEST,
                "non-empty audience parameter required\n",
            )
                .into_response(),
            Some(audience) => {
                let full = query.get("format").is_some_and(|f| f == "full");
                text(identity_token(context, audience, full))
            }
        },
        _ => not_found(),
    }
}

/// An RS256 JWT shaped like Compute Engine's instance identity token.
fn identity_token(context: &Context, audience: &str, full: bool) -> String {
    let guest = &context.guest;
    let iat = context.state.0.store.clock().now().as_second();
    let lifetime = i64::try_from(IDENTITY_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    let mut claims = json!({
        "iss": ISSUER,
        "aud": audience,
        "azp": guest.account_id,
        "sub": guest.account_id,
        "email": guest.service_account,
        "email_verified": true,
        "iat": iat,
        "exp": iat.saturating_add(lifetime),
    });
    if full {
        claims["google"] = json!({"compute_engine": {
            "instance_creation_timestamp": guest.created.as_second(),
            "instance_id": guest.id.to_string(),
            "instance_name": guest.name,
            "project_id": guest.project_id,
            "project_number": guest.project_number,
            "zone": guest.zone,
        }});
    }
    context.state.signer().sign(&claims)
}
