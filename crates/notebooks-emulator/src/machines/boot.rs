//! One instance's boot: wait for ACTIVE, serve its metadata, fetch and run its script.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::Url;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::processes::MARKER_VARIABLE;
use super::{Boot, Script};
use crate::ApiVersion;
use crate::guest::{Guest, SCRIPT_KEY, ScriptBehavior};
use crate::metadata;
use crate::secrets;
use crate::state::EmulatorState;
use crate::storage::{GsUri, StorageClient};

/// How long output still in the pipes is waited for after the script exits (daemons it left
/// may keep the pipes open for as long as they run).
const DRAIN: Duration = Duration::from_millis(250);

/// The script as downloaded into the instance's scratch directory.
const SCRIPT_FILE: &str = "post-startup-script";

/// Everything one boot needs.
pub struct BootJob {
    pub state: EmulatorState,
    pub version: ApiVersion,
    pub name: String,
    pub at: Timestamp,
    pub why: Boot,
    pub ip: IpAddr,
    /// The emulator's Notebooks API (`http://HOST:PORT/`).
    pub api: Url,
    pub storage: Url,
    pub dir: PathBuf,
    pub cancel: CancellationToken,
    pub script: Arc<watch::Sender<Script>>,
}

impl BootJob {
    fn say(&self, line: &str) {
        self.state
            .0
            .consoles
            .line(&self.name, &format!("notebooks-emulator: {line}"));
    }
}

/// Runs until the instance is stopped or deleted (`cancel`), then ends what is left of its
/// script's processes, whatever point the boot had reached.
pub async fn run(job: BootJob) {
    tokio::select! {
        () = job.state.0.store.clock().reached(job.at) => {}
        () = job.cancel.cancelled() => return,
    }
    let Ok(instance) = job.state.0.store.instance(job.version, &job.name) else {
        return;
    };
    let Some(guest) = Guest::from_instance(job.version, &instance) else {
        return;
    };
    let listener = match TcpListener::bind(SocketAddr::new(job.ip, 0)).await {
        Ok(listener) => listener,
        Err(error) => {
            job.say(&format!("no metadata server: {error}"));
            return;
        }
    };
    let metadata_host = listener
        .local_addr()
        .map_or_else(|_| job.ip.to_string(), |a| a.to_string());
    let server = axum::serve(listener, metadata::router(guest.clone(), job.state.clone()))
        .with_graceful_shutdown(job.cancel.clone().cancelled_owned());
    let server = tokio::spawn(async move { server.await });
    job.say(&format!(
        "{} is ACTIVE; its metadata server is at {metadata_host}",
        guest.name
    ));
    tokio::select! {
        () = post_startup(&job, &guest, &metadata_host) => {}
        () = job.cancel.cancelled() => {}
    }
    job.cancel.cancelled().await;
    let reach = job.script.borrow().reach.clone();
    reach.kill();
    let _ = server.await;
}

async fn post_startup(job: &BootJob, guest: &Guest, metadata_host: &str) {
    let Some(uri) = guest.attributes.get(SCRIPT_KEY) else {
        job.say("no post-startup-script in the instance's metadata; nothing to run");
        return;
    };
    let behavior = guest.script_behavior();
    if job.why == Boot::Started && behavior == ScriptBehavior::RunOnce {
        job.say(&format!(
            "post-startup-script-behavior is run_once: {uri} is not run again on start"
        ));
        return;
    }
    let path = job.dir.join(SCRIPT_FILE);
    let download = job.why == Boot::Created
        || behavior == ScriptBehavior::DownloadAndRunEveryStart
        || !path.exists();
    if download {
        if let Err(error) = fetch(job, uri, &path).await {
            job.say(&format!("cannot fetch post-startup-script {uri}: {error}"));
            tracing::warn!(instance = %job.name, %uri, %error, "post-startup script not fetched");
            return;
        }
    }
    job.say(&format!("running post-startup-script {uri}"));
    match execute(job, &path, metadata_host).await {
        Ok(status) if status.success() => job.say("post-startup-script finished: exit status 0"),
        Ok(status) => {
            let how = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(signal)) => format!("ended by signal {signal}"),
                (None, None) => status.to_string(),
            };
            job.say(&format!("post-startup-script failed: {how}"));
            tracing::warn!(instance = %job.name, %uri, status = %how, "post-startup script failed");
        }
        Err(error) => {
            job.say(&format!("post-startup-script cannot be started: {error}"));
            tracing::warn!(instance = %job.name, %uri, %error, "post-startup script not started");
        }
    }
}

async fn fetch(job: &BootJob, uri: &str, path: &Path) -> Result<(), String> {
    let uri = GsUri::parse(uri)?;
    let bytes = StorageClient::new(job.storage.clone())
        .download(&uri.bucket, &uri.object)
        .await
        .map_err(|error| notebooks_wire::cause::chain(&error).to_string())?;
    // A script is small: writing it in place costs less than a trip to a blocking thread.
    std::fs::create_dir_all(&job.dir)
        .map_err(|error| format!("scratch directory {}: {error}", job.dir.display()))?;
    std::fs::write(path, &bytes).map_err(|error| format!("{}: {error}", path.display()))
}

/// `bash SCRIPT` in the scratch directory, in a session of its own (a process group of its
/// own where `setsid` is missing), marked for [`super::processes`], its output on the console.
async fn execute(job: &BootJob, path: &Path, metadata_host: &str) -> std::io::Result<ExitStatus> {
    let marker = job.script.borrow().reach.marker.clone();
    // Spawned into the emulator's own process group, setsid(1) leads no group, so it does not
    // fork: the pid spawned is the script's, and leads the new session and its group.
    let (mut child, session) = match command(job, path, metadata_host, &marker, true).spawn() {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => (
            command(job, path, metadata_host, &marker, false).spawn()?,
            false,
        ),
        spawned => (spawned?, true),
    };
    job.script.send_modify(|script| {
        script.reach.leader = child.id().and_then(|id| i32::try_from(id).ok());
        script.reach.session = session;
        script.running = true;
    });
    let readers = [
        child
            .stdout
            .take()
            .map(|out| tokio::spawn(echo(job.state.clone(), job.name.clone(), out))),
        child
            .stderr
            .take()
            .map(|err| tokio::spawn(echo(job.state.clone(), job.name.clone(), err))),
    ];
    let status = child.wait().await;
    for reader in readers.into_iter().flatten() {
        let _ = tokio::time::timeout(DRAIN, reader).await;
    }
    // Reaped, the script's pid (and with it the id of its session and group) is free for the
    // system to give to any new process, another instance's kernel included: from here on only
    // the marker and descent say what the script left behind.
    job.script.send_modify(|script| {
        script.running = false;
        script.reach.leader = None;
        script.reach.session = false;
    });
    status
}

/// The script's command: under `setsid` with `session`, else in a process group of its own.
fn command(
    job: &BootJob,
    path: &Path,
    metadata_host: &str,
    marker: &str,
    session: bool,
) -> tokio::process::Command {
    let storage = job.storage.as_str().trim_end_matches('/').to_owned();
    let mut command = if session {
        let mut command = tokio::process::Command::new("setsid");
        command.arg("bash");
        command
    } else {
        let mut command = tokio::process::Command::new("bash");
        command.process_group(0);
        command
    };
    command
        .arg(path)
        .current_dir(&job.dir)
        .env(MARKER_VARIABLE, marker)
        .env("GCE_METADATA_HOST", metadata_host)
        .env("GCE_METADATA_IP", metadata_host)
        .env("STORAGE_EMULATOR_HOST", &storage)
        .env(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE",
            format!("{storage}/storage/v1/"),
        )
        // gcloud's override of the Notebooks API root: where a script stops its own instance.
        .env(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_NOTEBOOKS",
            job.api.as_str(),
        )
        // And of Secret Manager's: where a script reads its secrets.
        .env(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
            format!(
                "{}{}",
                job.api.as_str().trim_end_matches('/'),
                secrets::ROOT
            ),
        )
        // On a VM, libraries find credentials on the metadata server, not in a key file.
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Copies a pipe to the console, line by line (bytes that are not UTF-8 shown as U+FFFD).
async fn echo(state: EmulatorState, name: String, pipe: impl AsyncRead + Unpin) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    while let Ok(read) = reader.read_until(b'\n', &mut line).await {
        if read == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        state
            .0
            .consoles
            .line(&name, text.trim_end_matches(['\n', '\r']));
        line.clear();
    }
}
