//! Where a run's record lives, apart from the files its VM writes.
//!
//! A run's VM may add objects to its output folder (`gs://B/PREFIX/{run id}/`): its outputs,
//! its log. If its record were there too, anything the VM runs (the notebook, whatever it
//! installs) could plant or shadow the record that decides the run's outcome and cleanup. So a
//! record lives under a prefix of its own in the same bucket,
//! `gs://B/notebook-trigger-records/PREFIX/{run id}.json`, which the VM's grant excludes by an
//! IAM condition on the object name (`deploy.sh`, step `runs`), and the run's folder keeps
//! only what the run wrote.

use storage_client::GsUri;

use super::StoreError;
use crate::run::RunId;

/// The prefix records live under, in each output's bucket; the VM may not write below it.
pub const RECORDS_PREFIX: &str = "notebook-trigger-records";

/// The record of the run whose folder is `folder` (`gs://B/PREFIX/{run id}/`).
pub(super) fn record_uri(folder: &str) -> Result<GsUri, StoreError> {
    let refused = || StoreError::Folder(folder.to_owned());
    let inside = folder
        .strip_prefix("gs://")
        .and_then(|rest| rest.strip_suffix('/'))
        .ok_or_else(refused)?;
    let (bucket, path) = inside.split_once('/').ok_or_else(refused)?;
    let (prefix, run) = match path.rsplit_once('/') {
        Some((prefix, run)) => (Some(prefix), run),
        None => (None, path),
    };
    if bucket.is_empty() || RunId::parse(run).is_err() || prefix.is_some_and(str::is_empty) {
        return Err(refused());
    }
    let object = match prefix {
        Some(prefix) => format!("{RECORDS_PREFIX}/{prefix}/{run}.json"),
        None => format!("{RECORDS_PREFIX}/{run}.json"),
    };
    Ok(GsUri {
        bucket: bucket.to_owned(),
        object,
    })
}

/// The parameterized notebook a run that executes as a job runs, beside its record
/// (`gs://B/notebook-trigger-records/PREFIX/{run id}.ipynb`): where neither the job nor
/// anything its notebook runs may write, so the copy the job reads is the one the service wrote.
pub(super) fn notebook_copy_uri(folder: &str) -> Result<GsUri, StoreError> {
    let record = record_uri(folder)?;
    let stem = record
        .object
        .strip_suffix(".json")
        .ok_or_else(|| StoreError::Folder(folder.to_owned()))?;
    Ok(GsUri {
        object: format!("{stem}.ipynb"),
        bucket: record.bucket,
    })
}

/// The output prefix (`gs://B/PREFIX`) as a bucket and an object prefix ending in `/` (empty
/// for a whole bucket).
pub(super) fn prefix_uri(output: &str) -> Result<GsUri, StoreError> {
    let rest = output
        .strip_prefix("gs://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|rest| !rest.is_empty() && !rest.starts_with('/'))
        .ok_or_else(|| StoreError::Folder(output.to_owned()))?;
    let (bucket, object) = match rest.split_once('/') {
        Some((bucket, object)) => (bucket, format!("{object}/")),
        None => (rest, String::new()),
    };
    Ok(GsUri {
        bucket: bucket.to_owned(),
        object,
    })
}

/// Where the records of an output prefix's runs are: `notebook-trigger-records/PREFIX/`.
pub(super) fn records_of(prefix: &GsUri) -> GsUri {
    GsUri {
        bucket: prefix.bucket.clone(),
        object: format!("{RECORDS_PREFIX}/{}", prefix.object),
    }
}

/// The run folder of a record listed under `records` (an object prefix from [`records_of`]),
/// when the name is a record directly under it and not anything else.
pub(super) fn folder_of(name: &str, records: &GsUri, prefix: &GsUri) -> Option<String> {
    let run = name
        .strip_prefix(&records.object)?
        .strip_suffix(".json")
        .filter(|run| RunId::parse(run).is_ok())?;
    Some(format!("gs://{}/{}{run}/", prefix.bucket, prefix.object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_lives_apart_from_its_runs_files() {
        let uri = record_uri("gs://b/runs/r0123456789abcdef/").unwrap();
        assert_eq!(
            uri.to_string(),
            "gs://b/notebook-trigger-records/runs/r0123456789abcdef.json"
        );
        let deep = record_uri("gs://b/team/a/r0123456789abcdef/").unwrap();
        assert_eq!(
            deep.object,
            "notebook-trigger-records/team/a/r0123456789abcdef.json"
        );
        let whole_bucket = record_uri("gs://b/r0123456789abcdef/").unwrap();
        assert_eq!(
            whole_bucket.object,
            "notebook-trigger-records/r0123456789abcdef.json"
        );
        for bad in [
            "gs://b/runs/r0123456789abcdef",
            "https://b/x/r0123456789abcdef/",
            "gs:///r0123456789abcdef/",
            "gs://b/runs/not-a-run/",
            "gs://b//r0123456789abcdef/",
        ] {
            assert!(
                matches!(record_uri(bad), Err(StoreError::Folder(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_jobs_notebook_copy_lies_beside_its_record() {
        let copy = notebook_copy_uri("gs://b/team/a/r0123456789abcdef/").unwrap();
        assert_eq!(
            copy.to_string(),
            "gs://b/notebook-trigger-records/team/a/r0123456789abcdef.ipynb"
        );
        assert!(notebook_copy_uri("gs://b/runs/not-a-run/").is_err());
    }

    #[test]
    fn a_history_reads_only_the_records_directly_under_its_prefix() {
        let prefix = prefix_uri("gs://b/runs/").unwrap();
        assert_eq!(
            (prefix.bucket.as_str(), prefix.object.as_str()),
            ("b", "runs/")
        );
        let bucket = prefix_uri("gs://b").unwrap();
        assert_eq!((bucket.bucket.as_str(), bucket.object.as_str()), ("b", ""));
        for bad in ["b/runs", "gs://", "gs:///runs"] {
            assert!(
                matches!(prefix_uri(bad), Err(StoreError::Folder(_))),
                "{bad}"
            );
        }
        let records = records_of(&prefix);
        assert_eq!(records.object, "notebook-trigger-records/runs/");
        assert_eq!(
            folder_of(
                "notebook-trigger-records/runs/r0123456789abcdef.json",
                &records,
                &prefix
            )
            .as_deref(),
            Some("gs://b/runs/r0123456789abcdef/")
        );
        for not in [
            "notebook-trigger-records/runs/deeper/r0123456789abcdef.json",
            "notebook-trigger-records/runs/not-a-run.json",
            "notebook-trigger-records/runs/r0123456789abcdef.txt",
            "runs/r0123456789abcdef/run.json",
        ] {
            assert_eq!(folder_of(not, &records, &prefix), None, "{not}");
        }
    }
}
