//! The command line: `serve` (default), `launch`, `reap`, `runs`, `publish`, `replay`,
//! `runner`, `secrets`, `notify-sources`, `execution-accounts`, `emulator` and `scheduler
//! plan`; `runs` (the history, and an operator's rerun, cancel and start) has its arguments in
//! `runs`.

use std::path::PathBuf;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use notebooks_emulator::EmulatorArgs;

mod runs;

pub use runs::{ActCommand, RunsArgs, RunsCommand};

/// Turns a Pub/Sub message into a running Vertex AI Workbench notebook instance.
///
/// `serve` (the default) takes Pub/Sub push requests on POST /, creates the instance the
/// message asks for through the Notebooks API and waits until it is ACTIVE; a profile with a
/// notebook makes that a run, which reports its end, cleans up after itself and is kept in a
/// history (`runs`, GET /runs). With nothing configured it runs a self-contained demo against
/// an embedded Notebooks API emulator.
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
    /// show progress until it is up; with --dry-run, show the create it would send instead.
    #[command(after_long_help = crate::config::variables_help())]
    Launch {
        /// Named profile from PROFILES_FILE (default: the profile set by environment variables).
        #[arg(long)]
        profile: Option<String>,
        /// Check everything a push with this payload would meet (payload, profile, fields, and
        /// for a run its runner, report URL and parameters), then print the answer with the
        /// exact create request that would be sent (method, URL, query, body) and stop:
        /// nothing is created and no run record is written. Needs no `dry_run` in
        /// ALLOWED_OVERRIDES.
        #[arg(long)]
        dry_run: bool,
        /// The message payload, as a push would carry it: text, or a JSON object of overrides
        /// (only fields listed in ALLOWED_OVERRIDES).
        payload: Option<String>,
    },
    /// Run the local Notebooks API emulator (v2 and v1 REST, Google's error shapes, operations
    /// that finish after --provision-time, deterministic fault injection).
    Emulator(EmulatorArgs),
    /// Publish one message to the trigger topic and print its message id: a manual test
    /// message is `notebook-trigger publish TweetiNoteStartTopic`. Honours PUBSUB_EMULATOR_HOST.
    Publish {
        #[command(flatten)]
        pubsub: PubSubArgs,
        /// Topic (short name or projects/P/topics/T).
        #[arg(long, env = "PUBSUB_TOPIC", default_value = "notebook-trigger")]
        topic: String,
        /// A message attribute, KEY=VALUE; repeat for more.
        #[arg(long = "attribute", value_name = "KEY=VALUE", value_parser = crate::pubsub::parse_attribute)]
        attributes: Vec<(String, String)>,
        /// Ordering key (the topic's subscription must enable message ordering).
        #[arg(long)]
        ordering_key: Option<String>,
        /// Give up after this long with an error (the client would otherwise retry forever
        /// when it finds no credentials).
        #[arg(long, default_value = "30s", value_parser = notebooks_wire::duration::parse)]
        timeout: Duration,
        /// The message data (text). A message needs data or at least one attribute.
        data: Option<String>,
    },
    /// Move dead-lettered messages back to the trigger topic after a fix; each is acknowledged
    /// only after its republish succeeded, so an interrupted replay loses nothing.
    Replay {
        #[command(flatten)]
        pubsub: PubSubArgs,
        /// The dead-letter topic's pull subscription (short name or full name).
        #[arg(long)]
        subscription: String,
        /// The trigger topic to republish to.
        #[arg(long, env = "PUBSUB_TOPIC", default_value = "notebook-trigger")]
        topic: String,
        /// Stop after this many messages (default: all).
        #[arg(long)]
        max: Option<u64>,
        /// Stop when no message arrived for this long.
        #[arg(long, default_value = "10s", value_parser = notebooks_wire::duration::parse)]
        idle: Duration,
    },
    /// Print the runner, the post-startup script that executes a run's notebook with papermill,
    /// uploads what it wrote, reports the outcome and stops its instance when it cannot:
    /// `notebook-trigger runner > runner.sh && gcloud storage cp runner.sh gs://BUCKET/`.
    Runner,
    /// Check the profiles' fields as `serve` does at start-up (the default profile from the
    /// environment, PROFILES_FILE's named ones over it) and print the Secret Manager secrets
    /// their runs read: one `SECRET SERVICE_ACCOUNT` line each (SECRET as
    /// projects/P/secrets/S; `-` for the Compute Engine default account), the grants of
    /// roles/secretmanager.secretAccessor that deploy.sh makes. `notify-sources` prints those
    /// the service itself reads to notify.
    #[command(after_long_help = crate::config::variables_help())]
    Secrets(DeployedProfiles),
    /// Check the profiles' fields as `serve` does at start-up, their `notify` rules included
    /// (all but the values of the variables the rules name), and print where the rules' webhook
    /// URLs are kept outside the profiles, once each: `url_secret SECRET` for each secret a
    /// rule's url_secret names (SECRET as projects/P/secrets/S), which deploy.sh lets the
    /// service's own account read (roles/secretmanager.secretAccessor on that secret alone);
    /// `url_env NAME` for each variable a rule's url_env names, which deploy.sh hands to the
    /// service (from Secret Manager when WEBHOOK_SECRETS says where, else the deployer's own
    /// value of NAME). A `url` written in the profile needs neither.
    #[command(after_long_help = crate::config::variables_help())]
    NotifySources(DeployedProfiles),
    /// Check the profiles' fields as `serve` does at start-up and print the service account
    /// each profile with `backend = "execution"` runs its jobs as, once each (`-` for the
    /// Compute Engine default account): the accounts deploy.sh lets the service act as and
    /// lets read the runs' parameterized notebooks.
    #[command(after_long_help = crate::config::variables_help())]
    ExecutionAccounts(DeployedProfiles),
    /// Stop or delete managed instances whose run ended without cleanup: past max_run_time
    /// and RUN_GRACE with no report, a cleanup that failed, stopped longer than KEEP_STOPPED;
    /// and record the end of each run that executes as a job whose job has ended. Prints one
    /// line per verdict: ACTION INSTANCE: REASON (RESULT). Same configuration as `serve`;
    /// instances without the managed-by label are never touched.
    #[command(after_long_help = crate::config::variables_help())]
    Reap {
        /// Judge and print, but stop and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The runs, newest first, with the live state of those still up; `runs show RUN` prints
    /// one; `runs rerun RUN`, `runs cancel RUN` and `runs start PROFILE` act on them.
    ///
    /// Runs are read from their records in Cloud Storage, under each profile's NOTEBOOK_OUTPUT,
    /// and joined with the managed instances of the profiles' zones. Same configuration as
    /// `serve`: Google's Cloud Storage with Application Default Credentials, or
    /// STORAGE_EMULATOR_HOST.
    #[command(after_long_help = crate::config::variables_help())]
    Runs(RunsArgs),
    /// Cloud Scheduler jobs from scheduler.yaml.
    Scheduler {
        #[command(subcommand)]
        command: SchedulerCommand,
    },
}

/// Where Pub/Sub is.
#[derive(Debug, Args)]
pub struct PubSubArgs {
    /// Project of the topic.
    #[arg(long, env = "GOOGLE_CLOUD_PROJECT")]
    pub project: String,
    /// host:port of a Pub/Sub emulator (plain connection, no credentials).
    #[arg(long, env = "PUBSUB_EMULATOR_HOST")]
    pub emulator_host: Option<String>,
}

impl PubSubArgs {
    pub fn endpoint(self) -> crate::pubsub::PubSubEndpoint {
        crate::pubsub::PubSubEndpoint {
            project: self.project,
            emulator: self.emulator_host.filter(|h| !h.is_empty()),
        }
    }
}

/// The profiles as a deployment's service reads them, for the commands that plan its grants.
#[derive(Debug, Args)]
pub struct DeployedProfiles {
    /// Project that short network names are expanded under, as for `serve`.
    #[arg(long, env = "GOOGLE_CLOUD_PROJECT")]
    pub project: String,
    /// The named profiles, TOML or YAML: a path, or gs://BUCKET/OBJECT read as `serve`
    /// reads it.
    #[arg(long, env = "PROFILES_FILE", value_parser = crate::config::ProfilesFile::parse)]
    pub profiles_file: Option<crate::config::ProfilesFile>,
    /// Cloud Storage emulator that a gs:// PROFILES_FILE is read from, as for `serve`.
    #[arg(long, env = "STORAGE_EMULATOR_HOST", value_parser = storage_client::emulator_base_url)]
    pub storage_emulator: Option<reqwest::Url>,
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
    fn reap_takes_dry_run() {
        for (args, dry) in [(&["reap"][..], false), (&["reap", "--dry-run"][..], true)] {
            let cli = Cli::try_parse_from(
                std::iter::once("notebook-trigger").chain(args.iter().copied()),
            )
            .unwrap();
            assert!(matches!(cli.command, Some(Command::Reap { dry_run }) if dry_run == dry));
        }
    }

    #[test]
    fn launch_takes_dry_run() {
        for (args, dry) in [
            (&["launch", "go"][..], false),
            (&["launch", "--dry-run", "go"][..], true),
        ] {
            let cli = Cli::try_parse_from(
                std::iter::once("notebook-trigger").chain(args.iter().copied()),
            )
            .unwrap();
            assert!(matches!(cli.command, Some(Command::Launch { dry_run, .. }) if dry_run == dry));
        }
    }

    #[test]
    fn the_deploy_planners_take_the_profiles() {
        for command in ["secrets", "notify-sources", "execution-accounts"] {
            let cli = Cli::try_parse_from([
                "notebook-trigger",
                command,
                "--project=p",
                "--profiles-file=deploy/profiles.toml",
            ])
            .unwrap();
            let deployed = match cli.command {
                Some(
                    Command::Secrets(deployed)
                    | Command::NotifySources(deployed)
                    | Command::ExecutionAccounts(deployed),
                ) => deployed,
                other => panic!("{command}: {other:?}"),
            };
            assert_eq!(deployed.project, "p", "{command}");
            assert!(deployed.profiles_file.is_some(), "{command}");
        }
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
