//! The `fields` system parameter: a partial response, as Google documents it.
//!
//! `fields=name,gceSetup/machineType,instances(name,state)` keeps only those fields of the
//! answer: `a/b` selects `b` inside `a`, `a(b,c)` several fields inside `a`, `*` every field,
//! and a selection applies to each element of a list. Names are checked against the method's
//! response schema first, so a misspelt field is a 400 rather than a silently empty answer.

use std::collections::BTreeMap;

use serde_json::Value;

use super::schema::Discovery;

/// A parsed field selection. A field mapped to an empty selection is kept whole.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection(BTreeMap<String, Selection>);

struct Parser<'t> {
    chars: std::iter::Peekable<std::str::Chars<'t>>,
}

impl Parser<'_> {
    fn list(&mut self) -> Result<Selection, String> {
        let mut selection = Selection::default();
        loop {
            self.item(&mut selection)?;
            if self.chars.peek() != Some(&',') {
                return Ok(selection);
            }
            self.chars.next();
        }
    }

    fn item(&mut self, into: &mut Selection) -> Result<(), String> {
        let mut path = vec![self.name()?];
        while self.chars.peek() == Some(&'/') {
            self.chars.next();
            path.push(self.name()?);
        }
        let inner = if self.chars.peek() == Some(&'(') {
            self.chars.next();
            let inner = self.list()?;
            if self.chars.next() != Some(')') {
                return Err("a '(' is not closed".to_owned());
            }
            inner
        } else {
            Selection::default()
        };
        let nested = path.iter().skip(1).rev().fold(inner, |inner, name| {
            Selection([(name.clone(), inner)].into())
        });
        into.merge(path[0].clone(), nested);
        Ok(())
    }

    fn name(&mut self) -> Result<String, String> {
        let mut name = String::new();
        while let Some(c) = self.chars.next_if(|c| !matches!(c, ',' | '/' | '(' | ')')) {
            name.push(c);
        }
        let name = name.trim();
        if name.is_empty() {
            return Err("a field name is empty".to_owned());
        }
        Ok(name.to_owned())
    }
}

impl Selection {
    /// # Errors
    /// Why `text` is not a field selection.
    pub fn parse(text: &str) -> Result<Selection, String> {
        let mut parser = Parser {
            chars: text.chars().peekable(),
        };
        let selection = parser.list()?;
        match parser.chars.next() {
            None => Ok(selection),
            Some(c) => Err(format!("unexpected '{c}'")),
        }
    }

    /// Adds `field` with `inner`; a field selected whole anywhere stays whole.
    fn merge(&mut self, field: String, inner: Selection) {
        match self.0.get_mut(&field) {
            None => {
                self.0.insert(field, inner);
            }
            Some(existing) if existing.0.is_empty() => {}
            Some(existing) if inner.0.is_empty() => *existing = inner,
            Some(existing) => {
                for (name, more) in inner.0 {
                    existing.merge(name, more);
                }
            }
        }
    }

    /// The selection with every name checked against message `schema` and spelt as in JSON.
    ///
    /// # Errors
    /// The first name `schema` does not have.
    pub fn resolve(self, api: &Discovery, schema: &str) -> Result<Selection, String> {
        let mut out = Selection::default();
        for (name, inner) in self.0 {
            if name == "*" {
                out.0.insert(name, inner);
                continue;
            }
            let (json_name, spec) = api
                .property(schema, &name)
                .ok_or_else(|| format!("Invalid field selection {name}"))?;
            let inner = resolve_within(inner, api, spec, &name)?;
            out.merge(json_name, inner);
        }
        Ok(out)
    }

    /// Keeps only the selected fields of `value`.
    pub fn apply(&self, value: &mut Value) {
        if self.0.is_empty() {
            return;
        }
        match value {
            Value::Object(fields) => {
                fields.retain(|key, _| self.0.contains_key(key) || self.0.contains_key("*"));
                for (key, field) in fields.iter_mut() {
                    if let Some(inner) = self.0.get(key).or_else(|| self.0.get("*")) {
                        inner.apply(field);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.apply(item)),
            _ => {}
        }
    }
}

/// Resolves what is selected inside field `name` of type `spec`.
fn resolve_within(
    inner: Selection,
    api: &Discovery,
    spec: &Value,
    name: &str,
) -> Result<Selection, String> {
    if inner.0.is_empty() {
        return Ok(inner);
    }
    let element = if spec["type"] == "array" {
        &spec["items"]
    } else {
        spec
    };
    if let Some(reference) = element["$ref"].as_str() {
        return inner.resolve(api, reference);
    }
    // Maps (labels, metadata) and `Any` fields have free-form keys.
    if element["type"] == "object" {
        return Ok(inner);
    }
    Err(format!("Invalid field selection {name}: it has no fields"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::schema::discovery;
    use super::*;
    use crate::ApiVersion;

    fn select(text: &str, schema: &str, mut value: Value) -> Value {
        Selection::parse(text)
            .unwrap()
            .resolve(discovery(ApiVersion::V2), schema)
            .unwrap()
            .apply(&mut value);
        value
    }

    #[test]
    fn selections_keep_what_they_name() {
        let instance = json!({
            "name": "n", "state": "ACTIVE", "labels": {"team": "a", "env": "b"},
            "gceSetup": {"machineType": "m", "metadata": {"k": "v"}},
        });
        assert_eq!(
            select("name,gceSetup/machineType", "Instance", instance.clone()),
            json!({"name": "n", "gceSetup": {"machineType": "m"}})
        );
        assert_eq!(
            select(
                "labels/team,gce_setup(metadata)",
                "Instance",
                instance.clone()
            ),
            json!({"labels": {"team": "a"}, "gceSetup": {"metadata": {"k": "v"}}})
        );
        assert_eq!(
            select(
                "gceSetup/machineType,gceSetup",
                "Instance",
                instance.clone()
            ),
            json!({"gceSetup": {"machineType": "m", "metadata": {"k": "v"}}})
        );
        assert_eq!(select("*", "Instance", instance.clone()), instance);
        let list = json!({"instances": [instance.clone(), instance], "nextPageToken": "t"});
        assert_eq!(
            select("instances(name,state)", "ListInstancesResponse", list),
            json!({"instances": [{"name": "n", "state": "ACTIVE"}, {"name": "n", "state": "ACTIVE"}]})
        );
    }

    #[test]
    fn malformed_or_unknown_selections_are_refused() {
        for bad in ["", "name,", "a(b", "a)b", "a//b", "()"] {
            assert!(Selection::parse(bad).is_err(), "{bad}");
        }
        let api = discovery(ApiVersion::V2);
        let resolve = |text: &str| Selection::parse(text).unwrap().resolve(api, "Instance");
        assert_eq!(resolve("nmae").unwrap_err(), "Invalid field selection nmae");
        assert!(resolve("gceSetup/machineTyp").is_err());
        assert!(resolve("name/first").is_err());
        assert!(resolve("labels/anything,gceSetup/acceleratorConfigs/type").is_ok());
    }
}
