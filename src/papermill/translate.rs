//! JSON parameters as papermill writes them into a Python notebook: the source of the cell it
//! injects (`PythonTranslator.codify`), one `name = literal` line per parameter under
//! `# Parameters`, in the order of the parameters object (sorted by name: the object is a
//! `serde_json::Map`, which the service writes to the instance's metadata in the same order).
//!
//! The literals are papermill's, not Python's `repr`: a string is always in double quotes
//! with its `"` escaped and everything else through Python's `unicode_escape` (`é` is
//! `\xe9`, `€` is `\u20ac`), so `'` stays as it is; `None`, `True`, `False`; an integer as
//! written; a float as Python's `str` writes it (`1e-05`, `1e+16`, `0.1`); lists and dicts
//! with `, ` and `: ` between their items. Where `black` is installed beside papermill,
//! papermill passes the cell through it, which may rewrap long lines but keeps the values.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// The first line papermill writes into the cell (`comment='Parameters'`).
const HEADER: &str = "# Parameters\n";

/// The injected cell's source for `parameters`.
pub fn codify(parameters: &Map<String, Value>) -> String {
    let mut source = HEADER.to_owned();
    for (name, value) in parameters {
        let _ = writeln!(source, "{name} = {}", literal(value));
    }
    source
}

/// `value` as papermill's Python translator writes it.
fn literal(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(number) => number_literal(number),
        Value::String(text) => string_literal(text),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(literal).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(key, value)| format!("{}: {}", string_literal(key), literal(value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

fn number_literal(number: &Number) -> String {
    match number.as_f64() {
        Some(float) if number.is_f64() => float_literal(float),
        _ => number.to_string(),
    }
}

/// papermill's `translate_escaped_str`: `"` + `unicode_escape`, with `"` escaped, + `"`.
fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        let code = u32::from(c);
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if code >= 0x1_0000 => {
                let _ = write!(out, "\\U{code:08x}");
            }
            _ if code >= 0x100 => {
                let _ = write!(out, "\\u{code:04x}");
            }
            _ if !(0x20..0x7f).contains(&code) => {
                let _ = write!(out, "\\x{code:02x}");
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Python's `str(float)`: the shortest digits that read back as the same float, in plain
/// notation when the decimal point falls within 16 digits of them and at most 4 zeros after
/// the point, else as `d.ddde±XX`; `.0` on whole numbers.
fn float_literal(float: f64) -> String {
    if float.is_nan() {
        return "float('nan')".to_owned();
    }
    if float.is_infinite() {
        return if float < 0.0 {
            "float('-inf')"
        } else {
            "float('inf')"
        }
        .to_owned();
    }
    let sign = if float.is_sign_negative() { "-" } else { "" };
    // Rust's `{:e}` writes the shortest round-tripping digits, as Python's repr chooses them.
    let scientific = format!("{:e}", float.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes a whole exponent");
    let digits = mantissa.replace('.', "");
    let point = exponent + 1;
    let body = if -4 < point && point <= 16 {
        plain(&digits, point)
    } else {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{first}{fraction}e{exponent_sign}{:02}",
            exponent.unsigned_abs()
        )
    };
    format!("{sign}{body}")
}

/// `digits` with the decimal point `point` digits from their start.
fn plain(digits: &str, point: i32) -> String {
    let Ok(whole) = usize::try_from(point) else {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        return format!("0.{zeros}{digits}");
    };
    if whole == 0 {
        format!("0.{digits}")
    } else if whole >= digits.len() {
        format!("{digits}{}.0", "0".repeat(whole - digits.len()))
    } else {
        format!("{}.{}", &digits[..whole], &digits[whole..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cell_has_one_line_per_parameter_under_its_header() {
        let parameters = json!({"rows": 3, "label": "x", "event": null});
        let Value::Object(parameters) = parameters else {
            unreachable!()
        };
        assert_eq!(
            codify(&parameters),
            "# Parameters\nevent = None\nlabel = \"x\"\nrows = 3\n"
        );
        assert_eq!(codify(&Map::new()), "# Parameters\n");
    }

    #[test]
    fn strings_are_double_quoted_and_unicode_escaped() {
        for (text, expected) in [
            ("it's", r#""it's""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            ("a\\b", r#""a\\b""#),
            ("l1\nl2\tx\r", r#""l1\nl2\tx\r""#),
            ("é€😀", r#""\xe9\u20ac\U0001f600""#),
            ("\u{0}\u{1b}\u{7f}", r#""\x00\x1b\x7f""#),
            ("\\\"", r#""\\\"""#),
        ] {
            assert_eq!(literal(&json!(text)), expected, "{text:?}");
        }
    }

    #[test]
    fn floats_are_written_as_python_writes_them() {
        for (float, expected) in [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-2.5e300, "-2.5e+300"),
            (12.75, "12.75"),
            (f64::NAN, "float('nan')"),
            (f64::NEG_INFINITY, "float('-inf')"),
        ] {
            assert_eq!(float_literal(float), expected, "{float:e}");
        }
        assert_eq!(literal(&json!(2.0)), "2.0");
        assert_eq!(literal(&json!(2)), "2");
        assert_eq!(literal(&json!(u64::MAX)), "18446744073709551615");
    }

    #[test]
    fn lists_and_dicts_nest() {
        let value = json!({"b": [1, "x", null, [true, false]], "a": {"k": {}}, "e": []});
        assert_eq!(
            literal(&value),
            r#"{"a": {"k": {}}, "b": [1, "x", None, [True, False]], "e": []}"#
        );
    }
}
