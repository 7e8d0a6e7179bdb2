//! HTTP surface: Google's resource paths, parsed by hand, and the request orchestration.
//!
//! Google custom methods (`instances/ID:stop`) put a verb after a colon inside the last path
//! segment, which axum's path parameters cannot express; so everything under `/{version}/`
//! lands in one handler that splits the segments itself. Handlers are synchronous: the store's
//! lock is never held across an await because there is no await.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Map, Value};

use super::filter::Filter;
use super::schema::{Discovery, discovery};
use super::status::{ApiError, Code};
use super::store::{Creation, ListQuery, Plan, RecordedCreate, Verb};
use super::{ApiVersion, EmulatorState, faults};

/// Page size when the client sets none (or ≤ 0), and the most one page returns.
const DEFAULT_PAGE_SIZE: usize = 500;
const MAX_PAGE_SIZE: usize = 1000;

const V1_DEPRECATED: &str = "Vertex AI Workbench user-managed notebooks have been deprecated and new \
     instances cannot be created. We recommend using Vertex AI Workbench instances instead.";

/// The emulator's HTTP routes over `state`, for `axum::serve` or in-process `oneshot` tests.
pub fn router(state: EmulatorState) -> Router {
    Router::new()
        .route("/", get(readiness))
        .route("/{version}/{*rest}", any(dispatch))
        .fallback(not_found)
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::method_not_allowed(method.as_str(), "GET")
        })
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .with_state(state)
}

async fn count_request(
    State(state): State<EmulatorState>,
    request: Request,
    next: Next,
) -> Response {
    state
        .0
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    next.run(request).await
}

async fn readiness() -> &'static str {
    "notebook-trigger Notebooks API emulator (v1, v2): ready\n"
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::NotFound,
        format!("Method not found: {method} {}", uri.path()),
    )
}

async fn dispatch(
    State(state): State<EmulatorState>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let index = state
        .0
        .api_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let answer = match faults::request_fault(state.0.seed, index, state.0.knobs.fault_rate()) {
        Some(fault) => Err(fault),
        None => handle(&state, &method, &uri, &body),
    };
    match answer {
        Ok(value) => {
            tracing::debug!(%method, path = %uri, status = 200, "notebooks emulator");
            axum::Json(value).into_response()
        }
        Err(error) => {
            tracing::debug!(%method, path = %uri, status = error.http_status().as_u16(), message = %error.message, "notebooks emulator");
            error.into_response()
        }
    }
}

/// The collections the emulator knows.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Collection {
    Instances,
    Operations,
}

impl Collection {
    fn as_str(self) -> &'static str {
        match self {
            Collection::Instances => "instances",
            Collection::Operations => "operations",
        }
    }
}

/// A parsed resource path.
#[derive(Debug, PartialEq)]
enum Target {
    /// `projects/P/locations/L/instances` (optionally `:verb`).
    Collection {
        parent: String,
        collection: Collection,
        verb: Option<String>,
    },
    /// `projects/P/locations/L/instances/ID` (optionally `:verb`).
    Item {
        name: String,
        collection: Collection,
        id: String,
        verb: Option<String>,
    },
}

/// Splits `v2/projects/P/locations/L/instances/ID:stop`; `None` for anything else.
fn parse_path(path: &str) -> Option<(ApiVersion, Target)> {
    let decoded = path.replace("%3A", ":").replace("%3a", ":");
    let segments: Vec<&str> = decoded.trim_start_matches('/').split('/').collect();
    let (version, rest) = segments.split_first()?;
    let version: ApiVersion = version.parse().ok()?;
    let ["projects", project, "locations", location, tail @ ..] = rest else {
        return None;
    };
    if project.is_empty() || location.is_empty() {
        return None;
    }
    let parent = format!("projects/{project}/locations/{location}");
    let split = |segment: &str| match segment.split_once(':') {
        Some((head, verb)) => (head.to_owned(), Some(verb.to_owned())),
        None => (segment.to_owned(), None),
    };
    let collection_of = |name: &str| match name {
        "instances" => Some(Collection::Instances),
        "operations" => Some(Collection::Operations),
        _ => None,
    };
    let target = match tail {
        [collection] => {
            let (collection, verb) = split(collection);
            Target::Collection {
                parent,
                collection: collection_of(&collection)?,
                verb,
            }
        }
        [collection, item] => {
            let collection = collection_of(collection)?;
            let (id, verb) = split(item);
            if id.is_empty() {
                return None;
            }
            let name = format!("{parent}/{}/{id}", collection.as_str());
            Target::Item {
                name,
                collection,
                id,
                verb,
            }
        }
        _ => return None,
    };
    Some((version, target))
}

fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>, ApiError> {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .map_err(|rejection| {
            ApiError::new(
                Code::InvalidArgument,
                format!("Invalid query string: {rejection}"),
            )
        })
}

fn query_value<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Parses a request body; an absent body is an empty message, as for Google.
pub(super) fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|error| {
        ApiError::new(
            Code::InvalidArgument,
            format!("Invalid JSON payload received. Unexpected token: {error}."),
        )
    })
}

/// Everything under `/{version}/`, answered with a JSON value or a Google error.
fn handle(
    state: &EmulatorState,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<Value, ApiError> {
    let not_found = || {
        ApiError::new(
            Code::NotFound,
            format!("Method not found: {method} {}", uri.path()),
        )
    };
    let (version, target) = parse_path(uri.path()).ok_or_else(not_found)?;
    let api = discovery(version);
    let query = query_pairs(uri)?;
    let store = &state.0.store;
    let unimplemented = |resource: &str, name: &str| -> Result<Value, ApiError> {
        if !api.has_method(resource, name) {
            return Err(not_found());
        }
        Err(ApiError::new(
            Code::Unimplemented,
            format!("The emulator does not implement projects.locations.{resource}.{name}."),
        ))
    };
    match target {
        Target::Collection {
            parent,
            collection: Collection::Instances,
            verb: None,
        } => match *method {
            Method::GET => {
                api.check_query("instances", "list", &query)?;
                let list = list_query(&query)?;
                Ok(store.list(version, &parent, &list)?)
            }
            Method::POST => create(state, api, version, parent, &query, body),
            _ => Err(ApiError::method_not_allowed(method.as_str(), "GET, POST")),
        },
        Target::Collection {
            collection: Collection::Instances,
            verb: Some(verb),
            ..
        } => unimplemented("instances", &verb),
        Target::Collection {
            collection: Collection::Operations,
            verb,
            ..
        } => match (verb, method) {
            (None, &Method::GET) => unimplemented("operations", "list"),
            (None, _) => Err(ApiError::method_not_allowed(method.as_str(), "GET")),
            (Some(_), _) => Err(not_found()),
        },
        Target::Item {
            name,
            collection: Collection::Instances,
            verb: None,
            ..
        } => match *method {
            Method::GET => {
                api.check_query("instances", "get", &query)?;
                Ok(store.instance(version, &name)?)
            }
            Method::DELETE => {
                api.check_query("instances", "delete", &query)?;
                let request_id = query_value(&query, "requestId").map(str::to_owned);
                Ok(store.mutate(
                    version,
                    &name,
                    Verb::Delete,
                    request_id,
                    plan(state, Verb::Delete, &name),
                )?)
            }
            Method::PATCH => unimplemented("instances", "patch"),
            _ => Err(ApiError::method_not_allowed(method.as_str(), "GET, DELETE")),
        },
        Target::Item {
            name,
            collection: Collection::Instances,
            verb: Some(verb),
            ..
        } => {
            let (verb, request) = match verb.as_str() {
                "start" => (Verb::Start, "StartInstanceRequest"),
                "stop" => (Verb::Stop, "StopInstanceRequest"),
                other => return unimplemented("instances", other),
            };
            if method != Method::POST {
                return Err(ApiError::method_not_allowed(method.as_str(), "POST"));
            }
            api.check_query("instances", verb.as_str(), &query)?;
            api.check_body(request, "", &json_body(body)?)?;
            Ok(store.mutate(version, &name, verb, None, plan(state, verb, &name))?)
        }
        Target::Item {
            name,
            collection: Collection::Operations,
            verb,
            ..
        } => match (verb.as_deref(), method) {
            (None, &Method::GET) => {
                api.check_query("operations", "get", &query)?;
                Ok(store.operation(version, &name)?)
            }
            (None, &Method::DELETE) => unimplemented("operations", "delete"),
            (None, _) => Err(ApiError::method_not_allowed(method.as_str(), "GET, DELETE")),
            (Some(verb), _) => unimplemented("operations", verb),
        },
    }
}

/// How an operation on `name` will go, from the current knobs and the seed.
fn plan(state: &EmulatorState, verb: Verb, name: &str) -> Plan {
    let (rate, code) = state.0.knobs.operation_failure();
    let fails = faults::operation_fails(state.0.seed, verb.as_str(), name, rate);
    Plan {
        duration: state.0.knobs.provision_time(),
        failure: fails.then(|| faults::operation_error(code, name)),
    }
}

fn list_query(query: &[(String, String)]) -> Result<ListQuery, ApiError> {
    let page_size = query_value(query, "pageSize")
        .and_then(|size| size.trim().parse::<i64>().ok())
        .and_then(|size| usize::try_from(size).ok())
        .filter(|size| *size > 0)
        .map_or(DEFAULT_PAGE_SIZE, |size| size.min(MAX_PAGE_SIZE));
    Ok(ListQuery {
        filter: Filter::parse(query_value(query, "filter").unwrap_or_default())?,
        page_size,
        page_token: query_value(query, "pageToken")
            .filter(|token| !token.is_empty())
            .map(str::to_owned),
    })
}

/// `^[a-z]([-a-z0-9]*[a-z0-9])?$`, 1 to 63 characters: the documented instance id rule.
pub fn valid_instance_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.last() != Some(&b'-')
}

fn invalid_argument(field: &str, message: String) -> ApiError {
    ApiError::new(Code::InvalidArgument, message.clone()).with_field_violation(field, &message)
}

fn create(
    state: &EmulatorState,
    api: &Discovery,
    version: ApiVersion,
    parent: String,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Value, ApiError> {
    let instance_id = query_value(query, "instanceId").map(str::to_owned);
    let request_id = query_value(query, "requestId").map(str::to_owned);
    state.0.store.record_create(RecordedCreate {
        api_version: version,
        parent: parent.clone(),
        instance_id: instance_id.clone(),
        request_id: request_id.clone(),
        body: body.into(),
    });
    api.check_query("instances", "create", query)?;
    let body = api.check_body("Instance", "instance", &json_body(body)?)?;
    if version == ApiVersion::V1 && !state.0.v1_legacy {
        return Err(ApiError::new(Code::FailedPrecondition, V1_DEPRECATED));
    }
    let instance_id = match instance_id.filter(|id| !id.is_empty()) {
        None => {
            return Err(invalid_argument(
                "instance_id",
                "Field 'instance_id' is required.".to_owned(),
            ));
        }
        Some(id) if !valid_instance_id(&id) => {
            return Err(invalid_argument(
                "instance_id",
                format!(
                    "Invalid instance_id \"{id}\": it must be 1 to 63 characters long, start with a lowercase \
                     letter, contain only lowercase letters, digits and hyphens, and not end with a hyphen."
                ),
            ));
        }
        Some(id) => id,
    };
    let (setup, setup_path) = match version {
        ApiVersion::V1 => (Some(&body), "instance"),
        ApiVersion::V2 => (
            body.get("gceSetup").and_then(Value::as_object),
            "instance.gce_setup",
        ),
    };
    if let Some(image) = setup.and_then(|setup| setup.get("containerImage")) {
        if image["repository"].as_str().is_none_or(str::is_empty) {
            let field = format!("{setup_path}.container_image.repository");
            return Err(invalid_argument(
                &field,
                format!("Field '{field}' is required when a container image is set."),
            ));
        }
    }
    if version == ApiVersion::V1
        && body
            .get("machineType")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return Err(invalid_argument(
            "instance.machine_type",
            "Field 'instance.machine_type' is required.".to_owned(),
        ));
    }
    let name = format!("{parent}/instances/{instance_id}");
    let creation = Creation {
        version,
        parent,
        instance_id,
        request_id,
        body,
    };
    Ok(state
        .0
        .store
        .create(creation, plan(state, Verb::Create, &name))?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::StatusCode;
    use http_body_util::BodyExt as _;
    use serde_json::json;
    use tower::ServiceExt as _;

    use super::super::{EmulatorConfig, ManualClock};
    use super::*;

    #[test]
    fn instance_id_rules() {
        for good in ["a", "nb-1", "notetweeti", &"a".repeat(63)] {
            assert!(valid_instance_id(good), "{good}");
        }
        for bad in ["", "1abc", "-a", "a-", "Abc", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!valid_instance_id(bad), "{bad}");
        }
    }

    #[test]
    fn paths_with_custom_methods_parse() {
        let (version, target) = parse_path("/v2/projects/p/locations/z/instances/nb:stop").unwrap();
        assert_eq!(version, ApiVersion::V2);
        assert_eq!(
            target,
            Target::Item {
                name: "projects/p/locations/z/instances/nb".into(),
                collection: Collection::Instances,
                id: "nb".into(),
                verb: Some("stop".into()),
            }
        );
        assert!(parse_path("/v1/projects/p/locations/z/operations/op%3Acancel").is_some());
        for bad in [
            "/v3/projects/p/locations/z/instances",
            "/v2/projects/p/instances",
            "/v2/projects/p/locations/z/nodes",
        ] {
            assert!(parse_path(bad).is_none(), "{bad}");
        }
    }

    async fn call(app: &Router, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn lifecycle_over_the_router_with_an_injected_clock() {
        let clock = Arc::new(ManualClock::new("2026-03-01T12:00:00Z".parse().unwrap()));
        let state = EmulatorState::with_clock(&EmulatorConfig::default(), clock.clone()).unwrap();
        let app = router(state.clone());
        let base = "/v2/projects/p/locations/us-central1-a";
        let body = json!({"gceSetup": {"containerImage": {"repository": "r", "tag": "t"}}});
        let (status, operation) = call(
            &app,
            "POST",
            &format!("{base}/instances?instanceId=nb"),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(operation["done"], false);
        let op_uri = format!("/v2/{}", operation["name"].as_str().unwrap());
        let (_, instance) = call(&app, "GET", &format!("{base}/instances/nb"), Value::Null).await;
        assert_eq!(instance["state"], "PROVISIONING");

        clock.advance(Duration::from_secs(30));
        let (_, operation) = call(&app, "GET", &op_uri, Value::Null).await;
        assert_eq!(operation["done"], true);
        assert_eq!(operation["response"]["state"], "ACTIVE");
        let (status, _) = call(
            &app,
            "POST",
            &format!("{base}/instances/nb:stop"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, instance) = call(&app, "GET", &format!("{base}/instances/nb"), Value::Null).await;
        assert_eq!(instance["state"], "STOPPING");
        clock.advance(Duration::from_secs(30));
        assert_eq!(state.instances()[0]["state"], "STOPPED");
        assert_eq!(state.request_count(), 5);
    }
}
