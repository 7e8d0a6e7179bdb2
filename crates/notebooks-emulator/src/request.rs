//! What a request asks for: Google's resource path, parsed by hand, its query and its body.
//!
//! Google custom methods (`instances/ID:stop`) put a verb after a colon inside the last path
//! segment, which axum's path parameters cannot express; so the router hands every path under
//! `/{version}/` to [`parse_path`], which splits the segments itself.

use axum::extract::Query;
use axum::http::Uri;
use serde_json::{Map, Value};

use super::ApiVersion;
use super::status::{ApiError, Code};

/// The collections the emulator knows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Collection {
    Instances,
    Operations,
}

impl Collection {
    fn as_str(self) -> &'static str {
        match self {
            Collection::Instances => "instances",
            Collection::Operations => "operations",
        }
    }
}

/// A parsed resource path.
#[derive(Debug, PartialEq)]
pub enum Target {
    /// `projects/P/locations`: the locations a project may use.
    Locations { project: String },
    /// `projects/P/locations/L`.
    Location { name: String },
    /// `projects/P/locations/L/instances` (optionally `:verb`).
    Collection {
        parent: String,
        collection: Collection,
        verb: Option<String>,
    },
    /// `projects/P/locations/L/instances/ID` (optionally `:verb`).
    Item {
        name: String,
        collection: Collection,
        id: String,
        verb: Option<String>,
    },
}

/// The path with the colons of custom methods decoded (clients may send `%3A`).
pub fn decode_colons(path: &str) -> String {
    path.replace("%3A", ":").replace("%3a", ":")
}

/// Splits `v2/projects/P/locations/L/instances/ID:stop`; `None` for anything else.
pub fn parse_path(path: &str) -> Option<(ApiVersion, Target)> {
    let decoded = decode_colons(path);
    let segments: Vec<&str> = decoded.trim_start_matches('/').split('/').collect();
    let (version, rest) = segments.split_first()?;
    let version: ApiVersion = version.parse().ok()?;
    let ["projects", project, "locations", rest @ ..] = rest else {
        return None;
    };
    if project.is_empty() {
        return None;
    }
    let Some((location, tail)) = rest.split_first() else {
        let project = format!("projects/{project}");
        return Some((version, Target::Locations { project }));
    };
    if location.is_empty() {
        return None;
    }
    let parent = format!("projects/{project}/locations/{location}");
    let split = |segment: &str| match segment.split_once(':') {
        Some((head, verb)) => (head.to_owned(), Some(verb.to_owned())),
        None => (segment.to_owned(), None),
    };
    let collection_of = |name: &str| match name {
        "instances" => Some(Collection::Instances),
        "operations" => Some(Collection::Operations),
        _ => None,
    };
    let target = match tail {
        [] => Target::Location { name: parent },
        [collection] => {
            let (collection, verb) = split(collection);
            Target::Collection {
                parent,
                collection: collection_of(&collection)?,
                verb,
            }
        }
        [collection, item] => {
            let collection = collection_of(collection)?;
            let (id, verb) = split(item);
            if id.is_empty() {
                return None;
            }
            let name = format!("{parent}/{}/{id}", collection.as_str());
            Target::Item {
                name,
                collection,
                id,
                verb,
            }
        }
        _ => return None,
    };
    Some((version, target))
}

pub fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>, ApiError> {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .map_err(|rejection| {
            ApiError::new(
                Code::InvalidArgument,
                format!("Invalid query string: {rejection}"),
            )
        })
}

/// The last value of query parameter `name`. An empty value is the proto3 default, which is
/// "not set": Google's generated clients send `requestId=` and `pageToken=` when unset.
pub fn query_value<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

/// Parses a request body; an absent body is an empty message, as for Google.
pub fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|error| {
        ApiError::new(
            Code::InvalidArgument,
            format!("Invalid JSON payload received. Unexpected token: {error}."),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_custom_methods_parse() {
        let (version, target) = parse_path("/v2/projects/p/locations/z/instances/nb:stop").unwrap();
        assert_eq!(version, ApiVersion::V2);
        assert_eq!(
            target,
            Target::Item {
                name: "projects/p/locations/z/instances/nb".into(),
                collection: Collection::Instances,
                id: "nb".into(),
                verb: Some("stop".into()),
            }
        );
        assert!(parse_path("/v1/projects/p/locations/z/operations/op%3Acancel").is_some());
        assert_eq!(
            parse_path("/v2/projects/p/locations").unwrap().1,
            Target::Locations {
                project: "projects/p".into()
            }
        );
        assert_eq!(
            parse_path("/v2/projects/p/locations/z").unwrap().1,
            Target::Location {
                name: "projects/p/locations/z".into()
            }
        );
        for bad in [
            "/v3/projects/p/locations/z/instances",
            "/v2/projects/p/instances",
            "/v2/projects/p/locations/",
            "/v2/projects/p/locations/z/nodes",
        ] {
            assert!(parse_path(bad).is_none(), "{bad}");
        }
    }
}
