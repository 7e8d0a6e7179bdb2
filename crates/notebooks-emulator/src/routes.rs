//! The HTTP surface of the Notebooks API (and, on the same paths' root, Vertex AI's notebook
//! executions: the `executions` module): routing, fault injection, and one handler per kind of
//! resource path (locations, the instances and operations collections, one instance, its
//! custom methods, one operation), each checking the method's parameters before it hands the
//! request to the store. Handlers are synchronous: the store's lock is never held across an
//! await because there is no await.

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
use super::identity::JWKS_PATH;
use super::lifecycle::Verb;
use super::list_request::list_query;
use super::request::{
    Collection, Target, decode_colons, json_body, parse_path, query_pairs, query_value,
};
use super::schema::{Discovery, discovery};
use super::status::{ApiError, Code};
use super::system::{SystemParameters, method_parameters};
use super::transitions::{started, transition};
use super::{EmulatorState, executions, faults, iam, locations, update};
use super::{secrets, storage};

/// The emulator's HTTP routes over `state`, for `axum::serve` or in-process `oneshot` tests.
///
/// Besides the Notebooks API: the JWKS of instances' identity tokens at Google's path, Compute's
/// `getSerialPortOutput` for instances' consoles, Secret Manager under `/secretmanager/`, and
/// the emulator's own Cloud Storage unless another is configured.
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
        .with_state(state.clone())
        .merge(secrets::router(state.0.secrets.clone()));
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
    method_not_found(&method, &uri)
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
    let vertex = executions::serves(&state.0.executions, &path);
    let response = if vertex {
        executions::response_schema(&method, &path)
    } else {
        path.trim_start_matches('/')
            .split('/')
            .next()
            .and_then(|version| version.parse::<ApiVersion>().ok())
            .map(discovery)
            .and_then(|api| {
                Some((
                    api,
                    api.method(method.as_str(), &path)?.response.as_deref()?,
                ))
            })
    };
    let system = query_pairs(&uri).and_then(|query| SystemParameters::parse(&query, response));
    let answer = match faults::request_fault(state.0.seed, index, state.0.knobs.fault_rate()) {
        Some(fault) => Err(fault),
        None => match &system {
            Ok(_) if vertex => query_pairs(&uri).and_then(|query| {
                let query = method_parameters(query);
                executions::handle(
                    &state.0.executions,
                    state.0.runs.get(),
                    &method,
                    &path,
                    &query,
                    &body,
                )
            }),
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
    let (version, target) = parse_path(uri.path()).ok_or_else(|| method_not_found(method, uri))?;
    let call = Call {
        state,
        method,
        uri,
        version,
        api: discovery(version),
        query: method_parameters(query_pairs(uri)?),
        body,
    };
    match target {
        Target::Locations { project } => match *method {
            Method::GET => locations::list(call.api, &project, &call.query),
            _ => Err(call.not_allowed("GET")),
        },
        Target::Location { name } => match *method {
            Method::GET => locations::get(call.api, &name, &call.query),
            _ => Err(call.not_allowed("GET")),
        },
        Target::Collection {
            parent,
            collection: Collection::Instances,
            verb: None,
        } => list_or_create_instances(&call, parent),
        Target::Collection {
            collection: Collection::Instances,
            verb: Some(verb),
            ..
        } => call.unimplemented("instances", &verb),
        Target::Collection {
            parent,
            collection: Collection::Operations,
            verb,
        } => list_operations(&call, &parent, verb.as_deref()),
        Target::Item {
            name,
            collection: Collection::Instances,
            verb: None,
            ..
        } => get_delete_or_patch_instance(&call, &name),
        Target::Item {
            name,
            collection: Collection::Instances,
            verb: Some(verb),
            ..
        } => instance_custom_method(&call, &name, &verb),
        Target::Item {
            name,
            collection: Collection::Operations,
            verb,
            ..
        } => operation_method(&call, &name, verb.as_deref()),
    }
}

/// One request under `/{version}/`, once its path is understood: every method's handler needs
/// the same few things, and answers an unknown or unimplemented method the same way.
struct Call<'a> {
    state: &'a EmulatorState,
    method: &'a Method,
    uri: &'a Uri,
    version: ApiVersion,
    api: &'static Discovery,
    /// The method's own parameters, the system parameters left out.
    query: Vec<(String, String)>,
    body: &'a [u8],
}

impl Call<'_> {
    fn not_found(&self) -> ApiError {
        method_not_found(self.method, self.uri)
    }

    /// A method the published API has but the emulator does not serve is UNIMPLEMENTED, so a
    /// client can tell it from a typo (NOT_FOUND).
    fn unimplemented(&self, resource: &str, name: &str) -> Result<Value, ApiError> {
        if !self.api.has_method(resource, name) {
            return Err(self.not_found());
        }
        Err(ApiError::new(
            Code::Unimplemented,
            format!("The emulator does not implement projects.locations.{resource}.{name}."),
        ))
    }

    fn not_allowed(&self, allowed: &str) -> ApiError {
        ApiError::method_not_allowed(self.method.as_str(), allowed)
    }
}

fn method_not_found(method: &Method, uri: &Uri) -> ApiError {
    ApiError::new(
        Code::NotFound,
        format!("Method not found: {method} {}", uri.path()),
    )
}

/// `instances.list` and `instances.create` share their path, `…/instances`.
fn list_or_create_instances(call: &Call<'_>, parent: String) -> Result<Value, ApiError> {
    match *call.method {
        Method::GET => {
            call.api.check_query("instances", "list", &call.query)?;
            let list = list_query(&call.query, ORDER_FIELDS)?;
            Ok(call.state.0.store.list(call.version, &parent, &list)?)
        }
        Method::POST => create(
            call.state,
            call.api,
            call.version,
            parent,
            &call.query,
            call.body,
        ),
        _ => Err(call.not_allowed("GET, POST")),
    }
}

/// `operations.list`; the collection has no custom methods.
fn list_operations(call: &Call<'_>, parent: &str, verb: Option<&str>) -> Result<Value, ApiError> {
    match (verb, call.method) {
        (None, &Method::GET) => {
            call.api.check_query("operations", "list", &call.query)?;
            if query_value(&call.query, "returnPartialSuccess") == Some("true") {
                return Err(ApiError::new(
                    Code::Unimplemented,
                    "returnPartialSuccess is not supported by this service.",
                ));
            }
            let list = list_query(&call.query, &[])?;
            Ok(call.state.0.store.operations(call.version, parent, &list)?)
        }
        (None, _) => Err(call.not_allowed("GET")),
        (Some(_), _) => Err(call.not_found()),
    }
}

/// The standard methods on one instance; `patch` exists in v2 only, and the allowed methods a
/// 405 names follow the version.
fn get_delete_or_patch_instance(call: &Call<'_>, name: &str) -> Result<Value, ApiError> {
    let (api, query) = (call.api, &call.query);
    let patchable = api.has_method("instances", "patch");
    match *call.method {
        Method::GET => {
            api.check_query("instances", "get", query)?;
            Ok(call.state.0.store.instance(call.version, name)?)
        }
        Method::DELETE => {
            api.check_query("instances", "delete", query)?;
            let request_id = query_value(query, "requestId").map(str::to_owned);
            change_lifecycle(call, name, Verb::Delete, request_id)
        }
        Method::PATCH if patchable => {
            update::patch(call.state, api, call.version, name, query, call.body)
        }
        _ if patchable => Err(call.not_allowed("GET, DELETE, PATCH")),
        _ => Err(call.not_allowed("GET, DELETE")),
    }
}

/// Custom methods are looked up in the discovery document first, so a wrong HTTP method gets
/// the 405 the real API gives, and a documented verb the emulator lacks is UNIMPLEMENTED rather
/// than NOT_FOUND.
fn instance_custom_method(call: &Call<'_>, name: &str, verb: &str) -> Result<Value, ApiError> {
    let (api, store, version) = (call.api, &call.state.0.store, call.version);
    let Some(spec) = api.method_named("instances", verb) else {
        return Err(call.not_found());
    };
    if !spec.http_method.eq_ignore_ascii_case(call.method.as_str()) {
        return Err(call.not_allowed(&spec.http_method));
    }
    api.check_query("instances", verb, &call.query)?;
    let lifecycle = match verb {
        "start" => Verb::Start,
        "stop" => Verb::Stop,
        "reset" => Verb::Reset,
        "checkUpgradability" => {
            store.instance(version, name)?;
            return Ok(json!({
                "upgradeable": false,
                "upgradeInfo": "The instance runs the latest image the emulator knows.",
            }));
        }
        "getIamPolicy" => return iam::get_policy(store, version, name, &call.query),
        "setIamPolicy" => return iam::set_policy(store, api, spec, version, name, call.body),
        "testIamPermissions" => {
            return iam::test_permissions(store, api, spec, version, name, call.body);
        }
        other => return call.unimplemented("instances", other),
    };
    api.check_request(spec, &json_body(call.body)?)?;
    change_lifecycle(call, name, lifecycle, None)
}

/// Delete and the lifecycle verbs: the store records the transition, then the running
/// instance hears of it. The failure is decided before the store sees it, so a failing
/// operation never boots or halts anything.
fn change_lifecycle(
    call: &Call<'_>,
    name: &str,
    verb: Verb,
    request_id: Option<String>,
) -> Result<Value, ApiError> {
    let transition = transition(call.state, verb, name);
    let fails = transition.failure.is_some();
    let accepted = call
        .state
        .0
        .store
        .mutate(call.version, name, verb, request_id, transition)?;
    Ok(started(
        call.state,
        call.version,
        name,
        verb,
        fails,
        accepted,
    ))
}

/// An operation has one custom method, `cancel`, in both versions, so it is matched here; any
/// other verb is answered as the discovery document says (UNIMPLEMENTED or NOT_FOUND).
fn operation_method(call: &Call<'_>, name: &str, verb: Option<&str>) -> Result<Value, ApiError> {
    let (api, store, version) = (call.api, &call.state.0.store, call.version);
    match (verb, call.method) {
        (None, &Method::GET) => {
            api.check_query("operations", "get", &call.query)?;
            Ok(store.operation(version, name)?)
        }
        (None, &Method::DELETE) => {
            api.check_query("operations", "delete", &call.query)?;
            Ok(store.delete_operation(version, name)?)
        }
        (None, _) => Err(call.not_allowed("GET, DELETE")),
        (Some("cancel"), &Method::POST) => {
            api.check_query("operations", "cancel", &call.query)?;
            if let Some(spec) = api.method_named("operations", "cancel") {
                api.check_request(spec, &json_body(call.body)?)?;
            }
            Ok(store.cancel_operation(version, name)?)
        }
        (Some("cancel"), _) => Err(call.not_allowed("POST")),
        (Some(verb), _) => call.unimplemented("operations", verb),
    }
}

/// The fields `instances.list` sorts on: the documented `name`, and the timestamps.
const ORDER_FIELDS: &[&str] = &["name", "createTime", "updateTime"];

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
