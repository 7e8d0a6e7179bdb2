//! The composition root: every service built once from the settings, each handed what it
//! depends on.
//!
//! `serve` and every command build the same [`Services`], so a command does what the service
//! would do, with the same configuration. Nothing below this module knows it exists: the
//! launcher, the reaper, the history and the completer take their clients, stores and
//! settings as arguments, and the profiles say where runs live (their zones and outputs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use notebooks_emulator::Emulator;
use reqwest::Url;
use tokio_util::sync::CancellationToken;

use super::demo;
use crate::cloud_storage::CloudStorage;
use crate::completion::Completer;
use crate::config::{self, Backend, SettingError, Settings};
use crate::credentials::Credentials;
use crate::dispatch::Dispatcher;
use crate::executions::{ExecutionsClient, ExecutionsEndpoint};
use crate::history::{self, History};
use crate::http::ObjectLinks;
use crate::launch::{LaunchLimit, Launcher, Preflight, RunConfig};
use crate::notebooks::client::Endpoint;
use crate::notebooks::protocol::EmulatorProtocol;
use crate::notebooks::{ApiVersion, NotebooksClient};
use crate::operate::Operations;
use crate::profile::{LaunchSpec, Profiles, RetentionError};
use crate::pubsub::PubSubEndpoint;
use crate::push_token::{TokenVerifier, VerifySettings};
use crate::reap::Reaper;
use crate::retry::Retrier;
use crate::run::notify::{Notifier, parse_rules};
use crate::run::reaper::ReaperPolicy;
use crate::run::{ManagedInstances, RunEvents, RunStore, Transitions};
use crate::secret_manager::{GOOGLE_SECRET_MANAGER, SecretManager};
use crate::webhook::{Retry, Webhooks};

const GOOGLE_ENDPOINT: &str = "https://notebooks.googleapis.com";
/// How long notifications under way at shutdown may go on before they are stopped: Cloud Run
/// kills the process 10 s after SIGTERM, most of which the requests' own grace may take.
const NOTIFY_DRAIN: Duration = Duration::from_secs(2);

/// Every service of the product, built once.
#[derive(Debug)]
pub struct Services {
    pub project: String,
    pub api_version: ApiVersion,
    pub dispatcher: Arc<Dispatcher>,
    pub reaper: Arc<Reaper>,
    pub history: History,
    /// Takes runners' reports; `None` without a URL to be reported to.
    pub completer: Option<Arc<Completer>>,
    /// An operator's reruns, cancels and "run now"s.
    pub operations: Operations,
    /// The run records, and the secrets kept beside them.
    pub records: RunStore,
    /// Where the history's pages link objects to.
    pub links: ObjectLinks,
    /// The embedded emulator, in demo mode; whoever built the services shuts it down.
    pub embedded: Option<Emulator>,
    /// Tells the profiles' webhooks of runs; `None` when no profile names one.
    pub notifier: Option<Arc<Notifier>>,
}

impl Services {
    /// Resolves the backend, credentials, project and profiles; validates every profile; and
    /// builds every service over one Notebooks client and one run store.
    ///
    /// # Errors
    /// A configuration error naming the variable, or a failure to reach the credentials.
    pub async fn build(settings: Settings, cancel: CancellationToken) -> anyhow::Result<Self> {
        if settings.poll.timeout >= Duration::from_secs(600) {
            tracing::warn!(
                "POLL_TIMEOUT is 600 s or more: Pub/Sub's push deadline is at most 600 s, so it redelivers before the poll ends"
            );
        }
        let (settings, embedded) = match settings.backend {
            Backend::Embedded => {
                let (settings, emulator) = demo::start(settings).await?;
                (settings, Some(emulator))
            }
            Backend::Google | Backend::Endpoint(_) | Backend::Emulator(..) => (settings, None),
        };
        let endpoint = endpoint(&settings, embedded.as_ref()).await?;
        let project = project(&settings, &endpoint.credentials).await?;
        // One Cloud Storage for run records and notebooks: one client, one credentials lookup.
        let storage = CloudStorage::from_settings(settings.runs.storage_emulator.as_ref());
        let store = RunStore::on(storage.clone());
        let events = events(&settings, &project)?;
        let runs = RunConfig {
            service_url: settings.runs.service_url.clone(),
            runner_script: settings.runs.runner_script.clone(),
            report_within: settings.runs.report_within,
        };
        let profiles = profiles(&settings, &project, &runs, &storage).await?;
        let notifier = notifier(&settings, &profiles, &endpoint, embedded.as_ref())?;
        let executions = executions(&settings, &endpoint, embedded.as_ref())?;
        let client = NotebooksClient::new(endpoint, settings.api_version, settings.timeouts)
            .context("building the HTTP client")?;
        let transitions = Transitions::new(client.clone(), store.clone(), events);
        let transitions = match &notifier {
            Some(notifier) => transitions.with_notifier(notifier.clone()),
            None => transitions,
        };
        let instances = ManagedInstances::new(client.clone(), project.clone(), profiles.zones());
        let policy = ReaperPolicy {
            grace: settings.runs.grace,
            keep_stopped: settings.runs.keep_stopped,
            lost_after: settings.runs.lost_after,
            cleanup: settings.runs.cleanup,
        };
        let outputs = profiles.outputs();
        // The reaper judges overdue runs by the profiles the launcher is handed.
        let expected = profiles.clone();
        let retention = profiles.retention().map_err(retention_error)?;
        let no_outputs = match embedded {
            Some(_) => demo::NO_RUNS,
            None => history::SET_AN_OUTPUT,
        };
        let history = History::new(
            store.clone(),
            client.clone(),
            instances.clone(),
            outputs.clone(),
            no_outputs,
        );
        let completer = completer(&settings, &client, &store, &project, transitions.clone())?;
        let launcher = Arc::new(Launcher {
            client,
            executions: executions.clone(),
            records: store.clone(),
            project: project.clone(),
            profiles,
            prefix: settings.prefix.clone(),
            on_existing: settings.on_existing,
            poll: settings.poll,
            runs,
            transitions: transitions.clone(),
            preflight: Preflight::new(storage),
            cancel,
            limit: LaunchLimit::new(settings.max_concurrent_launches),
        });
        let operations = Operations::new(
            launcher.clone(),
            store.clone(),
            transitions.clone(),
            outputs.clone(),
        );
        let retrier = Arc::new(Retrier::new(
            launcher.clone(),
            operations.clone(),
            store.clone(),
        ));
        let reaper = Arc::new(
            Reaper::new(instances, store.clone(), transitions, outputs, policy)
                .with_retries(retrier.clone())
                .with_executions(executions.clone())
                .with_overdue(expected)
                .with_retention(retention),
        );
        let completer = completer.map(|completer| Arc::new(completer.with_retries(retrier)));
        let dispatcher = Dispatcher::new(launcher, Some(reaper.clone()), settings.policy.clone());
        Ok(Self {
            project,
            api_version: settings.api_version,
            dispatcher: Arc::new(dispatcher),
            history: history.with_sync(reaper.clone()).with_jobs(executions),
            reaper,
            completer,
            operations,
            records: store,
            links: object_links(&settings),
            embedded,
            notifier,
        })
    }

    /// Lets notifications under way finish (for a while), then shuts the embedded emulator
    /// down, when there is one.
    pub async fn shutdown(self) {
        if let Some(notifier) = &self.notifier {
            notifier.shutdown(NOTIFY_DRAIN).await;
        }
        if let Some(emulator) = self.embedded {
            emulator.shutdown().await;
        }
    }
}

/// Where the Notebooks API is and how to speak to it: the embedded emulator (h2c, nothing to
/// ask), another emulator, another endpoint or Google's, with credentials where it is real.
async fn endpoint(settings: &Settings, embedded: Option<&Emulator>) -> anyhow::Result<Endpoint> {
    let (base_url, credentials, emulator_protocol) = match (&settings.backend, embedded) {
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
    Ok(Endpoint {
        base_url,
        credentials,
        emulator_protocol,
    })
}

/// The client of notebook execution jobs: on the emulator that serves the Notebooks API, where
/// there is one (it serves both), else on Google's regional endpoints.
fn executions(
    settings: &Settings,
    endpoint: &Endpoint,
    embedded: Option<&Emulator>,
) -> anyhow::Result<ExecutionsClient> {
    let place = match (&settings.backend, embedded) {
        (_, Some(_)) | (Backend::Emulator(..), None) => {
            ExecutionsEndpoint::Emulator(endpoint.base_url.clone())
        }
        (Backend::Google | Backend::Endpoint(_) | Backend::Embedded, None) => {
            ExecutionsEndpoint::Google
        }
    };
    let http = settings
        .timeouts
        .http_client()
        .context("building the Vertex AI client")?;
    Ok(ExecutionsClient::new(
        http,
        endpoint.credentials.clone(),
        place,
    ))
}

/// `GOOGLE_CLOUD_PROJECT`, else the credentials' own project.
async fn project(settings: &Settings, credentials: &Credentials) -> Result<String, SettingError> {
    match &settings.project {
        Some(project) => Ok(project.clone()),
        None => credentials.project_id().await.map_err(|e| {
            SettingError::new(
                "GOOGLE_CLOUD_PROJECT",
                format!("not set, and {}", crate::cause::chain(&e)),
            )
        }),
    }
}

/// The default profile and those of `PROFILES_FILE`, each checked as a launch would check it,
/// so a profile that can never launch stops start-up instead of a message at night.
async fn profiles(
    settings: &Settings,
    project: &str,
    runs: &RunConfig,
    storage: &CloudStorage,
) -> anyhow::Result<Profiles> {
    let default =
        LaunchSpec::parse(&settings.default_profile, project).map_err(config::field_error)?;
    runs.check(&default).map_err(config::field_error)?;
    let profiles = match &settings.profiles_file {
        Some(file) => {
            let default = settings.default_profile.clone();
            super::profiles::load(file, default, project, storage).await?
        }
        None => Profiles::new(settings.default_profile.clone()),
    };
    for name in profiles.names().filter(|name| *name != "default") {
        let fields = profiles.get(Some(name)).expect("a listed profile exists");
        LaunchSpec::parse(fields, project)
            .and_then(|spec| runs.check(&spec))
            .map_err(|e| config::profile_field_error(name, e))?;
    }
    Ok(profiles)
}

/// What tells each profile's `notify` webhooks, when some profile names one. `url_env` names
/// a variable of this process's environment; a `url_secret` is read from Secret Manager when
/// sending, on the Notebooks emulator where the API is emulated, else Google's.
fn notifier(
    settings: &Settings,
    profiles: &Profiles,
    endpoint: &Endpoint,
    embedded: Option<&Emulator>,
) -> anyhow::Result<Option<Arc<Notifier>>> {
    let env = |name: &str| std::env::var(name).ok();
    let mut rules = BTreeMap::new();
    for name in profiles.names() {
        let fields = profiles.get(Some(name)).expect("a listed profile exists");
        let parsed = parse_rules(fields, &env).map_err(|e| config::profile_field_error(name, e))?;
        rules.insert(name.to_owned(), parsed);
    }
    if rules.values().all(Vec::is_empty) {
        return Ok(None);
    }
    let secret_manager = match (&settings.backend, embedded) {
        (_, Some(emulator)) => emulator.secretmanager_url(),
        (Backend::Emulator(url, _), None) => format!("{url}secretmanager/"),
        (Backend::Google | Backend::Endpoint(_) | Backend::Embedded, None) => {
            GOOGLE_SECRET_MANAGER.to_owned()
        }
    };
    let http = reqwest::Client::builder()
        .connect_timeout(settings.timeouts.connect)
        .timeout(settings.timeouts.request)
        .build()
        .context("building the Secret Manager client")?;
    let secrets = SecretManager::new(
        http,
        Url::parse(&secret_manager).context("Secret Manager's address")?,
        endpoint.credentials.clone(),
    );
    let webhooks = Webhooks::new(Retry::default()).context("building the webhook client")?;
    let service_url = settings.runs.service_url.clone();
    tracing::info!(
        profiles = rules.values().filter(|r| !r.is_empty()).count(),
        "runs are notified to webhooks"
    );
    Ok(Some(Arc::new(Notifier::new(
        rules,
        webhooks,
        secrets,
        service_url,
    ))))
}

/// A retention that cannot be: the default profile's names its variable, the others the file.
fn retention_error(error: RetentionError) -> SettingError {
    match error {
        RetentionError::Field { profile, error } if profile == "default" => {
            config::field_error(error)
        }
        other => SettingError::new("PROFILES_FILE", other.to_string()),
    }
}

/// Where run events are published (`RUN_EVENTS_TOPIC`, on `PUBSUB_EMULATOR_HOST` or Google's
/// Pub/Sub); `None` when they are not.
fn events(settings: &Settings, project: &str) -> Result<Option<Arc<RunEvents>>, SettingError> {
    let runs = &settings.runs;
    let Some(topic) = runs.events_topic.as_deref() else {
        return Ok(None);
    };
    let endpoint = PubSubEndpoint {
        project: project.to_owned(),
        emulator: runs.pubsub_emulator.clone(),
    };
    let events = RunEvents::new(endpoint, topic, settings.timeouts.request)
        .map_err(|e| SettingError::new("RUN_EVENTS_TOPIC", e.to_string()))?;
    tracing::info!(topic = events.topic(), "run events are published");
    Ok(Some(Arc::new(events)))
}

/// What takes runners' reports, when the service has a URL to be reported to.
fn completer(
    settings: &Settings,
    client: &NotebooksClient,
    store: &RunStore,
    project: &str,
    transitions: Transitions,
) -> anyhow::Result<Option<Completer>> {
    let runs = &settings.runs;
    let Some(service_url) = &runs.service_url else {
        return Ok(None);
    };
    let verify = VerifySettings {
        audience: service_url.clone(),
        service_accounts: BTreeSet::new(),
        jwks_url: runs.token_jwks_url.clone(),
    };
    let tokens =
        TokenVerifier::new(&verify, settings.timeouts).context("building the JWKS client")?;
    Ok(Some(Completer::new(
        client.clone(),
        store.clone(),
        tokens,
        project.to_owned(),
        runs.cleanup,
        transitions,
    )))
}

/// Where the history's pages link objects to: the Cloud Storage emulator the records are in,
/// when there is one, else the Cloud Console.
fn object_links(settings: &Settings) -> ObjectLinks {
    match &settings.runs.storage_emulator {
        Some(url) => ObjectLinks::Emulator(url.as_str().trim_end_matches('/').to_owned()),
        None => ObjectLinks::Console,
    }
}
