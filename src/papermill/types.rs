//! What a declared parameter may be given: its type read from the annotation (`n: int = 5`,
//! `# type: int`) or, without one, from the default's literal (`5`, `0.5`, `"x"`, `True`,
//! `[…]`, `{…}`). papermill itself reads only the annotation (`--help-notebook` prints
//! "Unknown type" for `n = 5`), and injects whatever it is given; the literal is what the
//! notebook's author wrote the rest of the notebook against, so it is the type held to here.
//!
//! A default of `None`, an expression (`datetime.date.today()`, `10 * 60`) or a type not in
//! this list (`tuple`, `Path`, a union) says nothing: anything goes. `None` makes any type
//! nullable. A JSON integer is accepted where a float is expected (Python computes with `5`
//! where it would with `5.0`; papermill writes it as `5`); a float is not accepted for an int,
//! and a boolean is neither, though Python would let `True` pass for `1`.

use std::fmt;

use serde_json::Value;

use super::inspect::Declaration;

/// A Python type a JSON value can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Str,
    Bool,
    List,
    Dict,
    /// Anything goes.
    Any,
}

/// What a declared parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    kind: Kind,
    /// `null` (Python's `None`) is accepted too: the default is `None`, or the annotation
    /// `Optional[…]`.
    nullable: bool,
}

impl Expected {
    /// The type `declaration` holds its parameter to: its annotation when it names one of
    /// the JSON types, else its default's literal.
    pub fn of(declaration: &Declaration) -> Self {
        let default = declaration.default.as_str();
        let none_default = default == "None";
        match declaration.annotation.as_deref().map(annotated) {
            Some((kind, optional)) => Expected {
                kind,
                nullable: optional || none_default,
            },
            None => Expected {
                kind: literal(default),
                nullable: none_default,
            },
        }
    }

    /// Whether `value` is of this type.
    pub fn accepts(&self, value: &Value) -> bool {
        match (self.kind, value) {
            (Kind::Any, _) => true,
            (_, Value::Null) => self.nullable,
            (Kind::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Kind::Float, Value::Number(_))
            | (Kind::Str, Value::String(_))
            | (Kind::Bool, Value::Bool(_))
            | (Kind::List, Value::Array(_))
            | (Kind::Dict, Value::Object(_)) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.kind {
            Kind::Int => "int",
            Kind::Float => "float (or int)",
            Kind::Str => "str",
            Kind::Bool => "bool",
            Kind::List => "list",
            Kind::Dict => "dict",
            Kind::Any => return f.write_str("any value"),
        };
        f.write_str(name)?;
        if self.nullable {
            f.write_str(" or None")?;
        }
        Ok(())
    }
}

/// What a JSON value is, in the words of a refusal.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The kind an annotation names, and whether it is `Optional[…]`.
fn annotated(annotation: &str) -> (Kind, bool) {
    let annotation = annotation.trim();
    if let Some(inner) = annotation
        .strip_prefix("Optional[")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return (annotated(inner).0, true);
    }
    let base = annotation.split('[').next().unwrap_or_default().trim();
    let kind = match base {
        "int" => Kind::Int,
        "float" => Kind::Float,
        "str" => Kind::Str,
        "bool" => Kind::Bool,
        "list" | "List" => Kind::List,
        "dict" | "Dict" => Kind::Dict,
        _ => Kind::Any,
    };
    (kind, false)
}

/// The kind of a default's literal; `Any` for what is not a literal of a JSON type.
fn literal(default: &str) -> Kind {
    match default {
        "True" | "False" => return Kind::Bool,
        "" | "None" => return Kind::Any,
        _ => {}
    }
    if let Some(kind) = builtin_call(default) {
        return kind;
    }
    if is_string(default) {
        return Kind::Str;
    }
    if let Some(kind) = number(default) {
        return kind;
    }
    let enclosed = |open: char, close: char| default.starts_with(open) && default.ends_with(close);
    if enclosed('[', ']') {
        Kind::List
    } else if enclosed('{', '}') && (default == "{}" || default.contains(':')) {
        // `{1, 2}` is a set, which JSON has no form of.
        Kind::Dict
    } else {
        Kind::Any
    }
}

/// `int(…)`, `float('nan')`, `str(…)`, `bool(…)`, `list(…)`, `dict(…)`: the type called.
fn builtin_call(default: &str) -> Option<Kind> {
    let (name, _) = default.strip_suffix(')')?.split_once('(')?;
    match name {
        "int" => Some(Kind::Int),
        "float" => Some(Kind::Float),
        "str" => Some(Kind::Str),
        "bool" => Some(Kind::Bool),
        "list" => Some(Kind::List),
        "dict" => Some(Kind::Dict),
        _ => None,
    }
}

/// One string literal, prefixes (`r`, `f`, `u`) and triple quotes included; bytes (`b"…"`)
/// are not a string.
fn is_string(default: &str) -> bool {
    let body = default.trim_start_matches(|c: char| "rRuUfF".contains(c));
    let prefix = default.len() - body.len();
    let Some(quote) = body.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
        return false;
    };
    prefix <= 2 && body.len() >= 2 && body.ends_with(quote)
}

/// A number literal, signed or not: `5`, `-1_000`, `0x1f` are ints; `0.5`, `1e-3`, `.5`
/// are floats; `1j` and anything else are not numbers of JSON.
fn number(default: &str) -> Option<Kind> {
    let digits = default.trim_start_matches(['-', '+']);
    let radix = [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ];
    for (prefix, radix) in radix {
        if let Some(rest) = digits.strip_prefix(prefix) {
            let ok = !rest.is_empty() && rest.chars().all(|c| c == '_' || c.is_digit(radix));
            return ok.then_some(Kind::Int);
        }
    }
    let decimal = digits
        .chars()
        .all(|c| c.is_ascii_digit() || "_.eE+-".contains(c));
    let starts = digits
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.');
    if !decimal || !starts || !digits.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(if digits.contains(['.', 'e', 'E']) {
        Kind::Float
    } else {
        Kind::Int
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(annotation: Option<&str>, default: &str) -> Expected {
        Expected::of(&Declaration {
            name: "p".into(),
            annotation: annotation.map(str::to_owned),
            default: default.into(),
            help: String::new(),
        })
    }

    fn kind(default: &str) -> Kind {
        of(None, default).kind
    }

    #[test]
    fn literals_say_their_type() {
        for (default, expected) in [
            ("5", Kind::Int),
            ("-1_000", Kind::Int),
            ("0x1F", Kind::Int),
            ("0.5", Kind::Float),
            ("-1e-3", Kind::Float),
            (".5", Kind::Float),
            ("float('nan')", Kind::Float),
            ("\"x\"", Kind::Str),
            ("'it''s'", Kind::Str),
            ("r'\\d+'", Kind::Str),
            ("f\"{a}\"", Kind::Str),
            ("\"\"\"doc\"\"\"", Kind::Str),
            ("True", Kind::Bool),
            ("False", Kind::Bool),
            ("[1, 2]", Kind::List),
            ("[]", Kind::List),
            ("list()", Kind::List),
            ("{}", Kind::Dict),
            ("{\"a\": 1,}", Kind::Dict),
            ("dict(a=1)", Kind::Dict),
        ] {
            assert_eq!(kind(default), expected, "{default}");
        }
    }

    #[test]
    fn what_is_not_a_literal_of_a_json_type_takes_anything() {
        for default in [
            "None",
            "",
            "b'x'",
            "1j",
            "(1, 2)",
            "{1, 2}",
            "10 * 60",
            "datetime.date.today()",
            "os.environ['X']",
            "\"a,b\".split(',')",
            "math.inf",
            "x",
        ] {
            assert_eq!(kind(default), Kind::Any, "{default}");
        }
    }

    #[test]
    fn an_annotation_outranks_the_default_and_none_makes_it_nullable() {
        assert_eq!(
            of(Some("float"), "1"),
            Expected {
                kind: Kind::Float,
                nullable: false
            }
        );
        assert_eq!(
            of(Some("Optional[int]"), "3"),
            Expected {
                kind: Kind::Int,
                nullable: true
            }
        );
        assert_eq!(
            of(Some("int"), "None"),
            Expected {
                kind: Kind::Int,
                nullable: true
            }
        );
        assert_eq!(of(Some("List[str]"), "[]").kind, Kind::List);
        assert_eq!(of(Some("Dict[str, int]"), "{}").kind, Kind::Dict);
        assert_eq!(of(Some("Path"), "\"/x\"").kind, Kind::Any);
        assert_eq!(of(None, "None").to_string(), "any value");
        assert_eq!(of(Some("int"), "None").to_string(), "int or None");
    }

    #[test]
    fn json_values_meet_the_expected_type() {
        let int = of(None, "5");
        let float = of(None, "0.5");
        let text = of(None, "'x'");
        assert!(int.accepts(&json!(7)) && int.accepts(&json!(-7)));
        assert!(!int.accepts(&json!(7.0)), "a float is not an int");
        assert!(!int.accepts(&json!(true)), "a boolean is not an int");
        assert!(!int.accepts(&json!("five")) && !int.accepts(&json!(null)));
        assert!(float.accepts(&json!(1)) && float.accepts(&json!(1.5)));
        assert!(!float.accepts(&json!(false)) && !float.accepts(&json!("1.5")));
        assert!(text.accepts(&json!("")) && !text.accepts(&json!(1)));
        assert!(of(None, "True").accepts(&json!(false)));
        assert!(!of(None, "True").accepts(&json!(0)));
        assert!(of(None, "[]").accepts(&json!([1, "a"])));
        assert!(!of(None, "[]").accepts(&json!({})));
        assert!(of(None, "{}").accepts(&json!({"a": [1]})));
        assert!(of(Some("int"), "None").accepts(&json!(null)));
        for value in [json!(null), json!(1), json!("x"), json!([]), json!({})] {
            assert!(of(None, "None").accepts(&value), "{value}");
        }
        assert_eq!(json_kind(&json!(1.0)), "a float");
        assert_eq!(json_kind(&json!(1)), "an integer");
    }
}
