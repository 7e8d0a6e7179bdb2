//! The HTTP surface: `POST /` takes triggers, `POST /runs/{run id}/complete` takes runners'
//! reports (when `SERVICE_URL` is set), `GET /runs` and `GET /runs/{run id}` show the run
//! history to its readers, `POST /runs/start`, `POST /runs/{run id}/rerun` and
//! `POST /runs/{run id}/cancel` let its operators act, `GET /healthz` says the process is up.
//!
//! A handler decodes the request, hands it to its use case (the [`Dispatcher`] for `POST /`,
//! the [`Completer`] for reports, the history for `GET /runs`) and lets `answer` pick the
//! status. The body is read as bytes under a size limit (413 beyond it) and parsed by `push`,
//! so a malformed body gets the product's own 400 with the field named, not a framework's.
//!
//! With `PUSH_AUTH_AUDIENCE` set, a middleware on `POST /` checks the bearer token before the
//! body is read: a refused request never reaches the decoder, whatever it carries.
//! `GET /healthz` stays open for probes. Reports carry a token of their own, checked by the
//! [`Completer`] against the run's instance, so the push middleware does not apply to them.
//!
//! - `answer`: every outcome's status, in one place; `history`: the history routes and their
//!   content negotiation; `pages`: their HTML; `readers`: who may read them (`RUNS_READERS`,
//!   `RUNS_AUTH`); `operators`: who may act on runs and that a request is not cross-site;
//!   `forms`: the pages' form tokens; `operate`: the operators' routes; `headers`: what every
//!   answer carries (`nosniff`, and a page's `Content-Security-Policy`), one layer over all
//!   routes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::util::MapResponse;
use tracing::Instrument;

use crate::cause;
use crate::completion::Completer;
use crate::dispatch::{Dispatched, Dispatcher};
use crate::launch::{Failure, Progress};
use crate::push;
use crate::push_token::TokenVerifier;
use crate::telemetry::TraceContext;

pub mod answer;
mod forms;
mod headers;
mod history;
mod notebook;
mod operate;
mod operators;
mod pages;
mod readers;

pub use forms::{CheckError, FormKeyError, FormKeys, FormTokenError};
pub use headers::PAGE_POLICY;
pub use history::{HistoryRoutes, Peer, Peered, RunsError, wants_html};
pub use operate::ActError;
pub use operators::NotOperator;
pub use pages::{ObjectLinks, escape};
pub use readers::{
    GCLOUD_CLIENT_ID, ReadError, Reader, ReaderSettings, Readers, RunsAuthMode,
    SERVERLESS_AUTHORIZATION,
};

/// What one request may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_payload_bytes: usize,
}

/// Shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    dispatcher: Arc<Dispatcher>,
    /// The project traces are filed under in the logs.
    project: String,
    /// `None` without `SERVICE_URL`: no run can report, so the route is not served.
    completion: Option<Arc<Completer>>,
    /// Serves `GET /runs`; `None`: the routes are not served.
    history: Option<Arc<HistoryRoutes>>,
    limits: Limits,
}

impl AppState {
    pub fn new(dispatcher: Arc<Dispatcher>, project: String, limits: Limits) -> Self {
        Self {
            dispatcher,
            project,
            completion: None,
            history: None,
            limits,
        }
    }

    /// Serves `POST /runs/{run id}/complete` with `completer`.
    #[must_use]
    pub fn with_completion(mut self, completer: Arc<Completer>) -> Self {
        self.completion = Some(completer);
        self
    }

    /// Serves `GET /runs` and `GET /runs/{run id}` from `history`, behind its readers' check.
    #[must_use]
    pub fn with_history(mut self, history: Arc<HistoryRoutes>) -> Self {
        self.history = Some(history);
        self
    }
}

/// The service `serve` listens with: the router, every answer of which goes through
/// `headers::secure` on its way out.
pub type App = MapResponse<Router, fn(Response) -> Response>;

/// The service, without a listener. With `tokens`, `POST /` needs a valid token.
pub fn router(state: AppState, tokens: Option<Arc<TokenVerifier>>) -> App {
    let trigger = match tokens {
        Some(verifier) => post(trigger).route_layer(from_fn_with_state(verifier, authenticate)),
        None => post(trigger),
    };
    let routes = Router::new().route("/", trigger);
    let routes = match state.completion {
        Some(_) => routes.route("/runs/{run}/complete", post(complete)),
        None => routes,
    };
    let history = state.history.clone().map(|routes| {
        let operate = Router::new()
            .route("/runs/start", post(operate::start))
            .route("/runs/{run}/rerun", post(operate::rerun))
            .route("/runs/{run}/cancel", post(operate::cancel))
            .route_layer(from_fn_with_state(routes.clone(), operate::authorize));
        Router::new()
            .route("/runs", get(history::list))
            .route("/runs/{run}", get(history::show))
            .route_layer(from_fn_with_state(routes.clone(), history::authorize))
            .merge(operate)
            .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
            .with_state(routes)
    });
    let routes = routes
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .with_state(state);
    let routes = match history {
        Some(history) => routes.merge(history),
        None => routes,
    };
    // Around the router, so that refusals made by the layers inside (tokens, readers) carry
    // them too; and around it rather than as its layer, since a router's layer wraps each of
    // its routes, which boxes every request's future once more, and a push's waits for
    // minutes beside thousands of others (BENCHMARKS.md, launches in flight).
    MapResponse::new(routes, headers::secure as fn(Response) -> Response)
}

/// Answers without calling anything upstream: a probe must not depend on Google being up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Lets a request through only with a valid token; runs before the body is read.
async fn authenticate(
    State(verifier): State<Arc<TokenVerifier>>,
    request: Request,
    next: Next,
) -> Response {
    match verifier.check(request.headers()).await {
        Ok(caller) => {
            tracing::debug!(%caller, "push request authenticated");
            next.run(request).await
        }
        Err(error) => {
            let error = Failure::Rejected(error.into());
            let status = answer::status(&error);
            tracing::warn!(status = status.as_u16(), error = %cause::chain(&error), "push request refused");
            error.into_response()
        }
    }
}

/// A runner's report; `answer` picks the status of a refusal.
async fn complete(
    State(state): State<AppState>,
    Path(run): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(completer) = state.completion else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match completer.complete(&run, &headers, &body).await {
        Ok(completed) => completed.into_response(),
        Err(error) => {
            let status = answer::completion_status(&error);
            tracing::warn!(run = %run, status = status.as_u16(), error = %cause::chain(&error), "report refused");
            error.into_response()
        }
    }
}

async fn trigger(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let span = tracing::info_span!(
        "push",
        trace = tracing::field::Empty,
        span_id = tracing::field::Empty,
        trace_sampled = tracing::field::Empty,
        message_id = tracing::field::Empty,
        instance = tracing::field::Empty,
    );
    if let Some(trace) = TraceContext::from_headers(&headers) {
        span.record("trace", trace.resource(&state.project));
        if let Some(span_id) = &trace.span_id {
            span.record("span_id", span_id.as_str());
        }
        span.record("trace_sampled", trace.sampled);
    }
    let decoded = push::decode(&headers, &body, state.limits.max_payload_bytes);
    // The header values and the body are slices of the connection's read buffer; a launch may
    // wait minutes next to thousands of others, so give the buffer back to the connection now.
    drop((headers, body));
    async move {
        let result = match decoded {
            Ok(trigger) => {
                if let Some(id) = &trigger.message_id {
                    tracing::Span::current().record("message_id", id.as_str());
                }
                state.dispatcher.dispatch(&trigger, &log_progress).await
            }
            Err(error) => Err(Failure::Rejected(error.into())),
        };
        match result {
            Ok(Dispatched::Launched(launched)) => {
                tracing::info!(outcome = %launched.outcome, state = %launched.state, elapsed_ms = launched.elapsed_ms as u64, "instance ready");
                launched.into_response()
            }
            Ok(Dispatched::Reaped(reaped)) => {
                // The reaper logs each verdict; the answer lists them for whoever asked.
                axum::Json(serde_json::json!({
                    "outcome": "reaped",
                    "dry_run": reaped.dry_run,
                    "verdicts": reaped.verdicts,
                    "lost": reaped.lost,
                    "executions": reaped.executions,
                    "retries": reaped.retries,
                    "freed": reaped.freed,
                    "overdue": reaped.overdue,
                    "expired": reaped.expired,
                }))
                .into_response()
            }
            Err(error) => {
                let status = answer::status(&error);
                if matches!(status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS) {
                    tracing::warn!(status = status.as_u16(), error = %cause::chain(&error), "not launched yet; Pub/Sub will redeliver");
                } else {
                    tracing::error!(status = status.as_u16(), error = %cause::chain(&error), "launch refused");
                }
                error.into_response()
            }
        }
    }
    .instrument(span)
    .await
}

fn log_progress(progress: Progress<'_>) {
    tracing::debug!(
        phase = progress.phase,
        state = progress.state.unwrap_or("-"),
        elapsed_ms = progress.elapsed.as_millis() as u64,
        "waiting"
    );
}
