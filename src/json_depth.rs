//! How deeply JSON text nests, measured on the raw bytes before any parser sees them.
//!
//! Nothing the service reads legitimately nests more than a few levels (an envelope, a
//! message, an attribute map; a payload with a label map). serde_json would stop at 128
//! levels with a generic "recursion limit exceeded"; an explicit, much lower limit, checked
//! before parsing, bounds the work a hostile body can cause and lets the answer name the limit.

/// The deepest nesting of arrays and objects accepted in a request body or a payload.
pub const MAX_JSON_DEPTH: usize = 32;

/// Whether `text` opens more than `limit` arrays or objects inside each other.
///
/// Brackets inside strings do not count; malformed text is measured as far as it goes and
/// left to the parser to refuse.
pub fn exceeds(text: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                (false, _) => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn counts_arrays_and_objects() {
        assert!(!exceeds(nested(32).as_bytes(), 32));
        assert!(exceeds(nested(33).as_bytes(), 32));
        assert!(!exceeds(br#"{"a":{"b":[1,{"c":2}]}}"#, 4));
        assert!(exceeds(br#"{"a":{"b":[1,{"c":2}]}}"#, 3));
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = format!(r#"{{"a":"{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
        assert!(!exceeds(text.as_bytes(), 1));
    }

    #[test]
    fn sequential_objects_do_not_add_up() {
        let text = format!("[{}]", vec!["{}"; 1000].join(","));
        assert!(!exceeds(text.as_bytes(), 2));
    }

    proptest! {
        #[test]
        fn agrees_with_a_nesting_that_is_built(levels in 0usize..80) {
            prop_assert_eq!(exceeds(nested(levels).as_bytes(), MAX_JSON_DEPTH), levels > MAX_JSON_DEPTH);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = exceeds(&bytes, MAX_JSON_DEPTH);
        }
    }
}
