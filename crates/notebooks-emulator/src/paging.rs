//! Order and page tokens for every list method.
//!
//! A page token names the last item served (its sort key), not a position: an item created or
//! deleted between two pages neither repeats nor hides another. Items are ordered by the
//! requested fields, then by name, so the order is total and paging never stalls.

use std::cmp::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::schema::snake_case;
use super::status::{ApiError, Code};

/// A sort order: fields of the item as the API shows it, each ascending or descending.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Order(Vec<(String, bool)>);

/// A page token this server did not hand out, or for another order.
#[derive(Debug, PartialEq)]
pub struct BadPageToken;

impl Order {
    /// Parses an AIP-132 `orderBy`: `field [asc|desc]`, comma-separated; `fields` lists the
    /// JSON names that may be used (their proto names are accepted too). Empty means by name.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` naming the part that is not understood.
    pub fn parse(text: &str, fields: &[&str]) -> Result<Order, ApiError> {
        let invalid = |why: String| {
            let message = format!("Invalid order_by \"{text}\": {why}.");
            ApiError::new(Code::InvalidArgument, message.clone())
                .with_field_violation("order_by", &message)
        };
        let mut order = Vec::new();
        for term in text.split(',').filter(|term| !term.trim().is_empty()) {
            let words: Vec<&str> = term.split_whitespace().collect();
            let (field, descending) = match words.as_slice() {
                [field] => (*field, false),
                [field, direction] if direction.eq_ignore_ascii_case("asc") => (*field, false),
                [field, direction] if direction.eq_ignore_ascii_case("desc") => (*field, true),
                _ => {
                    return Err(invalid(format!(
                        "`{}` is not `field [asc|desc]`",
                        term.trim()
                    )));
                }
            };
            let known = fields
                .iter()
                .find(|known| **known == field || snake_case(known) == field)
                .ok_or_else(|| {
                    invalid(format!(
                        "`{field}` cannot be sorted on (supported: {})",
                        fields.join(", ")
                    ))
                })?;
            order.push(((*known).to_owned(), descending));
        }
        Ok(Order(order))
    }

    fn key(&self, item: &Value) -> Vec<Value> {
        self.0
            .iter()
            .map(|(field, _)| item[field].clone())
            .chain([item["name"].clone()])
            .collect()
    }

    fn compare(&self, a: &[Value], b: &[Value]) -> Ordering {
        let directions = self.0.iter().map(|(_, descending)| *descending);
        a.iter()
            .zip(b)
            .zip(directions.chain([false]))
            .map(|((a, b), descending)| {
                let ordering = compare_values(a, b);
                if descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

/// Timestamps by time (their text does not sort: `…:00Z` comes after `…:00.5Z`), other
/// strings by text, numbers by value, absent fields first.
fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(a), Value::String(b)) => {
            match (a.parse::<Timestamp>(), b.parse::<Timestamp>()) {
                (Ok(a), Ok(b)) => a.cmp(&b),
                _ => a.cmp(b),
            }
        }
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// One page of `items` in `order`, under `key` (`instances`, `operations`, …), with a
/// `nextPageToken` when more follow. `size` is at least 1.
///
/// # Errors
/// [`BadPageToken`] when `token` did not come from a page of this order.
pub fn page(
    mut items: Vec<Value>,
    order: &Order,
    size: usize,
    token: Option<&str>,
    key: &str,
) -> Result<Value, BadPageToken> {
    let after = match token {
        Some(token) => {
            let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| BadPageToken)?;
            let after: Vec<Value> = serde_json::from_slice(&bytes).map_err(|_| BadPageToken)?;
            if after.len() != order.0.len() + 1 {
                return Err(BadPageToken);
            }
            Some(after)
        }
        None => None,
    };
    let mut keyed: Vec<(Vec<Value>, Value)> = items
        .drain(..)
        .map(|item| (order.key(&item), item))
        .filter(|(item_key, _)| {
            after
                .as_ref()
                .is_none_or(|after| order.compare(item_key, after).is_gt())
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| order.compare(a, b));
    let more = keyed.len() > size;
    keyed.truncate(size);
    let mut answer = Map::new();
    if let Some((last, _)) = keyed.last().filter(|_| more) {
        let token = URL_SAFE_NO_PAD.encode(Value::Array(last.clone()).to_string());
        answer.insert("nextPageToken".to_owned(), json!(token));
    }
    if !keyed.is_empty() {
        let page = keyed.into_iter().map(|(_, item)| item).collect();
        answer.insert(key.to_owned(), Value::Array(page));
    }
    Ok(Value::Object(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["name", "createTime", "updateTime"];

    fn items() -> Vec<Value> {
        ["b", "a", "d", "c", "e"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let second = if i == 0 {
                    "".to_owned()
                } else {
                    format!(".{i}")
                };
                json!({"name": name, "createTime": format!("2026-01-01T00:00:00{second}Z")})
            })
            .collect()
    }

    fn all_pages(order: &Order, size: usize) -> Vec<String> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let answer = page(items(), order, size, token.as_deref(), "items").unwrap();
            for item in answer["items"].as_array().into_iter().flatten() {
                names.push(item["name"].as_str().unwrap().to_owned());
            }
            match answer["nextPageToken"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => return names,
            }
        }
    }

    #[test]
    fn every_order_pages_through_every_item_once() {
        let by = |text: &str| Order::parse(text, FIELDS).unwrap();
        for size in [1, 2, 5, 9] {
            assert_eq!(all_pages(&by(""), size), ["a", "b", "c", "d", "e"]);
            assert_eq!(all_pages(&by("name desc"), size), ["e", "d", "c", "b", "a"]);
            // The first item was created on the whole second, before all the others.
            assert_eq!(
                all_pages(&by("createTime"), size),
                ["b", "a", "d", "c", "e"]
            );
            assert_eq!(
                all_pages(&by("create_time desc, name"), size),
                ["e", "c", "d", "a", "b"]
            );
        }
    }

    #[test]
    fn unknown_orders_and_foreign_tokens_are_refused() {
        for bad in ["state", "name sideways", "name desc extra", "labels.team"] {
            let error = Order::parse(bad, FIELDS).unwrap_err();
            assert_eq!(error.code, Code::InvalidArgument, "{bad}");
        }
        assert_eq!(
            Order::parse(" name  ASC ", FIELDS).unwrap(),
            Order::default().then("name")
        );
        let by_name = Order::default();
        let first = page(items(), &by_name, 2, None, "items").unwrap();
        let token = first["nextPageToken"].as_str().unwrap();
        let by_time = Order::parse("createTime", FIELDS).unwrap();
        assert_eq!(
            page(items(), &by_time, 2, Some(token), "items"),
            Err(BadPageToken)
        );
        assert_eq!(
            page(items(), &by_name, 2, Some("%%"), "items"),
            Err(BadPageToken)
        );
    }

    impl Order {
        fn then(mut self, field: &str) -> Order {
            self.0.push((field.to_owned(), false));
            self
        }
    }
}
