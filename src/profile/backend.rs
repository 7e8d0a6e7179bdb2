//! Where a profile's runs execute: on a Workbench instance of their own (the runner on it
//! reports back), or as a Vertex AI notebook execution job that Google runs and tears down.
//!
//! An execution takes a notebook from Cloud Storage and runs it with no script of ours on its
//! host: whatever a profile can only ask of an instance (a post-startup script, metadata, an
//! idle timeout, a GPU driver switch, a fixed instance id, secrets the runner reads) cannot be
//! honoured there, so a profile that sets it is refused at start-up, naming the field, rather
//! than launched without it. A runtime template decides the compute itself, so the fields it
//! replaces are refused beside it.

use super::fields::{DEFAULT_BACKEND, Field, FieldError, Fields};

/// Where a profile's runs execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A Workbench instance per run, with the runner as its post-startup script.
    Instance,
    /// A notebook execution job per run.
    Execution(ExecutionSpec),
}

/// What an execution needs beyond the fields both backends share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSpec {
    /// The region jobs are created in: the profile's zone without its last part, or its
    /// location when that is a region already.
    pub region: String,
    /// `projects/P/locations/REGION/notebookRuntimeTemplates/T`; `None`: the compute comes
    /// from the profile's own fields.
    pub runtime_template: Option<String>,
}

impl Backend {
    /// The execution's part, for a profile whose runs are executions.
    pub fn execution(&self) -> Option<&ExecutionSpec> {
        match self {
            Backend::Instance => None,
            Backend::Execution(spec) => Some(spec),
        }
    }
}

/// The fields only an instance can honour, each with why.
const INSTANCE_ONLY: [(Field, &str); 7] = [
    (
        Field::InstanceId,
        "each execution is a job of its own, named after its run",
    ),
    (
        Field::PostStartupScript,
        "an execution runs no script of ours on its host",
    ),
    (
        Field::PostStartupScriptBehavior,
        "an execution runs no script of ours on its host",
    ),
    (Field::Metadata, "an execution has no instance metadata"),
    (
        Field::InstallGpuDriver,
        "an execution's runtime brings its own GPU driver",
    ),
    (
        Field::IdleTimeoutSeconds,
        "an execution ends with its notebook, never idle",
    ),
    (
        Field::Secrets,
        "the runner that hands secrets to the kernel does not run in an execution",
    ),
];

/// The fields a runtime template decides instead.
const TEMPLATE_DECIDES: [Field; 8] = [
    Field::MachineType,
    Field::AcceleratorType,
    Field::AcceleratorCount,
    Field::BootDiskType,
    Field::BootDiskSizeGb,
    Field::Network,
    Field::Subnet,
    Field::DisablePublicIp,
];

/// The backend a profile names, with the rules of an execution applied.
pub(super) fn parse_backend(fields: &Fields) -> Result<Backend, FieldError> {
    let named = fields.backend.as_deref().unwrap_or(DEFAULT_BACKEND);
    match named.trim() {
        "instance" => {
            if fields.runtime_template.is_some() {
                return Err(FieldError::new(
                    Field::RuntimeTemplate,
                    "a runtime template is for executions: set backend = \"execution\", or unset runtime_template",
                ));
            }
            Ok(Backend::Instance)
        }
        "execution" => parse_execution(fields).map(Backend::Execution),
        other => Err(FieldError::new(
            Field::Backend,
            format!("`{other}` is not instance or execution"),
        )),
    }
}

fn parse_execution(fields: &Fields) -> Result<ExecutionSpec, FieldError> {
    for (field, why) in INSTANCE_ONLY {
        if is_set(fields, field) {
            return Err(FieldError::new(
                field,
                format!(
                    "is for instances only ({why}): unset {field}, or set backend = \"instance\""
                ),
            ));
        }
    }
    match fields.notebook.as_deref() {
        None => {
            return Err(FieldError::new(
                Field::Notebook,
                "an execution runs a notebook: set notebook to gs://BUCKET/PATH/NAME.ipynb, or set backend = \"instance\"",
            ));
        }
        Some(notebook) if !notebook.starts_with("gs://") => {
            return Err(FieldError::new(
                Field::Notebook,
                format!(
                    "`{notebook}` is a path inside the container, which an execution cannot read: copy the notebook to Cloud Storage and set notebook to gs://BUCKET/PATH/NAME.ipynb"
                ),
            ));
        }
        Some(_) => {}
    }
    let location = fields.location.as_deref().unwrap_or_default();
    let region = region_of(location).ok_or_else(|| {
        FieldError::new(
            Field::Location,
            format!("`{location}` is neither a zone such as us-central1-a nor a region such as us-central1"),
        )
    })?;
    let runtime_template = fields
        .runtime_template
        .as_deref()
        .map(|template| check_template(template, &region))
        .transpose()
        .map_err(|e| FieldError::new(Field::RuntimeTemplate, e))?;
    if runtime_template.is_some() {
        if let Some(field) = TEMPLATE_DECIDES.into_iter().find(|f| is_set(fields, *f)) {
            return Err(FieldError::new(
                field,
                format!(
                    "the runtime template decides the compute: unset {field}, or runtime_template"
                ),
            ));
        }
    }
    Ok(ExecutionSpec {
        region,
        runtime_template,
    })
}

/// The region of a zone (`us-central1-a` → `us-central1`), or a region as it is; `None` for
/// anything else.
pub fn region_of(location: &str) -> Option<String> {
    let parts: Vec<&str> = location.split('-').collect();
    let well_formed = location.len() <= 63
        && parts.len() >= 2
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts[0].starts_with(|c: char| c.is_ascii_lowercase());
    if !well_formed {
        return None;
    }
    let last = parts[parts.len() - 1];
    let is_zone = last.len() == 1 && last.chars().all(|c| c.is_ascii_lowercase());
    let region = if is_zone {
        &parts[..parts.len() - 1]
    } else {
        &parts[..]
    };
    let ends_in_digit = region
        .last()
        .is_some_and(|part| part.ends_with(|c: char| c.is_ascii_digit()));
    (region.len() >= 2 && ends_in_digit).then(|| region.join("-"))
}

/// `projects/P/locations/REGION/notebookRuntimeTemplates/T`, in the execution's region.
fn check_template(text: &str, region: &str) -> Result<String, String> {
    let form = "expected projects/PROJECT/locations/REGION/notebookRuntimeTemplates/TEMPLATE";
    let parts: Vec<&str> = text.split('/').collect();
    let ok = parts.len() == 6
        && parts[0] == "projects"
        && parts[2] == "locations"
        && parts[4] == "notebookRuntimeTemplates"
        && [parts[1], parts[3], parts[5]].iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    if !ok {
        return Err(format!("`{text}` is not a runtime template: {form}"));
    }
    if parts[3] != region {
        return Err(format!(
            "`{text}` is in {}, but the profile's executions run in {region}: name a template of {region}, or change location",
            parts[3]
        ));
    }
    Ok(text.to_owned())
}

/// Whether `fields` sets `field` (an empty map or list counts as unset).
fn is_set(fields: &Fields, field: Field) -> bool {
    match field {
        Field::Metadata => fields.metadata.as_ref().is_some_and(|m| !m.is_empty()),
        Field::Secrets => fields.secrets.as_ref().is_some_and(|s| !s.is_empty()),
        other => fields.present().contains(&other),
    }
}

#[cfg(test)]
#[path = "backend_tests.rs"]
mod tests;
