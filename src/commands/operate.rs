//! `runs rerun`, `runs cancel` and `runs start`: an operator's acts, done here with the
//! service's configuration, or by a running service (`--service`, or the demo when nothing is
//! configured) as the operator the caller's token names. stdout holds the new run's id, or the
//! cancel's one line; progress goes to stderr.

use std::io::Write as _;

use serde_json::{Value, json};

use super::{HistorySource, history_source};
use crate::cli::{ActCommand, RunsArgs};
use crate::config::Settings;
use crate::history::remote;
use crate::launch::Progress;
use crate::operate::{Cancelled, OperateError};
use crate::shutdown;
use crate::startup::Services;

/// What an operator's command printed on success.
enum Done {
    /// A rerun's or a "run now"'s new run (none for a profile without a notebook).
    Started(Option<String>),
    Cancelled(Cancelled),
}

/// Does `command` (one of the operator's) where `args` say, and prints what came of it.
///
/// # Errors
/// Why it was not done: the service's refusal, or the operation's own.
pub(super) async fn run(args: &RunsArgs, command: &ActCommand) -> anyhow::Result<()> {
    let done = match history_source(args)? {
        HistorySource::Service { url, .. } => remotely(&url, command).await?,
        HistorySource::Records(settings) => here(*settings, command).await?,
    };
    let line = match done {
        Done::Started(Some(run)) => run,
        Done::Started(None) => "(the profile runs no notebook: an instance, no run)".to_owned(),
        Done::Cancelled(cancelled) => cancelled_line(&cancelled),
    };
    writeln!(std::io::stdout(), "{line}")?;
    Ok(())
}

fn cancelled_line(cancelled: &Cancelled) -> String {
    let asked = format!(
        "asked by {} at {}",
        cancelled.cancel.by,
        cancelled.cancel.at.strftime("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(retry) = &cancelled.retry {
        let again = if cancelled.repeated {
            " (asked before)"
        } else {
            ""
        };
        return format!(
            "cancel of {} {asked}{again}: the run has ended, and its retry {retry} is not launched",
            cancelled.run_id
        );
    }
    let again = if cancelled.repeated {
        " (asked before; stopped again)"
    } else {
        ""
    };
    let stopping = if cancelled.being_created {
        "is being created and is stopped once it is up"
    } else {
        "is stopping"
    };
    format!(
        "cancel of {} {asked}{again}: its instance {} {stopping}, and the run ends cancelled",
        cancelled.run_id, cancelled.instance
    )
}

/// The act, asked of a service's operator routes.
async fn remotely(service: &reqwest::Url, command: &ActCommand) -> anyhow::Result<Done> {
    let request = uuid::Uuid::new_v4().to_string();
    let (segments, body): (Vec<&str>, Value) = match command {
        ActCommand::Rerun { run, parameters } => (
            vec!["runs", run.as_str(), "rerun"],
            json!({"parameters": parameters.clone().unwrap_or_default(), "request": request}),
        ),
        ActCommand::Start {
            profile,
            parameters,
        } => (
            vec!["runs", "start"],
            json!({"profile": profile, "parameters": parameters.clone().unwrap_or_default(),
                   "request": request}),
        ),
        ActCommand::Cancel { run } => (vec!["runs", run.as_str(), "cancel"], json!({})),
    };
    let answer = remote::act(service, &segments, &body).await?;
    Ok(match command {
        ActCommand::Cancel { .. } => Done::Cancelled(serde_json::from_value(answer)?),
        ActCommand::Rerun { .. } | ActCommand::Start { .. } => {
            Done::Started(answer["run_id"].as_str().map(str::to_owned))
        }
    })
}

/// The act, done here with the service's configuration.
async fn here(settings: Settings, command: &ActCommand) -> anyhow::Result<Done> {
    let services = Services::build(settings, shutdown::token_on_signal()).await?;
    let operations = &services.operations;
    let by = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    let request = uuid::Uuid::new_v4().to_string();
    let done = match command {
        ActCommand::Rerun { run, parameters } => operations
            .rerun(
                run,
                parameters.clone().unwrap_or_default(),
                &by,
                &request,
                &progress,
            )
            .await
            .map(|launched| Done::Started(launched.run_id.map(|r| r.to_string()))),
        ActCommand::Start {
            profile,
            parameters,
        } => operations
            .run_now(
                profile,
                parameters.clone().unwrap_or_default(),
                &by,
                &request,
                &progress,
            )
            .await
            .map(|launched| Done::Started(launched.run_id.map(|r| r.to_string()))),
        ActCommand::Cancel { run } => operations.cancel(run, &by).await.map(Done::Cancelled),
    };
    services.shutdown().await;
    done.map_err(|error: OperateError| anyhow::Error::from(error))
}

fn progress(p: Progress<'_>) {
    let state = p.state.map(|s| format!(" ({s})")).unwrap_or_default();
    eprintln!(
        "[{:>6.1}s] {} {}{state}",
        p.elapsed.as_secs_f64(),
        p.phase,
        p.instance
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunId;

    #[test]
    fn a_cancel_says_who_asked_and_that_its_run_ends_cancelled() {
        let cancelled = Cancelled {
            run_id: RunId::derive("pubsub:1"),
            instance: "projects/p/locations/z/instances/i".into(),
            being_created: false,
            retry: None,
            cancel: crate::run::CancelRequest {
                by: "ana@example.com".into(),
                at: "2026-12-01T10:00:00Z".parse().unwrap(),
            },
            repeated: true,
        };
        let line = cancelled_line(&cancelled);
        assert!(
            line.contains("asked by ana@example.com at 2026-12-01 10:00:00 UTC (asked before"),
            "{line}"
        );
        assert!(line.ends_with("the run ends cancelled"), "{line}");
        let retry = Cancelled {
            instance: String::new(),
            retry: Some(RunId::derive("retry:x#2")),
            repeated: false,
            ..cancelled
        };
        let line = cancelled_line(&retry);
        assert!(
            line.ends_with(&format!(
                "the run has ended, and its retry {} is not launched",
                RunId::derive("retry:x#2")
            )),
            "{line}"
        );
    }
}
