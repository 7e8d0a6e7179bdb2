//! The JSON body: a Pub/Sub push envelope `{"message", "subscription", "deliveryAttempt"}`, or
//! the manual shape's top-level `data` and `attributes`.
//!
//! Pub/Sub sends ids and times twice (`messageId` and `message_id`); the official crate's
//! `Message` type rejects such a body, so the envelope is our own serde type with both
//! spellings as separate optional fields. A field of the wrong type is refused with its path
//! (`message.attributes.a`), not serde's line and column.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::cloudevent::CloudEventId;
use super::{Data, DecodeError, DedupeKey, Source, Trigger, checked_attributes};

#[derive(Deserialize)]
pub(super) struct Body {
    pub(super) message: Option<WireMessage>,
    pub(super) subscription: Option<String>,
    #[serde(rename = "deliveryAttempt")]
    pub(super) delivery_attempt: Option<u32>,
    /// The manual shape: `{"data": "…"}` with no envelope around it.
    pub(super) data: Option<String>,
    pub(super) attributes: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
pub(super) struct WireMessage {
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

impl Body {
    /// One JSON document and nothing after it.
    pub(super) fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let parsed: Body =
            serde_path_to_error::deserialize(&mut deserializer).map_err(json_error)?;
        deserializer
            .end()
            .map_err(|error| DecodeError::NotJson(error.to_string()))?;
        Ok(parsed)
    }
}

/// The trigger a push envelope carries; under CloudEvent headers, the event's identity is the
/// dedupe key and its source the trigger's.
pub(super) fn trigger(
    message: WireMessage,
    subscription: Option<String>,
    cloud_event: Option<CloudEventId>,
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
        (Some(event), _) => DedupeKey::cloud_event(&event.source, &event.id),
        (None, Some(id)) => DedupeKey::pubsub(id),
        (None, None) => DedupeKey::unique(),
    };
    let (source, message_id) = match cloud_event {
        Some(event) => (
            Source::CloudEvent {
                source: event.source,
            },
            message_id.or(Some(event.id)),
        ),
        None => (Source::PubSub { subscription }, message_id),
    };
    Ok(Trigger {
        source,
        key,
        message_id,
        publish_time,
        data,
        attributes: checked_attributes(message.attributes)?,
        ordering_key: message.ordering_key.filter(|k| !k.is_empty()),
        delivery_attempt,
    })
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
    use super::super::tests::{DOC_EXAMPLE, decode_json};
    use super::*;

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
}
