//! The Pub/Sub side of the product: `publish` (what Cloud Scheduler or a web app does) and
//! `replay` (dead-lettered messages back to the trigger topic after a fix).
//!
//! The official crate ignores `PUBSUB_EMULATOR_HOST` and, without credentials and without a
//! cloud, retries the metadata server forever. So the emulator is honoured here explicitly
//! (its endpoint plus anonymous credentials) and every command runs under an overall timeout
//! that ends with a clear error instead of hanging.
//!
//! `replay` acknowledges a dead-lettered message only after its republish succeeded: an
//! interrupted replay loses nothing and duplicates at most the messages in flight, which the
//! service's idempotency absorbs (a republished message gets a new id, but it carries the same
//! payload; a message whose launch succeeded before it was dead-lettered is not in the
//! dead-letter topic).

use std::collections::BTreeMap;
use std::time::Duration;

use google_cloud_auth::credentials::Credentials;
use google_cloud_pubsub::client::{Publisher, Subscriber};
use google_cloud_pubsub::model::Message;

/// Where Pub/Sub is: Google, or an emulator (`PUBSUB_EMULATOR_HOST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubEndpoint {
    pub project: String,
    /// `host:port` of the emulator.
    pub emulator: Option<String>,
}

/// A command that could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum PubSubError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot set up the Pub/Sub client: {0}")]
    Client(String),
    #[error("publishing to {topic} failed: {reason}")]
    Publish { topic: String, reason: String },
    #[error("receiving from {subscription} failed: {reason}")]
    Receive {
        subscription: String,
        reason: String,
    },
    #[error(
        "no answer from Pub/Sub within {0:?} (are credentials or PUBSUB_EMULATOR_HOST set? is the topic right?)"
    )]
    Timeout(Duration),
}

impl PubSubEndpoint {
    /// `projects/P/topics/T` from a short or full topic name.
    ///
    /// # Errors
    /// A usage error for a malformed name.
    pub fn topic(&self, name: &str) -> Result<String, PubSubError> {
        self.resource(name, "topics")
    }

    /// `projects/P/subscriptions/S` from a short or full subscription name.
    ///
    /// # Errors
    /// A usage error for a malformed name.
    pub fn subscription(&self, name: &str) -> Result<String, PubSubError> {
        self.resource(name, "subscriptions")
    }

    fn resource(&self, name: &str, kind: &str) -> Result<String, PubSubError> {
        qualified(&self.project, name, kind)
    }

    pub(crate) async fn publisher(&self, topic: &str) -> Result<Publisher, PubSubError> {
        self.emulated(
            Publisher::builder(topic.to_owned()),
            |builder, url, anonymous| builder.with_endpoint(url).with_credentials(anonymous),
        )
        .build()
        .await
        .map_err(|e| PubSubError::Client(e.to_string()))
    }

    async fn subscriber(&self) -> Result<Subscriber, PubSubError> {
        self.emulated(Subscriber::builder(), |builder, url, anonymous| {
            builder.with_endpoint(url).with_credentials(anonymous)
        })
        .build()
        .await
        .map_err(|e| PubSubError::Client(e.to_string()))
    }

    /// A client builder pointed at the emulator, when there is one: `point` receives the
    /// emulator's URL and anonymous credentials (the publisher's and the subscriber's builders
    /// share no trait, so each says how it takes them). Without an emulator the builder keeps
    /// Google's endpoint and the default credentials.
    fn emulated<B>(&self, builder: B, point: impl FnOnce(B, String, Credentials) -> B) -> B {
        match &self.emulator {
            Some(host) => point(
                builder,
                format!("http://{host}"),
                google_cloud_auth::credentials::anonymous::Builder::new().build(),
            ),
            None => builder,
        }
    }
}

/// `projects/P/{kind}/NAME` from a short name in `project` or a full name, checked.
fn qualified(project: &str, name: &str, kind: &str) -> Result<String, PubSubError> {
    let full = if name.starts_with("projects/") {
        name.to_owned()
    } else {
        format!("projects/{project}/{kind}/{name}")
    };
    let parts: Vec<&str> = full.split('/').collect();
    let ok = parts.len() == 4
        && parts[0] == "projects"
        && parts[2] == kind
        && parts.iter().all(|p| !p.is_empty());
    if ok && parts[3].len() >= 3 {
        Ok(full)
    } else {
        Err(PubSubError::Usage(format!(
            "`{name}` is not a {} name (a short name of at least 3 characters, or projects/P/{kind}/NAME)",
            &kind[..kind.len() - 1]
        )))
    }
}

/// Whether `name` names a topic (short or full), checked before the project is known: a
/// short name is well formed or not whatever project it lands in.
///
/// # Errors
/// A usage error for a malformed name.
pub fn check_topic(name: &str) -> Result<(), PubSubError> {
    qualified("project", name, "topics").map(drop)
}

/// One message to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    pub data: Vec<u8>,
    pub attributes: BTreeMap<String, String>,
    pub ordering_key: Option<String>,
}

impl Outgoing {
    fn into_message(self) -> Message {
        let mut message = Message::new()
            .set_data(self.data)
            .set_attributes(self.attributes);
        if let Some(key) = self.ordering_key {
            message = message.set_ordering_key(key);
        }
        message
    }
}

/// Publishes one message and returns its id.
///
/// # Errors
/// [`PubSubError`], including [`PubSubError::Timeout`] after `timeout`.
pub async fn publish(
    endpoint: &PubSubEndpoint,
    topic: &str,
    message: Outgoing,
    timeout: Duration,
) -> Result<String, PubSubError> {
    let topic = endpoint.topic(topic)?;
    let work = async {
        let publisher = endpoint.publisher(&topic).await?;
        send(&publisher, &topic, message).await
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| PubSubError::Timeout(timeout))?
}

/// Publishes one message with a publisher of `topic`, and returns its id.
pub(crate) async fn send(
    publisher: &Publisher,
    topic: &str,
    message: Outgoing,
) -> Result<String, PubSubError> {
    publisher
        .publish(message.into_message())
        .await
        .map_err(|e| PubSubError::Publish {
            topic: topic.to_owned(),
            reason: e.to_string(),
        })
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Replayed {
    pub republished: u64,
}

/// Moves messages from `subscription` (a dead-letter topic's) to `topic`, keeping data,
/// attributes (minus Pub/Sub's dead-letter bookkeeping) and ordering key. Stops after `max`
/// messages, or when none arrived for `idle`.
///
/// # Errors
/// [`PubSubError`]; messages not yet republished stay in the subscription.
pub async fn replay(
    endpoint: &PubSubEndpoint,
    subscription: &str,
    topic: &str,
    max: Option<u64>,
    idle: Duration,
) -> Result<Replayed, PubSubError> {
    let subscription = endpoint.subscription(subscription)?;
    let topic = endpoint.topic(topic)?;
    let publisher = tokio::time::timeout(
        idle.max(Duration::from_secs(10)),
        endpoint.publisher(&topic),
    )
    .await
    .map_err(|_| PubSubError::Timeout(idle))??;
    let subscriber = endpoint.subscriber().await?;
    let mut stream = subscriber.subscribe(subscription.clone()).build();
    let mut replayed = Replayed::default();
    while max.is_none_or(|max| replayed.republished < max) {
        let next = match tokio::time::timeout(idle, stream.next()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(next)) => next,
        };
        let (message, handler) = next.map_err(|e| PubSubError::Receive {
            subscription: subscription.clone(),
            reason: e.to_string(),
        })?;
        let outgoing = Outgoing {
            data: message.data.to_vec(),
            attributes: message
                .attributes
                .into_iter()
                .filter(|(k, _)| !k.starts_with("CloudPubSubDeadLetter"))
                .collect(),
            ordering_key: Some(message.ordering_key).filter(|k| !k.is_empty()),
        };
        match publisher.publish(outgoing.into_message()).await {
            Ok(id) => {
                handler.ack();
                replayed.republished += 1;
                tracing::info!(old_id = %message.message_id, new_id = %id, "republished");
            }
            Err(error) => {
                handler.nack();
                return Err(PubSubError::Publish {
                    topic,
                    reason: error.to_string(),
                });
            }
        }
    }
    Ok(replayed)
}

/// `k=v` for `--attribute`.
///
/// # Errors
/// A message giving the expected form.
pub fn parse_attribute(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> PubSubEndpoint {
        PubSubEndpoint {
            project: "p".into(),
            emulator: None,
        }
    }

    #[test]
    fn names_expand_and_are_checked() {
        assert_eq!(
            endpoint().topic("trigger").unwrap(),
            "projects/p/topics/trigger"
        );
        assert_eq!(
            endpoint().topic("projects/q/topics/abc").unwrap(),
            "projects/q/topics/abc"
        );
        assert_eq!(
            endpoint().subscription("dlq-sub").unwrap(),
            "projects/p/subscriptions/dlq-sub"
        );
        for bad in [
            "ab",
            "projects/q/subscriptions/abc",
            "projects//topics/abc",
            "a/b",
        ] {
            assert!(endpoint().topic(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn attributes_parse() {
        assert_eq!(parse_attribute("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_attribute("=x").is_err());
        assert!(parse_attribute("x").is_err());
    }

    #[tokio::test]
    async fn publish_without_an_answer_ends_with_a_clear_timeout() {
        // A closed local port: the client retries; the timeout must end it.
        let endpoint = PubSubEndpoint {
            project: "p".into(),
            emulator: Some("127.0.0.1:9".into()),
        };
        let error = publish(
            &endpoint,
            "topic",
            Outgoing::default(),
            Duration::from_millis(500),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, PubSubError::Timeout(_) | PubSubError::Publish { .. }),
            "{error}"
        );
    }
}
