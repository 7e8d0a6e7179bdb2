//! Why a notebook failed, as the runner read it from the executed notebook: the cell that
//! raised, its first lines, the exception and the traceback.
//!
//! All of it is what the notebook wrote, sent by a machine the service does not control, and
//! shown on pages, in a terminal and in run events. So it is made plain text here before it is
//! kept: terminal escape sequences (IPython colours its tracebacks) and control characters
//! but newline and tab are dropped, and each field is cut to a bound. Cutting never refuses a
//! report: an over-long traceback is still worth its end.

use serde::{Deserialize, Serialize};

/// The most lines of the failing cell's source kept (the runner sends at most ten, and a line
/// saying how many more there were).
pub const MAX_SOURCE_LINES: usize = 11;
/// The most bytes of the failing cell's source kept.
pub const MAX_SOURCE: usize = 4 * 1024;
/// The most bytes of an exception's name kept.
pub const MAX_ENAME: usize = 256;
/// The most bytes of an exception's value kept.
pub const MAX_EVALUE: usize = 2 * 1024;
/// The most bytes of a traceback kept: its end, where the exception is.
pub const MAX_TRACEBACK: usize = 8 * 1024;

/// The first cell of the notebook that holds an error, and that error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The cell's place in the notebook as its author wrote it, from 0: the cells papermill
    /// adds (injected parameters, its error banners) are not counted.
    pub cell_index: u32,
    /// The cell's first lines.
    #[serde(default)]
    pub source: String,
    /// The exception's name (`ValueError`).
    #[serde(default)]
    pub ename: String,
    /// Its value (`the data is bad`).
    #[serde(default)]
    pub evalue: String,
    /// The traceback as plain text.
    #[serde(default)]
    pub traceback: String,
}

impl Failure {
    /// The failure made plain text and cut to the bounds.
    #[must_use]
    pub fn cleaned(self) -> Self {
        let source: Vec<&str> = self.source.lines().take(MAX_SOURCE_LINES).collect();
        Self {
            cell_index: self.cell_index,
            source: head(plain_text(&source.join("\n")), MAX_SOURCE),
            ename: head(
                plain_text(self.ename.lines().next().unwrap_or("")),
                MAX_ENAME,
            ),
            evalue: head(plain_text(&self.evalue), MAX_EVALUE),
            traceback: tail(plain_text(&self.traceback), MAX_TRACEBACK),
        }
    }

    /// The cell as a person counts them, from 1.
    pub fn cell_number(&self) -> u64 {
        u64::from(self.cell_index) + 1
    }

    /// `cell 3 raised ValueError: the data is bad`: the value's first line only.
    pub fn summary(&self) -> String {
        let ename = if self.ename.is_empty() {
            "an error"
        } else {
            &self.ename
        };
        let value = self.evalue.lines().next().unwrap_or("").trim();
        let mut said = format!("cell {} raised {ename}", self.cell_number());
        if !value.is_empty() {
            said.push_str(": ");
            said.push_str(value);
        }
        said
    }
}

/// `text` without terminal escape sequences (CSI such as colours, OSC such as titles or links,
/// character set choices and the two-byte ones) and without control characters but newline and tab; a carriage
/// return before a newline goes, as one alone does.
pub fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Consumes the rest of an escape sequence whose ESC was just read.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.peek() {
        // CSI: parameter and intermediate bytes, then one final byte.
        Some('[') => {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
        // OSC: up to BEL or ST (ESC \).
        Some(']') => {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                    break;
                }
            }
        }
        // nF (a character set, say): intermediate bytes, then one final byte.
        Some(c) if (' '..='/').contains(c) => {
            while chars.next_if(|c| (' '..='/').contains(c)).is_some() {}
            chars.next();
        }
        // The two-byte ones.
        Some(c) if ('0'..='~').contains(c) => {
            chars.next();
        }
        _ => {}
    }
}

/// The first `max` bytes of `text`, cut at a character boundary, with `…` where it was cut.
pub fn head(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    format!(
        "{}…",
        super::text::head(&text, max.saturating_sub('…'.len_utf8()))
    )
}

/// The last `max` bytes of `text`, cut at a character boundary, with `…` where it was cut.
fn tail(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    format!(
        "…{}",
        super::text::tail(&text, max.saturating_sub('…'.len_utf8()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_titles_and_control_characters_go_and_lines_stay() {
        let coloured =
            "\u{1b}[0;31mValueError\u{1b}[0m: bad\r\n\tnext\u{1b}]0;title\u{7}\u{0}\u{8}!\u{1b}(B";
        assert_eq!(plain_text(coloured), "ValueError: bad\n\tnext!");
        assert_eq!(plain_text("\u{1b}]8;;http://x\u{1b}\\link"), "link");
        assert_eq!(plain_text("end\u{1b}"), "end");
        assert_eq!(plain_text("zürich 東京"), "zürich 東京");
    }

    fn failure(source: &str, ename: &str, evalue: &str, traceback: &str) -> Failure {
        Failure {
            cell_index: 2,
            source: source.into(),
            ename: ename.into(),
            evalue: evalue.into(),
            traceback: traceback.into(),
        }
        .cleaned()
    }

    #[test]
    fn every_field_is_plain_and_bounded_and_a_traceback_keeps_its_end() {
        let many: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
        let long = failure(
            &many.join("\n"),
            &format!("{}\nSecond", "E".repeat(1000)),
            &"é".repeat(MAX_EVALUE),
            &format!("{}\u{1b}[31mValueError: the end", "frame\n".repeat(5000)),
        );
        assert_eq!(long.source.lines().count(), MAX_SOURCE_LINES);
        assert!(long.source.starts_with("line 0\nline 1\n"));
        assert!(long.ename.len() <= MAX_ENAME && long.ename.ends_with('…'));
        assert!(!long.ename.contains('\n'));
        assert!(long.evalue.len() <= MAX_EVALUE && long.evalue.ends_with('…'));
        assert!(
            long.traceback.len() <= MAX_TRACEBACK,
            "{}",
            long.traceback.len()
        );
        assert!(long.traceback.starts_with('…'));
        assert!(long.traceback.ends_with("\nValueError: the end"));
        let wide = failure(&"x".repeat(10 * MAX_SOURCE), "E", "", "");
        assert!(wide.source.len() <= MAX_SOURCE);
    }

    #[test]
    fn a_person_reads_the_cell_from_one_and_the_first_line_of_the_value() {
        let raised = failure("f()", "ValueError", "the data is bad\nmore", "");
        assert_eq!(
            raised.summary(),
            "cell 3 raised ValueError: the data is bad"
        );
        assert_eq!(failure("", "", "", "").summary(), "cell 3 raised an error");
    }

    #[test]
    fn a_failure_round_trips_and_absent_texts_are_empty() {
        let read: Failure = serde_json::from_str(r#"{"cell_index": 4}"#).unwrap();
        assert_eq!((read.cell_index, read.ename.as_str()), (4, ""));
        let json = serde_json::to_string(&read).unwrap();
        assert_eq!(serde_json::from_str::<Failure>(&json).unwrap(), read);
        assert!(serde_json::from_str::<Failure>(r#"{"cell_index": -1}"#).is_err());
    }
}
