//! Building the service from settings, and running it until shutdown.
//!
//! `Application::build` binds the listener itself (port 0 allowed) and exposes the real port,
//! so tests start the real thing on a free port. With nothing configured it also starts the
//! Notebooks emulator in-process: `cargo run` is a working demo without a cloud account.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use reqwest::Url;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use std::os::unix::fs::PermissionsExt as _;

use crate::completion::Completer;
use crate::config::{self, Backend, RunSettings, SettingError, Settings, demo};
use crate::credentials::Credentials;
use crate::history::History;
use crate::http::{AppState, Limits, ObjectLinks, Peer, Peered, Readers, Reading, router};
use crate::launch::{Launcher, RunConfig};
use crate::notebooks::NotebooksClient;
use crate::notebooks::client::Endpoint;
use crate::notebooks::protocol::EmulatorProtocol;
use crate::profile::{LaunchSpec, Profiles};
use crate::pubsub::PubSubEndpoint;
use crate::push_token::{PushAuthMode, TokenVerifier, VerifySettings};
use crate::reap::Reaper;
use crate::runner;
use crate::runs::{RunEvents, RunStore};
use notebooks_emulator::storage::GsUri;
use notebooks_emulator::{DEMO_SCRIPT, Emulator, EmulatorConfig};

/// Cloud Run sends SIGKILL 10 s after SIGTERM; in-flight requests get this long to answer.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Provisioning time of the embedded demo emulator: long enough to watch, short enough to wait.
const DEMO_PROVISION_TIME: Duration = Duration::from_secs(5);

const GOOGLE_ENDPOINT: &str = "https://notebooks.googleapis.com";

/// The launcher and, in demo mode, the emulator it talks to.
pub struct Backing {
    pub launcher: Arc<Launcher>,
    pub embedded: Option<Emulator>,
    /// The run settings in force (the demo fills some in).
    pub runs: RunSettings,
}

impl Backing {
    /// The embedded emulator's Cloud Storage, in demo mode.
    pub fn local_storage(&self) -> Option<Url> {
        self.embedded
            .as_ref()
            .and_then(|e| Url::parse(&e.storage_url()).ok())
    }
}

/// Resolves the backend, credentials, project and profiles; validates every profile.
///
/// # Errors
/// A configuration error naming the variable, or a failure to reach the credentials.
pub async fn backing(settings: Settings, cancel: CancellationToken) -> anyhow::Result<Backing> {
    if settings.poll.timeout >= Duration::from_secs(600) {
        tracing::warn!(
            "POLL_TIMEOUT is 600 s or more: Pub/Sub's push deadline is at most 600 s, so it redelivers before the poll ends"
        );
    }
    let (settings, embedded) = match settings.backend {
        Backend::Embedded => {
            let config = EmulatorConfig {
                provision_time: DEMO_PROVISION_TIME,
                run_scripts: true,
                ..EmulatorConfig::default()
            };
            let emulator = Emulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
                .await
                .context("starting the embedded Notebooks emulator")?;
            let chosen = settings.default_profile.post_startup_script.is_some()
                || settings.default_profile.notebook.is_some();
            let papermill = on_path("papermill");
            let service_url = format!("http://127.0.0.1:{}", settings.port);
            let settings = settings.with_demo_defaults(
                papermill,
                &emulator.storage_url(),
                &emulator.jwks_url(),
                &service_url,
            );
            if !chosen {
                install_demo(&emulator, papermill);
            }
            (settings, Some(emulator))
        }
        Backend::Google | Backend::Endpoint(_) | Backend::Emulator(..) => (settings, None),
    };
    let (base_url, credentials, emulator_protocol) = match (&settings.backend, &embedded) {
        // Ours serves h2c: nothing to ask.
        (_, Some(emulator)) => (
            Url::parse(&emulator.base_url()).context("the embedded emulator's address")?,
            Credentials::Anonymous,
            Some(EmulatorProtocol::H2c),
        ),
        (Backend::Emulator(url, protocol), None) => {
            (url.clone(), Credentials::Anonymous, Some(*protocol))
        }
        (Backend::Endpoint(url), None) => (url.clone(), Credentials::detect().await?, None),
        (Backend::Google | Backend::Embedded, None) => (
            Url::parse(GOOGLE_ENDPOINT).context("Google's endpoint")?,
            Credentials::detect().await?,
            None,
        ),
    };
    let project = match &settings.project {
        Some(project) => project.clone(),
        None => credentials.project_id().await.map_err(|e| {
            SettingError::new(
                "GOOGLE_CLOUD_PROJECT",
                format!("not set, and {}", crate::cause::chain(&e)),
            )
        })?,
    };
    let runs = run_config(&settings, &project)?;
    let default =
        LaunchSpec::parse(&settings.default_profile, &project).map_err(config::field_error)?;
    runs.check(&default).map_err(config::field_error)?;
    let profiles = match &settings.profiles_file {
        Some(path) => Profiles::load(settings.default_profile.clone(), path, &project)
            .map_err(|e| SettingError::new("PROFILES_FILE", e.to_string()))?,
        None => Profiles::new(settings.default_profile.clone()),
    };
    for name in profiles.names().filter(|name| *name != "default") {
        let fields = profiles.get(Some(name)).expect("a listed profile exists");
        LaunchSpec::parse(fields, &project)
            .and_then(|spec| runs.check(&spec))
            .map_err(|e| {
                SettingError::new(
                    "PROFILES_FILE",
                    format!("profile `{name}`: field `{}`: {}", e.field, e.reason),
                )
            })?;
    }
    let client = NotebooksClient::new(
        Endpoint {
            base_url,
            credentials,
            emulator_protocol,
        },
        settings.api_version,
        settings.timeouts,
    )
    .context("building the HTTP client")?;
    let launcher = Launcher {
        client,
        project,
        profiles,
        policy: settings.policy.clone(),
        prefix: settings.prefix.clone(),
        on_existing: settings.on_existing,
        poll: settings.poll,
        runs,
        cancel,
    };
    Ok(Backing {
        launcher: Arc::new(launcher),
        embedded,
        runs: settings.runs,
    })
}

/// Where runs report, their records go (`STORAGE_EMULATOR_HOST` without credentials, else
/// Google's Cloud Storage with Application Default Credentials, found on first use) and their
/// events are published (`RUN_EVENTS_TOPIC`, on `PUBSUB_EMULATOR_HOST` or Google's Pub/Sub).
fn run_config(settings: &Settings, project: &str) -> Result<RunConfig, SettingError> {
    let runs = &settings.runs;
    let events = runs
        .events_topic
        .as_deref()
        .map(|topic| {
            let endpoint = PubSubEndpoint {
                project: project.to_owned(),
                emulator: runs.pubsub_emulator.clone(),
            };
            RunEvents::new(endpoint, topic, settings.timeouts.request)
                .map(Arc::new)
                .map_err(|e| SettingError::new("RUN_EVENTS_TOPIC", e.to_string()))
        })
        .transpose()?;
    if let Some(events) = &events {
        tracing::info!(topic = events.topic(), "run events are published");
    }
    Ok(RunConfig {
        service_url: runs.service_url.clone(),
        runner_script: runs.runner_script.clone(),
        report_within: runs.report_within,
        store: RunStore::from_settings(runs.storage_emulator.as_ref(), None),
        events,
    })
}

/// The demo notebook, its input and the runner.
const DEMO_NOTEBOOK: &str = include_str!("demo/seed.ipynb");
const DEMO_INPUT: &str = include_str!("demo/input.csv");

/// Puts what demo instances run into the embedded emulator's own Cloud Storage: the notebook,
/// its input and the runner where papermill can run it, the shell demo script otherwise.
fn install_demo(emulator: &Emulator, papermill: bool) {
    let Some(storage) = emulator.state().local_storage() else {
        return;
    };
    let storage_url = emulator.storage_url();
    let folder = demo::DEMO_NOTEBOOK_FOLDER;
    if papermill {
        for (name, kind, text) in [
            ("seed.ipynb", "application/x-ipynb+json", DEMO_NOTEBOOK),
            ("input.csv", "text/csv", DEMO_INPUT),
        ] {
            storage.put(
                demo::DEMO_BUCKET,
                &format!("{folder}/{name}"),
                kind,
                text.into(),
            );
        }
        let runner = GsUri::parse(demo::DEMO_RUNNER).expect("the demo runner's URI");
        storage.put(
            &runner.bucket,
            &runner.object,
            "text/x-sh",
            runner::SCRIPT.into(),
        );
        tracing::info!(
            "demo launches are runs: the runner executes {notebook} with papermill and saves what it wrote under {output}/RUN_ID/ (list: curl -s '{storage_url}/storage/v1/b/{bucket}/o?prefix=runs/'); the run's record is {output}/RUN_ID/run.json",
            notebook = demo::DEMO_NOTEBOOK,
            output = demo::DEMO_OUTPUT,
            bucket = demo::DEMO_BUCKET,
        );
    } else {
        let script = GsUri::parse(demo::DEMO_SCRIPT_URI).expect("the demo script's URI");
        storage.put(
            &script.bucket,
            &script.object,
            "text/x-sh",
            DEMO_SCRIPT.into(),
        );
        tracing::info!(
            "papermill is not installed, so demo instances run the shell script {script} instead of a notebook (pip install papermill for whole runs); for the instance projects/P/locations/ZONE/instances/ID in an answer, its console: curl -s {base}/compute/v1/projects/P/zones/ZONE/instances/ID/serialPort, the file it writes: curl -s '{storage_url}/storage/v1/b/{bucket}/o?prefix=runs/'",
            base = emulator.base_url(),
            bucket = script.bucket,
        );
    }
}

/// Whether an executable of this name is on `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Says at start-up who may push. Unchecked on Cloud Run is a warning unless `PUSH_AUTH=off`
/// says it is meant.
fn announce_push_auth(mode: &PushAuthMode, on_cloud_run: bool) {
    match mode {
        PushAuthMode::Verify(verify) => tracing::info!(
            audience = %verify.audience,
            service_accounts = ?verify.service_accounts,
            "push requests need a Google-signed OIDC token"
        ),
        PushAuthMode::Off => tracing::info!(
            "PUSH_AUTH=off: push requests are not authenticated by this service; Cloud Run IAM (--no-allow-unauthenticated) must protect the endpoint"
        ),
        PushAuthMode::Unset if on_cloud_run => tracing::warn!(
            "PUSH_AUTH_AUDIENCE is not set: push requests are not authenticated by this service, only Cloud Run IAM (--no-allow-unauthenticated) protects the endpoint; set PUSH_AUTH_AUDIENCE and PUSH_AUTH_SERVICE_ACCOUNTS, or PUSH_AUTH=off to state that this is intended"
        ),
        PushAuthMode::Unset => {}
    }
}

/// What takes runners' reports, when the service has a URL to be reported to.
///
/// # Errors
/// The JWKS client cannot be built.
pub fn completion(
    timeouts: crate::notebooks::client::Timeouts,
    backing: &Backing,
) -> anyhow::Result<Option<Arc<Completer>>> {
    let runs = &backing.runs;
    let Some(service_url) = &runs.service_url else {
        return Ok(None);
    };
    let verify = VerifySettings {
        audience: service_url.clone(),
        service_accounts: std::collections::BTreeSet::new(),
        jwks_url: runs.token_jwks_url.clone(),
    };
    let tokens = TokenVerifier::new(&verify, timeouts).context("building the JWKS client")?;
    let records = backing.launcher.runs.store.clone();
    tracing::info!(audience = %service_url, "runs report to /runs/ID/complete");
    Ok(Some(Arc::new(Completer {
        client: backing.launcher.client.clone(),
        records,
        tokens,
        project: backing.launcher.project.clone(),
        cleanup: runs.cleanup,
        events: backing.launcher.runs.events.clone(),
    })))
}

/// Where the history's pages link objects to: the Cloud Storage emulator the records are in,
/// when there is one, else the Cloud Console.
fn object_links(backing: &Backing) -> ObjectLinks {
    match &backing.runs.storage_emulator {
        Some(url) => ObjectLinks::Emulator(url.as_str().trim_end_matches('/').to_owned()),
        None => ObjectLinks::Console,
    }
}

/// The HTTP service, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    backing: Backing,
    completion: Option<Arc<Completer>>,
    limits: Limits,
    push_auth: Option<Arc<TokenVerifier>>,
    readers: Readers,
    cancel: CancellationToken,
}

impl Application {
    /// Binds `0.0.0.0:PORT` (tests pass port 0) and prepares everything a request needs.
    ///
    /// # Errors
    /// Configuration, credentials, or a port that cannot be bound.
    pub async fn build(settings: Settings, cancel: CancellationToken) -> anyhow::Result<Self> {
        let port = settings.port;
        let limits = Limits {
            max_body_bytes: settings.max_body_bytes,
            max_payload_bytes: settings.max_payload_bytes,
            max_concurrent_launches: settings.max_concurrent_launches,
        };
        let push_auth = match &settings.push_auth {
            PushAuthMode::Verify(verify) => Some(Arc::new(
                TokenVerifier::new(verify, settings.timeouts)
                    .context("building the JWKS client")?,
            )),
            PushAuthMode::Off | PushAuthMode::Unset => None,
        };
        announce_push_auth(&settings.push_auth, settings.on_cloud_run);
        let embedded = matches!(settings.backend, Backend::Embedded);
        let readers = Readers::new(&settings.runs_auth, embedded, settings.timeouts)
            .context("building the JWKS client")?;
        tracing::info!("{}", readers.describe());
        let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
            .await
            .with_context(|| format!("PORT: cannot listen on 0.0.0.0:{port}"))?;
        // The bound port, which the demo's runners report to (PORT may be 0).
        let mut settings = settings;
        settings.port = listener.local_addr().map_or(port, |a| a.port());
        let timeouts = settings.timeouts;
        let backing = backing(settings, cancel.clone()).await?;
        let completion = completion(timeouts, &backing)?;
        Ok(Self {
            listener,
            backing,
            completion,
            limits,
            push_auth,
            readers,
            cancel,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// The embedded emulator, when running the demo.
    pub fn embedded(&self) -> Option<&Emulator> {
        self.backing.embedded.as_ref()
    }

    pub fn launcher(&self) -> &Arc<Launcher> {
        &self.backing.launcher
    }

    /// Serves until the token is cancelled, then gives in-flight requests [`SHUTDOWN_GRACE`].
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let port = self.port();
        let state = AppState::new(self.backing.launcher.clone(), self.limits);
        let state = match &self.completion {
            Some(completer) => state.with_completion(completer.clone()),
            None => state,
        }
        .with_reaper(Arc::new(Reaper::from_settings(&self.backing)))
        .with_reading(Arc::new(Reading {
            history: History::from_backing(&self.backing),
            readers: self.readers,
            links: object_links(&self.backing),
        }));
        let app =
            router(state, self.push_auth.clone()).into_make_service_with_connect_info::<Peer>();
        if let Some(emulator) = &self.backing.embedded {
            tracing::info!(
                "no GOOGLE_CLOUD_PROJECT or Notebooks endpoint configured: demo mode, instances are created in the embedded Notebooks emulator at {}. Try: curl -d '{{\"data\":\"TweetiNoteStartTopic\"}}' localhost:{port}/",
                emulator.base_url()
            );
        }
        tracing::info!(port, project = %self.backing.launcher.project, api = %self.backing.launcher.client.version(), "listening");
        let cancel = self.cancel.clone();
        let server = axum::serve(
            Peered(notebooks_wire::net::without_nagle(self.listener)),
            app,
        )
        .with_graceful_shutdown(cancel.clone().cancelled_owned());
        let grace = async {
            cancel.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            result = server => result.context("serving HTTP")?,
            () = grace => tracing::warn!("requests still open after {SHUTDOWN_GRACE:?}; exiting anyway"),
        }
        if let Some(emulator) = self.backing.embedded {
            emulator.shutdown().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}
