//! A run's executed notebook, read for its page: the one the runner saved as
//! `{run folder}{notebook's file name}`, or the one a job wrote in the run's folder. A notebook is read
//! only up to [`MAX_NOTEBOOK_BYTES`](crate::papermill::MAX_NOTEBOOK_BYTES): a larger one is linked, not loaded into memory.

use super::History;
use crate::cause;
use crate::papermill::MAX_NOTEBOOK_BYTES;
use crate::run::RunRecord;

/// What became of reading a run's executed notebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutedNotebook {
    /// The run's outputs list none: it has not reported, or it failed before papermill wrote
    /// one.
    Absent,
    /// Larger than [`MAX_NOTEBOOK_BYTES`](crate::papermill::MAX_NOTEBOOK_BYTES).
    TooLarge {
        uri: String,
    },
    /// It could not be read; `reason` says why.
    Unreadable {
        uri: String,
        reason: String,
    },
    Read {
        uri: String,
        bytes: Vec<u8>,
    },
}

/// The executed notebook's `gs://` URI, when the run's outputs list it: for a run on an
/// instance, the one the runner saved at the folder's top under the notebook's name; for a
/// run that executed as a job, the shallowest notebook in its folder (the job writes only the
/// notebook it ran, where Google's documents do not say, so no path is assumed).
fn executed_notebook_uri(record: &RunRecord) -> Option<&str> {
    if record.execution.is_some() {
        return record
            .outputs
            .iter()
            .filter(|output| output.starts_with(&record.output) && output.ends_with(".ipynb"))
            .min_by_key(|output| output.matches('/').count())
            .map(String::as_str);
    }
    let name = record
        .notebook
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())?;
    let uri = format!("{}{name}", record.output);
    record
        .outputs
        .iter()
        .find(|output| **output == uri)
        .map(String::as_str)
}

impl History {
    /// The executed notebook of the run of `record`, read with the service's own access.
    pub async fn executed_notebook(&self, record: &RunRecord) -> ExecutedNotebook {
        let Some(uri) = executed_notebook_uri(record) else {
            return ExecutedNotebook::Absent;
        };
        let uri = uri.to_owned();
        match self.store.output(&uri, MAX_NOTEBOOK_BYTES).await {
            Ok(Some(bytes)) => ExecutedNotebook::Read { uri, bytes },
            Ok(None) => ExecutedNotebook::TooLarge { uri },
            Err(error) => {
                let reason = cause::chain(&error).to_string();
                tracing::warn!(run = %record.run_id, %reason, "the executed notebook cannot be read for its page");
                ExecutedNotebook::Unreadable { uri, reason }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executed_notebook_is_the_output_named_as_the_notebook_at_the_folders_top() {
        let mut record = RunRecord::example("1", "2026-12-01T10:00:00Z");
        assert_eq!(executed_notebook_uri(&record), None, "no outputs yet");
        let top = format!("{}seed.ipynb", record.output);
        record.outputs = vec![
            format!("{}outputs/seed.ipynb", record.output),
            top.clone(),
            format!("{}runner.log", record.output),
        ];
        assert_eq!(executed_notebook_uri(&record), Some(top.as_str()));
        record.notebook = "gs://b/nb/other.ipynb".into();
        assert_eq!(executed_notebook_uri(&record), None);
        record.notebook = "gs://b/nb/".into();
        assert_eq!(executed_notebook_uri(&record), None);
    }

    #[test]
    fn a_jobs_executed_notebook_is_the_shallowest_notebook_in_its_folder() {
        let mut record = RunRecord::example("1", "2026-12-01T10:00:00Z");
        record.execution = Some("projects/p/locations/r/notebookExecutionJobs/j".into());
        let ran = format!("{}j/r1.ipynb", record.output);
        record.outputs = vec![
            format!("{}j/deeper/other.ipynb", record.output),
            ran.clone(),
            format!("{}j/log.txt", record.output),
            "gs://elsewhere/x.ipynb".into(),
        ];
        assert_eq!(executed_notebook_uri(&record), Some(ran.as_str()));
        record.outputs.retain(|output| !output.ends_with(".ipynb"));
        assert_eq!(executed_notebook_uri(&record), None);
    }
}
