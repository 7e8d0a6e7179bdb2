//! Entry point: parse the command line, read the configuration, run the chosen command.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use notebook_trigger::cli::{Cli, Command, SchedulerCommand};
use notebook_trigger::config::{LogFormat, Settings};
use notebook_trigger::launch::Progress;
use notebook_trigger::pubsub::{self, Outgoing};
use notebook_trigger::push::Trigger;
use notebook_trigger::{scheduler, shutdown, startup, telemetry};

/// mimalloc instead of glibc's malloc: a push allocates and frees hundreds of small blocks
/// across the HTTP exchange in and the API call out, and glibc's arenas grew by `mprotect` and
/// page faults under load. With it the service spends 13 % less CPU per push and the emulator
/// 25 % less (BENCHMARKS.md). Built without transparent huge pages (`no_thp`): with them, the
/// idle process held 2 MiB pages and its RSS went from 11 to 20 MB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve().await,
            Command::Launch { profile, payload } => launch(profile, payload).await,
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
            // Plain file work: no logging set-up, so stdout holds only the plan.
            Command::Scheduler { command } => scheduler_command(command),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
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
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            scheduler::parse_current(&text)?
        }
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            scheduler::parse_current(&text)?
        }
    };
    let plan = scheduler::plan(&jobs, &current, &target)?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let mut stdout = std::io::stdout();
    stdout.write_all(plan.render().as_bytes())?;
    Ok(())
}

fn settings() -> anyhow::Result<Settings> {
    let settings = Settings::from_env(&|name| std::env::var(name).ok())?;
    telemetry::init(settings.log_format, "info");
    Ok(settings)
}

async fn serve() -> anyhow::Result<()> {
    let settings = settings()?;
    let cancel = shutdown::token_on_signal();
    startup::Application::build(settings, cancel)
        .await?
        .run_until_stopped()
        .await
}

async fn launch(profile: Option<String>, payload: Option<String>) -> anyhow::Result<()> {
    let settings = settings()?;
    let cancel = shutdown::token_on_signal();
    let backing = startup::backing(settings, cancel).await?;
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
    let result = backing.launcher.launch(&trigger, &print).await;
    if let Some(emulator) = backing.embedded {
        emulator.shutdown().await;
    }
    let launched = result?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", serde_json::to_string_pretty(&launched)?)?;
    Ok(())
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
