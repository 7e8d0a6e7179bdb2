//! The run id: derived from the message, so a redelivery names the same run.

use std::fmt;

use uuid::Uuid;

/// Namespace of derived run ids (UUIDv5): fixed forever, or redeliveries across an upgrade
/// would name new runs.
const RUN_NAMESPACE: Uuid = Uuid::from_u128(0x7275_6e73_2d6e_6f74_6562_6f6f_6b2d_7472);

/// `r` and 16 hex digits: a valid label value, path segment and metadata value, with no
/// character a URL, a shell or a bucket path would treat specially.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RunId(String);

/// Why a string is not a run id (it names the form, so a wrong URL is easy to spot).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a run id (expected r followed by 16 lowercase hex digits)")]
pub struct InvalidRunId(pub String);

impl RunId {
    /// The run of the message with this dedupe key.
    pub fn derive(dedupe_key: &str) -> Self {
        let uuid = Uuid::new_v5(&RUN_NAMESPACE, dedupe_key.as_bytes());
        Self(format!("r{}", &uuid.simple().to_string()[..16]))
    }

    /// # Errors
    /// [`InvalidRunId`] for anything [`RunId::derive`] cannot produce.
    pub fn parse(text: &str) -> Result<Self, InvalidRunId> {
        let valid = text.len() == 17
            && text.starts_with('r')
            && text[1..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidRunId(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RunId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RunId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_message_names_the_same_run_and_others_differ() {
        let a = RunId::derive("pubsub:123");
        assert_eq!(a, RunId::derive("pubsub:123"));
        assert_ne!(a, RunId::derive("pubsub:124"));
        assert_eq!(RunId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn parse_refuses_what_derive_cannot_make() {
        for text in [
            "",
            "r123",
            "R0123456789abcdef",
            "r0123456789abcdeg",
            "r0123456789abcdef0",
            "../etc",
        ] {
            assert!(RunId::parse(text).is_err(), "{text}");
        }
        assert!(
            RunId::parse("x")
                .unwrap_err()
                .to_string()
                .contains("16 lowercase hex")
        );
    }
}
