//! Decoding what arrives on `POST /` into one [`Trigger`], whatever shape carried it.
//!
//! Three shapes reach the endpoint: a Pub/Sub push envelope, the seed's bare manual test
//! message `{"data":"TweetiNoteStartTopic"}`, and an Eventarc CloudEvent in binary mode whose
//! body is a push envelope. They differ in where the message id lives, and so in how a
//! redelivery is recognised: that is the [`DedupeKey`], the root of all idempotency later on.
//!
//! Pub/Sub sends ids and times twice (`messageId` and `message_id`); the official crate's
//! `Message` type rejects such a body, so the envelope is our own serde type with both
//! spellings as separate optional fields.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::json_depth::{self, MAX_JSON_DEPTH};

/// Pub/Sub's own limit; a longer list is not something Pub/Sub would have delivered.
pub const MAX_ATTRIBUTES: usize = 100;

/// The only CloudEvent type that carries a Pub/Sub message.
pub const PUBSUB_CLOUDEVENT_TYPE: &str = "google.cloud.pubsub.topic.v1.messagePublished";

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
}

impl Source {
    /// The label value (GCP label rules: lowercase, short).
    pub fn label(&self) -> &'static str {
        match self {
            Source::PubSub { .. } => "pubsub",
            Source::CloudEvent { .. } => "cloudevent",
            Source::Manual => "manual",
            Source::Cli => "cli",
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

#[derive(Deserialize)]
struct Body {
    message: Option<WireMessage>,
    subscription: Option<String>,
    #[serde(rename = "deliveryAttempt")]
    delivery_attempt: Option<u32>,
    /// The manual shape: `{"data": "…"}` with no envelope around it.
    data: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct WireMessage {
    data: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
    #[serde(rename = "messageId")]
    message_id_camel: Option<String>,
    #[serde(rename = "message_id")]
    message_id_snake: Option<String>,
    #[serde(rename = "publishTime")]
    publish_time_camel: Option<String>,
    #[serde(rename = "publish_time")]
    publish_time_snake: Option<String>,
    #[serde(rename = "orderingKey")]
    ordering_key: Option<String>,
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
    let cloud_event = cloud_event_identity(headers)?;
    if json_depth::exceeds(body, MAX_JSON_DEPTH) {
        return Err(DecodeError::TooDeep);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed: Body = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(parsed) => parsed,
        Err(error) => return Err(json_error(error)),
    };
    deserializer
        .end()
        .map_err(|error| DecodeError::NotJson(error.to_string()))?;

    if let Some(message) = parsed.message {
        let source = match &cloud_event {
            Some((source, _)) => Source::CloudEvent {
                source: source.clone(),
            },
            None => Source::PubSub {
                subscription: parsed.subscription,
            },
        };
        let trigger = from_envelope(message, source, cloud_event, parsed.delivery_attempt)?;
        return within_limit(trigger, max_payload_bytes);
    }
    if cloud_event.is_some() {
        return Err(DecodeError::Field {
            field: "message".into(),
            reason: "a Pub/Sub CloudEvent carries the message in `message`".into(),
        });
    }
    match parsed.data {
        Some(data) => within_limit(
            Trigger {
                source: Source::Manual,
                key: DedupeKey::unique(),
                message_id: None,
                publish_time: None,
                data: Data::Text(manual_text(data)),
                attributes: checked_attributes(parsed.attributes)?,
                ordering_key: None,
                delivery_attempt: None,
            },
            max_payload_bytes,
        ),
        None => Err(DecodeError::UnknownShape),
    }
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

fn from_envelope(
    message: WireMessage,
    source: Source,
    cloud_event: Option<(String, String)>,
    delivery_attempt: Option<u32>,
) -> Result<Trigger, DecodeError> {
    let data = match message.data {
        None => Data::Absent,
        Some(encoded) => Data::from_bytes(STANDARD.decode(encoded.as_bytes()).map_err(|e| {
            DecodeError::Field {
                field: "message.data".into(),
                reason: format!("not base64: {e}"),
            }
        })?),
    };
    let message_id = message
        .message_id_camel
        .or(message.message_id_snake)
        .filter(|id| !id.is_empty());
    let publish_time = match message.publish_time_camel.or(message.publish_time_snake) {
        None => None,
        Some(text) => Some(
            text.parse::<jiff::Timestamp>()
                .map_err(|e| DecodeError::Field {
                    field: "message.publishTime".into(),
                    reason: format!("not an RFC 3339 time: {e}"),
                })?,
        ),
    };
    let key = match (&cloud_event, &message_id) {
        (Some((source, id)), _) => DedupeKey::cloud_event(source, id),
        (None, Some(id)) => DedupeKey::pubsub(id),
        (None, None) => DedupeKey::unique(),
    };
    Ok(Trigger {
        source,
        key,
        message_id: message_id.or(cloud_event.map(|(_, id)| id)),
        publish_time,
        data,
        attributes: checked_attributes(message.attributes)?,
        ordering_key: message.ordering_key.filter(|k| !k.is_empty()),
        delivery_attempt,
    })
}

/// The seed's rule for `{"data": …}`: base64 that decodes to UTF-8 text is that text; anything
/// else (`TweetiNoteStartTopic` decodes to non-UTF-8 bytes) is taken as given.
fn manual_text(data: String) -> String {
    match STANDARD.decode(data.as_bytes()).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        _ => data,
    }
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

/// `(ce-source, ce-id)` when the request is a binary-mode CloudEvent, `None` otherwise.
fn cloud_event_identity(headers: &HeaderMap) -> Result<Option<(String, String)>, DecodeError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let Some(kind) = header("ce-type") else {
        return Ok(None);
    };
    if kind != PUBSUB_CLOUDEVENT_TYPE {
        return Err(DecodeError::ForeignCloudEvent(kind));
    }
    let id = header("ce-id").ok_or(DecodeError::MissingCloudEventHeader("ce-id"))?;
    let source = header("ce-source").ok_or(DecodeError::MissingCloudEventHeader("ce-source"))?;
    Ok(Some((source, id)))
}

fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> DecodeError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    if inner.is_data() && path != "." {
        DecodeError::Field {
            field: path,
            reason: strip_position(&inner.to_string()),
        }
    } else if inner.is_data() {
        DecodeError::UnknownShape
    } else {
        DecodeError::NotJson(inner.to_string())
    }
}

/// serde_json appends "at line 1 column 17"; the field path already says where.
fn strip_position(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const TEST_PAYLOAD_LIMIT: usize = 64 * 1024;

    fn decode_json(body: &str) -> Result<Trigger, DecodeError> {
        decode(&HeaderMap::new(), body.as_bytes(), TEST_PAYLOAD_LIMIT)
    }

    const DOC_EXAMPLE: &str = r#"{"message":{"attributes":{"key":"value"},
        "data":"SGVsbG8gQ2xvdWQgUHViL1N1YiEgSGVyZSBpcyBteSBtZXNzYWdlIQ==",
        "messageId":"2070443601311540","message_id":"2070443601311540",
        "publishTime":"2021-02-26T19:13:55.749Z","publish_time":"2021-02-26T19:13:55.749Z"},
        "subscription":"projects\/myproject\/subscriptions\/mysubscription"}"#;

    #[test]
    fn documented_push_body_with_both_spellings() {
        let t = decode_json(DOC_EXAMPLE).unwrap();
        assert_eq!(
            t.data,
            Data::Text("Hello Cloud Pub/Sub! Here is my message!".into())
        );
        assert_eq!(t.key.as_str(), "pubsub:2070443601311540");
        assert_eq!(t.message_id.as_deref(), Some("2070443601311540"));
        assert_eq!(t.attributes["key"], "value");
        assert_eq!(
            t.publish_time.unwrap().to_string(),
            "2021-02-26T19:13:55.749Z"
        );
        assert_eq!(
            t.source,
            Source::PubSub {
                subscription: Some("projects/myproject/subscriptions/mysubscription".into())
            }
        );
    }

    #[test]
    fn either_spelling_alone_is_enough() {
        let snake =
            decode_json(r#"{"message":{"message_id":"7","publish_time":"2024-01-02T03:04:05Z"}}"#)
                .unwrap();
        let camel =
            decode_json(r#"{"message":{"messageId":"7","publishTime":"2024-01-02T03:04:05Z"}}"#)
                .unwrap();
        assert_eq!(snake.key, camel.key);
        assert_eq!(snake.publish_time, camel.publish_time);
    }

    #[test]
    fn attribute_only_message_has_absent_data() {
        let t = decode_json(r#"{"message":{"attributes":{"a":"b"},"messageId":"1"},"subscription":"s","deliveryAttempt":3}"#).unwrap();
        assert_eq!(t.data, Data::Absent);
        assert_eq!(t.delivery_attempt, Some(3));
    }

    #[test]
    fn non_utf8_push_data_is_kept_as_bytes() {
        // What `gcloud pubsub topics publish --message` would never send, but a web app may.
        let t = decode_json(r#"{"message":{"data":"/w==","messageId":"1"}}"#).unwrap();
        assert_eq!(t.data, Data::Bytes(vec![0xff]));
        assert_eq!(t.data.display(), "base64:/w==");
    }

    #[test]
    fn seed_manual_message_is_taken_as_given_because_it_decodes_to_non_utf8() {
        assert!(
            STANDARD.decode("TweetiNoteStartTopic").is_ok(),
            "premise: it is valid base64"
        );
        let a = decode_json(r#"{"data":"TweetiNoteStartTopic"}"#).unwrap();
        let b = decode_json(r#"{"data":"TweetiNoteStartTopic"}"#).unwrap();
        assert_eq!(a.data, Data::Text("TweetiNoteStartTopic".into()));
        assert_eq!(a.source, Source::Manual);
        assert_ne!(
            a.key, b.key,
            "no message id: every manual POST is a new launch"
        );
    }

    #[test]
    fn manual_message_with_base64_text_is_decoded() {
        let t = decode_json(r#"{"data":"VHdlZXRpTm90ZVN0YXJ0VG9waWM="}"#).unwrap();
        assert_eq!(t.data, Data::Text("TweetiNoteStartTopic".into()));
    }

    #[test]
    fn cloud_event_dedupes_on_source_and_id() {
        let mut headers = HeaderMap::new();
        headers.insert("ce-type", HeaderValue::from_static(PUBSUB_CLOUDEVENT_TYPE));
        headers.insert("ce-id", HeaderValue::from_static("1096434104173400"));
        headers.insert(
            "ce-source",
            HeaderValue::from_static("//pubsub.googleapis.com/projects/p/topics/t"),
        );
        let t = decode(&headers, DOC_EXAMPLE.as_bytes(), TEST_PAYLOAD_LIMIT).unwrap();
        assert_eq!(
            t.key.as_str(),
            "cloudevent://pubsub.googleapis.com/projects/p/topics/t#1096434104173400"
        );
        assert!(matches!(t.source, Source::CloudEvent { .. }));
    }

    #[test]
    fn cloud_event_refusals_name_the_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "ce-type",
            HeaderValue::from_static("google.cloud.storage.object.v1.finalized"),
        );
        assert!(matches!(
            decode(&headers, DOC_EXAMPLE.as_bytes(), TEST_PAYLOAD_LIMIT),
            Err(DecodeError::ForeignCloudEvent(_))
        ));
        headers.insert("ce-type", HeaderValue::from_static(PUBSUB_CLOUDEVENT_TYPE));
        headers.insert("ce-source", HeaderValue::from_static("//x"));
        assert_eq!(
            decode(&headers, DOC_EXAMPLE.as_bytes(), TEST_PAYLOAD_LIMIT).unwrap_err(),
            DecodeError::MissingCloudEventHeader("ce-id")
        );
    }

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
