//! The in-process Cloud Storage: the subset of the JSON API that scripts and the demo use,
//! with fake-gcs-server's answers as the reference (the tests run one script against both).
//!
//! Requests without credentials are served, as by fake-gcs-server; a bearer token must be one
//! the emulator's metadata servers issued, and anything else is refused with 401 as Google
//! refuses a token it did not issue.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::tokens::AccessTokens;

mod upload;

/// Objects served per list page when the client asks for no other number.
const DEFAULT_MAX_RESULTS: usize = 1000;

#[derive(Debug)]
pub(super) struct Object {
    data: Bytes,
    content_type: String,
    generation: i64,
    created: Timestamp,
    /// How many times this generation's bytes were served.
    downloads: u64,
}

#[derive(Debug)]
pub(super) struct Bucket {
    created: Timestamp,
    objects: BTreeMap<String, Object>,
}

/// Buckets and their objects, in memory.
#[derive(Debug)]
pub struct Buckets {
    pub(super) clock: Arc<dyn Clock>,
    tokens: Arc<AccessTokens>,
    buckets: Mutex<BTreeMap<String, Bucket>>,
}

/// A JSON API error: `{"error": {"code", "message", "errors": [{"domain", "reason", …}]}}`.
#[derive(Debug)]
pub(super) struct GcsError(pub StatusCode, pub &'static str, pub String);

impl IntoResponse for GcsError {
    fn into_response(self) -> Response {
        let GcsError(status, reason, message) = self;
        let body = json!({"error": {"code": status.as_u16(), "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}]}});
        (status, axum::Json(body)).into_response()
    }
}

pub(super) fn no_bucket(bucket: &str) -> GcsError {
    GcsError(
        StatusCode::NOT_FOUND,
        "notFound",
        format!("The specified bucket does not exist: {bucket}"),
    )
}

fn no_object(bucket: &str, name: &str) -> GcsError {
    GcsError(
        StatusCode::NOT_FOUND,
        "notFound",
        format!("No such object: {bucket}/{name}"),
    )
}

impl Buckets {
    pub fn new(clock: Arc<dyn Clock>, tokens: Arc<AccessTokens>) -> Self {
        Self {
            clock,
            tokens,
            buckets: Mutex::new(BTreeMap::new()),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes an object directly, as the demo does before any client exists.
    pub fn put(&self, bucket: &str, name: &str, content_type: &str, data: Vec<u8>) {
        let now = self.clock.now();
        let mut buckets = self.lock();
        let bucket = buckets.entry(bucket.to_owned()).or_insert_with(|| Bucket {
            created: now,
            objects: BTreeMap::new(),
        });
        insert(bucket, name, content_type, data.into(), now);
    }

    /// The bytes of an object, if it exists.
    pub fn get(&self, bucket: &str, name: &str) -> Option<Vec<u8>> {
        let buckets = self.lock();
        Some(buckets.get(bucket)?.objects.get(name)?.data.to_vec())
    }

    /// How many times the live generation of an object was downloaded, if it exists: what a
    /// test of a client's cache counts.
    pub fn downloads(&self, bucket: &str, name: &str) -> Option<u64> {
        let buckets = self.lock();
        Some(buckets.get(bucket)?.objects.get(name)?.downloads)
    }
}

/// Stores an object with a generation newer than any before it (microseconds, as Google's).
pub(super) fn insert<'b>(
    bucket: &'b mut Bucket,
    name: &str,
    content_type: &str,
    data: Bytes,
    now: Timestamp,
) -> &'b Object {
    let newest = bucket.objects.values().map(|o| o.generation).max();
    let generation = newest.map_or(0, |g| g + 1).max(now.as_microsecond());
    bucket.objects.insert(
        name.to_owned(),
        Object {
            data,
            content_type: content_type.to_owned(),
            generation,
            created: now,
            downloads: 0,
        },
    );
    &bucket.objects[name]
}

/// `http://HOST` of the request, for self links.
pub(super) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn object_link(origin: &str, prefix: &str, bucket: &str, name: &str) -> String {
    let mut url = reqwest::Url::parse(origin).unwrap_or_else(|_| {
        reqwest::Url::parse("http://localhost").expect("a constant URL parses")
    });
    url.path_segments_mut()
        .expect("an http URL has path segments")
        .clear()
        .extend(prefix.split('/'))
        .extend(["b", bucket, "o", name]);
    url.to_string()
}

/// Cloud Storage reports times to the millisecond (gcloud warns about finer ones).
fn rfc3339_millis(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub(super) fn object_json(origin: &str, bucket: &str, name: &str, object: &Object) -> Value {
    let generation = object.generation.to_string();
    json!({
        "kind": "storage#object",
        "id": format!("{bucket}/{name}/{generation}"),
        "selfLink": object_link(origin, "storage/v1", bucket, name),
        "mediaLink": format!("{}?alt=media", object_link(origin, "download/storage/v1", bucket, name)),
        "name": name,
        "bucket": bucket,
        "generation": generation,
        "metageneration": "1",
        "contentType": object.content_type,
        "size": object.data.len().to_string(),
        "storageClass": "STANDARD",
        "etag": base64::engine::general_purpose::STANDARD.encode(generation.as_bytes()),
        "timeCreated": rfc3339_millis(object.created),
        "updated": rfc3339_millis(object.created),
    })
}

fn bucket_json(origin: &str, name: &str, bucket: &Bucket) -> Value {
    json!({
        "kind": "storage#bucket",
        "id": name,
        "name": name,
        "selfLink": format!("{origin}/storage/v1/b/{name}"),
        "location": "US-CENTRAL1",
        "storageClass": "STANDARD",
        "metageneration": "1",
        "timeCreated": rfc3339_millis(bucket.created),
        "updated": rfc3339_millis(bucket.created),
    })
}

/// The JSON API routes over `buckets`.
pub fn router(buckets: Arc<Buckets>) -> Router {
    Router::new()
        .route("/storage/v1/b", post(create_bucket))
        .route("/storage/v1/b/{bucket}", get(get_bucket))
        .route("/storage/v1/b/{bucket}/o", get(list))
        .route(
            "/storage/v1/b/{bucket}/o/{*name}",
            get(get_object).delete(delete_object),
        )
        .route("/download/storage/v1/b/{bucket}/o/{*name}", get(download))
        .route("/upload/storage/v1/b/{bucket}/o", post(upload::upload))
        .layer(middleware::from_fn_with_state(buckets.clone(), authorize))
        .with_state(buckets)
}

async fn authorize(State(buckets): State<Arc<Buckets>>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default());
    match token {
        None => next.run(request).await,
        Some(value) => match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer")
                    && buckets.tokens.accepts(token.trim()) =>
            {
                next.run(request).await
            }
            _ => GcsError(
                StatusCode::UNAUTHORIZED,
                "authError",
                "Invalid Credentials".to_owned(),
            )
            .into_response(),
        },
    }
}

pub(super) type Params = Query<BTreeMap<String, String>>;

async fn create_bucket(
    State(buckets): State<Arc<Buckets>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<Value>, GcsError> {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let name = request["name"]
        .as_str()
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            GcsError(
                StatusCode::BAD_REQUEST,
                "required",
                "Required parameter: name".to_owned(),
            )
        })?;
    let now = buckets.clock.now();
    let mut all = buckets.lock();
    if all.contains_key(name) {
        return Err(GcsError(
            StatusCode::CONFLICT,
            "conflict",
            format!("The bucket '{name}' already exists."),
        ));
    }
    let bucket = all.entry(name.to_owned()).or_insert(Bucket {
        created: now,
        objects: BTreeMap::new(),
    });
    Ok(axum::Json(bucket_json(&origin(&headers), name, bucket)))
}

async fn get_bucket(
    State(buckets): State<Arc<Buckets>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, GcsError> {
    let all = buckets.lock();
    let bucket = all.get(&name).ok_or_else(|| no_bucket(&name))?;
    Ok(axum::Json(bucket_json(&origin(&headers), &name, bucket)))
}

/// `objects.list` with `prefix`, `delimiter`, `maxResults` and `pageToken` (the last name
/// of the previous page).
async fn list(
    State(buckets): State<Arc<Buckets>>,
    Path(name): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, GcsError> {
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let delimiter = params.get("delimiter").filter(|d| !d.is_empty());
    let max = params
        .get("maxResults")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_RESULTS);
    let after = match params.get("pageToken").filter(|t| !t.is_empty()) {
        Some(token) => Some(
            URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    GcsError(
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        "Invalid pageToken".to_owned(),
                    )
                })?,
        ),
        None => None,
    };
    let all = buckets.lock();
    let bucket = all.get(&name).ok_or_else(|| no_bucket(&name))?;
    let origin = origin(&headers);
    let mut items = Vec::new();
    let mut prefixes = std::collections::BTreeSet::new();
    let mut next = None;
    let mut last_seen: Option<&str> = None;
    let start = after.clone().unwrap_or_else(|| prefix.clone());
    for (object_name, object) in bucket.objects.range(start..) {
        if after.as_deref() == Some(object_name.as_str()) {
            continue;
        }
        let Some(rest) = object_name.strip_prefix(&prefix) else {
            break;
        };
        if items.len() + prefixes.len() == max {
            next = last_seen.map(|last| URL_SAFE_NO_PAD.encode(last));
            break;
        }
        last_seen = Some(object_name);
        match delimiter.and_then(|d| rest.find(d.as_str()).map(|i| i + d.len())) {
            Some(end) => {
                prefixes.insert(format!("{prefix}{}", &rest[..end]));
            }
            None => items.push(object_json(&origin, &name, object_name, object)),
        }
    }
    let mut page = Map::new();
    page.insert("kind".into(), json!("storage#objects"));
    if !items.is_empty() {
        page.insert("items".into(), Value::Array(items));
    }
    if !prefixes.is_empty() {
        page.insert("prefixes".into(), json!(prefixes));
    }
    if let Some(next) = next {
        page.insert("nextPageToken".into(), json!(next));
    }
    Ok(axum::Json(Value::Object(page)))
}

async fn get_object(
    State(buckets): State<Arc<Buckets>>,
    Path((bucket, name)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, GcsError> {
    if params.get("alt").map(String::as_str) == Some("media") {
        return media(&buckets, &bucket, &name, &params);
    }
    let all = buckets.lock();
    let objects = &all.get(&bucket).ok_or_else(|| no_bucket(&bucket))?.objects;
    let object = objects
        .get(&name)
        .ok_or_else(|| no_object(&bucket, &name))?;
    Ok(axum::Json(object_json(&origin(&headers), &bucket, &name, object)).into_response())
}

async fn download(
    State(buckets): State<Arc<Buckets>>,
    Path((bucket, name)): Path<(String, String)>,
    Query(params): Params,
) -> Result<Response, GcsError> {
    media(&buckets, &bucket, &name, &params)
}

/// The object's bytes; of the generation `generation` names, when it does: a bucket without
/// versioning (the emulator's) keeps only the live one, so any other is 404, as on Google.
fn media(
    buckets: &Buckets,
    bucket: &str,
    name: &str,
    params: &BTreeMap<String, String>,
) -> Result<Response, GcsError> {
    let mut all = buckets.lock();
    let objects = &mut all
        .get_mut(bucket)
        .ok_or_else(|| no_bucket(bucket))?
        .objects;
    let object = objects
        .get_mut(name)
        .filter(|object| {
            params
                .get("generation")
                .is_none_or(|wanted| *wanted == object.generation.to_string())
        })
        .ok_or_else(|| no_object(bucket, name))?;
    object.downloads += 1;
    Ok((
        [
            (header::CONTENT_TYPE, object.content_type.clone()),
            (
                header::HeaderName::from_static("x-goog-generation"),
                object.generation.to_string(),
            ),
        ],
        object.data.clone(),
    )
        .into_response())
}

/// Deletes an object, honouring `ifGenerationMatch` as Google does: a delete that names the
/// generation it judged removes nothing that was written since (412).
async fn delete_object(
    State(buckets): State<Arc<Buckets>>,
    Path((bucket, name)): Path<(String, String)>,
    Query(params): Params,
) -> Result<StatusCode, GcsError> {
    let mut all = buckets.lock();
    let objects = &mut all
        .get_mut(&bucket)
        .ok_or_else(|| no_bucket(&bucket))?
        .objects;
    let live = objects
        .get(&name)
        .map(|object| object.generation)
        .ok_or_else(|| no_object(&bucket, &name))?;
    upload::check_preconditions(&params, Some(live))?;
    objects.remove(&name);
    Ok(StatusCode::NO_CONTENT)
}
