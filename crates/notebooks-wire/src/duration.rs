//! Human-friendly durations (`30s`, `1m 30s`, `250ms`, `2h`) for flags and environment variables.
//!
//! Every timeout in the product is configured with the same syntax, so one parser serves the
//! command line and the environment alike, and its error text says what form is expected.

use std::time::Duration;

/// Parses `30s`, `1m30s`, `250ms`, `2h` or a bare number of seconds (`540`).
///
/// # Errors
/// A message naming the expected form, for the caller to prefix with the setting's name.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if let Ok(seconds) = trimmed.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let parsed: jiff::SignedDuration = trimmed
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (expected e.g. 30s, 1m30s, 250ms)"))?;
    Duration::try_from(parsed).map_err(|_| format!("`{text}` is negative; a duration must be ≥ 0"))
}

/// Renders a duration the way [`parse`] reads it, for `--help` defaults and log lines.
pub fn display(duration: Duration) -> String {
    format!(
        "{:#}",
        jiff::SignedDuration::try_from(duration).unwrap_or(jiff::SignedDuration::MAX)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("540"), Ok(Duration::from_secs(540)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn rejects_garbage_and_negative_values_with_the_expected_form() {
        assert!(parse("soon").unwrap_err().contains("expected e.g. 30s"));
        assert!(parse("-5s").unwrap_err().contains("negative"));
    }

    #[test]
    fn display_round_trips() {
        for text in ["30s", "1m 30s", "250ms"] {
            let d = parse(text).unwrap();
            assert_eq!(parse(&display(d)), Ok(d), "{text}");
        }
    }
}
