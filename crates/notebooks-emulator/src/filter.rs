//! The `filter` of `instances.list`: the small AIP-160 subset clients actually send.
//!
//! Supported: terms joined by whitespace or `AND`, each `path=value`, `path!=value`,
//! `path:value` or `path:*` (presence), where `path` is a dotted JSON path into the instance as
//! the API shows it (`labels.team`, `state`, `gceSetup.machineType`). Values may be quoted.
//! Anything else is rejected with a 400 rather than silently matching everything.

use serde_json::Value;

use super::status::{ApiError, Code};

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Equals,
    NotEquals,
    Has,
}

#[derive(Clone, Debug, PartialEq)]
struct Term {
    path: Vec<String>,
    op: Op,
    value: String,
}

/// A parsed list filter; the empty filter matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter(Vec<Term>);

fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".to_owned());
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

impl Filter {
    /// # Errors
    /// `INVALID_ARGUMENT` naming the part that is not understood.
    pub fn parse(text: &str) -> Result<Filter, ApiError> {
        let invalid = |why: String| {
            ApiError::new(
                Code::InvalidArgument,
                format!("Invalid filter \"{text}\": {why}."),
            )
            .with_field_violation("filter", &why)
        };
        let mut terms = Vec::new();
        for token in tokens(text).map_err(invalid)? {
            if token == "AND" {
                continue;
            }
            let (path, op, value) = if let Some((path, value)) = token.split_once("!=") {
                (path, Op::NotEquals, value)
            } else if let Some((path, value)) = token.split_once('=') {
                (path, Op::Equals, value)
            } else if let Some((path, value)) = token.split_once(':') {
                (path, Op::Has, value)
            } else {
                return Err(invalid(format!(
                    "`{token}` is not of the form field=value or field:value"
                )));
            };
            if path.is_empty() || value.is_empty() {
                return Err(invalid(format!("`{token}` lacks a field or a value")));
            }
            let path = path.split('.').map(str::to_owned).collect();
            terms.push(Term {
                path,
                op,
                value: value.to_owned(),
            });
        }
        Ok(Filter(terms))
    }

    /// The same filter with the field each term starts from respelled by `spell`, for an API
    /// that takes `display_name` for `displayName` (map keys after it, `labels.team_name`, are
    /// left as they are).
    pub fn map_fields(self, spell: impl Fn(&str) -> String) -> Filter {
        let terms = self.0.into_iter().map(|mut term| {
            if let Some(field) = term.path.first_mut() {
                *field = spell(field);
            }
            term
        });
        Filter(terms.collect())
    }

    pub fn matches(&self, instance: &Value) -> bool {
        self.0.iter().all(|term| {
            let found = term
                .path
                .iter()
                .try_fold(instance, |node, key| node.get(key));
            let text = found.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            match term.op {
                Op::Equals => text.as_deref() == Some(term.value.as_str()),
                Op::NotEquals => text.as_deref() != Some(term.value.as_str()),
                Op::Has => {
                    text.is_some()
                        && (term.value == "*" || text.as_deref() == Some(term.value.as_str()))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_terms_match_like_the_api() {
        let instance = json!({"state": "ACTIVE", "labels": {"team": "data", "env": "dev"}});
        let yes = [
            "",
            "labels.team=data",
            "labels.team:data AND labels.env=dev",
            "labels.env:*",
            "state=ACTIVE labels.team=\"data\"",
            "labels.team!=ml",
        ];
        for text in yes {
            assert!(Filter::parse(text).unwrap().matches(&instance), "{text}");
        }
        let no = [
            "labels.team=ml",
            "labels.owner:*",
            "state=STOPPED",
            "labels.env!=dev",
        ];
        for text in no {
            assert!(!Filter::parse(text).unwrap().matches(&instance), "{text}");
        }
    }

    #[test]
    fn nonsense_is_rejected() {
        for text in ["labels.team", "=x", "labels.a=\"open"] {
            let error = Filter::parse(text).unwrap_err();
            assert_eq!(error.code, Code::InvalidArgument, "{text}");
        }
    }
}
