//! The HTTP surface of the Notebooks API: routing, fault injection and the orchestration of
//! each method. Handlers are synchronous: the store's lock is never held across an await
//! because there is no await.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use super::ApiVersion;
use super::console::serial_port_output;
use super::create::create;
use super::filter::Filter;
use super::identity::JWKS_PATH;
use super::lifecycle::{Transition, Verb};
use super::machines::Boot;
use super::paging::Order;
use super::request::{
    Collection, Target, decode_colons, json_body, parse_path, query_pairs, query_value,
};
use super::schema::discovery;
use super::status::{ApiError, Code};
use super::storage;
use super::store::{Accepted, ListQuery};
use super::system::{SystemParameters, method_parameters};
use super::{EmulatorState, faults, iam, locations, update};

/// Page size when the client sets none (or ≤ 0), and the most one page returns.
const DEFAULT_PAGE_SIZE: usize = 500;
const MAX_PAGE_SIZE: usize = 1000;

/// The emulator's HTTP routes over `state`, for `axum::serve` or in-process `oneshot` tests.
///
/// Besides the Notebooks API: the JWKS of instances' identity tokens at Google's path, Compute's
/// `getSerialPortOutput` for instances' consoles, and the emulator's own Cloud Storage unless
/// another is configured.
pub fn router(state: EmulatorState) -> Router {
    let api = Router::new()
        .route("/", get(readiness))
        .route("/{version}/{*rest}", any(dispatch))
        .route(JWKS_PATH, get(jwks))
        .route(
            "/compute/v1/projects/{project}/zones/{zone}/instances/{id}/serialPort",
            get(serial_port_output),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::method_not_allowed(method.as_str(), "GET")
        })
        .with_state(state.clone());
    let app = match &state.0.buckets {
        Some(buckets) => api.merge(storage::router(buckets.clone())),
        None => api,
    };
    app.layer(middleware::from_fn_with_state(state, count_request))
}

/// The signing key's JWKS, cacheable as Google's is.
async fn jwks(State(state): State<EmulatorState>) -> Response {
    let signer = tokio::task::spawn_blocking(move || state.signer().jwks()).await;
    match signer {
        Ok(jwks) => (
            [(axum::http::header::CACHE_CONTROL, "public, max-age=300")],
            axum::Json(jwks),
        )
            .into_response(),
        Err(error) => {
            ApiError::new(Code::Internal, format!("no signing key: {error}")).into_response()
        }
    }
}

/// Tells the running instances about an accepted transition: a create or start boots the
/// instance when the operation is done, a stop or delete ends its script now, a reset does
/// both, an update touches nothing that runs. Failing
/// operations change nothing, and replays start nothing.
pub fn started(
    state: &EmulatorState,
    version: ApiVersion,
    name: &str,
    verb: Verb,
    fails: bool,
    accepted: Accepted,
) -> Value {
    if let (Some(machines), Some(done_at), false) =
        (state.0.machines.get(), accepted.done_at, fails)
    {
        match verb {
            Verb::Create => machines.boot(state, version, name, done_at, Boot::Created),
            Verb::Start => machines.boot(state, version, name, done_at, Boot::Started),
            // A reset is a reboot: the script ends now and the start runs it again.
            Verb::Reset => {
                let halted = state.clone();
                let instance = name.to_owned();
                tokio::spawn(async move {
                    if let Some(machines) = halted.0.machines.get() {
                        machines.halt(&instance).await;
                    }
                });
                machines.boot(state, version, name, done_at, Boot::Started);
            }
            Verb::Update => {}
            Verb::Stop | Verb::Delete => {
                let state = state.clone();
                let name = name.to_owned();
                tokio::spawn(async move {
                    if let Some(machines) = state.0.machines.get() {
                        machines.halt(&name).await;
                    }
                    if verb == Verb::Delete {
                        state.0.consoles.remove(&name);
                    }
                });
            }
        }
    }
    accepted.operation
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
    let path = decode_colons(uri.path());
    let response = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .and_then(|version| version.parse::<ApiVersion>().ok())
        .map(discovery)
        .and_then(|api| {
            Some((
                api,
                api.method(method.as_str(), &path)?.response.as_deref()?,
            ))
        });
    let system = query_pairs(&uri).and_then(|query| SystemParameters::parse(&query, response));
    let answer = match faults::request_fault(state.0.seed, index, state.0.knobs.fault_rate()) {
        Some(fault) => Err(fault),
        None => match &system {
            Ok(_) => handle(&state, &method, &uri, &body),
            Err(error) => Err(error.clone()),
        },
    };
    match &answer {
        Ok(_) => tracing::debug!(%method, path = %uri, status = 200, "notebooks emulator"),
        Err(error) => {
            tracing::debug!(%method, path = %uri, status = error.http_status().as_u16(), message = %error.message, "notebooks emulator");
        }
    }
    system.unwrap_or_default().render(response, answer)
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
    let query = method_parameters(query_pairs(uri)?);
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
        Target::Locations { project } => match *method {
            Method::GET => locations::list(api, &project, &query),
            _ => Err(ApiError::method_not_allowed(method.as_str(), "GET")),
        },
        Target::Location { name } => match *method {
            Method::GET => locations::get(api, &name, &query),
            _ => Err(ApiError::method_not_allowed(method.as_str(), "GET")),
        },
        Target::Collection {
            parent,
            collection: Collection::Instances,
            verb: None,
        } => match *method {
            Method::GET => {
                api.check_query("instances", "list", &query)?;
                let list = list_query(&query, ORDER_FIELDS)?;
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
            parent,
            collection: Collection::Operations,
            verb,
        } => match (verb, method) {
            (None, &Method::GET) => {
                api.check_query("operations", "list", &query)?;
                if query_value(&query, "returnPartialSuccess") == Some("true") {
                    return Err(ApiError::new(
                        Code::Unimplemented,
                        "returnPartialSuccess is not supported by this service.",
                    ));
                }
                let list = list_query(&query, &[])?;
                Ok(store.operations(version, &parent, &list)?)
            }
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
                let transition = transition(state, Verb::Delete, &name);
                let fails = transition.failure.is_some();
                let accepted =
                    store.mutate(version, &name, Verb::Delete, request_id, transition)?;
                Ok(started(
                    state,
                    version,
                    &name,
                    Verb::Delete,
                    fails,
                    accepted,
                ))
            }
            Method::PATCH if api.has_method("instances", "patch") => {
                update::patch(state, api, version, &name, &query, body)
            }
            _ if api.has_method("instances", "patch") => Err(ApiError::method_not_allowed(
                method.as_str(),
                "GET, DELETE, PATCH",
            )),
            _ => Err(ApiError::method_not_allowed(method.as_str(), "GET, DELETE")),
        },
        Target::Item {
            name,
            collection: Collection::Instances,
            verb: Some(verb),
            ..
        } => {
            let Some(spec) = api.method_named("instances", &verb) else {
                return Err(not_found());
            };
            if !spec.http_method.eq_ignore_ascii_case(method.as_str()) {
                return Err(ApiError::method_not_allowed(
                    method.as_str(),
                    &spec.http_method,
                ));
            }
            api.check_query("instances", &verb, &query)?;
            let lifecycle = match verb.as_str() {
                "start" => Verb::Start,
                "stop" => Verb::Stop,
                "reset" => Verb::Reset,
                "checkUpgradability" => {
                    store.instance(version, &name)?;
                    return Ok(json!({
                        "upgradeable": false,
                        "upgradeInfo": "The instance runs the latest image the emulator knows.",
                    }));
                }
                "getIamPolicy" => return iam::get_policy(store, version, &name, &query),
                "setIamPolicy" => return iam::set_policy(store, api, spec, version, &name, body),
                "testIamPermissions" => {
                    return iam::test_permissions(store, api, spec, version, &name, body);
                }
                other => return unimplemented("instances", other),
            };
            api.check_request(spec, &json_body(body)?)?;
            let transition = transition(state, lifecycle, &name);
            let fails = transition.failure.is_some();
            let accepted = store.mutate(version, &name, lifecycle, None, transition)?;
            Ok(started(state, version, &name, lifecycle, fails, accepted))
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
            (None, &Method::DELETE) => {
                api.check_query("operations", "delete", &query)?;
                Ok(store.delete_operation(version, &name)?)
            }
            (None, _) => Err(ApiError::method_not_allowed(method.as_str(), "GET, DELETE")),
            (Some("cancel"), &Method::POST) => {
                api.check_query("operations", "cancel", &query)?;
                if let Some(spec) = api.method_named("operations", "cancel") {
                    api.check_request(spec, &json_body(body)?)?;
                }
                Ok(store.cancel_operation(version, &name)?)
            }
            (Some("cancel"), _) => Err(ApiError::method_not_allowed(method.as_str(), "POST")),
            (Some(verb), _) => unimplemented("operations", verb),
        },
    }
}

/// How an operation on `name` will go, from the current knobs and the seed.
pub fn transition(state: &EmulatorState, verb: Verb, name: &str) -> Transition {
    let (rate, code) = state.0.knobs.operation_failure();
    let fails = faults::operation_fails(state.0.seed, verb.as_str(), name, rate);
    Transition {
        duration: state.0.knobs.provision_time(),
        failure: fails.then(|| faults::operation_error(code, name)),
    }
}

/// The fields `instances.list` sorts on: the documented `name`, and the timestamps.
const ORDER_FIELDS: &[&str] = &["name", "createTime", "updateTime"];

/// Paging, filter and order of a list method; `order_fields` are those it may sort on.
pub fn list_query(
    query: &[(String, String)],
    order_fields: &[&str],
) -> Result<ListQuery, ApiError> {
    let page_size = query_value(query, "pageSize")
        .and_then(|size| size.trim().parse::<i64>().ok())
        .and_then(|size| usize::try_from(size).ok())
        .filter(|size| *size > 0)
        .map_or(DEFAULT_PAGE_SIZE, |size| size.min(MAX_PAGE_SIZE));
    Ok(ListQuery {
        filter: Filter::parse(query_value(query, "filter").unwrap_or_default())?,
        order: Order::parse(
            query_value(query, "orderBy").unwrap_or_default(),
            order_fields,
        )?,
        page_size,
        page_token: query_value(query, "pageToken")
            .filter(|token| !token.is_empty())
            .map(str::to_owned),
    })
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
