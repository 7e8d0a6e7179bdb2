//! `POST /runs/start`, `POST /runs/{run id}/rerun` and `POST /runs/{run id}/cancel`: an
//! operator's "run now", rerun and cancel, behind the operators' check (`operators`).
//!
//! Each takes a JSON body from a program (`runs … --service URL`: `profile`, `parameters` as an
//! object, and `request`, the id that makes a repeated request start one run) and answers JSON;
//! or a form from the history pages (`profile`, `parameters` as JSON text, and the form's
//! `token`, whose nonce is the request id) and answers `303 See Other` to the run's page.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::forms::{CheckError, FormRequest};
use super::history::{HistoryRoutes, peer, shown, wants_html};
use super::operators::{NotOperator, same_origin};
use super::readers::ReadError;
use crate::cause;
use crate::launch::Launched;
use crate::operate::{self, OperateError};
use crate::run::{InvalidRunId, RunId};

/// The operator a request acts as, put there by [`authorize`].
#[derive(Debug, Clone)]
pub struct Operator(pub String);

/// Why an operator's request was not done. `answer` maps each to one status.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    NotOperator(#[from] NotOperator),
    #[error("{0}")]
    Body(String),
    #[error(transparent)]
    Form(#[from] CheckError),
    #[error(transparent)]
    RunId(#[from] InvalidRunId),
    #[error(transparent)]
    Operate(#[from] OperateError),
}

/// Lets a request through only from an operator, and not from another site.
pub(super) async fn authorize(
    State(routes): State<Arc<HistoryRoutes>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = peer(&request);
    let headers = request.headers().clone();
    let checked = async {
        let reader = routes.readers.check(&headers, peer).await?;
        let operator = routes.readers.operator(&reader)?;
        same_origin(&headers)?;
        Ok::<_, ActError>(operator)
    };
    match checked.await {
        Ok(operator) => {
            tracing::info!(%operator, path = %request.uri().path(), "operator's request");
            request.extensions_mut().insert(Operator(operator));
            next.run(request).await
        }
        Err(error) => refused(error, &headers),
    }
}

/// What an operator asked, as a program sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonAsk {
    profile: Option<String>,
    #[serde(default)]
    parameters: Map<String, Value>,
    request: Option<String>,
}

/// What an operator asked, as a page's form sends it.
#[derive(Debug, Default, Deserialize)]
struct FormAsk {
    profile: Option<String>,
    parameters: Option<String>,
    token: Option<String>,
}

/// What was asked, read and checked: the request id comes from the form's token or the body.
struct Ask {
    profile: Option<String>,
    parameters: Map<String, Value>,
    request: String,
    form: bool,
}

/// Reads a JSON body or a form, checking a form's token for `operator` and `action`.
async fn ask(
    routes: &HistoryRoutes,
    request: Request,
    operator: &str,
    action: &str,
) -> Result<Ask, ActError> {
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if json {
        let Json(asked) = Json::<JsonAsk>::from_request(request, &())
            .await
            .map_err(|rejection| ActError::Body(rejection.body_text()))?;
        return Ok(Ask {
            profile: asked.profile,
            parameters: asked.parameters,
            request: request_id(asked.request)?,
            form: false,
        });
    }
    let axum::Form(asked) = axum::Form::<FormAsk>::from_request(request, &())
        .await
        .map_err(|rejection| ActError::Body(rejection.body_text()))?;
    let FormRequest(request) = routes
        .forms
        .check(asked.token.as_deref(), operator, action, Timestamp::now())
        .await?;
    Ok(Ask {
        profile: asked.profile,
        parameters: operate::parameters(asked.parameters.as_deref()).map_err(ActError::Body)?,
        request,
        form: true,
    })
}

/// The request id a program sent (letters, digits, `.`, `_`, `-`; at most 64), or a fresh one.
fn request_id(sent: Option<String>) -> Result<String, ActError> {
    let Some(sent) = sent else {
        return Ok(uuid::Uuid::new_v4().to_string());
    };
    let fits = (1..=64).contains(&sent.len())
        && sent
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if fits {
        Ok(format!("api-{sent}"))
    } else {
        Err(ActError::Body(
            "request: 1 to 64 letters, digits, `.`, `_` or `-` (a UUID, say)".to_owned(),
        ))
    }
}

/// `POST /runs/start`: a run of a profile now.
pub(super) async fn start(
    State(routes): State<Arc<HistoryRoutes>>,
    axum::Extension(Operator(operator)): axum::Extension<Operator>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let done = async {
        let asked = ask(&routes, request, &operator, "start").await?;
        let profile = asked.profile.as_deref().unwrap_or("default");
        let launched = routes
            .operations
            .run_now(
                profile,
                asked.parameters,
                &operator,
                &asked.request,
                &super::log_progress,
            )
            .await?;
        Ok::<_, ActError>((launched, asked.form))
    };
    answer_launch(done.await, &headers)
}

/// The answer to a run now or a rerun: a form is sent to the new run's page, a program gets
/// the launch's answer.
fn answer_launch(done: Result<(Launched, bool), ActError>, headers: &HeaderMap) -> Response {
    match done {
        Ok((launched, true)) => see(launched.run_id.as_ref()),
        Ok((launched, false)) => launched.into_response(),
        Err(error) => refused(error, headers),
    }
}

/// `POST /runs/{run id}/rerun`: a new run of an old one's profile and notebook.
pub(super) async fn rerun(
    State(routes): State<Arc<HistoryRoutes>>,
    axum::Extension(Operator(operator)): axum::Extension<Operator>,
    Path(run): Path<String>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let done = async {
        let run = RunId::parse(&run)?;
        let asked = ask(&routes, request, &operator, &format!("rerun:{run}")).await?;
        let launched = routes
            .operations
            .rerun(
                &run,
                asked.parameters,
                &operator,
                &asked.request,
                &super::log_progress,
            )
            .await?;
        Ok::<_, ActError>((launched, asked.form))
    };
    answer_launch(done.await, &headers)
}

/// `POST /runs/{run id}/cancel`: the run's cancel recorded and its instance stopped.
pub(super) async fn cancel(
    State(routes): State<Arc<HistoryRoutes>>,
    axum::Extension(Operator(operator)): axum::Extension<Operator>,
    Path(run): Path<String>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let done = async {
        let run = RunId::parse(&run)?;
        let asked = ask(&routes, request, &operator, &format!("cancel:{run}")).await?;
        let cancelled = routes.operations.cancel(&run, &operator).await?;
        Ok::<_, ActError>((cancelled, asked.form))
    };
    match done.await {
        Ok((cancelled, true)) => see(Some(&cancelled.run_id)),
        Ok((cancelled, false)) => (StatusCode::ACCEPTED, Json(cancelled)).into_response(),
        Err(error) => refused(error, &headers),
    }
}

/// The page of the run a form's request is about.
fn see(run: Option<&RunId>) -> Response {
    match run {
        Some(run) => Redirect::to(&format!("/runs/{run}")).into_response(),
        None => Redirect::to("/runs").into_response(),
    }
}

fn refused(error: ActError, headers: &HeaderMap) -> Response {
    let status = super::answer::act_status(&error);
    let message = cause::chain(&error).to_string();
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), error = %message, "operator's request not done");
    } else {
        tracing::warn!(status = status.as_u16(), error = %message, "operator's request refused");
    }
    shown(error.into_response(), wants_html(headers), &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_programs_request_id_is_bounded_and_plain() {
        assert_eq!(request_id(Some("a-1.b_c".into())).unwrap(), "api-a-1.b_c");
        assert!(request_id(None).unwrap().len() == 36);
        for bad in ["", "a b", "x\ny", &"z".repeat(65)] {
            assert!(
                matches!(request_id(Some(bad.into())), Err(ActError::Body(_))),
                "{bad:?}"
            );
        }
    }
}
