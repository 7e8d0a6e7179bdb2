//! Topics and pull subscriptions on Google's Pub/Sub emulator, over its REST API: how a test
//! sets up what the service publishes to, and reads back what it published.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::pubsub_emulator::PubSubEmulator;

/// `PUT` of a topic or a subscription (`path` under the project), which must succeed.
pub async fn put(http: &reqwest::Client, pubsub: &PubSubEmulator, path: &str, body: Value) {
    let response = http.put(pubsub.url(path)).json(&body).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "PUT {path}: {}",
        response.text().await.unwrap()
    );
}

/// One message as a subscriber receives it.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub attributes: BTreeMap<String, String>,
    pub data: Vec<u8>,
    pub publish_time: jiff::Timestamp,
}

/// A topic with a pull subscription of its own.
pub struct PullSubscription {
    http: reqwest::Client,
    /// `…/subscriptions/NAME`.
    url: String,
}

impl PullSubscription {
    /// Creates `topic` and the subscription `name` on it.
    pub async fn create(pubsub: &PubSubEmulator, topic: &str, name: &str) -> Self {
        let http = reqwest::Client::new();
        put(&http, pubsub, &format!("topics/{topic}"), json!({})).await;
        let topic = format!("projects/{}/topics/{topic}", pubsub.project);
        let path = format!("subscriptions/{name}");
        put(&http, pubsub, &path, json!({ "topic": topic })).await;
        Self {
            http,
            url: pubsub.url(&path),
        }
    }

    /// Pulls and acknowledges until `count` messages arrived, failing after `limit`; they come
    /// back in the order they were published.
    pub async fn take(&self, count: usize, limit: Duration) -> Vec<Pulled> {
        let started = Instant::now();
        let mut pulled = Vec::new();
        while pulled.len() < count {
            assert!(
                started.elapsed() < limit,
                "{} of {count} messages within {limit:?}: {pulled:#?}",
                pulled.len()
            );
            let body: Value = self
                .post(
                    "pull",
                    json!({"maxMessages": 100, "returnImmediately": true}),
                )
                .await;
            let received = body["receivedMessages"].as_array().cloned();
            let received = received.unwrap_or_default();
            if received.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let acks: Vec<Value> = received.iter().map(|r| r["ackId"].clone()).collect();
            self.post("acknowledge", json!({ "ackIds": acks })).await;
            pulled.extend(received.iter().map(|r| decode(&r["message"])));
        }
        pulled.sort_by_key(|m| m.publish_time);
        pulled
    }

    async fn post(&self, verb: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}:{verb}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{verb}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }
}

fn decode(message: &Value) -> Pulled {
    let data = message["data"].as_str().unwrap_or_default();
    Pulled {
        attributes: serde_json::from_value(message["attributes"].clone()).unwrap_or_default(),
        data: base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 data"),
        publish_time: message["publishTime"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("a publish time"),
    }
}
