//! The `runs` command line: the history, one run, and an operator's `rerun`, `cancel` and
//! `start`. Its filter flags are the fields of [`FilterText`], read by the same parser as the
//! service's URL; the forms they accept are shown from the constants that parser states them
//! in.

use clap::{Args, Subcommand};

use crate::history::{DEFAULT_LIMIT, FilterText, SINCE_FORMS, state_names};
use crate::run::RunId;

/// The listing's flags, or a subcommand and a run: the two do not mix, so a flag is never
/// silently ignored.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
    #[arg(
        long,
        value_name = "WHEN",
        help = format!("Only runs launched since then: {SINCE_FORMS}")
    )]
    pub since: Option<String>,
    /// Only runs of this profile.
    #[arg(long)]
    pub profile: Option<String>,
    #[arg(
        long,
        value_name = "STATE",
        help = format!("Only runs in this state: {}", state_names())
    )]
    pub state: Option<String>,
    /// At most this many runs, the newest; 0 shows every run that matches.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// Print the listing as JSON (`runs`, `matched`, `complete`, `warnings`) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Ask a running service for its history (GET /runs) instead of reading Cloud Storage:
    /// its configuration and credentials then apply, and none is needed here. Through
    /// `gcloud run services proxy SERVICE --port=8080`, this is http://localhost:8080.
    #[arg(long, value_name = "URL", global = true, value_parser = service_url)]
    pub service: Option<reqwest::Url>,
}

/// An http(s) URL with a host: `localhost:8080` alone would parse as a URL of scheme
/// `localhost`.
fn service_url(text: &str) -> Result<reqwest::Url, String> {
    reqwest::Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .ok_or_else(|| format!("`{text}` is not an http(s) URL such as http://localhost:8080"))
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One run: its record, the tail of its log, and the objects in its folder.
    Show {
        /// The run id (r followed by 16 lowercase hex digits), as `runs` lists it.
        #[arg(value_parser = RunId::parse)]
        run: RunId,
        /// Print the run as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Act(ActCommand),
}

/// What an operator does to runs.
#[derive(Debug, Subcommand)]
pub enum ActCommand {
    /// Start a new run of RUN's profile and notebook, with its parameters and PARAMETERS over
    /// them, linked to RUN (its record's origin says `rerun`), and print the new run's id.
    ///
    /// With --service, the service does it as the operator your token names (RUNS_OPERATORS);
    /// otherwise it is done here with the service's configuration, recorded as `cli:$USER`.
    /// Answers once the new run's instance is up.
    Rerun {
        /// The run to run again (r followed by 16 lowercase hex digits).
        #[arg(value_parser = RunId::parse)]
        run: RunId,
        /// Parameters over the run's own, as a JSON object: '{"rows": 5}'.
        #[arg(long, value_name = "JSON", value_parser = json_object)]
        parameters: Option<Parameters>,
    },
    /// Cancel RUN: record who cancelled it and when, then stop its instance; its runner
    /// reports `cancelled` (or the reaper records it so after RUN_GRACE).
    ///
    /// A run that ended with a retry still to come (its profile's `retries`) keeps its
    /// outcome, and the retry is not launched; a run retried already is cancelled in its
    /// latest attempt. A run that has ended with nothing to come is left as it is, and the
    /// command says how it ended (and fails). With --service, as for rerun.
    Cancel {
        /// The run to cancel.
        #[arg(value_parser = RunId::parse)]
        run: RunId,
    },
    /// Run PROFILE now, with PARAMETERS over its own, and print the new run's id.
    ///
    /// The profile's every rule applies, but not ALLOWED_OVERRIDES: an operator holds the
    /// deployment's rights. With --service, as for rerun.
    Start {
        /// A profile of PROFILES_FILE, or `default`.
        profile: String,
        /// Parameters over the profile's, as a JSON object: '{"rows": 5}'.
        #[arg(long, value_name = "JSON", value_parser = json_object)]
        parameters: Option<Parameters>,
    },
}

/// Parameters given on the command line, a JSON object.
pub type Parameters = serde_json::Map<String, serde_json::Value>;

fn json_object(text: &str) -> Result<Parameters, String> {
    crate::operate::parameters(Some(text))
}

impl RunsArgs {
    /// The filter flags as typed, for [`FilterText::parse`].
    pub fn filter_text(&self) -> FilterText {
        FilterText {
            since: self.since.clone(),
            profile: self.profile.clone(),
            state: self.state.clone(),
            limit: Some(self.limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Runs {
        #[command(flatten)]
        args: RunsArgs,
    }

    fn parse(args: &[&str]) -> Result<RunsArgs, clap::Error> {
        Runs::try_parse_from(std::iter::once("runs").chain(args.iter().copied())).map(|r| r.args)
    }

    #[test]
    fn the_filter_flags_fill_the_filter_text_and_the_limit_has_a_default() {
        let args = parse(&["--since", "7d", "--profile", "nightly", "--state", "failed"]).unwrap();
        let text = args.filter_text();
        assert_eq!(text.since.as_deref(), Some("7d"));
        assert_eq!(text.profile.as_deref(), Some("nightly"));
        assert_eq!(text.state.as_deref(), Some("failed"));
        assert_eq!(text.limit, Some(DEFAULT_LIMIT));
        assert!(!args.json && args.command.is_none());
        assert_eq!(
            parse(&["--limit", "3"]).unwrap().filter_text().limit,
            Some(3)
        );
    }

    #[test]
    fn show_takes_a_run_id_and_refuses_anything_else_naming_the_form() {
        let run = RunId::derive("pubsub:1");
        let args = parse(&["show", run.as_str(), "--json"]).unwrap();
        assert!(matches!(
            args.command,
            Some(RunsCommand::Show { run: shown, json: true }) if shown == run
        ));
        let error = parse(&["show", "r123"]).unwrap_err().to_string();
        assert!(error.contains("16 lowercase hex digits"), "{error}");
        assert!(
            parse(&["--json", "show", run.as_str()]).is_err(),
            "listing flags belong to the listing"
        );
    }

    #[test]
    fn a_service_is_asked_for_the_listing_and_for_one_run() {
        let run = RunId::derive("pubsub:1");
        let listing = parse(&["--service", "http://localhost:8080", "--since", "7d"]).unwrap();
        assert_eq!(
            listing.service.as_ref().map(reqwest::Url::as_str),
            Some("http://localhost:8080/")
        );
        let shown = parse(&["show", run.as_str(), "--service", "http://localhost:8080"]).unwrap();
        assert!(shown.service.is_some() && shown.command.is_some());
        assert!(
            parse(&["--service", "localhost:8080"]).is_err(),
            "a URL, with its scheme"
        );
    }

    #[test]
    fn an_operator_reruns_cancels_and_starts_with_parameters_as_a_json_object() {
        let run = RunId::derive("pubsub:1");
        let args = parse(&["rerun", run.as_str(), "--parameters", r#"{"rows": 5}"#]).unwrap();
        let Some(RunsCommand::Act(ActCommand::Rerun {
            run: rerun,
            parameters: Some(parameters),
        })) = args.command
        else {
            panic!("a rerun");
        };
        assert_eq!((rerun, parameters["rows"].clone()), (run.clone(), 5.into()));
        let error = parse(&["rerun", run.as_str(), "--parameters", "rows=5"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("parameters: not JSON"), "{error}");
        assert!(matches!(
            parse(&["cancel", run.as_str(), "--service", "http://localhost:8080"])
                .unwrap()
                .command,
            Some(RunsCommand::Act(ActCommand::Cancel { .. }))
        ));
        let start = parse(&["start", "nightly", "--parameters", "{}"]).unwrap();
        assert!(matches!(
            start.command,
            Some(RunsCommand::Act(ActCommand::Start { profile, parameters: Some(p) }))
                if profile == "nightly" && p.is_empty()
        ));
        assert!(parse(&["start"]).is_err(), "a profile is named");
    }

    #[test]
    fn the_help_shows_the_forms_the_parser_takes() {
        use clap::CommandFactory as _;
        // Wrapped to the terminal's width: compared word by word.
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let help = words(&Runs::command().render_long_help().to_string());
        assert!(help.contains(&words(SINCE_FORMS)), "{help}");
        assert!(help.contains(&words(&state_names())), "{help}");
    }
}
