//! Shell quoting of planned commands, one command per line.
//!
//! `deploy/deploy.sh` reads the plan line by line and runs each line with `eval`, and
//! `--dry-run` shows it to a person. So a word must come back from bash exactly as it went in,
//! whatever a payload holds (quotes, `$`, backticks, spaces, newlines), and a command must
//! never span two lines: plain words stay bare, others go in single quotes, and words with
//! control characters use bash's `$'…'` form, where a newline is written `\n`.

/// Quotes one word for bash.
pub fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_owned();
    }
    if word.chars().any(char::is_control) {
        let mut quoted = String::from("$'");
        for c in word.chars() {
            match c {
                '\\' => quoted.push_str("\\\\"),
                '\'' => quoted.push_str("\\'"),
                '\n' => quoted.push_str("\\n"),
                '\t' => quoted.push_str("\\t"),
                '\r' => quoted.push_str("\\r"),
                c if c.is_control() => {
                    // Byte escapes of the UTF-8 form: bash reads them the same in any locale.
                    let mut buffer = [0; 4];
                    for byte in c.encode_utf8(&mut buffer).bytes() {
                        quoted.push_str(&format!("\\x{byte:02x}"));
                    }
                }
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        return quoted;
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Quotes every word and joins them with spaces: one line of shell.
pub fn line(words: &[String]) -> String {
    words
        .iter()
        .map(|word| quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn plain_words_stay_bare() {
        assert_eq!(quote("--location=europe-west3"), "--location=europe-west3");
        assert_eq!(quote("projects/p/topics/t"), "projects/p/topics/t");
    }

    #[test]
    fn others_are_quoted_on_one_line() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("--schedule=0 6 * * *"), "'--schedule=0 6 * * *'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("a\nb's\\"), r"$'a\nb\'s\\'");
        assert!(!quote("x\ny\r\u{1}").contains('\n'));
    }

    /// bash itself reads the words back unchanged.
    #[test]
    fn bash_reads_back_every_word() {
        let words: Vec<String> = [
            "plain",
            "",
            "two words",
            "it's \"quoted\"",
            "$HOME `id` $(id) \\ ! * ? ~ # ; & | < >",
            "line one\nline two\ttab\r",
            "ünïcödé ✓ 日本",
            "ctl\u{1}\u{7f}\u{85}end",
            "'",
            "\\'",
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
        let script = format!("printf '%s\\0' {}", line(&words));
        assert!(!script.contains('\n'));
        let output = Command::new("bash")
            .args(["-c", &script])
            .output()
            .expect("bash runs");
        assert!(output.status.success(), "{output:?}");
        let back: Vec<String> = String::from_utf8(output.stdout)
            .expect("utf-8")
            .split_terminator('\0')
            .map(str::to_owned)
            .collect();
        assert_eq!(back, words);
    }
}
