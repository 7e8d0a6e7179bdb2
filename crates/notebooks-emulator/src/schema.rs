//! Request validation driven by Google's vendored discovery documents.
//!
//! The real API rejects a misspelled field, a number where a string belongs or an unknown enum
//! value with a 400 before anything happens. A lenient fake would let exactly those client bugs
//! reach production, so every request body and query parameter is checked here against the
//! same schemas Google publishes, parsed once per process, and errors use Google's wording
//! (including the proto `snake_case` field paths it reports).

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::ApiVersion;
use super::status::{ApiError, Code};

static V1: LazyLock<Discovery> = LazyLock::new(|| {
    Discovery::parse(
        include_str!("../discovery/notebooks.v1.json"),
        "google.cloud.notebooks.v1",
        "",
    )
});
static V2: LazyLock<Discovery> = LazyLock::new(|| {
    Discovery::parse(
        include_str!("../discovery/notebooks.v2.json"),
        "google.cloud.notebooks.v2",
        "",
    )
});
/// Vertex AI's document, cut to what the emulator serves (the `executions` module says how).
static AIPLATFORM: LazyLock<Discovery> = LazyLock::new(|| {
    Discovery::parse(
        include_str!("../discovery/aiplatform.v1.json"),
        "google.cloud.aiplatform.v1",
        "GoogleCloudAiplatformV1",
    )
});

mod enums;
mod methods;

pub use methods::MethodSpec;

/// One parsed discovery document.
pub struct Discovery {
    doc: Value,
    /// `google.cloud.notebooks.v2`, for the type names in error messages.
    proto_package: &'static str,
    /// What discovery puts before a message's proto name in its schema names
    /// (`GoogleCloudAiplatformV1` in Vertex AI's document, nothing in the Notebooks ones).
    schema_prefix: &'static str,
    methods: Vec<MethodSpec>,
}

/// The discovery document of an API version.
pub fn discovery(version: ApiVersion) -> &'static Discovery {
    match version {
        ApiVersion::V1 => &V1,
        ApiVersion::V2 => &V2,
    }
}

/// Vertex AI's discovery document (`aiplatform.googleapis.com/v1`), as far as it is served.
pub fn aiplatform() -> &'static Discovery {
    &AIPLATFORM
}

/// `gceSetup` → `gce_setup`: Google reports field paths by proto name.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `gce_setup` → `gceSetup`: Google's JSON parser accepts proto names as well as JSON names.
pub(crate) fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// `Invalid value at 'a.b' (TYPE_STRING), 123`, Google's wording for a value of the wrong type.
fn invalid_value(path: &str, type_name: &str, value: &Value) -> ApiError {
    let description = format!("Invalid value at '{path}' ({type_name}), {value}");
    ApiError::new(Code::InvalidArgument, description.clone())
        .with_field_violation(path, &description)
}

impl Discovery {
    fn parse(text: &str, proto_package: &'static str, schema_prefix: &'static str) -> Self {
        let mut doc =
            serde_json::from_str(text).expect("the vendored discovery document is valid JSON");
        enums::annotate(&mut doc, proto_package);
        let mut methods = Vec::new();
        methods::collect(&doc["resources"], "", &mut methods);
        Self {
            doc,
            proto_package,
            schema_prefix,
            methods,
        }
    }

    /// `type.googleapis.com/google.cloud.aiplatform.v1.NotebookExecutionJob` for schema
    /// `GoogleCloudAiplatformV1NotebookExecutionJob`: the type URL Google names a message by.
    fn type_url(&self, schema: &str) -> String {
        let message = schema.strip_prefix(self.schema_prefix).unwrap_or(schema);
        format!("type.googleapis.com/{}.{message}", self.proto_package)
    }

    fn schema(&self, name: &str) -> &Value {
        &self.doc["schemas"][name]
    }

    /// Field `name` (JSON or proto spelling) of message `schema`: its JSON name and its spec.
    pub fn property(&self, schema: &str, name: &str) -> Option<(String, &Value)> {
        let properties = &self.schema(schema)["properties"];
        [name.to_owned(), camel_case(name)]
            .into_iter()
            .find_map(|json_name| Some((json_name.clone(), properties.get(&json_name)?)))
    }

    /// Checks a request body against schema `schema_name`.
    ///
    /// `root` is the request field the body binds to (`instance` for create, empty for
    /// `body: "*"` methods); it prefixes every reported path as Google does.
    ///
    /// # Errors
    /// The first violation, as Google's 400 `INVALID_ARGUMENT`.
    ///
    /// # Returns
    /// The body in canonical form: JSON field names, int64 as strings, nulls and output-only
    /// fields dropped (the real API ignores output-only fields in requests).
    pub fn check_body(
        &self,
        schema_name: &str,
        root: &str,
        body: &Value,
    ) -> Result<Map<String, Value>, ApiError> {
        match self.check_message(body, schema_name, root)? {
            Some(Value::Object(fields)) => Ok(fields),
            _ => Ok(Map::new()),
        }
    }

    /// Checks the query parameters of `resource.method` (e.g. `instances`, `list`). System
    /// parameters (`alt`, `prettyPrint`, …) are the `system` module's and never reach here.
    ///
    /// # Errors
    /// Google's "Cannot bind query parameter" 400 for an unknown name, or an invalid-value 400.
    pub fn check_query(
        &self,
        resource: &str,
        method: &str,
        query: &[(String, String)],
    ) -> Result<(), ApiError> {
        let spec = self.method_named(resource, method);
        for (name, value) in query {
            let spec = spec
                .and_then(|spec| spec.parameter(name))
                .filter(|spec| spec["location"] == "query");
            let Some(spec) = spec else {
                let message = format!(
                    "Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query parameter. \
                     Field '{name}' could not be found in request message."
                );
                return Err(ApiError::new(Code::InvalidArgument, message.clone())
                    .with_field_violation(name, &message));
            };
            // A query string has no JSON types: `true` and `false` are the booleans, and an
            // enum may be named by its number (`view=0`, as Google's generated clients send).
            let value = match (spec["type"].as_str(), value.as_str()) {
                (Some("boolean"), "true") => Value::Bool(true),
                (Some("boolean"), "false") => Value::Bool(false),
                (Some("string"), number) if spec["enum"].is_array() => number
                    .parse::<i64>()
                    .map_or_else(|_| Value::String(value.clone()), Value::from),
                _ => Value::String(value.clone()),
            };
            self.check_value(&value, spec, &snake_case(name))?;
        }
        Ok(())
    }

    /// Whether `projects.locations.{resource}.{method}` exists in the real API (the emulator
    /// answers 501 for those it does not implement, 404 for the rest).
    pub fn has_method(&self, resource: &str, method: &str) -> bool {
        self.method_named(resource, method).is_some()
    }

    fn check_message(
        &self,
        value: &Value,
        schema_name: &str,
        path: &str,
    ) -> Result<Option<Value>, ApiError> {
        if value.is_null() {
            return Ok(None);
        }
        let Some(fields) = value.as_object() else {
            return Err(invalid_value(path, &self.type_url(schema_name), value));
        };
        let properties = &self.schema(schema_name)["properties"];
        let mut out = Map::new();
        for (key, field_value) in fields {
            let json_name = if properties.get(key).is_some() {
                key.clone()
            } else {
                camel_case(key)
            };
            let Some(spec) = properties.get(&json_name) else {
                let at = if path.is_empty() {
                    String::new()
                } else {
                    format!(" at '{path}'")
                };
                let message = format!(
                    "Invalid JSON payload received. Unknown name \"{key}\"{at}: Cannot find field."
                );
                return Err(ApiError::new(Code::InvalidArgument, message.clone())
                    .with_field_violation(path, &message));
            };
            let checked =
                self.check_value(field_value, spec, &join(path, &snake_case(&json_name)))?;
            if let Some(checked) = checked.filter(|_| spec["readOnly"] != true) {
                out.insert(json_name, checked);
            }
        }
        Ok(Some(Value::Object(out)))
    }

    /// Checks one field value against its spec and returns it in canonical form (`None` for a
    /// null, which the real API treats as an unset field).
    fn check_value(
        &self,
        value: &Value,
        spec: &Value,
        path: &str,
    ) -> Result<Option<Value>, ApiError> {
        if value.is_null() {
            return Ok(None);
        }
        if let Some(reference) = spec["$ref"].as_str() {
            return self.check_message(value, reference, path);
        }
        let checked = match spec["type"].as_str().unwrap_or_default() {
            "any" => value.clone(),
            "object" => self.check_map(value, spec, path)?,
            "array" => self.check_array(value, spec, path)?,
            "boolean" if value.is_boolean() => value.clone(),
            "integer" => check_int32(value, path)?,
            "number" => check_double(value, path)?,
            "string" => self.check_string(value, spec, path)?,
            _ => return Err(invalid_value(path, &self.type_name(spec), value)),
        };
        Ok(Some(checked))
    }

    /// Discovery objects with `additionalProperties` are proto maps; Google reports their
    /// entries as `field[i].value`.
    fn check_map(&self, value: &Value, spec: &Value, path: &str) -> Result<Value, ApiError> {
        let Some(entries) = value.as_object() else {
            return Err(invalid_value(path, "TYPE_MESSAGE", value));
        };
        let mut out = Map::new();
        for (index, (key, entry)) in entries.iter().enumerate() {
            let entry_path = format!("{path}[{index}].value");
            if let Some(entry) =
                self.check_value(entry, &spec["additionalProperties"], &entry_path)?
            {
                out.insert(key.clone(), entry);
            }
        }
        Ok(Value::Object(out))
    }

    /// A repeated field: a non-array is reported with the type of its items, as Google does.
    fn check_array(&self, value: &Value, spec: &Value, path: &str) -> Result<Value, ApiError> {
        let Some(items) = value.as_array() else {
            return Err(invalid_value(path, &self.type_name(&spec["items"]), value));
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            out.extend(self.check_value(item, &spec["items"], &format!("{path}[{index}]"))?);
        }
        Ok(Value::Array(out))
    }

    /// Discovery types int64 fields, enums, timestamps and bytes all as strings; each keeps the
    /// proto type's rules and its name in the error.
    fn check_string(&self, value: &Value, spec: &Value, path: &str) -> Result<Value, ApiError> {
        let format = spec["format"].as_str().unwrap_or_default();
        if format == "int64" {
            return check_int64(value, path);
        }
        if spec["enum"].is_array() && value.is_number() {
            return enum_by_number(value, spec, path);
        }
        match value.as_str() {
            Some(text) if text_fits(text, spec, format) => Ok(value.clone()),
            _ => Err(invalid_value(path, &self.type_name(spec), value)),
        }
    }

    /// The type Google names in an invalid-value message for this field spec.
    fn type_name(&self, spec: &Value) -> String {
        if let Some(reference) = spec["$ref"].as_str() {
            return self.type_url(reference);
        }
        match (spec["type"].as_str(), spec["format"].as_str()) {
            (Some("string"), _) if spec.get("enum").is_some() => "TYPE_ENUM",
            (Some("string"), Some("int64")) => "TYPE_INT64",
            (Some("string"), Some("byte")) => "TYPE_BYTES",
            (Some("string"), Some("google-datetime")) => {
                "type.googleapis.com/google.protobuf.Timestamp"
            }
            (Some("integer"), _) => "TYPE_INT32",
            (Some("number"), _) => "TYPE_DOUBLE",
            (Some("boolean"), _) => "TYPE_BOOL",
            (Some("object"), _) => "TYPE_MESSAGE",
            _ => "TYPE_STRING",
        }
        .to_owned()
    }
}

/// Discovery's `integer` is proto int32: a wider number is an invalid value, not a wrapped one.
fn check_int32(value: &Value, path: &str) -> Result<Value, ApiError> {
    match integer(value) {
        Some(n) if i32::try_from(n).is_ok() => Ok(Value::from(n)),
        _ => Err(invalid_value(path, "TYPE_INT32", value)),
    }
}

/// Google's JSON parser takes a double as a number or as a numeric string, and keeps it as sent.
fn check_double(value: &Value, path: &str) -> Result<Value, ApiError> {
    match value {
        Value::Number(_) => Ok(value.clone()),
        Value::String(text) if text.trim().parse::<f64>().is_ok() => Ok(value.clone()),
        _ => Err(invalid_value(path, "TYPE_DOUBLE", value)),
    }
}

/// An int64 may come as a number or a string; Google's JSON always writes it as a string.
fn check_int64(value: &Value, path: &str) -> Result<Value, ApiError> {
    match integer(value) {
        Some(n) => Ok(Value::String(n.to_string())),
        None => Err(invalid_value(path, "TYPE_INT64", value)),
    }
}

/// Google's JSON parser accepts an enum by its proto number and answers with its name.
fn enum_by_number(value: &Value, spec: &Value, path: &str) -> Result<Value, ApiError> {
    match value.as_i64().and_then(|number| enums::name(spec, number)) {
        Some(name) => Ok(Value::String(name.to_owned())),
        None => Err(invalid_value(path, "TYPE_ENUM", value)),
    }
}

/// Whether a string is one of the enum's names, or parses as the type its `format` stands for
/// (an RFC 3339 timestamp, base64 bytes in either alphabet); other strings take any text.
fn text_fits(text: &str, spec: &Value, format: &str) -> bool {
    match (spec["enum"].as_array(), format) {
        (Some(names), _) => names.iter().any(|name| name == text),
        (None, "google-datetime") => text.parse::<jiff::Timestamp>().is_ok(),
        (None, "byte") => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .is_ok()
                || base64::engine::general_purpose::URL_SAFE
                    .decode(text)
                    .is_ok()
        }
        (None, _) => true,
    }
}

/// An integer as Google's JSON parser reads it: a JSON integer or a decimal string.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
