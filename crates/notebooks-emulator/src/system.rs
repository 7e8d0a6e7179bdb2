//! Google's system parameters, which every REST method takes on top of its own, and the
//! rendering of every answer they shape.
//!
//! Google's generated clients add `$alt=json;enum-encoding=int` to every call, browsers send
//! `key` or `callback`, scripts send `prettyPrint=false` or `fields`. These are honoured as
//! documented: `alt` (JSON, with enums as names or numbers), `prettyPrint` (indented unless
//! false), `fields` (a partial response), `callback` (JSONP); `$.xgafv` is checked and the
//! rest (credentials, quota and upload parameters) are accepted and ignored, since the
//! emulator checks no credentials and takes no uploads. Each name may carry a `$` prefix.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::fields::Selection;
use super::schema::Discovery;
use super::status::{ApiError, Code};

/// The system parameters of the discovery documents, and `api_key`, the documented alias of
/// `key`.
const NAMES: &[&str] = &[
    "$.xgafv",
    "access_token",
    "alt",
    "api_key",
    "callback",
    "fields",
    "key",
    "oauth_token",
    "prettyPrint",
    "quotaUser",
    "uploadType",
    "upload_protocol",
];

fn canonical(name: &str) -> Option<&'static str> {
    NAMES
        .iter()
        .find(|known| **known == name || name.strip_prefix('$') == Some(known))
        .copied()
}

/// The query without its system parameters: what the method itself must bind.
pub fn method_parameters(query: Vec<(String, String)>) -> Vec<(String, String)> {
    query
        .into_iter()
        .filter(|(name, _)| canonical(name).is_none())
        .collect()
}

/// How an answer is to be rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemParameters {
    enums_as_numbers: bool,
    pretty: bool,
    fields: Option<Selection>,
    callback: Option<String>,
}

impl Default for SystemParameters {
    /// Google's defaults: JSON, enums by name, indented.
    fn default() -> Self {
        Self {
            enums_as_numbers: false,
            pretty: true,
            fields: None,
            callback: None,
        }
    }
}

fn invalid(name: &str, message: String) -> ApiError {
    ApiError::new(Code::InvalidArgument, message.clone()).with_field_violation(name, &message)
}

/// `json`, or `json;enum-encoding=int`: whether enums are answered as numbers.
fn alt(name: &str, value: &str) -> Result<bool, ApiError> {
    let mut parts = value.split(';').map(str::trim);
    let format = parts.next().unwrap_or_default();
    if matches!(format, "proto" | "media") {
        return Err(ApiError::new(
            Code::Unimplemented,
            format!("The emulator answers in JSON only; {name}={value} is not implemented."),
        ));
    }
    if format != "json" {
        return Err(invalid(
            name,
            format!("Invalid value at '{name}' (TYPE_ENUM), \"{value}\""),
        ));
    }
    let mut numbers = false;
    for option in parts {
        match option.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("enum-encoding", "int")) => numbers = true,
            _ => {
                return Err(invalid(
                    name,
                    format!("Invalid option \"{option}\" in {name}={value}"),
                ));
            }
        }
    }
    Ok(numbers)
}

/// A JSONP callback must be a JavaScript name (dotted or indexed), nothing that could run.
fn valid_callback(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.' | '[' | ']'))
}

impl SystemParameters {
    /// Reads the system parameters of `query`; `fields` is checked against `response`, the
    /// schema of the method's answer, when the method is known.
    ///
    /// # Errors
    /// A value Google would refuse (400), or `alt=proto`/`alt=media` (501).
    pub fn parse(
        query: &[(String, String)],
        response: Option<(&Discovery, &str)>,
    ) -> Result<Self, ApiError> {
        let mut out = Self::default();
        for (name, value) in query {
            match canonical(name) {
                Some("alt") => out.enums_as_numbers = alt(name, value)?,
                Some("prettyPrint") => {
                    out.pretty = match value.to_ascii_lowercase().as_str() {
                        "true" | "1" | "" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(invalid(
                                name,
                                format!("Invalid value at '{name}' (TYPE_BOOL), \"{value}\""),
                            ));
                        }
                    }
                }
                Some("fields") if value.trim().is_empty() => out.fields = None,
                Some("fields") => {
                    let selection = Selection::parse(value).and_then(|selection| match response {
                        Some((api, schema)) => selection.resolve(api, schema),
                        None => Ok(selection),
                    });
                    out.fields = Some(selection.map_err(|why| {
                        invalid(
                            name,
                            format!("Invalid {name} parameter \"{value}\": {why}."),
                        )
                    })?);
                }
                Some("callback") if !valid_callback(value) => {
                    return Err(invalid(
                        name,
                        format!("Invalid JSONP callback name \"{value}\"."),
                    ));
                }
                Some("callback") => out.callback = Some(value.clone()),
                Some("$.xgafv") if !matches!(value.as_str(), "1" | "2") => {
                    return Err(invalid(
                        name,
                        format!("Invalid value at 'xgafv' (TYPE_ENUM), \"{value}\""),
                    ));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The HTTP answer: the value shaped by these parameters, or the error as Google sends it
    /// (errors are never masked nor numbered). `response` names the answer's schema.
    pub fn render(
        &self,
        response: Option<(&Discovery, &str)>,
        answer: Result<Value, ApiError>,
    ) -> Response {
        let (status, body) = match answer {
            Ok(mut value) => {
                if let Some((api, schema)) = response.filter(|_| self.enums_as_numbers) {
                    api.encode_enums(schema, &mut value);
                }
                if let Some(fields) = &self.fields {
                    fields.apply(&mut value);
                }
                (StatusCode::OK, value)
            }
            Err(error) => (error.http_status(), error.to_body()),
        };
        let mut json = if self.pretty {
            serde_json::to_string_pretty(&body)
        } else {
            serde_json::to_string(&body)
        }
        .expect("a JSON value serialises");
        json.push('\n');
        match &self.callback {
            Some(callback) => (
                status,
                [(CONTENT_TYPE, "text/javascript; charset=UTF-8")],
                format!("// API callback\n{callback}({json});\n"),
            )
                .into_response(),
            None => (
                status,
                [(CONTENT_TYPE, "application/json; charset=UTF-8")],
                json,
            )
                .into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::discovery;
    use super::*;
    use crate::ApiVersion;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_system_parameter_of_the_discovery_documents_is_known() {
        for version in [ApiVersion::V1, ApiVersion::V2] {
            let doc: Value = serde_json::from_str(match version {
                ApiVersion::V1 => include_str!("../discovery/notebooks.v1.json"),
                ApiVersion::V2 => include_str!("../discovery/notebooks.v2.json"),
            })
            .unwrap();
            for name in doc["parameters"].as_object().unwrap().keys() {
                assert!(canonical(name).is_some(), "{name}");
                assert!(canonical(&format!("${name}")).is_some(), "${name}");
            }
        }
        let query = pairs(&[("$alt", "json"), ("pageSize", "2"), ("key", "k")]);
        assert_eq!(method_parameters(query), pairs(&[("pageSize", "2")]));
    }

    #[test]
    fn values_are_read_as_google_documents_them() {
        let parse = |list: &[(&str, &str)]| SystemParameters::parse(&pairs(list), None);
        assert_eq!(parse(&[]).unwrap(), SystemParameters::default());
        let numbers = parse(&[("$alt", "json;enum-encoding=int"), ("prettyPrint", "false")]);
        assert_eq!(
            numbers.unwrap(),
            SystemParameters {
                enums_as_numbers: true,
                pretty: false,
                ..SystemParameters::default()
            }
        );
        for accepted in [
            ("alt", "json"),
            ("quotaUser", "u"),
            ("$.xgafv", "2"),
            ("upload_protocol", "raw"),
            ("uploadType", "media"),
            ("access_token", "t"),
            ("oauth_token", "t"),
            ("$callback", "cb.done"),
            ("$fields", "name"),
        ] {
            assert!(parse(&[accepted]).is_ok(), "{accepted:?}");
        }
        let code = |list: &[(&str, &str)]| parse(list).unwrap_err().code;
        assert_eq!(code(&[("alt", "proto")]), Code::Unimplemented);
        assert_eq!(code(&[("alt", "xml")]), Code::InvalidArgument);
        assert_eq!(
            code(&[("alt", "json;enum-encoding=roman")]),
            Code::InvalidArgument
        );
        assert_eq!(code(&[("prettyPrint", "yes")]), Code::InvalidArgument);
        assert_eq!(code(&[("$.xgafv", "3")]), Code::InvalidArgument);
        assert_eq!(code(&[("callback", "alert(1)")]), Code::InvalidArgument);
        let api = discovery(ApiVersion::V2);
        let fields = pairs(&[("fields", "nmae")]);
        let error = SystemParameters::parse(&fields, Some((api, "Instance"))).unwrap_err();
        assert!(error.message.contains("Invalid field selection nmae"));
    }
}
