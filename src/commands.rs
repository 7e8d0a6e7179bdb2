//! What each subcommand does, once the command line is parsed.
//!
//! `main` only parses and dispatches, so everything a command does (which logging it sets up,
//! what it prints on stdout, how it reports failure) is readable here in one place, and tests
//! of the binary exercise exactly these functions.

use std::collections::BTreeSet;
use std::io::Write as _;

use anyhow::Context as _;

use crate::cli::{Command, DeployedProfiles, RunsArgs, RunsCommand, SchedulerCommand};
use crate::cloud_storage::CloudStorage;
use crate::config::{self, Backend, Settings};
use crate::history::{Listing, RunDetail, RunFilter, remote, table};
use crate::launch::Progress;
use crate::profile::{Fields, LaunchSpec, Profiles};
use crate::pubsub::{self, Outgoing};
use crate::push::Trigger;
use crate::run::{RunId, notify};
use crate::startup::Services;
use crate::telemetry::LogFormat;
use crate::{runner, scheduler, shutdown, startup, telemetry};

mod operate;

/// Runs one command to its end; `None` is `serve`.
///
/// # Errors
/// Whatever stopped the command, for [`report`].
pub async fn run(command: Option<Command>) -> anyhow::Result<()> {
    match command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Launch {
            profile,
            dry_run,
            payload,
        } => launch(profile, payload, dry_run).await,
        Command::Publish {
            pubsub,
            topic,
            attributes,
            ordering_key,
            timeout,
            data,
        } => {
            telemetry::init(LogFormat::Text, "warn");
            let message = Outgoing {
                data: data.unwrap_or_default().into_bytes(),
                attributes: attributes.into_iter().collect(),
                ordering_key,
            };
            if message.data.is_empty() && message.attributes.is_empty() {
                anyhow::bail!("a message needs DATA or at least one --attribute");
            }
            let id = pubsub::publish(&pubsub.endpoint(), &topic, message, timeout).await?;
            println!("{id}");
            Ok(())
        }
        Command::Replay {
            pubsub,
            subscription,
            topic,
            max,
            idle,
        } => {
            telemetry::init(LogFormat::Text, "info");
            let replayed =
                pubsub::replay(&pubsub.endpoint(), &subscription, &topic, max, idle).await?;
            println!("{}", serde_json::to_string(&replayed)?);
            Ok(())
        }
        Command::Emulator(args) => {
            telemetry::init(LogFormat::Text, "info,notebooks_emulator=debug");
            notebooks_emulator::run(args, shutdown::signal()).await
        }
        Command::Reap { dry_run } => reap(dry_run).await,
        Command::Runs(args) => runs(args).await,
        Command::Runner => {
            std::io::stdout().write_all(runner::SCRIPT.as_bytes())?;
            Ok(())
        }
        // Plain file work: no logging set-up, so stdout holds only the plan or the list.
        Command::Scheduler { command } => scheduler_command(command),
        Command::Secrets(deployed) => {
            let profiles = deployed_profiles(deployed).await?;
            let mut stdout = std::io::stdout().lock();
            for grant in profiles.secret_grants() {
                let account = grant.service_account.as_deref().unwrap_or("-");
                writeln!(stdout, "{} {account}", grant.secret)?;
            }
            Ok(())
        }
        Command::NotifySources(deployed) => notify_sources(deployed).await,
        Command::ExecutionAccounts(deployed) => {
            let profiles = deployed_profiles(deployed).await?;
            let mut stdout = std::io::stdout().lock();
            for account in profiles.execution_accounts() {
                writeln!(stdout, "{}", account.as_deref().unwrap_or("-"))?;
            }
            Ok(())
        }
    }
}

/// Says once why a command failed: as a log line where logging is set up (so Cloud Logging
/// files it with its severity, and a terminal does not see it twice), on stderr otherwise.
pub fn report(error: &anyhow::Error) {
    if tracing::dispatcher::has_been_set() {
        tracing::error!("{error:#}");
    } else {
        eprintln!("error: {error:#}");
    }
}

fn scheduler_command(command: SchedulerCommand) -> anyhow::Result<()> {
    let SchedulerCommand::Plan {
        file,
        project,
        location,
        topic,
        current,
    } = command;
    let target = scheduler::SchedulerTarget::new(&project, &location, &topic)?;
    let jobs = scheduler::load(&file)?;
    let current = match current {
        None => Vec::new(),
        Some(path) if path.as_os_str() == "-" => {
            let text = std::io::read_to_string(std::io::stdin()).context("cannot read stdin")?;
            scheduler::parse_current(&text)?
        }
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            scheduler::parse_current(&text)?
        }
    };
    let plan = scheduler::plan(&jobs, &current, &target)?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    std::io::stdout().write_all(plan.render().as_bytes())?;
    Ok(())
}

/// Where the profiles' webhook URLs are kept outside them, once each: the `notify` rules
/// checked as start-up checks them, but for the values of the variables they name, which the
/// deploy is yet to hand the service.
async fn notify_sources(deployed: DeployedProfiles) -> anyhow::Result<()> {
    let profiles = deployed_profiles(deployed).await?;
    let mut sources = BTreeSet::new();
    for name in profiles.names() {
        let fields = profiles.get(Some(name)).expect("a listed profile exists");
        let named =
            notify::webhook_sources(fields).map_err(|e| config::profile_field_error(name, e))?;
        sources.extend(named);
    }
    let mut stdout = std::io::stdout().lock();
    for source in sources {
        writeln!(stdout, "{source}")?;
    }
    Ok(())
}

/// The profiles a deployment's service would run with, checked as it checks them at start-up.
async fn deployed_profiles(deployed: DeployedProfiles) -> anyhow::Result<Profiles> {
    let DeployedProfiles {
        project,
        profiles_file,
        storage_emulator,
    } = deployed;
    let project = project.as_str();
    let default = Fields::from_env(&|name| std::env::var(name).ok()).map_err(|errors| {
        errors
            .into_iter()
            .map(config::field_error)
            .collect::<config::SettingErrors>()
    })?;
    LaunchSpec::parse(&default, project).map_err(config::field_error)?;
    let profiles = match &profiles_file {
        Some(file) => {
            let storage = CloudStorage::from_settings(storage_emulator.as_ref());
            startup::load_profiles(file, default, project, &storage).await?
        }
        None => Profiles::new(default),
    };
    Ok(profiles)
}

/// The settings, with logging set up as they say; a variable that looks like a typo of one of
/// ours is logged as a warning.
fn settings() -> anyhow::Result<Settings> {
    let settings = read_settings()?;
    telemetry::init(settings.log_format, config::RUST_LOG.unset.read_as());
    for misspelt in misspelt_variables() {
        tracing::warn!("{misspelt}");
    }
    Ok(settings)
}

/// Every variable checked at once: the error names each one at fault, one per line.
fn read_settings() -> Result<Settings, config::SettingErrors> {
    Settings::from_env(&|name| std::env::var(name).ok())
}

fn misspelt_variables() -> Vec<config::Misspelt> {
    let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    config::misspelt(names)
}

async fn serve() -> anyhow::Result<()> {
    let settings = settings()?;
    let cancel = shutdown::token_on_signal();
    startup::Application::build(settings, cancel)
        .await?
        .run_until_stopped()
        .await
}

/// One launch, or with `dry_run` the answer of one that creates nothing; stdout holds only the
/// answer, progress goes to stderr.
async fn launch(
    profile: Option<String>,
    payload: Option<String>,
    dry_run: bool,
) -> anyhow::Result<()> {
    let settings = settings()?;
    let cancel = shutdown::token_on_signal();
    let services = Services::build(settings, cancel).await?;
    let payload = with_profile(profile, payload)?;
    let trigger = Trigger::from_cli(payload);
    let print = |p: Progress<'_>| {
        let state = p.state.map(|s| format!(" ({s})")).unwrap_or_default();
        eprintln!(
            "[{:>6.1}s] {} {}{state}",
            p.elapsed.as_secs_f64(),
            p.phase,
            p.instance
        );
    };
    let result = services.dispatcher.launch(&trigger, dry_run, &print).await;
    services.shutdown().await;
    let launched = result?;
    writeln!(
        std::io::stdout(),
        "{}",
        serde_json::to_string_pretty(&launched)?
    )?;
    Ok(())
}

/// One reap; stdout holds one line per verdict, the log says the same with its fields.
async fn reap(dry_run: bool) -> anyhow::Result<()> {
    let settings = settings()?;
    let services = Services::build(settings, shutdown::token_on_signal()).await?;
    let reaped = services.reaper.reap(jiff::Timestamp::now(), dry_run).await;
    services.shutdown().await;
    let mut stdout = std::io::stdout().lock();
    for line in reaped.lines() {
        writeln!(stdout, "{line}")?;
    }
    Ok(())
}

/// The history, or one run: a table or JSON on stdout. No logging is set up, so stdout holds
/// nothing but the answer, and stderr what could not be looked at and, on failure, one
/// `error:` line. With `--service`, or with nothing configured (the demo keeps its records in
/// its own in-process emulator, so only the serving demo can tell), a service's `GET /runs`
/// answers instead of Cloud Storage.
async fn runs(args: RunsArgs) -> anyhow::Result<()> {
    let show = match &args.command {
        Some(RunsCommand::Act(act)) => return operate::run(&args, act).await,
        Some(RunsCommand::Show { run, .. }) => Some(run),
        None => None,
    };
    let now = jiff::Timestamp::now();
    let filter = args.filter_text().parse(now)?;
    let shown = match history_source(&args)? {
        HistorySource::Service { url, demo } => match runs_from_service(&args, show, &url).await {
            Ok(shown) => shown,
            // Only a demo that does not answer is one to start; its refusals say themselves.
            Err(error @ remote::RemoteError::Unreachable { .. }) if demo => {
                return Err(anyhow::Error::from(error).context(format!(
                    "nothing is configured, so runs asks the demo at {url}, which does not \
                     answer: start it in another terminal (cargo run, or notebook-trigger \
                     serve), or set the service's variables to read its records (README, \
                     Run history)"
                )));
            }
            Err(error) => return Err(error.into()),
        },
        HistorySource::Records(settings) => {
            runs_from_storage(*settings, show, &filter, now).await?
        }
    };
    let text = match (&shown, &args.command) {
        (Shown::Listing(listing), _) => {
            warn_all(&listing.warnings);
            if args.json {
                serde_json::to_string_pretty(listing)?
            } else {
                table::listing(listing, filter.limit)
            }
        }
        (Shown::Run(detail), command) => {
            warn_all(&detail.warnings);
            if matches!(command, Some(RunsCommand::Show { json: true, .. })) {
                serde_json::to_string_pretty(detail)?
            } else {
                table::detail(detail)
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(stdout)?;
    }
    Ok(())
}

/// What `runs` shows: a listing, or one run.
enum Shown {
    Listing(Listing),
    Run(Box<RunDetail>),
}

/// Where `runs` reads the history.
enum HistorySource {
    /// A serving service's `GET /runs`; `demo` when it is the local demo nobody named.
    Service { url: reqwest::Url, demo: bool },
    /// The records in Cloud Storage, with the service's configuration.
    Records(Box<Settings>),
}

/// `--service` when given; the serving demo (on this machine, at `PORT`) when nothing is
/// configured; otherwise the records the configuration points to.
fn history_source(args: &RunsArgs) -> anyhow::Result<HistorySource> {
    if let Some(url) = &args.service {
        return Ok(HistorySource::Service {
            url: url.clone(),
            demo: false,
        });
    }
    let settings = read_settings()?;
    for misspelt in misspelt_variables() {
        eprintln!("warning: {misspelt}");
    }
    if !matches!(settings.backend, Backend::Embedded) {
        return Ok(HistorySource::Records(Box::new(settings)));
    }
    let host = match settings.host {
        any if any.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        host => host,
    };
    let address = std::net::SocketAddr::new(host, settings.port);
    let url = reqwest::Url::parse(&format!("http://{address}/")).context("the demo's address")?;
    eprintln!(
        "note: nothing is configured, so these are the runs of the demo serving at {url} \
         (runs --service URL asks another service)"
    );
    Ok(HistorySource::Service { url, demo: true })
}

/// The history, or one run, as a serving service shows it.
async fn runs_from_service(
    args: &RunsArgs,
    show: Option<&RunId>,
    service: &reqwest::Url,
) -> Result<Shown, remote::RemoteError> {
    Ok(match show {
        None => Shown::Listing(remote::listing(service, &args.filter_text()).await?),
        Some(run) => Shown::Run(Box::new(remote::run(service, run).await?)),
    })
}

/// The history from the records themselves, with the service's configuration.
async fn runs_from_storage(
    settings: Settings,
    show: Option<&RunId>,
    filter: &RunFilter,
    now: jiff::Timestamp,
) -> anyhow::Result<Shown> {
    let services = Services::build(settings, shutdown::token_on_signal()).await?;
    let history = &services.history;
    let shown = match show {
        None => history
            .list(filter, now)
            .await
            .map(Shown::Listing)
            .map_err(anyhow::Error::from),
        Some(run) => match history.show(run, now).await {
            Ok(Some(detail)) => Ok(Shown::Run(Box::new(detail))),
            Ok(None) => {
                let outputs: Vec<&str> = history.outputs().iter().map(String::as_str).collect();
                Err(anyhow::anyhow!(
                    "no run {run}: no record under {}",
                    outputs.join(", ")
                ))
            }
            Err(error) => Err(error.into()),
        },
    };
    services.shutdown().await;
    shown
}

fn warn_all(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// `--profile P` joins the payload: into its JSON object, or as the only field.
fn with_profile(
    profile: Option<String>,
    payload: Option<String>,
) -> anyhow::Result<Option<String>> {
    let Some(profile) = profile else {
        return Ok(payload);
    };
    let mut object = match payload
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
    {
        Some(Ok(serde_json::Value::Object(object))) => object,
        Some(_)
            if payload
                .as_deref()
                .is_some_and(|p| p.trim_start().starts_with('{')) =>
        {
            anyhow::bail!("PAYLOAD starts like a JSON object but is not valid JSON")
        }
        Some(_) | None => serde_json::Map::new(),
    };
    object.insert("profile".into(), serde_json::Value::String(profile));
    Ok(Some(serde_json::Value::Object(object).to_string()))
}
