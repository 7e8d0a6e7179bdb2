//! The command line: `serve` (default), `launch`, `emulator`, `scheduler plan`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::emulator::EmulatorArgs;

/// Turns a Pub/Sub message into a running Vertex AI Workbench notebook instance.
///
/// `serve` (the default) takes Pub/Sub push requests on POST /, creates the instance the
/// message asks for through the Notebooks API and waits until it is ACTIVE. With nothing
/// configured it runs a self-contained demo against an embedded Notebooks API emulator.
#[derive(Debug, Parser)]
#[command(name = "notebook-trigger", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Pub/Sub push requests on 0.0.0.0:$PORT (configured by environment variables).
    #[command(after_long_help = crate::config::variables_help())]
    Serve,
    /// Launch one instance from the terminal, with the same configuration as `serve`, and
    /// show progress until it is up.
    #[command(after_long_help = crate::config::variables_help())]
    Launch {
        /// Named profile from PROFILES_FILE (default: the profile set by environment variables).
        #[arg(long)]
        profile: Option<String>,
        /// The message payload, as a push would carry it: text, or a JSON object of overrides
        /// (only fields listed in ALLOWED_OVERRIDES).
        payload: Option<String>,
    },
    /// Run the local Notebooks API emulator (v2 and v1 REST, Google's error shapes, operations
    /// that finish after --provision-time, deterministic fault injection).
    Emulator(EmulatorArgs),
    /// Cloud Scheduler jobs from scheduler.yaml.
    Scheduler {
        #[command(subcommand)]
        command: SchedulerCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SchedulerCommand {
    /// Validate FILE and print the gcloud commands (one shell-quoted command per line) that
    /// make Cloud Scheduler match it: create missing jobs, update changed ones, pause/resume.
    /// Jobs that exist but are not in FILE are left alone and named on stderr.
    Plan {
        /// The jobs file (scheduler.yaml).
        file: PathBuf,
        /// Project of the jobs and the topic.
        #[arg(long)]
        project: String,
        /// Cloud Scheduler location (a region, e.g. europe-west3).
        #[arg(long)]
        location: String,
        /// Topic the jobs publish to: an id or projects/P/topics/T (same project).
        #[arg(long)]
        topic: String,
        /// The output of `gcloud scheduler jobs list --location=L --format=json` (`-` reads
        /// stdin). Without it nothing exists yet and every job is a create.
        #[arg(long)]
        current: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn scheduler_plan_takes_its_flags() {
        let cli = Cli::try_parse_from([
            "notebook-trigger",
            "scheduler",
            "plan",
            "scheduler.yaml",
            "--project=p",
            "--location=l",
            "--topic=t",
            "--current",
            "-",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Scheduler {
                command: SchedulerCommand::Plan {
                    current: Some(_),
                    ..
                }
            })
        ));
    }

    #[test]
    fn no_subcommand_means_serve() {
        assert!(
            Cli::try_parse_from(["notebook-trigger"])
                .unwrap()
                .command
                .is_none()
        );
    }
}
