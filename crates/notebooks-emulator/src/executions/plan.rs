//! What a job asks for, read and checked once: the create refuses what Google would refuse
//! (or what the emulator cannot bound), and the run reads the same [`Plan`] the create
//! accepted, so no field is interpreted twice.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::status::{ApiError, Code};
use crate::storage::GsUri;

/// The create's body binds to this request field, which prefixes every path Google reports.
pub const ROOT: &str = "notebook_execution_job";

/// Vertex AI's documented limit on `displayName`, in characters.
pub const MAX_DISPLAY_NAME: usize = 128;

/// The most a direct notebook may hold, decoded: the emulator's bound (Google documents none),
/// below the emulator's 2 MiB body limit so that the field, not the transport, is named.
pub const MAX_DIRECT_CONTENT: usize = 1 << 20;

/// Vertex AI's default `executionTimeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Where the notebook comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// `gcsNotebookSource`: the object, and the generation to read if one was given.
    Gcs { uri: GsUri, generation: Option<u64> },
    /// `directNotebookSource.content`, decoded.
    Direct(Vec<u8>),
    /// `dataformRepositorySource`, which the emulator cannot read.
    Dataform,
}

/// A job's run, as its fields describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub source: Source,
    /// `gcsOutputUri`: the bucket, and the folder under it (no slash at either end; may be
    /// empty).
    pub output_bucket: String,
    pub output_folder: String,
    pub timeout: Duration,
    /// `kernelName`; `None` for the notebook's own kernelspec.
    pub kernel: Option<String>,
}

fn invalid(field: &str, message: String) -> ApiError {
    let field = format!("{ROOT}.{field}");
    ApiError::new(Code::InvalidArgument, message.clone()).with_field_violation(&field, &message)
}

fn text<'b>(body: &'b Map<String, Value>, field: &str) -> Option<&'b str> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl Plan {
    /// Reads and checks a job's body (already checked against the discovery document).
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming the field at fault and saying what it must be.
    pub fn of(body: &Map<String, Value>) -> Result<Plan, ApiError> {
        check_display_name(body)?;
        check_one_of(
            body,
            "environment_spec",
            &[
                "notebookRuntimeTemplateResourceName",
                "customEnvironmentSpec",
            ],
        )?;
        check_one_of(
            body,
            "execution_identity",
            &["executionUser", "serviceAccount"],
        )?;
        check_labels(body)?;
        let (output_bucket, output_folder) = output(body)?;
        Ok(Plan {
            source: source(body)?,
            output_bucket,
            output_folder,
            timeout: timeout(body)?,
            kernel: kernel(body)?,
        })
    }
}

fn check_display_name(body: &Map<String, Value>) -> Result<(), ApiError> {
    match text(body, "displayName") {
        Some(name) if name.chars().count() > MAX_DISPLAY_NAME => Err(invalid(
            "display_name",
            format!(
                "display_name is {} characters long; it can be up to {MAX_DISPLAY_NAME}.",
                name.chars().count()
            ),
        )),
        _ => Ok(()),
    }
}

/// A proto `oneof`: at most one of `fields` may be set.
fn check_one_of(body: &Map<String, Value>, union: &str, fields: &[&str]) -> Result<(), ApiError> {
    let set: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|field| body.get(*field).is_some())
        .collect();
    if set.len() > 1 {
        let names: Vec<String> = set.iter().map(|f| crate::schema::snake_case(f)).collect();
        return Err(invalid(
            &names[1],
            format!(
                "Only one of {} may be set ({union} is a oneof); remove all but one.",
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Exactly one notebook source; a `gs://` one names an object, and its generation is a number.
fn source(body: &Map<String, Value>) -> Result<Source, ApiError> {
    let fields = [
        "gcsNotebookSource",
        "directNotebookSource",
        "dataformRepositorySource",
    ];
    check_one_of(body, "notebook_source", &fields)?;
    if let Some(gcs) = body.get("gcsNotebookSource") {
        let uri = gcs["uri"].as_str().unwrap_or_default();
        let uri = GsUri::parse(uri).map_err(|why| {
            invalid(
                "gcs_notebook_source.uri",
                format!("gcs_notebook_source.uri must be gs://BUCKET/NOTEBOOK.ipynb: {why}."),
            )
        })?;
        let generation = match gcs["generation"].as_str().filter(|g| !g.is_empty()) {
            None => None,
            Some(text) => Some(text.parse::<u64>().map_err(|_| {
                invalid(
                    "gcs_notebook_source.generation",
                    format!("gcs_notebook_source.generation \"{text}\" is not an object generation (a decimal number)."),
                )
            })?),
        };
        return Ok(Source::Gcs { uri, generation });
    }
    if let Some(direct) = body.get("directNotebookSource") {
        let content = direct["content"].as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(content))
            .unwrap_or_default();
        if bytes.len() > MAX_DIRECT_CONTENT {
            return Err(invalid(
                "direct_notebook_source.content",
                format!(
                    "direct_notebook_source.content holds {} bytes; the emulator takes at most {MAX_DIRECT_CONTENT}: put the notebook in Cloud Storage and use gcs_notebook_source.",
                    bytes.len()
                ),
            ));
        }
        return Ok(Source::Direct(bytes));
    }
    if body.get("dataformRepositorySource").is_some() {
        return Ok(Source::Dataform);
    }
    Err(invalid(
        "gcs_notebook_source",
        "A notebook source is required: set gcs_notebook_source, direct_notebook_source or dataform_repository_source.".to_owned(),
    ))
}

/// `gcsOutputUri` is required and is `gs://BUCKET` or `gs://BUCKET/FOLDER`.
fn output(body: &Map<String, Value>) -> Result<(String, String), ApiError> {
    let uri = text(body, "gcsOutputUri").ok_or_else(|| {
        invalid(
            "gcs_output_uri",
            "gcs_output_uri is required: the gs:// folder the executed notebook is written to."
                .to_owned(),
        )
    })?;
    let rest = uri.strip_prefix("gs://").ok_or_else(|| {
        invalid(
            "gcs_output_uri",
            format!(
                "gcs_output_uri \"{uri}\" is not a Cloud Storage URI: it must start with gs://."
            ),
        )
    })?;
    let (bucket, folder) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=222).contains(&bucket.len())
        && bucket.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if !bucket_ok {
        return Err(invalid(
            "gcs_output_uri",
            format!("gcs_output_uri \"{uri}\" names no valid bucket (gs://BUCKET[/FOLDER])."),
        ));
    }
    Ok((bucket.to_owned(), folder.trim_matches('/').to_owned()))
}

/// `executionTimeout` is a `google.protobuf.Duration` in JSON: seconds, up to nine fractional
/// digits, then `s`; Vertex AI's default when unset.
fn timeout(body: &Map<String, Value>) -> Result<Duration, ApiError> {
    let Some(text) = text(body, "executionTimeout") else {
        return Ok(DEFAULT_TIMEOUT);
    };
    parse_duration(text).ok_or_else(|| {
        invalid(
            "execution_timeout",
            format!(
                "execution_timeout \"{text}\" is not a duration such as \"3600s\" or \"1.5s\"."
            ),
        )
    })
}

/// A positive proto3 JSON duration (`3600s`, `0.25s`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let number = text.strip_suffix('s')?;
    let (seconds, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if seconds.is_empty() || !digits(seconds) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    let nanos = format!("{fraction:0<9}").parse::<u32>().ok()?;
    let duration = Duration::new(seconds.parse().ok()?, nanos);
    (!duration.is_zero()).then_some(duration)
}

/// A kernel is named as Jupyter names kernelspecs: letters, digits, `.`, `_`, `-`, and papermill
/// receives it as one argument.
fn kernel(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let Some(name) = text(body, "kernelName") else {
        return Ok(None);
    };
    let valid = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.starts_with('-');
    if !valid {
        return Err(invalid(
            "kernel_name",
            format!(
                "kernel_name \"{name}\" is not a kernelspec name (letters, digits, '.', '_', '-'; at most 64)."
            ),
        ));
    }
    Ok(Some(name.to_owned()))
}

/// Vertex AI's label rules: at most 64 labels; keys and values of at most 63 lowercase
/// letters, digits, `_` and `-` (international letters allowed), keys starting with a letter.
fn check_labels(body: &Map<String, Value>) -> Result<(), ApiError> {
    let Some(labels) = body.get("labels").and_then(Value::as_object) else {
        return Ok(());
    };
    let fits = |text: &str| {
        text.chars().count() <= 63
            && text
                .chars()
                .all(|c| c.is_lowercase() || c.is_numeric() || matches!(c, '_' | '-'))
    };
    if labels.len() > 64 {
        return Err(invalid(
            "labels",
            format!("{} labels are set; at most 64 are allowed.", labels.len()),
        ));
    }
    for (key, value) in labels {
        let value = value.as_str().unwrap_or_default();
        let key_ok = key.chars().next().is_some_and(char::is_lowercase) && fits(key);
        if !key_ok || !fits(value) {
            return Err(invalid(
                "labels",
                format!(
                    "label {key:?}: {value:?} breaks the label rules: keys start with a lowercase letter, and keys and values hold at most 63 lowercase letters, digits, '_' and '-'."
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "plan/tests.rs"]
mod tests;
