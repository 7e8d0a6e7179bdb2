//! Run history: every run's record, joined with the instance it still has, newest first.
//!
//! Records are the truth about runs, because they outlive the instances: they sit in Cloud
//! Storage under each output prefix the profiles name (`{output}/{run id}/run.json`). An
//! instance that is still up knows one thing a record cannot, what it is doing right now, so
//! the managed instances of the profiles' zones are listed once and their state joined by run
//! id. A zone that cannot be listed leaves the records as they are and says so in
//! [`Listing::warnings`]: the history is still worth showing without live states.
//!
//! The command line (`notebook-trigger runs`) and the service (`GET /runs`) show the same
//! [`Listing`]; `filter` reads what a person types to choose runs.
//!
//! - `filter`: which runs to show (`--since 7d`, `--profile`, `--state`, `--limit`).
//! - `row`: one run as shown, with its live state and duration.
//! - `args`: the `runs` command line; `table`: what it prints for a person.

mod args;
mod filter;
mod row;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;

use crate::cause;
use crate::notebooks::NotebooksClient;
use crate::reap::managed_filter;
use crate::runs::{LABEL_RUN_ID, RunId, RunStore, StoreError};
use crate::startup::Backing;

pub use args::{RunsArgs, RunsCommand};
pub use filter::{
    DEFAULT_LIMIT, FilterError, FilterText, RunFilter, SINCE_FORMS, parse_since, state_names,
    statuses,
};
pub use row::RunRow;

/// Why there is no history to show.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "no profile runs a notebook, so there are no run records to read: set NOTEBOOK_OUTPUT \
         (or a profile's output) as the service has it"
    )]
    NoOutputs,
    #[error("the run records under {output} cannot be read")]
    Records {
        output: String,
        #[source]
        source: StoreError,
    },
}

/// Where runs are recorded and where their instances live.
#[derive(Debug, Clone)]
pub struct History {
    pub store: RunStore,
    pub client: NotebooksClient,
    pub project: String,
    /// The output prefixes of the profiles (`gs://B/PREFIX`), each read once.
    pub outputs: BTreeSet<String>,
    /// The zones the profiles launch in, where live instances are looked for.
    pub zones: BTreeSet<String>,
}

/// The runs a filter chose, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub runs: Vec<RunRow>,
    /// How many runs matched before `limit` cut the list.
    pub matched: usize,
    /// What could not be looked at; the rows are shown without it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One run in full: its row, and the objects in its folder.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub row: RunRow,
    /// Every object in the run's folder (`gs://…`), the record included.
    pub objects: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl History {
    /// The history of the service the settings describe: its profiles' outputs and zones.
    pub fn from_backing(backing: &Backing) -> Self {
        let launcher = &backing.launcher;
        let profiles = || {
            launcher
                .profiles
                .names()
                .filter_map(|name| launcher.profiles.get(Some(name)))
        };
        Self {
            store: launcher.runs.store.clone(),
            client: launcher.client.clone(),
            project: launcher.project.clone(),
            outputs: profiles()
                .filter_map(|fields| fields.output.as_deref())
                .map(|output| output.trim_end_matches('/').to_owned())
                .collect(),
            zones: profiles()
                .filter_map(|fields| fields.location.clone())
                .collect(),
        }
    }

    /// The runs `filter` chooses, newest first, with the live state of those still up.
    ///
    /// # Errors
    /// [`HistoryError`] when no output is configured or one cannot be listed.
    pub async fn list(&self, filter: &RunFilter, now: Timestamp) -> Result<Listing, HistoryError> {
        if self.outputs.is_empty() {
            return Err(HistoryError::NoOutputs);
        }
        let mut records = Vec::new();
        let mut unreadable = Vec::new();
        for output in &self.outputs {
            let read = self
                .store
                .records(output, filter.since)
                .await
                .map_err(|source| HistoryError::Records {
                    output: output.clone(),
                    source,
                })?;
            records.extend(read.found);
            unreadable.extend(read.unreadable);
        }
        let (live, mut warnings) = self.live().await;
        warnings.extend(unreadable);
        let mut rows: Vec<RunRow> = records
            .into_iter()
            .map(|record| {
                let instance = live.get(record.run_id.as_str()).cloned();
                RunRow::new(record, instance, now)
            })
            .filter(|row| filter.matches(row))
            .collect();
        rows.sort_by(|a, b| {
            b.record
                .launched
                .cmp(&a.record.launched)
                .then_with(|| a.record.run_id.cmp(&b.record.run_id))
        });
        let matched = rows.len();
        if let Some(limit) = filter.limit {
            rows.truncate(limit);
        }
        Ok(Listing {
            runs: rows,
            matched,
            warnings,
        })
    }

    /// One run, looked for under every output; `None` when no output has its record.
    ///
    /// # Errors
    /// [`HistoryError`] when no output is configured or one cannot be read.
    pub async fn show(
        &self,
        run: &RunId,
        now: Timestamp,
    ) -> Result<Option<RunDetail>, HistoryError> {
        if self.outputs.is_empty() {
            return Err(HistoryError::NoOutputs);
        }
        for output in &self.outputs {
            let folder = RunStore::folder(output, run);
            let failed = |source| HistoryError::Records {
                output: output.clone(),
                source,
            };
            let Some(record) = self.store.read(&folder).await.map_err(failed)? else {
                continue;
            };
            let objects = self.store.objects(&folder).await.map_err(failed)?;
            let (live, warnings) = self.live().await;
            let instance = live.get(run.as_str()).cloned();
            return Ok(Some(RunDetail {
                row: RunRow::new(record, instance, now),
                objects,
                warnings,
            }));
        }
        Ok(None)
    }

    /// The state of every managed instance that carries a run id, by run id.
    async fn live(&self) -> (BTreeMap<String, String>, Vec<String>) {
        let mut live = BTreeMap::new();
        let mut warnings = Vec::new();
        for zone in &self.zones {
            let parent = format!("projects/{}/locations/{zone}", self.project);
            match self.client.list_instances(&parent, &managed_filter()).await {
                Ok(instances) => {
                    for instance in instances {
                        if let Some(run) = instance.labels.get(LABEL_RUN_ID) {
                            live.insert(run.clone(), instance.state.unwrap_or_default());
                        }
                    }
                }
                Err(error) => {
                    let warning = format!(
                        "the instances in {zone} cannot be listed, so their live states are not shown: {}",
                        cause::chain(&error)
                    );
                    tracing::warn!("{warning}");
                    warnings.push(warning);
                }
            }
        }
        (live, warnings)
    }
}
