//! `GET /runs` and `GET /runs/{run id}`: the run history, as JSON for programs and as HTML
//! for a browser (the `Accept` header decides), behind the [`Readers`] check. A run's page
//! also shows its executed notebook, read from Cloud Storage for the page only, and to an
//! operator the pages show their forms, each with a token issued for this page.
//!
//! The query takes the command line's filter words (`since`, `profile`, `state`, `limit`)
//! through the same [`FilterText`], so both accept the same forms and refuse them alike.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use jiff::Timestamp;

use super::forms::FormKeys;
use super::notebook;
use super::pages::{self, Controls, ObjectLinks, RunActions, RunNow};
use super::readers::{self, Reader, Readers};
use crate::cause;
use crate::history::{FilterError, FilterText, History, HistoryError};
use crate::operate::Operations;
use crate::run::{InvalidRunId, RunId};

/// What the history routes share: the history, who may read it and act on it, what acting
/// does, the forms' key, and where objects link to.
#[derive(Debug)]
pub struct HistoryRoutes {
    pub history: History,
    pub readers: Readers,
    pub operations: Operations,
    pub forms: FormKeys,
    pub links: ObjectLinks,
}

/// The caller's address, for the demo's loopback check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// A listener whose connections carry their caller's address as [`Peer`]: serve the router
/// on it with `into_make_service_with_connect_info::<Peer>()`.
pub struct Peered<L>(pub L);

impl<L: Listener<Addr = SocketAddr>> Listener for Peered<L> {
    type Io = L::Io;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Peer) {
        let (io, addr) = self.0.accept().await;
        (io, Peer(addr))
    }

    fn local_addr(&self) -> std::io::Result<Peer> {
        self.0.local_addr().map(Peer)
    }
}

impl<L: Listener<Addr = SocketAddr>> Connected<IncomingStream<'_, Peered<L>>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Peered<L>>) -> Self {
        *stream.remote_addr()
    }
}

/// Why a history request has no answer. `answer` maps each to one status.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    /// The query string is not `since`, `profile`, `state`, `limit` with their forms.
    #[error("{0}")]
    Query(String),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error(transparent)]
    RunId(#[from] InvalidRunId),
    #[error("no record of run {0} under any output")]
    NotFound(RunId),
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// Whether the caller prefers `text/html` to JSON: a browser does (`text/html,…,*/*;q=0.8`),
/// curl's `*/*` and a program's `application/json` do not, and a tie goes to JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    let mut html = 0.0_f32;
    let mut json = 0.0_f32;
    for accept in headers.get_all(header::ACCEPT) {
        let Ok(accept) = accept.to_str() else {
            continue;
        };
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "text/html" | "application/xhtml+xml" => html = html.max(q),
                "application/json" | "application/*" | "*/*" => json = json.max(q),
                _ => {}
            }
        }
    }
    html > json
}

/// The caller's address, which lets a loopback caller read the embedded demo.
pub(super) fn peer(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|info| info.0.0)
}

/// Lets a request through only when [`Readers`] says it may read.
pub(super) async fn authorize(
    State(routes): State<Arc<HistoryRoutes>>,
    mut request: Request,
    next: Next,
) -> Response {
    match routes
        .readers
        .check(request.headers(), peer(&request))
        .await
    {
        Ok(reader) => {
            tracing::debug!(?reader, path = %request.uri().path(), "runs read");
            request.extensions_mut().insert(reader);
            next.run(request).await
        }
        Err(error) => {
            let status = super::answer::read_status(&error);
            let message = cause::chain(&error).to_string();
            tracing::warn!(
                status = status.as_u16(),
                header = readers::carried(request.headers()),
                error = %message,
                "reading runs refused"
            );
            shown(
                error.into_response(),
                wants_html(request.headers()),
                &message,
            )
        }
    }
}

pub(super) async fn list(
    State(routes): State<Arc<HistoryRoutes>>,
    reader: Option<axum::Extension<Reader>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let asked = match Query::<FilterText>::try_from_uri(&uri) {
        Ok(Query(asked)) => asked,
        Err(rejection) => return refused(RunsError::Query(rejection.body_text()), &headers),
    };
    let now = Timestamp::now();
    let filter = match asked.parse(now) {
        Ok(filter) => filter,
        Err(error) => return refused(error.into(), &headers),
    };
    match routes.history.list(&filter, now).await {
        Ok(listing) if wants_html(&headers) => {
            let run_now = controls(&routes, reader, "start", |token| RunNow {
                profiles: routes.operations.profiles(),
                token,
            })
            .await;
            let page = pages::listing(&listing, &asked, &routes.links, &run_now);
            negotiated(Html(page))
        }
        Ok(listing) => negotiated(Json(listing)),
        Err(error) => refused(error.into(), &headers),
    }
}

pub(super) async fn show(
    State(routes): State<Arc<HistoryRoutes>>,
    reader: Option<axum::Extension<Reader>>,
    Path(run): Path<String>,
    headers: HeaderMap,
) -> Response {
    let run = match RunId::parse(&run) {
        Ok(run) => run,
        Err(error) => return refused(error.into(), &headers),
    };
    match routes.history.show(&run, Timestamp::now()).await {
        Ok(Some(detail)) if wants_html(&headers) => {
            let executed = routes.history.executed_notebook(&detail.row.record).await;
            let notebook = notebook::section(&executed, &routes.links);
            let actions = run_actions(&routes, reader, &detail.row.record).await;
            negotiated(Html(pages::run(
                &detail,
                &routes.links,
                &notebook,
                &actions,
            )))
        }
        Ok(Some(detail)) => negotiated(Json(detail)),
        Ok(None) => refused(RunsError::NotFound(run), &headers),
        Err(error) => refused(error.into(), &headers),
    }
}

/// The answer, marked as depending on `Accept` and not to be cached (runs change).
fn negotiated(answer: impl IntoResponse) -> Response {
    let mut response = answer.into_response();
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("accept"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refused(error: RunsError, headers: &HeaderMap) -> Response {
    let status = super::answer::runs_status(&error);
    let message = cause::chain(&error).to_string();
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), error = %message, "runs not shown");
    } else {
        tracing::info!(status = status.as_u16(), error = %message, "runs not shown");
    }
    shown(error.into_response(), wants_html(headers), &message)
}

/// An operator's forms for a page, each action's with a token of its own; `None` for a
/// reader who is not an operator.
async fn controls<T>(
    routes: &HistoryRoutes,
    reader: Option<axum::Extension<Reader>>,
    action: &str,
    form: impl FnOnce(String) -> T,
) -> Controls<T> {
    let Some(operator) = reader.and_then(|r| routes.readers.operator(&r.0).ok()) else {
        return Controls::None;
    };
    match routes
        .forms
        .issue(&operator, action, Timestamp::now())
        .await
    {
        Ok(token) => Controls::Shown(form(token)),
        Err(error) => {
            let why = cause::chain(&error).to_string();
            tracing::warn!(error = %why, "the operators' forms are not shown");
            Controls::Unavailable(why)
        }
    }
}

/// A run's page's "Rerun", and "Cancel" while there is something to cancel: the run has no
/// outcome, or its retry is still to come.
async fn run_actions(
    routes: &HistoryRoutes,
    reader: Option<axum::Extension<Reader>>,
    record: &crate::run::RunRecord,
) -> Controls<RunActions> {
    let run = &record.run_id;
    let rerun = controls(routes, reader.clone(), &format!("rerun:{run}"), |t| t).await;
    let Controls::Shown(rerun) = rerun else {
        return match rerun {
            Controls::Unavailable(why) => Controls::Unavailable(why),
            _ => Controls::None,
        };
    };
    let cancel = if !record.cancellable() {
        None
    } else {
        match controls(routes, reader, &format!("cancel:{run}"), |t| t).await {
            Controls::Shown(token) => Some(token),
            _ => None,
        }
    };
    Controls::Shown(RunActions { rerun, cancel })
}

/// A refusal as `answer` made it (status and headers: `Retry-After`, `WWW-Authenticate`),
/// with its JSON body replaced by a page for a browser.
pub(super) fn shown(response: Response, html: bool, message: &str) -> Response {
    if !html {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let status = parts.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let page = pages::refusal(
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        message,
    );
    Response::from_parts(parts, axum::body::Body::from(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn browsers_get_html_and_everyone_else_json() {
        let cases = [
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
                true,
            ),
            ("text/html", true),
            ("application/json;q=0.5, text/html", true),
            ("*/*", false),
            ("application/json", false),
            ("text/html;q=0.4, application/json", false),
            ("text/html, application/json", false),
            ("text/html;q=0.9, */*", false),
            ("text/plain", false),
            ("", false),
        ];
        for (value, html) in cases {
            assert_eq!(wants_html(&accept(value)), html, "{value}");
        }
        assert!(!wants_html(&HeaderMap::new()), "no Accept: JSON");
    }
}
