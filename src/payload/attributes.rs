//! The product's keys as Pub/Sub message attributes.
//!
//! An app whose own event has a key named `profile` or `action` cannot share the data with the
//! product's keys; in attributes the two never meet. Attribute values are text, so each key is
//! read as the data would hold it: `profile` and `action` as they are, `overrides` and
//! `parameters` as JSON text (`{"date": "2026-12-01"}`), `dry_run` as `true` or `false`. What
//! comes of them is checked as the same keys in data are.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::PayloadError;
use super::keys::PRODUCT_KEYS;
use crate::json_depth::{self, MAX_JSON_DEPTH};

/// The product's keys among `attributes`, as a data object would hold them.
///
/// # Errors
/// [`PayloadError::BadAttribute`] naming an attribute whose text is not what its key takes.
pub(super) fn product_keys(
    attributes: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, PayloadError> {
    let mut keys = Map::new();
    for key in PRODUCT_KEYS {
        if let Some(text) = attributes.get(key) {
            keys.insert(key.to_owned(), value(key, text)?);
        }
    }
    Ok(keys)
}

/// The JSON value the attribute `key` stands for.
fn value(key: &'static str, text: &str) -> Result<Value, PayloadError> {
    let bad = |reason: String| PayloadError::BadAttribute {
        attribute: key,
        reason,
    };
    match key {
        "overrides" | "parameters" if json_depth::exceeds(text.as_bytes(), MAX_JSON_DEPTH) => Err(
            bad(format!("nests JSON deeper than {MAX_JSON_DEPTH} levels")),
        ),
        "overrides" | "parameters" => serde_json::from_str(text).map_err(|error| {
            bad(format!(
                "is not JSON text ({error}); send an object as JSON, e.g. {}",
                if key == "overrides" {
                    r#"{"machine_type": "n1-standard-8"}"#
                } else {
                    r#"{"date": "2026-12-01"}"#
                }
            ))
        }),
        "dry_run" => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            other => Err(bad(format!(
                "`{}` is not true or false",
                other.escape_debug()
            ))),
        },
        _ => Ok(Value::String(text.to_owned())),
    }
}
