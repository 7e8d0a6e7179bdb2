//! Pre-flight: a run's notebook checked before anything is paid for. Before the run record is
//! written and the instance created (and in a dry run), the notebook must exist, and the
//! run's parameters (the profile's and the message's; `event` always passes) must be declared
//! by its parameters cell, each of its declared type ([`crate::papermill`] says how papermill
//! reads one). A miss is refused with 400 and nothing is written or created; a Cloud Storage
//! that cannot be asked is 503, so the message comes back when it can be.
//!
//! A launch costs one metadata call: the declarations are kept by object generation (see
//! `cache`), and the notebook is downloaded and read only when its generation is new. A path
//! inside the container cannot be read from here: it is not checked, and a dry run says so.

mod cache;

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};
use storage_client::{GsUri, StorageError};

use super::{EVENT_PARAMETER, Failure, LaunchError};
use crate::cloud_storage::CloudStorage;
use crate::credentials::CredentialsError;
use crate::papermill::{self, INJECTED_TAG, MAX_NOTEBOOK_BYTES, Notebook};
use crate::rejection::Rejection;
use crate::run::RunRecord;

pub use cache::NotebookCache;

/// Why a notebook could not be read; another delivery may get further.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("no access token for Cloud Storage")]
    Credentials(#[source] CredentialsError),
    #[error(
        "the service's account may not read it: grant it roles/storage.objectViewer on the notebook's bucket"
    )]
    Denied(#[source] StorageError),
    #[error(transparent)]
    Storage(StorageError),
    #[error("it is not a gs:// object")]
    Path,
    #[error(
        "it was replaced after generation {checked} was checked: the next delivery checks the \
         new one"
    )]
    Replaced { checked: u64 },
}

/// What a dry run shows of its run's notebook.
#[derive(Debug, Clone, Serialize)]
pub struct NotebookCheck {
    pub notebook: String,
    /// The object generation that was checked; absent when the notebook was not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// What its parameters cell declares; absent without one, or when it was not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declared: Option<Vec<Declared>>,
    /// The cell papermill will write; absent when the run has no parameters (papermill then
    /// injects none) or the notebook is not Python.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injected_cell: Option<InjectedCell>,
    /// What was not checked, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One declared parameter, as the check holds a run to it.
#[derive(Debug, Clone, Serialize)]
pub struct Declared {
    pub name: String,
    /// What it accepts (`int`, `float (or int)`, `str or None`, `any value`).
    #[serde(rename = "type")]
    pub accepts: String,
    /// The default's source text.
    pub default: String,
}

/// The cell papermill injects with the run's parameters.
#[derive(Debug, Clone, Serialize)]
pub struct InjectedCell {
    pub tags: [&'static str; 1],
    /// Where in the notebook it goes.
    pub placement: &'static str,
    pub source: String,
}

/// Reads and checks runs' notebooks; one for the service, its cache shared by all launches.
#[derive(Debug)]
pub struct Preflight {
    storage: CloudStorage,
    cache: NotebookCache,
}

impl Preflight {
    pub fn new(storage: CloudStorage) -> Self {
        Self {
            storage,
            cache: NotebookCache::default(),
        }
    }

    /// Checks the notebook of the run `run` is about to start.
    ///
    /// # Errors
    /// [`Rejection`] for a notebook that is missing or not a notebook, or parameters it does
    /// not declare; [`LaunchError::Notebook`] when it cannot be read now.
    pub async fn check(&self, run: &RunRecord) -> Result<NotebookCheck, Failure> {
        let uri = run.notebook.as_str();
        let Ok(object) = GsUri::parse(uri) else {
            return Ok(unread(
                uri,
                &run.parameters,
                "a path inside the container is only readable on the VM: neither that it exists nor its parameters are checked",
            ));
        };
        let Some((generation, notebook)) = self.read(&object, run).await? else {
            return Ok(unread(
                uri,
                &run.parameters,
                &format!(
                    "the notebook is larger than the {} MiB read for a check: its parameters are not checked",
                    MAX_NOTEBOOK_BYTES >> 20
                ),
            ));
        };
        let parameters = run
            .parameters
            .iter()
            .filter(|(name, _)| name.as_str() != EVENT_PARAMETER);
        notebook
            .check(uri, parameters)
            .map_err(Rejection::Parameter)?;
        tracing::info!(
            notebook = uri,
            generation,
            parameters_cell = notebook.declared.is_some(),
            "the run's notebook and parameters are checked"
        );
        Ok(checked(uri, generation, &notebook, &run.parameters))
    }

    /// The bytes of `notebook` (`gs://…`) for an execution's copy: of `generation`, the one
    /// the check read, when there is one (so the copy is of what was checked), else the live
    /// one; `None` when it holds more than [`MAX_NOTEBOOK_BYTES`].
    ///
    /// # Errors
    /// [`LaunchError::Notebook`] when it cannot be read now, or was replaced since its check
    /// ([`Unreadable::Replaced`]: the next delivery checks the new one).
    pub(super) async fn download(
        &self,
        notebook: &str,
        generation: Option<u64>,
    ) -> Result<Option<Vec<u8>>, LaunchError> {
        let unreadable = |source| LaunchError::Notebook {
            notebook: notebook.to_owned(),
            source,
        };
        let object = GsUri::parse(notebook).map_err(|_| unreadable(Unreadable::Path))?;
        let storage = self
            .storage
            .client()
            .await
            .map_err(|error| unreadable(Unreadable::Credentials(error)))?;
        let downloaded = storage
            .download_versioned_at_most(
                &object.bucket,
                &object.object,
                generation,
                MAX_NOTEBOOK_BYTES,
            )
            .await;
        match (downloaded, generation) {
            (Ok(read), _) => Ok(read.map(|(bytes, _)| bytes)),
            (Err(error), Some(checked)) if error.status().is_some_and(|s| s.as_u16() == 404) => {
                Err(unreadable(Unreadable::Replaced { checked }))
            }
            (Err(error), _) => Err(unreadable(Unreadable::Storage(error))),
        }
    }

    /// The notebook's generation and what papermill reads of it: from the cache when that
    /// generation was read before, else downloaded; `None` when it is too large to read.
    async fn read(
        &self,
        object: &GsUri,
        run: &RunRecord,
    ) -> Result<Option<(u64, Arc<Notebook>)>, Failure> {
        let unreadable = |source| LaunchError::Notebook {
            notebook: run.notebook.clone(),
            source,
        };
        let storage = self
            .storage
            .client()
            .await
            .map_err(|error| unreadable(Unreadable::Credentials(error)))?;
        let found = storage.metadata(&object.bucket, &object.object).await;
        let metadata = found.map_err(|error| storage_failure(error, run))?;
        let live = number(&metadata["generation"]);
        if let Some(kept) = live.and_then(|g| Some((g, self.cache.get(&run.notebook, g)?))) {
            return Ok(Some(kept));
        }
        // Bounded: the object may have been replaced by a larger one since its metadata was
        // read. The generation is the one downloaded.
        let downloaded = storage
            .download_versioned_at_most(&object.bucket, &object.object, None, MAX_NOTEBOOK_BYTES)
            .await;
        let Some((bytes, generation)) = downloaded.map_err(|error| storage_failure(error, run))?
        else {
            return Ok(None);
        };
        let notebook = Notebook::read(&bytes).map_err(|source| Rejection::NotANotebook {
            notebook: run.notebook.clone(),
            profile: run.profile.clone(),
            source,
        })?;
        let notebook = Arc::new(notebook);
        self.cache.put(&run.notebook, generation, notebook.clone());
        Ok(Some((generation, notebook)))
    }
}

/// A failed call for the notebook: missing is refused for good, anything else may pass later.
fn storage_failure(error: StorageError, run: &RunRecord) -> Failure {
    let source = match error.status().map(|status| status.as_u16()) {
        Some(404) => {
            return Rejection::NotebookMissing {
                notebook: run.notebook.clone(),
                profile: run.profile.clone(),
                source: error,
            }
            .into();
        }
        Some(401 | 403) => Unreadable::Denied(error),
        _ => Unreadable::Storage(error),
    };
    LaunchError::Notebook {
        notebook: run.notebook.clone(),
        source,
    }
    .into()
}

/// A number the JSON API sends as a decimal string (`generation`, `size`), or as a number.
fn number(value: &Value) -> Option<u64> {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .or_else(|| value.as_u64())
}

/// The check of a notebook that was read.
fn checked(
    uri: &str,
    generation: u64,
    notebook: &Notebook,
    parameters: &Map<String, Value>,
) -> NotebookCheck {
    let mut warnings = Vec::new();
    if !notebook.is_python() {
        warnings.push(format!(
            "the notebook's kernel is {} ({}): only Python notebooks have their parameters checked and their injected cell shown",
            notebook.kernel,
            notebook
                .language
                .as_deref()
                .unwrap_or("no language named, which papermill needs to write parameters")
        ));
    } else if notebook.declared.is_none() {
        warnings.push(
            "no cell is tagged parameters: papermill puts the parameters at the top and warns, and none is checked".to_owned(),
        );
    }
    let declared = notebook.declared.as_ref().map(|declared| {
        declared
            .iter()
            .map(|declaration| Declared {
                name: declaration.name.clone(),
                accepts: papermill::Expected::of(declaration).to_string(),
                default: declaration.default.clone(),
            })
            .collect()
    });
    NotebookCheck {
        notebook: uri.to_owned(),
        generation: Some(generation),
        declared,
        injected_cell: notebook
            .is_python()
            .then(|| injected(parameters, notebook.placement.describe()))
            .flatten(),
        warnings,
    }
}

/// The check of a notebook that was not read, with why.
fn unread(uri: &str, parameters: &Map<String, Value>, why: &str) -> NotebookCheck {
    NotebookCheck {
        notebook: uri.to_owned(),
        generation: None,
        declared: None,
        injected_cell: injected(parameters, "not known: the notebook was not read"),
        warnings: vec![why.to_owned()],
    }
}

/// The injected cell for `parameters`; none without parameters, as papermill injects none.
fn injected(parameters: &Map<String, Value>, placement: &'static str) -> Option<InjectedCell> {
    (!parameters.is_empty()).then(|| InjectedCell {
        tags: [INJECTED_TAG],
        placement,
        source: papermill::codify(parameters),
    })
}
