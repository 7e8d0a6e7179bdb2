//! The load benchmark: the release binary against the Notebooks emulator (a separate
//! process), wrk as the load generator, and a bare axum server as the ceiling. It measures cold
//! start, memory, throughput and latency, ten thousand launches in flight, the run history
//! over thousands of records and the binary's size, and writes the figures into BENCHMARKS.md. `bench/run.sh` builds everything and runs it.
//!
//! Why a program and not a shell script: a cold start is a few milliseconds, so the clock has to
//! start at `spawn` and stop at the first accepted connection and the first answered push, with
//! no shell forks in between; ten thousand pushes held open at once need an async client; and
//! medians, spreads and /proc arithmetic are easier to get right, and to review, typed.
//!
//! The parts, in the order a run takes them: [`cold_start`], [`throughput`], [`inflight`] (with
//! [`burst`] as its client process), [`history`] and [`size`], each started through the [`harness`] and
//! owning its processes through [`process`]; [`report`] turns the figures into BENCHMARKS.md.

mod burst;
mod cli;
mod cold_start;
mod harness;
mod history;
mod inflight;
mod machine;
mod process;
mod procfs;
mod push;
mod report;
mod run;
mod size;
mod stats;
mod throughput;

use clap::Parser as _;

use crate::cli::{Cli, Mode};

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Mode::Run(args) => {
            process::watch_signals();
            run::run(&args)
        }
        Mode::Burst(args) => burst::burst(&args),
    }
}
