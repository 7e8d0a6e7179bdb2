//! `objects.insert` through the upload endpoint: `uploadType=media` (the body is the object,
//! `name` a query parameter, as curl and the emulator's client send it) and
//! `uploadType=multipart` (a JSON metadata part, then the object: what Google's client
//! libraries send for small objects).
//!
//! Either honours the generation preconditions as Google does (`ifGenerationMatch`, with `0`
//! meaning "only if there is no live object", and `ifGenerationNotMatch`): a write whose
//! precondition fails is answered 412 and changes nothing, so a client can compare and swap.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use super::{Buckets, GcsError, Params, insert, no_bucket, object_json, origin};

fn bad_request(reason: &'static str, message: impl Into<String>) -> GcsError {
    GcsError(StatusCode::BAD_REQUEST, reason, message.into())
}

/// A part of a `multipart/related` body: its headers (names lower-cased) and its bytes.
type Part = (Vec<(String, String)>, Bytes);

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Splits a `multipart/related` body at the boundary its content type names.
fn multipart(content_type: &str, body: &Bytes) -> Result<Vec<Part>, GcsError> {
    let boundary = content_type
        .split(';')
        .find_map(|param| param.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad_request("invalid", "multipart upload without a boundary"))?;
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let unended = || bad_request("invalid", "multipart body not delimited by its boundary");
    let mut at = find(body, delimiter).ok_or_else(unended)? + delimiter.len();
    let mut parts = Vec::new();
    while !body[at..].starts_with(b"--") {
        let end = at + find(&body[at..], delimiter).ok_or_else(unended)?;
        let mut part = at..end;
        if body[part.clone()].starts_with(b"\r\n") {
            part.start += 2;
        }
        if body[part.clone()].ends_with(b"\r\n") {
            part.end -= 2;
        }
        let split = part.start
            + find(&body[part.clone()], b"\r\n\r\n")
                .ok_or_else(|| bad_request("invalid", "multipart part without headers"))?;
        let headers = String::from_utf8_lossy(&body[part.start..split])
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        parts.push((headers, body.slice(split + 4..part.end)));
        at = end + delimiter.len();
    }
    Ok(parts)
}

pub async fn upload(
    State(buckets): State<Arc<Buckets>>,
    Path(bucket): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<Value>, GcsError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/octet-stream");
    let (name, content_type, data) = match params.get("uploadType").map(String::as_str) {
        Some("media") => {
            let name = params.get("name").cloned().unwrap_or_default();
            (name, content_type.to_owned(), body)
        }
        Some("multipart") => {
            let mut parts = multipart(content_type, &body)?.into_iter();
            let (Some((_, metadata)), Some((data_headers, data))) = (parts.next(), parts.next())
            else {
                return Err(bad_request("invalid", "multipart upload needs two parts"));
            };
            let metadata: Value = serde_json::from_slice(&metadata)
                .map_err(|e| bad_request("parseError", format!("metadata part: {e}")))?;
            let part_type = data_headers
                .iter()
                .find(|(name, _)| name == "content-type")
                .map(|(_, value)| value.clone());
            let name = metadata["name"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| params.get("name").cloned())
                .unwrap_or_default();
            let content_type = metadata["contentType"]
                .as_str()
                .map(str::to_owned)
                .or(part_type)
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            (name, content_type, data)
        }
        other => {
            return Err(bad_request(
                "invalid",
                format!(
                    "uploadType {} is not served here; use media or multipart",
                    other.unwrap_or("(none)")
                ),
            ));
        }
    };
    if name.is_empty() {
        return Err(bad_request("required", "Required parameter: name"));
    }
    let now = buckets.clock.now();
    let mut all = buckets.lock();
    let target = all.get_mut(&bucket).ok_or_else(|| no_bucket(&bucket))?;
    let live = target.objects.get(&name).map(|object| object.generation);
    check_preconditions(&params, live)?;
    let object = insert(target, &name, &content_type, data, now);
    Ok(axum::Json(object_json(
        &origin(&headers),
        &bucket,
        &name,
        object,
    )))
}

/// Refuses the write (412, nothing changed) when `ifGenerationMatch` or `ifGenerationNotMatch`
/// does not hold for `live`, the generation of the object there now, if any.
pub(super) fn check_preconditions(
    params: &std::collections::BTreeMap<String, String>,
    live: Option<i64>,
) -> Result<(), GcsError> {
    let number = |key: &str| -> Result<Option<i64>, GcsError> {
        params
            .get(key)
            .map(|value| {
                value.parse::<i64>().map_err(|_| {
                    bad_request("invalid", format!("Invalid value for {key}: {value}"))
                })
            })
            .transpose()
    };
    let holds = match number("ifGenerationMatch")? {
        Some(0) => live.is_none(),
        Some(expected) => live == Some(expected),
        None => true,
    } && match number("ifGenerationNotMatch")? {
        Some(0) => live.is_some(),
        Some(refused) => live != Some(refused),
        None => true,
    };
    if holds {
        Ok(())
    } else {
        Err(GcsError(
            StatusCode::PRECONDITION_FAILED,
            "conditionNotMet",
            "At least one of the pre-conditions you specified did not hold.".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_holds_only_where_its_generation_precondition_does() {
        let params = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let create = params(&[("ifGenerationMatch", "0")]);
        assert!(check_preconditions(&create, None).is_ok());
        let refused = check_preconditions(&create, Some(7)).unwrap_err();
        assert_eq!(
            (refused.0, refused.1),
            (StatusCode::PRECONDITION_FAILED, "conditionNotMet")
        );
        let swap = params(&[("ifGenerationMatch", "7")]);
        assert!(check_preconditions(&swap, Some(7)).is_ok());
        assert!(check_preconditions(&swap, Some(8)).is_err());
        assert!(check_preconditions(&swap, None).is_err());
        let not = params(&[("ifGenerationNotMatch", "7")]);
        assert!(check_preconditions(&not, Some(8)).is_ok());
        assert!(check_preconditions(&not, Some(7)).is_err());
        assert!(check_preconditions(&params(&[]), Some(7)).is_ok());
        let bad = check_preconditions(&params(&[("ifGenerationMatch", "x")]), None).unwrap_err();
        assert_eq!(bad.0, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn multipart_bodies_split_into_metadata_and_object() {
        let body = Bytes::from_static(b"--==x==\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n{\"name\": \"a/b.txt\"}\r\n--==x==\r\ncontent-type: text/plain\r\n\r\nline one\r\nline two\r\n--==x==--\r\n");
        let parts = multipart("multipart/related; boundary=\"==x==\"", &body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(&parts[0].1[..], b"{\"name\": \"a/b.txt\"}");
        assert_eq!(
            parts[1].0,
            [("content-type".to_owned(), "text/plain".to_owned())]
        );
        assert_eq!(&parts[1].1[..], b"line one\r\nline two");
        assert!(multipart("multipart/related", &body).is_err());
        assert!(multipart("multipart/related; boundary=y", &body).is_err());
    }
}
