//! The manual test message `{"data": "…"}`: the Cloud Functions background shape, posted by
//! hand or by a script. It carries no message id, so every POST is a launch of its own.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Data, DecodeError, DedupeKey, Source, Trigger, checked_attributes};

/// The trigger of a manual message; a key of its own, as nothing identifies it.
pub(super) fn trigger(
    data: String,
    attributes: Option<BTreeMap<String, String>>,
) -> Result<Trigger, DecodeError> {
    Ok(Trigger {
        source: Source::Manual,
        key: DedupeKey::unique(),
        message_id: None,
        publish_time: None,
        data: Data::Text(text(data)),
        attributes: checked_attributes(attributes)?,
        ordering_key: None,
        delivery_attempt: None,
    })
}

/// Base64 that decodes to UTF-8 text is that text; anything else is taken as given:
/// `TweetiNoteStartTopic` is valid base64, but of bytes that are not UTF-8.
fn text(data: String) -> String {
    match STANDARD.decode(data.as_bytes()).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        _ => data,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::decode_json;
    use super::*;

    #[test]
    fn a_manual_message_of_non_utf8_base64_is_taken_as_given() {
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
}
