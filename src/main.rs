//! Entry point: parse the command line, run the chosen command, report its failure once.

use std::process::ExitCode;

use clap::Parser;
use notebook_trigger::cli::Cli;
use notebook_trigger::commands;

/// mimalloc instead of glibc's malloc: a push allocates and frees hundreds of small blocks
/// across the HTTP exchange in and the API call out, and glibc's arenas grow by `mprotect` and
/// page faults under load (BENCHMARKS.md has the figures). Built without transparent huge
/// pages (`no_thp`), which would hold 2 MiB pages in an idle process.
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
    match runtime.block_on(commands::run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            commands::report(&error);
            ExitCode::FAILURE
        }
    }
}
