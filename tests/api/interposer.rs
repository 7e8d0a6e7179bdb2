//! A proxy between the service and an emulator that does one thing of the test's just before
//! it forwards the request the test picked: another writer's step, placed exactly in the gap
//! between two of the service's calls (a notebook replaced between its check and its copy, a
//! job deleted between a create's 409 and its read).

use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};

use crate::local_server::LocalServer;

type Picks = Box<dyn FnMut(&Method, &str) -> bool + Send>;
type Step = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the proxy does, once: before forwarding the first request `picks` is true of.
struct Armed {
    picks: Picks,
    step: Step,
}

#[derive(Default)]
struct Shared {
    target: OnceLock<String>,
    armed: Mutex<Option<Armed>>,
    http: reqwest::Client,
}

pub struct Interposer {
    shared: Arc<Shared>,
    server: LocalServer,
}

impl Interposer {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let router = Router::new().fallback(forward).with_state(shared.clone());
        let server = LocalServer::start(router).await;
        Self { shared, server }
    }

    /// `HOST:PORT`, for the service's variable.
    pub fn host(&self) -> String {
        self.server.addr.to_string()
    }

    /// Where requests go: `http://HOST:PORT` of the emulator.
    pub fn forward_to(&self, target: String) {
        self.shared.target.set(target).expect("set once");
    }

    /// Runs `step` before forwarding the first request (method, path and query) `picks`
    /// chooses.
    pub fn arm(
        &self,
        picks: impl FnMut(&Method, &str) -> bool + Send + 'static,
        step: impl Future<Output = ()> + Send + 'static,
    ) {
        *self.shared.armed.lock().unwrap() = Some(Armed {
            picks: Box::new(picks),
            step: Box::pin(step),
        });
    }

    /// Whether the armed step has run.
    pub fn fired(&self) -> bool {
        self.shared.armed.lock().unwrap().is_none()
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let target = shared.target.get().expect("forward_to was called").clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let step = {
        let mut armed = shared.armed.lock().unwrap();
        let picked = armed
            .as_mut()
            .is_some_and(|armed| (armed.picks)(request.method(), &path));
        picked.then(|| armed.take().expect("armed").step)
    };
    if let Some(step) = step {
        step.await;
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut forwarded = shared
        .http
        .request(parts.method, format!("{target}{path}"))
        .body(body);
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n != header::HOST) {
        forwarded = forwarded.header(name, value);
    }
    let answer = forwarded.send().await.unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    response
        .body(Body::from(answer.bytes().await.unwrap()))
        .unwrap()
        .into_response()
}
