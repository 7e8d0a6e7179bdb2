//! papermill's reading of a Python parameters cell (`PythonTranslator.inspect`, which
//! `papermill --help-notebook` prints and which decides papermill's "Passed unknown parameter"
//! warning), ported line for line so that this service calls declared exactly what papermill
//! does: `name = value  # help`, `name: type = value`, `name = value  # type: T help`, and
//! lists or dicts written over several lines. A line with more than one `=` is skipped, as
//! papermill skips it (with a warning there), so `x = "a=b"` declares nothing.

/// One parameter the cell declares, as papermill reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub name: String,
    /// The annotation (`n: int = 5`) or type comment (`# type: int`); `None` when neither.
    pub annotation: Option<String>,
    /// The default's source text, as written (`5`, `"x"`, `{"a": 1}`).
    pub default: String,
    /// The comment after the default, without `#`.
    pub help: String,
}

/// The declarations of a Python parameters cell, in the order papermill lists them.
pub fn inspect(source: &str) -> Vec<Declaration> {
    definitions(source)
        .iter()
        .filter_map(|definition| declaration(definition))
        .collect()
}

/// The cell's definitions: each line with one `=`, flattened with the lines that follow it
/// until the next line with an `=` (a list or dict over several lines). Blank and comment
/// lines are skipped; a line with several `=` ends the definition before it and is dropped.
fn definitions(source: &str) -> Vec<String> {
    let mut groups = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    for line in split_lines(source) {
        let stripped = strip(line);
        if stripped.is_empty() || stripped.starts_with('#') {
            continue;
        }
        let equals = line.matches('=').count();
        if equals > 0 {
            groups.push(flatten(&lines));
            lines.clear();
            if equals > 1 {
                continue;
            }
        }
        lines.push(line);
    }
    groups.push(flatten(&lines));
    groups.retain(|group| !group.is_empty());
    groups
}

/// One definition on one line: every line stripped and joined, the comments of all but the
/// last line dropped (only the last line's comment is the parameter's help).
fn flatten(lines: &[&str]) -> String {
    let Some((last, before)) = lines.split_last() else {
        return String::new();
    };
    let mut flat = String::new();
    for line in before {
        let code = line.find('#').map_or(*line, |hash| &line[..hash]);
        flat.push_str(strip(code));
    }
    flat.push_str(strip(last));
    flat
}

/// papermill's `PARAMETER_PATTERN`, matched by hand with the regex's own choices:
/// `^(?P<target>\w[\w_]*)\s*(:\s*["']?(?P<annotation>\w[\w_\[\],\s]*)["']?\s*)?=\s*`
/// `(?P<value>.*?)(\s*#\s*(type:\s*(?P<type_comment>[^\s]*)\s*)?(?P<help>.*))?$`.
fn declaration(definition: &str) -> Option<Declaration> {
    let text: Vec<char> = definition.chars().collect();
    let mut at = run(&text, 0, is_word);
    if at == 0 {
        return None;
    }
    let name: String = text[..at].iter().collect();
    at = run(&text, at, is_space);
    let annotation = match text.get(at) {
        Some(':') => {
            let (annotation, equals) = annotation(&text, at + 1)?;
            at = equals;
            Some(annotation)
        }
        _ => None,
    };
    if text.get(at) != Some(&'=') {
        return None;
    }
    at = run(&text, at + 1, is_space);
    let rest = &text[at..];
    let (value, comment) = match comment_start(rest) {
        Some(start) => (&rest[..start], Some(&rest[start..])),
        None => (rest, None),
    };
    let (type_comment, help) = comment.map(split_comment).unwrap_or_default();
    let annotation = annotation.or(type_comment.filter(|t| !t.is_empty()));
    Some(Declaration {
        name: strip(&name).to_owned(),
        annotation: annotation
            .map(|a| strip(&a).to_owned())
            .filter(|a| !a.is_empty()),
        default: strip(&value.iter().collect::<String>()).to_owned(),
        help: strip(&help).to_owned(),
    })
}

/// `\s*["']?(\w[\w\[\],\s]*)["']?\s*=` from `at` (just after the `:`): the annotation and where
/// its `=` is. The class is taken greedily and no shorter take can match (whatever it gives
/// back is in the class, never a quote or `=`), so no backtracking is needed.
fn annotation(text: &[char], at: usize) -> Option<(String, usize)> {
    let mut at = run(text, at, is_space);
    if matches!(text.get(at), Some('"' | '\'')) {
        at += 1;
    }
    if !text.get(at).copied().is_some_and(is_word) {
        return None;
    }
    let end = run(text, at, |c| {
        is_word(c) || matches!(c, '[' | ']' | ',') || is_space(c)
    });
    let annotation = text[at..end].iter().collect();
    let mut at = end;
    if matches!(text.get(at), Some('"' | '\'')) {
        at += 1;
    }
    at = run(text, at, is_space);
    (text.get(at) == Some(&'=')).then_some((annotation, at))
}

/// Where the lazy value ends: before the whitespace that leads to the first `#`, or nowhere.
fn comment_start(rest: &[char]) -> Option<usize> {
    let hash = rest.iter().position(|&c| c == '#')?;
    let mut start = hash;
    while start > 0 && is_space(rest[start - 1]) {
        start -= 1;
    }
    Some(start)
}

/// `\s*#\s*(type:\s*(?P<type_comment>[^\s]*)\s*)?(?P<help>.*)`: the type comment, if any, and
/// the help.
fn split_comment(comment: &[char]) -> (Option<String>, String) {
    let hash = run(comment, 0, is_space);
    let at = run(comment, hash + 1, is_space);
    let after: String = comment[at..].iter().collect();
    let Some(typed) = after.strip_prefix("type:") else {
        return (None, after);
    };
    let typed: Vec<char> = typed.chars().collect();
    let start = run(&typed, 0, is_space);
    let end = run(&typed, start, |c| !is_space(c));
    let help_start = run(&typed, end, is_space);
    (
        Some(typed[start..end].iter().collect()),
        typed[help_start..].iter().collect(),
    )
}

/// The end of the run of `class` characters from `at`.
fn run(text: &[char], at: usize, class: impl Fn(char) -> bool) -> usize {
    at + text
        .get(at..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&c| class(c))
        .count()
}

/// Python's `\w` for `str` patterns: letters, digits and `_`. Exact for ASCII; beyond it,
/// Rust's Unicode classes stand in for Python's (they differ only for a few combining marks).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Python's `str.isspace` (and `\s`): Unicode white space and the separators `\x1c`–`\x1f`.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.strip()`.
fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// Python's `str.splitlines()`: `\n`, `\r`, `\r\n`, `\v`, `\f`, `\x1c`–`\x1e`, `\x85`,
/// `\u2028` and `\u2029` each end a line.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let breaks = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !breaks {
            continue;
        }
        lines.push(&text[start..at]);
        start = at + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
            chars.next();
            start += 1;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(name: &str, annotation: Option<&str>, default: &str, help: &str) -> Declaration {
        Declaration {
            name: name.into(),
            annotation: annotation.map(str::to_owned),
            default: default.into(),
            help: help.into(),
        }
    }

    #[test]
    fn plain_annotated_and_commented_lines_declare_their_names() {
        let cell = "# Parameters\n\
                    n_rows = 5\n\
                    rate: float = 0.5  # the rate\n\
                    label = \"x\"  # type: str a label\n\
                    \n\
                    flag:'bool'=True\n\
                    empty = # nothing\n";
        assert_eq!(
            inspect(cell),
            [
                declared("n_rows", None, "5", ""),
                declared("rate", Some("float"), "0.5", "the rate"),
                declared("label", Some("str"), "\"x\"", "a label"),
                declared("flag", Some("bool"), "True", ""),
                declared("empty", None, "", "nothing"),
            ]
        );
    }

    #[test]
    fn lists_and_dicts_over_several_lines_are_one_definition() {
        let cell = "cities = [\n    \"Paris\",  # capital\n    \"Lyon\",\n]  # where\nd = {\n  'a': 1,\n}\n";
        assert_eq!(
            inspect(cell),
            [
                declared("cities", None, "[\"Paris\",\"Lyon\",]", "where"),
                declared("d", None, "{'a': 1,}", ""),
            ]
        );
    }

    #[test]
    fn lines_papermill_cannot_read_declare_nothing() {
        let cell = "a = b = 1\nurl = \"http://x?q=1\"\nx == 1\nimport os\n\
                    path: typing.List = []\n1st = 2\ndef f(): pass\n  indented = 3\n";
        // `1st` is a name to papermill's `\w`, and the line without `=` after it continues
        // its definition; `indented` is stripped before the match.
        assert_eq!(
            inspect(cell),
            [
                declared("1st", None, "2def f(): pass", ""),
                declared("indented", None, "3", "")
            ]
        );
    }

    #[test]
    fn a_hash_ends_the_default_even_inside_a_string() {
        assert_eq!(
            inspect("colour = \"#fff\"  # a colour"),
            [declared("colour", None, "\"", "fff\"  # a colour")]
        );
        assert_eq!(
            inspect("n = 1 # type:  int   and help"),
            [declared("n", Some("int"), "1", "and help")]
        );
        assert_eq!(inspect("n = 1 # type: "), [declared("n", None, "1", "")]);
    }

    #[test]
    fn lines_end_where_python_ends_them() {
        assert_eq!(
            split_lines("a\r\nb\rc\u{2028}d\x0be\n"),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(split_lines("a\n\nb"), ["a", "", "b"]);
        assert_eq!(strip("\x1c a \u{3000}"), "a");
    }
}
