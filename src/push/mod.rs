//! Decoding what arrives on `POST /` into one [`Trigger`], whatever shape carried it.
//!
//! Three shapes reach the endpoint: a Pub/Sub push envelope (`envelope`), the manual test
//! message `{"data":"TweetiNoteStartTopic"}` of the Cloud Functions background shape
//! (`manual`), and an Eventarc CloudEvent in binary mode whose headers say so and whose body
//! is a push envelope (`cloudevent`). They differ in where the message id lives, and so in how
//! a redelivery is recognised: that is the [`DedupeKey`], the root of all idempotency later on.

mod cloudevent;
mod envelope;
mod manual;

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::json_depth::{self, MAX_JSON_DEPTH};

pub use cloudevent::PUBSUB_CLOUDEVENT_TYPE;

/// Pub/Sub's own limit; a longer list is not something Pub/Sub would have delivered.
pub const MAX_ATTRIBUTES: usize = 100;

/// A request that cannot be a trigger: answered 400, so Pub/Sub retries and then dead-letters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the request body is not JSON: {0}")]
    NotJson(String),
    #[error(
        "the request body must be a JSON object with `message` (Pub/Sub push) or `data` (manual test message)"
    )]
    UnknownShape,
    #[error("field `{field}`: {reason}")]
    Field { field: String, reason: String },
    #[error("CloudEvent type `{0}` is not supported; expected `{PUBSUB_CLOUDEVENT_TYPE}`")]
    ForeignCloudEvent(String),
    #[error("CloudEvent header `{0}` is missing or empty")]
    MissingCloudEventHeader(&'static str),
    #[error("the message has {0} attributes; Pub/Sub allows at most {MAX_ATTRIBUTES}")]
    TooManyAttributes(usize),
    #[error("the request body nests JSON deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    #[error("the decoded payload has {size} bytes; MAX_PAYLOAD_BYTES allows {limit}")]
    PayloadTooLarge { size: usize, limit: usize },
}

/// Where a trigger came from; it ends up as a provenance label on the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Pub/Sub push delivery, from the named subscription.
    PubSub { subscription: Option<String> },
    /// An Eventarc CloudEvent (`ce-source` is the topic).
    CloudEvent { source: String },
    /// A bare `{"data": …}` posted by hand; it has no id, so every POST is a new launch.
    Manual,
    /// `notebook-trigger launch` from a terminal.
    Cli,
    /// A later attempt at a run that ended in an outcome its profile retries.
    Retry,
    /// An operator's rerun of an earlier run.
    Rerun,
    /// An operator's "run now" of a profile.
    RunNow,
}

impl Source {
    /// The label value (GCP label rules: lowercase, short).
    pub fn label(&self) -> &'static str {
        match self {
            Source::PubSub { .. } => "pubsub",
            Source::CloudEvent { .. } => "cloudevent",
            Source::Manual => "manual",
            Source::Cli => "cli",
            Source::Retry => "retry",
            Source::Rerun => "rerun",
            Source::RunNow => "run_now",
        }
    }
}

/// What identifies one logical message across redeliveries.
///
/// Two deliveries with the same key must lead to one instance; two different keys may lead to
/// two. Messages without an id get a random key, so they can never be confused with another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupeKey(String);

impl DedupeKey {
    fn pubsub(message_id: &str) -> Self {
        Self(format!("pubsub:{message_id}"))
    }

    fn cloud_event(source: &str, id: &str) -> Self {
        Self(format!("cloudevent:{source}#{id}"))
    }

    /// The key of a launch the product starts itself (`source` is its label): `id` says which
    /// one, so that two services starting the same retry, or a form posted twice, name one
    /// run.
    pub fn relaunch(source: &Source, id: &str) -> Self {
        Self(format!("{}:{id}", source.label()))
    }

    /// A key no other trigger shares.
    pub fn unique() -> Self {
        Self(format!("unique:{}", uuid::Uuid::new_v4()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The message payload, kept exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// No `data` at all: an attribute-only message.
    Absent,
    /// UTF-8 text.
    Text(String),
    /// Bytes that are not UTF-8.
    Bytes(Vec<u8>),
}

impl Data {
    fn from_bytes(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => Data::Text(text),
            Err(error) => Data::Bytes(error.into_bytes()),
        }
    }

    /// How the payload is shown in logs and summaries: the text, or base64 of the bytes.
    pub fn display(&self) -> String {
        match self {
            Data::Absent => String::new(),
            Data::Text(text) => text.clone(),
            Data::Bytes(bytes) => format!("base64:{}", STANDARD.encode(bytes)),
        }
    }
}

/// One decoded trigger, whatever shape carried it.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub source: Source,
    pub key: DedupeKey,
    pub message_id: Option<String>,
    pub publish_time: Option<jiff::Timestamp>,
    pub data: Data,
    pub attributes: BTreeMap<String, String>,
    pub ordering_key: Option<String>,
    pub delivery_attempt: Option<u32>,
}

impl Trigger {
    /// A launch the product starts itself, with no message: a retry, a rerun, a "run now".
    pub fn relaunch(source: Source, id: &str) -> Self {
        Self {
            key: DedupeKey::relaunch(&source, id),
            source,
            message_id: None,
            publish_time: None,
            data: Data::Absent,
            attributes: BTreeMap::new(),
            ordering_key: None,
            delivery_attempt: None,
        }
    }

    /// A trigger typed at a terminal (`notebook-trigger launch`).
    pub fn from_cli(payload: Option<String>) -> Self {
        Self {
            source: Source::Cli,
            key: DedupeKey::unique(),
            message_id: None,
            publish_time: None,
            data: payload.map_or(Data::Absent, Data::Text),
            attributes: BTreeMap::new(),
            ordering_key: None,
            delivery_attempt: None,
        }
    }
}

/// Decodes a request on `POST /` into a [`Trigger`]; the payload may have at most
/// `max_payload_bytes` once decoded.
///
/// # Errors
/// [`DecodeError`] naming the field or header at fault, or the limit exceeded.
pub fn decode(
    headers: &HeaderMap,
    body: &[u8],
    max_payload_bytes: usize,
) -> Result<Trigger, DecodeError> {
    let cloud_event = cloudevent::identity(headers)?;
    if json_depth::exceeds(body, MAX_JSON_DEPTH) {
        return Err(DecodeError::TooDeep);
    }
    let body = envelope::Body::parse(body)?;
    let trigger = match (body.message, cloud_event) {
        (Some(message), cloud_event) => envelope::trigger(
            message,
            body.subscription,
            cloud_event,
            body.delivery_attempt,
        )?,
        (None, Some(_)) => {
            return Err(DecodeError::Field {
                field: "message".into(),
                reason: "a Pub/Sub CloudEvent carries the message in `message`".into(),
            });
        }
        (None, None) => match body.data {
            Some(data) => manual::trigger(data, body.attributes)?,
            None => return Err(DecodeError::UnknownShape),
        },
    };
    within_limit(trigger, max_payload_bytes)
}

/// Refuses a payload larger than `MAX_PAYLOAD_BYTES` once decoded.
fn within_limit(trigger: Trigger, limit: usize) -> Result<Trigger, DecodeError> {
    let size = match &trigger.data {
        Data::Absent => 0,
        Data::Text(text) => text.len(),
        Data::Bytes(bytes) => bytes.len(),
    };
    if size > limit {
        return Err(DecodeError::PayloadTooLarge { size, limit });
    }
    Ok(trigger)
}

fn checked_attributes(
    attributes: Option<BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, DecodeError> {
    let attributes = attributes.unwrap_or_default();
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(DecodeError::TooManyAttributes(attributes.len()));
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_PAYLOAD_LIMIT: usize = 64 * 1024;

    /// Decodes a body that came without headers.
    pub(super) fn decode_json(body: &str) -> Result<Trigger, DecodeError> {
        decode(&HeaderMap::new(), body.as_bytes(), TEST_PAYLOAD_LIMIT)
    }

    /// Decodes a body under CloudEvent headers.
    pub(super) fn decode_with(headers: &HeaderMap, body: &str) -> Result<Trigger, DecodeError> {
        decode(headers, body.as_bytes(), TEST_PAYLOAD_LIMIT)
    }

    /// The push body of Pub/Sub's documentation, both spellings of every field included.
    pub(super) const DOC_EXAMPLE: &str = r#"{"message":{"attributes":{"key":"value"},
        "data":"SGVsbG8gQ2xvdWQgUHViL1N1YiEgSGVyZSBpcyBteSBtZXNzYWdlIQ==",
        "messageId":"2070443601311540","message_id":"2070443601311540",
        "publishTime":"2021-02-26T19:13:55.749Z","publish_time":"2021-02-26T19:13:55.749Z"},
        "subscription":"projects\/myproject\/subscriptions\/mysubscription"}"#;

    #[test]
    fn malformed_bodies_are_refused_with_the_field_named() {
        assert!(matches!(
            decode_json("not json"),
            Err(DecodeError::NotJson(_))
        ));
        assert!(matches!(
            decode_json(r#"{"message":"#),
            Err(DecodeError::NotJson(_))
        ));
        assert_eq!(decode_json("[]").unwrap_err(), DecodeError::UnknownShape);
        assert_eq!(decode_json("null").unwrap_err(), DecodeError::UnknownShape);
        assert_eq!(decode_json("{}").unwrap_err(), DecodeError::UnknownShape);
        let err = decode_json(r#"{"message":{"data":5}}"#).unwrap_err();
        assert!(
            matches!(&err, DecodeError::Field { field, .. } if field == "message.data"),
            "{err}"
        );
        let err = decode_json(r#"{"message":{"data":"***"}}"#).unwrap_err();
        assert!(err.to_string().contains("message.data"), "{err}");
        let err = decode_json(r#"{"message":{"attributes":{"a":1}}}"#).unwrap_err();
        assert!(err.to_string().contains("message.attributes.a"), "{err}");
        let err = decode_json(r#"{"message":{"publishTime":"yesterday"}}"#).unwrap_err();
        assert!(err.to_string().contains("message.publishTime"), "{err}");
    }

    #[test]
    fn too_many_attributes_are_refused() {
        let attrs: Vec<String> = (0..101).map(|i| format!(r#""k{i}":"v""#)).collect();
        let body = format!(
            r#"{{"message":{{"attributes":{{{}}},"messageId":"1"}}}}"#,
            attrs.join(",")
        );
        assert_eq!(
            decode_json(&body).unwrap_err(),
            DecodeError::TooManyAttributes(101)
        );
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_before_parsing() {
        let deep = format!(
            r#"{{"message":{{"attributes":{{"a":"b"}}}},"x":{}{}}}"#,
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert_eq!(decode_json(&deep).unwrap_err(), DecodeError::TooDeep);
        let shallow = r#"{"message":{"attributes":{"a":"b"}},"x":[[[]]]}"#;
        assert!(decode_json(shallow).is_ok());
    }

    #[test]
    fn decoded_payloads_over_the_limit_are_refused() {
        let data = STANDARD.encode(vec![b'a'; 2049]);
        let body = format!(r#"{{"message":{{"data":"{data}","messageId":"1"}}}}"#);
        assert_eq!(
            decode(&HeaderMap::new(), body.as_bytes(), 2048).unwrap_err(),
            DecodeError::PayloadTooLarge {
                size: 2049,
                limit: 2048
            }
        );
        assert!(decode(&HeaderMap::new(), body.as_bytes(), 2049).is_ok());
        let manual = format!(r#"{{"data":"{}"}}"#, "b".repeat(2049));
        assert!(matches!(
            decode(&HeaderMap::new(), manual.as_bytes(), 2048),
            Err(DecodeError::PayloadTooLarge { size: 2049, .. })
        ));
    }
}
