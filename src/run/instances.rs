//! The managed instances in the zones the profiles launch in, listed zone by zone.
//!
//! The reaper judges them and the history joins their live states to the records; both ask
//! here, so "managed" means one thing: the managed-by label, asked of the API as a list filter
//! and checked again on every instance the API returns, in case it ignored the filter. A zone
//! that cannot be listed is handed back with its error instead of failing the whole listing:
//! each caller knows whether a partial view is still worth acting on.

use std::collections::BTreeSet;

use crate::naming::{LABEL_MANAGED_BY, LABEL_RUN_ID, MANAGED_BY};
use crate::notebooks::{ClientError, Code, Instance, NotebooksClient};
use crate::runner::KEY_PREFIX;

use super::{RunId, RunStore};

/// Where managed instances are looked for.
#[derive(Debug, Clone)]
pub struct ManagedInstances {
    client: NotebooksClient,
    project: String,
    zones: BTreeSet<String>,
}

/// What one listing found.
#[derive(Debug, Default)]
pub struct Found {
    pub instances: Vec<Instance>,
    /// The zones that could not be listed, with why; their instances are not in `instances`.
    pub unlisted: Vec<(String, ClientError)>,
}

impl ManagedInstances {
    pub fn new(client: NotebooksClient, project: String, zones: BTreeSet<String>) -> Self {
        Self {
            client,
            project,
            zones,
        }
    }

    /// Every managed instance of every zone that could be listed.
    pub async fn list(&self) -> Found {
        let mut found = Found::default();
        for zone in &self.zones {
            let parent = format!("projects/{}/locations/{zone}", self.project);
            match self.client.list_instances(&parent, &managed_filter()).await {
                Ok(instances) => found
                    .instances
                    .extend(instances.into_iter().filter(is_managed)),
                Err(error) => found.unlisted.push((zone.clone(), error)),
            }
        }
        found
    }
}

impl ManagedInstances {
    /// The instance named `name` (`projects/P/locations/Z/instances/I`), in whichever zone;
    /// `None` when there is none.
    ///
    /// # Errors
    /// The API could not be asked.
    pub async fn get(&self, name: &str) -> Result<Option<Instance>, ClientError> {
        match self.client.get_instance(name).await {
            Ok(instance) => Ok(Some(instance)),
            Err(error) if error.code() == Some(Code::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// The filter of managed instances, as `instances.list` takes it.
fn managed_filter() -> String {
    format!("labels.{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// Whether the instance carries the managed-by label: nothing else is ever touched.
pub fn is_managed(instance: &Instance) -> bool {
    instance.labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
}

/// The folder of the run an instance executes, from the output prefix in its metadata and the
/// run id in its label; `None` for an instance that runs no notebook.
pub fn run_folder(instance: &Instance) -> Option<String> {
    let output = instance.metadata_value(&format!("{KEY_PREFIX}output"))?;
    let run = RunId::parse(instance.labels.get(LABEL_RUN_ID)?).ok()?;
    Some(RunStore::folder(output, &run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn instance(labels: serde_json::Value, metadata: serde_json::Value) -> Instance {
        serde_json::from_value(json!({
            "name": "projects/p/locations/z/instances/i",
            "labels": labels,
            "gceSetup": {"metadata": metadata},
        }))
        .unwrap()
    }

    #[test]
    fn a_run_folder_needs_both_the_output_and_the_run_label() {
        let both = instance(
            json!({"managed-by": "notebook-trigger", "run-id": "r0123456789abcdef"}),
            json!({"notebook-trigger-output": "gs://b/runs"}),
        );
        assert!(is_managed(&both));
        assert_eq!(
            run_folder(&both).as_deref(),
            Some("gs://b/runs/r0123456789abcdef/")
        );
        let no_output = instance(json!({"run-id": "r0123456789abcdef"}), json!({}));
        assert!(!is_managed(&no_output));
        assert_eq!(run_folder(&no_output), None);
        let bad_run = instance(
            json!({"run-id": "../x"}),
            json!({"notebook-trigger-output": "gs://b/runs"}),
        );
        assert_eq!(run_folder(&bad_run), None);
        assert_eq!(managed_filter(), "labels.managed-by=notebook-trigger");
    }
}
