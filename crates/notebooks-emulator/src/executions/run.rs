//! With `--run-scripts`, a job really runs: its notebook is read from Cloud Storage (or its
//! direct content), run by papermill in the emulator's own `python3`, and the executed
//! notebook is written under `gcsOutputUri`; the job goes RUNNING, then SUCCEEDED or FAILED.
//!
//! A notebook is code from whoever can create jobs, run as a local process, so what it can do
//! to the emulator is bounded as for post-startup scripts: it runs in a session of its own,
//! marked so that everything it starts is found ([`crate::machines::processes`]), and is
//! killed at its `executionTimeout`, when its job is deleted, and when the emulator stops; the
//! notebook read in, the executed notebook read back and papermill's report kept are bounded
//! in size ([`MAX_NOTEBOOK`], [`MAX_OUTPUT`], [`KEPT_REPORT`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use reqwest::Url;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::jobs::Jobs;
use super::plan::{Plan, Source};
use crate::machines::processes::{MARKER_VARIABLE, Reach};
use crate::status::{ApiError, Code};
use crate::storage::{GsUri, StorageClient};

/// The most of a notebook read from Cloud Storage.
pub const MAX_NOTEBOOK: usize = 16 << 20;
/// The most of an executed notebook read back and uploaded.
pub const MAX_OUTPUT: u64 = 32 << 20;
/// The tail of papermill's error output kept to explain a failure.
pub const KEPT_REPORT: usize = 64 << 10;
/// The most of that report a job's `status.message` carries.
const MAX_MESSAGE: usize = 2 << 10;

/// Where the executed notebook of job `job_id` lands: `{gcsOutputUri}/{jobId}/{file}`. This is
/// the working assumption, not confirmed by Google's documentation (see the module
/// [`super`]).
pub fn output_object(plan: &Plan, job_id: &str, file: &str) -> GsUri {
    let object = if plan.output_folder.is_empty() {
        format!("{job_id}/{file}")
    } else {
        format!("{}/{job_id}/{file}", plan.output_folder)
    };
    GsUri {
        bucket: plan.output_bucket.clone(),
        object,
    }
}

#[derive(Debug)]
struct Running {
    cancel: CancellationToken,
    task: JoinHandle<()>,
    reach: Arc<Mutex<Reach>>,
}

/// Where notebooks run and find Cloud Storage, and the runs under way.
#[derive(Debug)]
pub struct Runs {
    storage: Url,
    root: PathBuf,
    running: Arc<Mutex<HashMap<String, Running>>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Runs {
    pub fn new(storage: Url, root: PathBuf) -> Self {
        Self {
            storage,
            root,
            running: Arc::default(),
        }
    }

    /// Runs job `name` now, in the background.
    pub fn start(&self, jobs: Arc<Jobs>, name: &str, job_id: &str, plan: Plan) {
        let marker = uuid::Uuid::new_v4().simple().to_string();
        let reach = Arc::new(Mutex::new(Reach {
            leader: None,
            session: false,
            marker: marker.clone(),
        }));
        let cancel = CancellationToken::new();
        let run = Run {
            jobs,
            name: name.to_owned(),
            job_id: job_id.to_owned(),
            plan,
            storage: StorageClient::new(self.storage.clone()),
            dir: self.root.join("executions").join(&marker),
            reach: reach.clone(),
        };
        let running = self.running.clone();
        let (token, key) = (cancel.clone(), name.to_owned());
        let task = tokio::spawn(async move {
            tokio::select! {
                () = run.go() => {}
                () = token.cancelled() => {}
            }
            let reach = locked(&run.reach).clone();
            reach.kill();
            let _ = std::fs::remove_dir_all(&run.dir);
            let mut running = locked(&running);
            if running
                .get(&key)
                .is_some_and(|r| locked(&r.reach).marker == marker)
            {
                running.remove(&key);
            }
        });
        let previous = locked(&self.running).insert(
            name.to_owned(),
            Running {
                cancel,
                task,
                reach,
            },
        );
        if let Some(previous) = previous {
            previous.cancel.cancel();
        }
    }

    /// Ends the run of `name` (its job was deleted), in the background.
    pub fn halt_later(&self, name: &str) {
        if let Some(running) = locked(&self.running).remove(name) {
            running.cancel.cancel();
        }
    }

    /// Ends every run and waits for each to be cleaned up.
    pub async fn halt_all(&self) {
        let runs: Vec<Running> = locked(&self.running).drain().map(|(_, r)| r).collect();
        for run in runs {
            run.cancel.cancel();
            let _ = run.task.await;
        }
    }

    /// SIGKILL for every run's processes, without waiting: for when the emulator is dropped.
    pub fn kill_all_now(&self) {
        for (_, run) in locked(&self.running).drain() {
            locked(&run.reach).kill();
            run.cancel.cancel();
            run.task.abort();
        }
    }
}

/// One job's run.
struct Run {
    jobs: Arc<Jobs>,
    name: String,
    job_id: String,
    plan: Plan,
    storage: StorageClient,
    dir: PathBuf,
    reach: Arc<Mutex<Reach>>,
}

/// How a run ended, as the job's state and status will say.
enum Outcome {
    Succeeded,
    Failed(ApiError),
}

impl Run {
    async fn go(&self) {
        if self.set("JOB_STATE_RUNNING", None).is_err() {
            return;
        }
        let outcome = match self.execute().await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Failed(error),
        };
        let _ = match outcome {
            Outcome::Succeeded => self.set("JOB_STATE_SUCCEEDED", None),
            Outcome::Failed(error) => {
                tracing::info!(job = %self.name, message = %error.message, "execution failed");
                self.set("JOB_STATE_FAILED", Some(error.to_rpc_status()))
            }
        };
    }

    /// NOT_FOUND once the job is deleted, which ends the run.
    fn set(&self, state: &str, status: Option<Value>) -> Result<(), crate::store::StoreError> {
        self.jobs.set_state(&self.name, state, status)
    }

    async fn execute(&self) -> Result<Outcome, ApiError> {
        let (notebook, file) = self.notebook().await?;
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(self.dir.join(INPUT), &notebook))
            .map_err(|error| internal(format!("scratch directory: {error}")))?;
        // The notebook as far as it ran is written even when it failed; its failure, not the
        // upload's, is what the job reports then.
        let papermill = self.papermill().await;
        let upload = self.upload(&file).await;
        match (papermill, upload) {
            (Err(failure), _) => Ok(Outcome::Failed(failure)),
            (Ok(()), upload) => upload.map(|()| Outcome::Succeeded),
        }
    }

    /// The notebook's bytes and the file name its output takes.
    async fn notebook(&self) -> Result<(Vec<u8>, String), ApiError> {
        match &self.plan.source {
            Source::Direct(bytes) => Ok((bytes.clone(), format!("{}.ipynb", self.job_id))),
            Source::Dataform => Err(ApiError::new(
                Code::Unimplemented,
                "The emulator cannot read Dataform repositories: use gcs_notebook_source.",
            )),
            Source::Gcs { uri, generation } => {
                let read = self
                    .storage
                    .download_versioned_at_most(&uri.bucket, &uri.object, None, MAX_NOTEBOOK)
                    .await;
                let (bytes, live) = match read {
                    Ok(Some(read)) => read,
                    Ok(None) => {
                        return Err(ApiError::new(
                            Code::InvalidArgument,
                            format!(
                                "{uri} is larger than the {MAX_NOTEBOOK} bytes the emulator runs."
                            ),
                        ));
                    }
                    Err(error) => {
                        let code = if error.status().is_some_and(|s| s.as_u16() == 404) {
                            Code::NotFound
                        } else {
                            Code::FailedPrecondition
                        };
                        let cause = notebooks_wire::cause::chain(&error).to_string();
                        return Err(ApiError::new(code, format!("Cannot read {uri}: {cause}")));
                    }
                };
                if let Some(wanted) = generation.filter(|wanted| *wanted != live) {
                    return Err(ApiError::new(
                        Code::NotFound,
                        format!(
                            "{uri} generation {wanted} was not found (the live generation is {live}; the emulator keeps no older ones)."
                        ),
                    ));
                }
                let file = uri.object.rsplit('/').next().unwrap_or("notebook.ipynb");
                Ok((bytes, file.to_owned()))
            }
        }
    }

    /// papermill on the notebook, killed at the timeout; its report when it fails.
    async fn papermill(&self) -> Result<(), ApiError> {
        let mut child = self
            .command()
            .spawn()
            .map_err(|error| internal(format!("cannot start python3 -m papermill: {error}")))?;
        locked(&self.reach).leader = child.id().and_then(|id| i32::try_from(id).ok());
        locked(&self.reach).session = true;
        let report = tokio::spawn(tail(child.stderr.take()));
        let drain = tokio::spawn(tail(child.stdout.take()));
        let waited = tokio::time::timeout(self.plan.timeout, child.wait()).await;
        let reach = {
            let mut reach = locked(&self.reach);
            let kept = reach.clone();
            reach.leader = None;
            kept
        };
        reach.kill();
        drain.abort();
        let status = match waited {
            Err(_) => {
                // Unverified: how Google reports an execution past its timeout.
                return Err(ApiError::new(
                    Code::DeadlineExceeded,
                    format!(
                        "The notebook execution did not finish within its execution_timeout of {}.",
                        notebooks_wire::duration::display(self.plan.timeout)
                    ),
                ));
            }
            Ok(status) => status.map_err(|error| internal(format!("papermill: {error}")))?,
        };
        if status.success() {
            return Ok(());
        }
        let report = report.await.unwrap_or_default();
        Err(ApiError::new(Code::Unknown, failure_message(&report)))
    }

    fn command(&self) -> tokio::process::Command {
        let storage = self
            .storage
            .base_url()
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let marker = locked(&self.reach).marker.clone();
        let mut command = tokio::process::Command::new("setsid");
        command.args(["python3", "-m", "papermill", "--no-progress-bar"]);
        if let Some(kernel) = &self.plan.kernel {
            command.arg(format!("--kernel={kernel}"));
        }
        command
            .args([INPUT, OUTPUT])
            .current_dir(&self.dir)
            .env(MARKER_VARIABLE, marker)
            .env("STORAGE_EMULATOR_HOST", &storage)
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE",
                format!("{storage}/storage/v1/"),
            )
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Uploads the executed notebook, if papermill wrote one (it does up to a failing cell).
    async fn upload(&self, file: &str) -> Result<(), ApiError> {
        let path = self.dir.join(OUTPUT);
        let Ok(metadata) = std::fs::metadata(&path) else {
            return Ok(());
        };
        if metadata.len() > MAX_OUTPUT {
            return Err(ApiError::new(
                Code::ResourceExhausted,
                format!(
                    "The executed notebook is {} bytes; the emulator uploads at most {MAX_OUTPUT}.",
                    metadata.len()
                ),
            ));
        }
        let bytes = read_at_most(&path, MAX_OUTPUT)?;
        let target = output_object(&self.plan, &self.job_id, file);
        self.storage
            .upload(
                &target.bucket,
                &target.object,
                "application/x-ipynb+json",
                bytes,
            )
            .await
            .map_err(|error| {
                let cause = notebooks_wire::cause::chain(&error).to_string();
                ApiError::new(
                    Code::FailedPrecondition,
                    format!("Cannot write {target}: {cause}"),
                )
            })?;
        Ok(())
    }
}

/// The notebook as the run reads it, and the executed notebook papermill writes.
const INPUT: &str = "input.ipynb";
const OUTPUT: &str = "output.ipynb";

fn internal(message: String) -> ApiError {
    ApiError::new(Code::Internal, message)
}

/// A file's bytes, reading no more than `max` even if it grew since it was measured.
fn read_at_most(path: &Path, max: u64) -> Result<Vec<u8>, ApiError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|error| internal(format!("{error}")))?;
    let mut bytes = Vec::new();
    file.take(max)
        .read_to_end(&mut bytes)
        .map_err(|error| internal(format!("{error}")))?;
    Ok(bytes)
}

/// The last [`KEPT_REPORT`] bytes of a pipe, read to its end.
async fn tail(pipe: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut pipe) = pipe else {
        return String::new();
    };
    let mut kept: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 8192];
    while let Ok(read) = pipe.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        kept.extend_from_slice(&buffer[..read]);
        if kept.len() > KEPT_REPORT {
            kept.drain(..kept.len() - KEPT_REPORT);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// What papermill says of a failing notebook: the cell (`Exception encountered at "In [3]":`)
/// and the error's last line (`ValueError: boom`); papermill's last line when it failed
/// otherwise (a kernel that does not exist, a notebook that is not one).
pub fn failure_message(report: &str) -> String {
    let lines: Vec<&str> = report.lines().map(str::trim_end).collect();
    let last = lines
        .iter()
        .rev()
        .find(|line| !line.trim().is_empty())
        .copied();
    let cell = lines
        .iter()
        .find(|line| line.starts_with("Exception encountered at"))
        .map(|line| line.trim_end_matches(':'));
    let message = match (cell, last) {
        (Some(cell), Some(last)) => format!("{cell}: {last}"),
        (None, Some(last)) => format!("papermill failed: {last}"),
        (_, None) => "papermill failed and printed nothing.".to_owned(),
    };
    let mut end = message.len().min(MAX_MESSAGE);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn papermill_reports_become_one_line() {
        let report = "Executing notebook\nTraceback (most recent call last):\n  File x\n\
            papermill.exceptions.PapermillExecutionError: \n-----\n\
            Exception encountered at \"In [3]\":\n-----\nValueError   Traceback\n\
            ----> 2 raise ValueError('boom')\n\nValueError: boom 5\n\n";
        assert_eq!(
            failure_message(report),
            "Exception encountered at \"In [3]\": ValueError: boom 5"
        );
        assert_eq!(
            failure_message("Traceback\nNoSuchKernel: No such kernel named pythonx\n"),
            "papermill failed: NoSuchKernel: No such kernel named pythonx"
        );
        assert_eq!(failure_message(""), "papermill failed and printed nothing.");
        let long = format!("Error: {}", "é".repeat(5000));
        assert!(failure_message(&long).len() <= MAX_MESSAGE);
    }

    #[test]
    fn outputs_land_under_the_job_id() {
        let plan = |folder: &str| Plan {
            source: Source::Dataform,
            output_bucket: "out".into(),
            output_folder: folder.into(),
            timeout: std::time::Duration::from_secs(1),
            kernel: None,
        };
        assert_eq!(
            output_object(&plan("runs/r1"), "job-1", "nb.ipynb").to_string(),
            "gs://out/runs/r1/job-1/nb.ipynb"
        );
        assert_eq!(
            output_object(&plan(""), "j", "nb.ipynb").to_string(),
            "gs://out/j/nb.ipynb"
        );
    }
}
