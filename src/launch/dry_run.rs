//! A dry run: the request derived and checked exactly as for a launch (a run's notebook
//! included), and the create it would send shown instead of sent, with the cell papermill will
//! inject into the notebook. Nothing is written (no run record) and nothing is created.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::error::call_error;
use super::{CreateRequest, Failure, LaunchError, Launched, Launcher, NotebookCheck, Outcome};
use crate::push::Trigger;

/// The `instances.create` (or, for a run that executes as a job,
/// `notebookExecutionJobs.create`, whose notebook's generation is known once its copy is
/// written) a dry run would have sent. The method and URL are the client's own
/// ([`NotebooksClient::create_call`](crate::notebooks::NotebooksClient::create_call)), and the
/// body is the request's bytes, so the answer cannot drift from what a launch sends.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunRequest {
    pub method: String,
    /// The full URL, query included.
    pub url: String,
    /// The URL's query, read back from it (`instanceId`, and `requestId` for v2).
    pub query: BTreeMap<String, String>,
    /// The `Instance` as JSON: the very bytes the create would carry, parsed.
    #[serde(serialize_with = "json_text")]
    pub body: Vec<u8>,
}

impl Launcher {
    /// The answer of a dry run of `request`, with what its `notebook` check found; its run
    /// record is dropped unwritten.
    pub(super) fn dry_run_answer(
        &self,
        request: CreateRequest,
        notebook: Option<NotebookCheck>,
        trigger: &Trigger,
        elapsed: Duration,
    ) -> Result<Launched, Failure> {
        let call = match &request.execution {
            Some(_) => self
                .executions
                .create_call(&request.parent, request.id.as_str())
                .map_err(|source| LaunchError::Execution {
                    action: "create",
                    job: request.name.clone(),
                    source,
                })?,
            None => self
                .client
                .create_call(&request.parent, request.id.as_str(), request.request_id)
                .map_err(|error| call_error("create", &request.name, error))?,
        };
        let query = call
            .url
            .query_pairs()
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        tracing::info!(instance = %request.name, "dry run: nothing written, nothing created");
        Ok(Launched {
            outcome: Outcome::DryRun,
            instance: request.name,
            state: "NOT_CREATED".to_owned(),
            profile: request.profile,
            trigger: trigger.data.display(),
            run_id: request.run_id,
            elapsed_ms: elapsed.as_millis(),
            request: Some(Box::new(DryRunRequest {
                method: call.method.to_string(),
                url: call.url.into(),
                query,
                body: request.body,
            })),
            notebook: notebook.map(Box::new),
        })
    }
}

/// The body as the JSON it is. It was serialised from a JSON value, so parsing it back cannot
/// fail; if it ever did, the answer's serialisation fails and says why rather than showing
/// something other than what would be sent.
fn json_text<S: Serializer>(body: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serde_json::from_slice::<serde_json::Value>(body)
        .map_err(serde::ser::Error::custom)?
        .serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_shown_as_the_json_it_is() {
        let shown = DryRunRequest {
            method: "POST".into(),
            url: "http://h/v2/p/instances?instanceId=i".into(),
            query: BTreeMap::from([("instanceId".into(), "i".into())]),
            body: br#"{"gceSetup":{"machineType":"e2-standard-4"},"labels":{}}"#.to_vec(),
        };
        let value = serde_json::to_value(&shown).unwrap();
        assert_eq!(value["body"]["gceSetup"]["machineType"], "e2-standard-4");
        let broken = DryRunRequest {
            body: b"{".to_vec(),
            ..shown
        };
        assert!(serde_json::to_string(&broken).is_err());
    }
}
