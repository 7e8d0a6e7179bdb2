//! Eventarc's CloudEvents in binary mode: `ce-*` headers around a push envelope. Only the type
//! that carries a Pub/Sub message is taken; its `ce-source` and `ce-id` identify the event
//! across redeliveries, as a message id does for a plain push.

use axum::http::HeaderMap;

use super::DecodeError;

/// The only CloudEvent type that carries a Pub/Sub message.
pub const PUBSUB_CLOUDEVENT_TYPE: &str = "google.cloud.pubsub.topic.v1.messagePublished";

/// `ce-source` and `ce-id` of a CloudEvent.
pub(super) struct CloudEventId {
    pub(super) source: String,
    pub(super) id: String,
}

/// The event's identity when the request is a binary-mode CloudEvent, `None` otherwise.
pub(super) fn identity(headers: &HeaderMap) -> Result<Option<CloudEventId>, DecodeError> {
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
    Ok(Some(CloudEventId { source, id }))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::super::tests::{DOC_EXAMPLE, decode_with};
    use super::super::{DecodeError, Source};
    use super::*;

    #[test]
    fn cloud_event_dedupes_on_source_and_id() {
        let mut headers = HeaderMap::new();
        headers.insert("ce-type", HeaderValue::from_static(PUBSUB_CLOUDEVENT_TYPE));
        headers.insert("ce-id", HeaderValue::from_static("1096434104173400"));
        headers.insert(
            "ce-source",
            HeaderValue::from_static("//pubsub.googleapis.com/projects/p/topics/t"),
        );
        let t = decode_with(&headers, DOC_EXAMPLE).unwrap();
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
            decode_with(&headers, DOC_EXAMPLE),
            Err(DecodeError::ForeignCloudEvent(_))
        ));
        headers.insert("ce-type", HeaderValue::from_static(PUBSUB_CLOUDEVENT_TYPE));
        headers.insert("ce-source", HeaderValue::from_static("//x"));
        assert_eq!(
            decode_with(&headers, DOC_EXAMPLE).unwrap_err(),
            DecodeError::MissingCloudEventHeader("ce-id")
        );
    }
}
