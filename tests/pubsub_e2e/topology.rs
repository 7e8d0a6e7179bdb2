//! Topics and subscriptions on Google's Pub/Sub emulator, made over its REST API.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::PROJECT;
use crate::pubsub_emulator::PubSubEmulator;

/// How the push subscription spaces redeliveries after a nack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// A `retryPolicy`, as `deploy/deploy.sh` sets in production, shortened to 1 s to 3 s.
    Exponential,
    /// No `retryPolicy`: redeliver at once. Needed where messages may be nacked more than
    /// twice in a row: with a `retryPolicy`, Google's Pub/Sub emulator (0.8.20, Cloud SDK 528)
    /// may never push again messages that were nacked for the third time together (see the
    /// README, "How the emulator differs from production"). Production Pub/Sub keeps
    /// redelivering until the dead-letter policy takes the message.
    Immediate,
}

/// Topic, dead-letter topic with a pull subscription, and a push subscription to the service.
pub struct Topology {
    http: reqwest::Client,
}

impl Topology {
    pub async fn create(
        pubsub: &PubSubEmulator,
        push_endpoint: &str,
        max_delivery_attempts: u32,
        backoff: Backoff,
    ) -> Topology {
        let topology = Topology {
            http: reqwest::Client::new(),
        };
        for topic in ["trigger", "trigger-dead"] {
            topology
                .put(pubsub, &format!("topics/{topic}"), json!({}))
                .await;
        }
        topology
            .put(
                pubsub,
                "subscriptions/trigger-dead-pull",
                json!({"topic": format!("projects/{PROJECT}/topics/trigger-dead")}),
            )
            .await;
        let mut subscription = json!({
            "topic": format!("projects/{PROJECT}/topics/trigger"),
            "pushConfig": {"pushEndpoint": push_endpoint},
            "ackDeadlineSeconds": 30,
            "deadLetterPolicy": {"deadLetterTopic": format!("projects/{PROJECT}/topics/trigger-dead"), "maxDeliveryAttempts": max_delivery_attempts},
        });
        if backoff == Backoff::Exponential {
            subscription["retryPolicy"] = json!({"minimumBackoff": "1s", "maximumBackoff": "3s"});
        }
        topology
            .put(pubsub, "subscriptions/trigger-push", subscription)
            .await;
        topology
    }

    pub async fn put(&self, pubsub: &PubSubEmulator, path: &str, body: Value) {
        crate::pubsub_pull::put(&self.http, pubsub, path, body).await;
    }

    pub async fn publish_batch(&self, pubsub: &PubSubEmulator, data: &[String]) {
        let messages: Vec<Value> = data
            .iter()
            .map(|d| json!({"data": base64::engine::general_purpose::STANDARD.encode(d)}))
            .collect();
        let response = self
            .http
            .post(pubsub.url("topics/trigger:publish"))
            .json(&json!({"messages": messages}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    pub async fn pull_dead_letters(&self, pubsub: &PubSubEmulator) -> Vec<Value> {
        let response = self
            .http
            .post(pubsub.url("subscriptions/trigger-dead-pull:pull"))
            .json(&json!({"maxMessages": 10}))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        body["receivedMessages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Gives a pulled message back at once (what a nack does), so `replay` can take it.
    pub async fn release(&self, pubsub: &PubSubEmulator, ack_ids: Vec<Value>) {
        let body = json!({"ackIds": ack_ids, "ackDeadlineSeconds": 0});
        let response = self
            .http
            .post(pubsub.url("subscriptions/trigger-dead-pull:modifyAckDeadline"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}
