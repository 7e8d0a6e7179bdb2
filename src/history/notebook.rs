//! A run's executed notebook, read for its page: the one the runner saved as
//! `{run folder}{notebook's file name}` and listed first among its outputs. A notebook is read
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

/// The executed notebook's `gs://` URI, when the run's outputs list it.
fn executed_notebook_uri(record: &RunRecord) -> Option<&str> {
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
}
