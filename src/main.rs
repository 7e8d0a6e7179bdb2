//! `notebook-trigger` command line. For now only the local Notebooks API emulator.

use clap::{Parser, Subcommand};
use notebook_trigger::{emulator, shutdown};

#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a local Notebooks REST API (v1 and v2) for tests and for trying the product
    /// without a cloud project. Point gcloud at it with
    /// CLOUDSDK_API_ENDPOINT_OVERRIDES_NOTEBOOKS=http://HOST:PORT/.
    Emulator(emulator::EmulatorArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Emulator(args) => runtime.block_on(emulator::run(args, shutdown::signal())),
    }
}
