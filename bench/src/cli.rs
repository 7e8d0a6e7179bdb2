//! The command line: `run` measures everything and writes the figures; `burst` is the
//! in-flight load generator, a separate subcommand so that `run` can start it as its own
//! process, pinned to the load CPU, away from the process that takes the readings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(about = "The load benchmark of notebook-trigger (see bench/run.sh)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Mode,
}

#[derive(Subcommand)]
pub enum Mode {
    /// Measure everything and write the figures.
    Run(RunArgs),
    /// The in-flight load generator: COUNT distinct pushes at once, each on its own connection,
    /// then one JSON line of what came back. `run` starts it as a separate, pinned process.
    Burst(BurstArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// The release binary of the service (also runs the emulator).
    #[arg(long)]
    pub service: PathBuf,
    /// The bare axum server (`bare_axum` of this crate, release build).
    #[arg(long)]
    pub ceiling: PathBuf,
    /// The wrk script that makes every request a distinct push.
    #[arg(long, default_value = "bench/push.lua")]
    pub wrk_script: PathBuf,
    /// Tiny runs: checks that every measurement works, in seconds; figures go to stdout.
    #[arg(long)]
    pub smoke: bool,
    /// Where a full run writes its figures (between the markers, the rest is kept).
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
    /// CPU of the service (or the ceiling) under load.
    #[arg(long, default_value = "0")]
    pub service_cpu: String,
    /// CPU of the load generator and the emulator.
    #[arg(long, default_value = "1")]
    pub load_cpu: String,
    /// Only these parts: cold, throughput, inflight, history, size (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Launches in flight at once (default: 10000, smoke: 100).
    #[arg(long)]
    pub inflight: Option<usize>,
    /// Run records `runs` lists (default: 3000, smoke: 200).
    #[arg(long)]
    pub history_runs: Option<usize>,
}

#[derive(Args)]
pub struct BurstArgs {
    #[arg(long)]
    pub port: u16,
    #[arg(long)]
    pub count: usize,
    /// Prefix of the message ids, unique per run.
    #[arg(long)]
    pub id_prefix: String,
    /// Give up on a push after this many seconds.
    #[arg(long)]
    pub timeout_secs: u64,
    /// Send over HTTP/2 without TLS, as Cloud Run does with --use-http2: this many connections,
    /// the pushes spread over them as streams (the server allows 200 streams per connection).
    #[arg(long)]
    pub http2_connections: Option<usize>,
}
