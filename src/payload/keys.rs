//! Which keys of a message are the product's, and which only look like one.
//!
//! A key the product does not read is either an app's own (`upload`) or a mistake
//! (`paramters`, `Profile`, `dry-run`). Taking a mistake for an event's key would launch
//! without what the sender asked for and answer 200, so a key close to one of the product's is
//! refused, naming both: in data, when the object uses the product's keys (an event that uses
//! none is the app's alone), and in attributes always, as an attribute is never an event.
//! Closeness is judged on the key in lower case without `_`, `-`, `.` or spaces: equal there
//! (`DRY_RUN`, `dryrun`) is always close; otherwise the shorter of the two names decides how
//! many edits still count, so that an app's short keys are not taken for typos: under 5
//! characters none, 5 to 7 one (`profle`), 8 and more two (`paramters`, `overides`). An edit
//! inserts, deletes, replaces or swaps two neighbours.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Events, PayloadError};
use crate::edits;
use crate::profile::Field;

/// The keys the product reads, in data and in attributes alike.
pub const PRODUCT_KEYS: [&str; 5] = ["profile", "overrides", "parameters", "action", "dry_run"];

/// Where a message carries a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A top-level key of a JSON object in the message data.
    Data,
    /// A Pub/Sub message attribute.
    Attribute,
}

impl Place {
    /// How a key in this place is named in a refusal.
    pub(super) fn prefix(self) -> &'static str {
        match self {
            Place::Data => "",
            Place::Attribute => "attribute ",
        }
    }

    /// What to do about a near miss in this place.
    pub(super) fn near_miss_fix(self) -> &'static str {
        match self {
            Place::Data => {
                "A key this close to one of the product's is refused rather than taken for an event's; if it is the event's own, send the product's keys as attributes and the data stays the event's alone"
            }
            Place::Attribute => {
                "An attribute this close to one of the product's is refused rather than ignored"
            }
        }
    }
}

/// A key of the data the product reads: one of its own, or a profile field set at the top.
pub(super) fn is_read(key: &str) -> bool {
    PRODUCT_KEYS.contains(&key) || Field::from_name(key).is_some()
}

/// A top-level profile field that is not also one of the product's keys (`parameters`).
fn is_field(key: &str) -> bool {
    !PRODUCT_KEYS.contains(&key) && Field::from_name(key).is_some()
}

/// Refuses a key of the data object that is close to one the product reads, in an object that
/// uses the product's keys; and with `MESSAGE_EVENTS=refuse`, every key the product does not
/// read.
pub(super) fn check_data(object: &Map<String, Value>, events: Events) -> Result<(), PayloadError> {
    match events {
        Events::Allow => refuse_near_misses(object),
        Events::Refuse => refuse_unknown(object),
    }
}

/// In an object with one of the product's keys or a profile field at the top, a key close to
/// one of the product's, or to a profile field's name when fields are set at the top.
fn refuse_near_misses(object: &Map<String, Value>) -> Result<(), PayloadError> {
    let uses_fields = object.keys().any(|key| is_field(key));
    let uses_keys = object
        .keys()
        .any(|key| PRODUCT_KEYS.contains(&key.as_str()));
    if !uses_fields && !uses_keys {
        return Ok(());
    }
    let fields = Field::ALL.into_iter().map(Field::name);
    let names: Vec<&'static str> = PRODUCT_KEYS
        .into_iter()
        .chain(fields.filter(|_| uses_fields))
        .collect();
    object
        .keys()
        .filter(|key| !is_read(key))
        .find_map(|key| near_miss(key, Place::Data, names.iter().copied()))
        .map_or(Ok(()), Err)
}

/// The first key the product does not read, as a near miss when it is close to one it does.
fn refuse_unknown(object: &Map<String, Value>) -> Result<(), PayloadError> {
    object
        .keys()
        .find(|key| !is_read(key))
        .map_or(Ok(()), |key| {
            Err(near_miss(key, Place::Data, all_names()).unwrap_or_else(|| {
                PayloadError::EventRefused {
                    key: key.escape_debug().to_string(),
                    by_attributes: false,
                }
            }))
        })
}

/// Refuses an attribute named close to one of the product's keys (`Profile`, `dryrun`): on the
/// trigger topic such an attribute is meant for the product, and ignoring it would launch what
/// the sender did not ask for. Any other attribute is the sender's (`origin`, Scheduler's
/// `source`, Pub/Sub's dead-letter attributes) and is not read.
pub(super) fn check_attribute_names(
    attributes: &BTreeMap<String, String>,
) -> Result<(), PayloadError> {
    attributes
        .keys()
        .filter(|key| !PRODUCT_KEYS.contains(&key.as_str()))
        .find_map(|key| near_miss(key, Place::Attribute, PRODUCT_KEYS))
        .map_or(Ok(()), Err)
}

/// Refuses an attribute named as a profile field in a message whose attributes carry the
/// product's keys: attributes carry no fields, they go in the `overrides` attribute.
pub(super) fn refuse_field_attributes(
    attributes: &BTreeMap<String, String>,
) -> Result<(), PayloadError> {
    let field_named = |key: &String| {
        Field::ALL
            .into_iter()
            .find(|field| normalized(field.name()) == normalized(key))
            .filter(|field| !PRODUCT_KEYS.contains(&field.name()))
            .map(|field| PayloadError::FieldAttribute {
                attribute: key.escape_debug().to_string(),
                field,
            })
    };
    attributes.keys().find_map(field_named).map_or(Ok(()), Err)
}

/// Every name a data key may be read as: the product's keys and the profile fields.
fn all_names() -> impl Iterator<Item = &'static str> {
    PRODUCT_KEYS
        .into_iter()
        .chain(Field::ALL.into_iter().map(Field::name))
}

/// The refusal of `key` when it is close to one of `names`, naming the closest.
fn near_miss(
    key: &str,
    place: Place,
    names: impl IntoIterator<Item = &'static str>,
) -> Option<PayloadError> {
    let key_form = normalized(key);
    names
        .into_iter()
        .filter_map(|name| {
            let name_form = normalized(name);
            let shorter = key_form.len().min(name_form.len());
            let allowed = match shorter {
                0..5 => 0,
                5..8 => 1,
                _ => 2,
            };
            edits::within(&key_form, &name_form, allowed).map(|d| (d, name))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, meant)| PayloadError::NearMiss {
            key: key.escape_debug().to_string(),
            meant,
            place,
        })
}

/// The key as closeness judges it: ASCII lower case, without `_`, `-`, `.` and spaces.
fn normalized(key: &str) -> Vec<char> {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_need_to_be_nearer() {
        let close = |key: &str| near_miss(key, Place::Data, all_names()).is_some();
        for key in [
            "Profile",
            "PROFILE",
            "paramters",
            "dryrun",
            "dry-run",
            "DryRun",
            "dry run",
            "profle",
            "actions",
            "overides",
            "Parameter",
            "machine-type",
            "machinetyp",
        ] {
            assert!(close(key), "{key} is close to a product key");
        }
        for key in [
            "upload", "start", "user", "id", "city", "date", "profit", "option", "active",
            "section", "event", "bucket", "name", "type", "tag", "region",
        ] {
            assert!(!close(key), "{key} is an app's own key");
        }
    }
}
