//! Text cut to a size in bytes at a character boundary. The bounds the product keeps on what
//! a notebook or a runner sends (a record's error, an event's attribute, a page's output) are
//! in bytes, since that is what storage and Pub/Sub limit, and a cut inside a character would
//! leave text that is not UTF-8: every cut goes through these two.

/// The longest start of `text` of at most `max` bytes.
pub fn head(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The longest end of `text` of at most `max` bytes.
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_never_splits_a_character() {
        let text = "aé€𝄞z";
        for max in 0..=text.len() + 1 {
            let (start, end) = (head(text, max), tail(text, max));
            assert!(start.len() <= max && end.len() <= max, "{max}");
            assert!(text.starts_with(start) && text.ends_with(end), "{max}");
        }
        assert_eq!(head(text, 2), "a", "é is two bytes");
        assert_eq!(head(text, 3), "aé");
        assert_eq!(tail(text, 4), "z", "𝄞 is four bytes");
        assert_eq!(tail(text, 5), "𝄞z");
        assert_eq!(head("", 3), "");
    }
}
