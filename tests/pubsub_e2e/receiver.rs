//! A webhook receiver on a free loopback port, standing in for Slack, Google Chat or a JSON
//! endpoint in the notifications' tests: it keeps the path and body of each request, in the
//! order they came, and answers 200. It stops when dropped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::routing::post;
use serde_json::Value;

use crate::local_server::LocalServer;

/// The path and the body (`null` when not JSON) of each request, in order.
type Got = Arc<Mutex<Vec<(String, Value)>>>;

async fn take(State(got): State<Got>, OriginalUri(uri): OriginalUri, body: Bytes) -> &'static str {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    got.lock().unwrap().push((uri.path().to_owned(), body));
    "ok"
}

pub struct Receiver {
    server: LocalServer,
    got: Got,
}

impl Receiver {
    /// Takes a POST to any path.
    pub async fn start() -> Self {
        let got = Got::default();
        let app = Router::new()
            .route("/{*path}", post(take))
            .with_state(got.clone());
        Self {
            server: LocalServer::start(app).await,
            got,
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Every request so far: its path and body.
    pub fn all(&self) -> Vec<(String, Value)> {
        self.got.lock().unwrap().clone()
    }

    /// The bodies of the requests so far that `pick` takes (by path and body), once there is
    /// one, within `limit`.
    pub async fn received(
        &self,
        limit: Duration,
        pick: impl Fn(&str, &Value) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let picked: Vec<Value> = self
                .all()
                .into_iter()
                .filter(|(path, body)| pick(path, body))
                .map(|(_, body)| body)
                .collect();
            if !picked.is_empty() {
                return picked;
            }
            assert!(
                Instant::now() < deadline,
                "no such notification within {limit:?}; received: {:#?}",
                self.all()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The JSON notifications of `event` so far, once there is one, within `limit`.
    pub async fn of_event(&self, event: &str, limit: Duration) -> Vec<Value> {
        self.received(limit, |_, body| body["event"] == event).await
    }
}
