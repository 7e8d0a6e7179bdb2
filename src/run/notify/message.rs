//! What a notification says, and how each format says it.
//!
//! A notice carries the run's outcome, its error (the failing cell's, when a cell raised),
//! duration, attempt, profile, result, who cancelled it (when an operator did) and a link to
//! its page. Its text is partly written by the
//! notebook (an exception's message can be anything), so what a notebook wrote is bounded and
//! made inert before it is put in a chat: Slack's control characters `&`, `<` and `>` become
//! the entities Slack documents for them (so no `<!channel>` or `<https://…|link>` of the
//! notebook's making); Google Chat documents no escape, so there `<` and `>` become `‹` and `›`;
//! and no error or result can close the code block it is shown in. The JSON format carries
//! each field as a JSON value of its own, the result whole (the runner and the service bound
//! it already); a chat quotes its start.

use std::time::Duration;

use serde_json::{Value, json};

use super::rules::Format;
use crate::run::{RunEvent, RunRecord, RunState};

/// The longest error a notice quotes, in characters.
const MAX_ERROR_CHARS: usize = 1000;
/// The longest traceback the JSON format carries, in characters (its end is kept).
const MAX_TRACEBACK_CHARS: usize = 4000;
/// The longest result a chat quotes, in characters of its compact JSON.
const MAX_RESULT_CHARS: usize = 1000;

/// One event of one run, as a notification tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub event: RunEvent,
    pub record: RunRecord,
    /// `{SERVICE_URL}/runs/{run id}`, when the service knows its URL.
    pub link: Option<String>,
}

impl Notice {
    pub fn new(event: RunEvent, record: &RunRecord, service_url: Option<&str>) -> Self {
        Self {
            event,
            record: record.clone(),
            link: service_url.map(|url| format!("{url}/runs/{}", record.run_id)),
        }
    }

    /// How long the run took (its report's times), or had been going when it was found
    /// overdue; `None` when neither is known.
    pub fn duration(&self) -> Option<Duration> {
        let (from, to) = match (self.record.started, self.record.finished) {
            (Some(started), Some(finished)) => (started, finished),
            _ => (self.record.launched, self.record.overdue_at?),
        };
        Duration::try_from(to.duration_since(from)).ok()
    }

    /// The error, bounded: the failing cell's when a cell raised, else the record's.
    fn error(&self) -> String {
        bounded(&self.record.error, MAX_ERROR_CHARS)
    }

    /// The result as compact JSON, bounded; empty when the run has none.
    fn result(&self) -> String {
        self.record
            .result
            .as_ref()
            .map_or_else(String::new, |result| {
                bounded(&result.to_string(), MAX_RESULT_CHARS)
            })
    }

    /// The operator who cancelled the run, when one did.
    fn cancelled_by(&self) -> Option<&str> {
        self.record.cancel.as_ref().map(|cancel| cancel.by.as_str())
    }

    /// One line: what happened to which run.
    fn headline(&self) -> String {
        let record = &self.record;
        let attempt = match record.attempt() {
            1 => String::new(),
            n => format!(", attempt {n}"),
        };
        let duration = self.duration().map(notebooks_wire::duration::display);
        let what = match (self.event, duration) {
            (RunEvent::Overdue, Some(d)) => format!("is overdue: still running after {d}"),
            (RunEvent::Reached(RunState::Launched), _) => "launched".to_owned(),
            (RunEvent::Reached(RunState::Skipped), _) => {
                "skipped: its profile's max_concurrent_runs were all going".to_owned()
            }
            (RunEvent::Retrying, _) => match &record.next_attempt {
                Some(next) => format!(
                    "ended {}; attempt {} starts at {}",
                    record.state.as_str(),
                    next.attempt,
                    next.at
                ),
                None => format!("ended {} and is retried", record.state.as_str()),
            },
            (RunEvent::Reached(RunState::Cancelled), d) => {
                let by = self.cancelled_by().map(|by| format!(" by {by}"));
                let after = d.map(|d| format!(" after {d}"));
                format!(
                    "cancelled{}{}",
                    by.unwrap_or_default(),
                    after.unwrap_or_default()
                )
            }
            (_, Some(d)) => format!("{} after {d}", self.event.as_str()),
            (_, None) => self.event.as_str().to_owned(),
        };
        format!(
            "Run {} (profile {}{attempt}) {what}",
            record.run_id, record.profile
        )
    }

    /// The body `format` sends.
    pub fn body(&self, format: Format) -> Value {
        match format {
            Format::Slack => self.slack(),
            Format::GoogleChat => self.google_chat(),
            Format::Json => self.json(),
        }
    }

    /// `{"text", "blocks": [one mrkdwn section]}`, as Slack's incoming webhooks take.
    fn slack(&self) -> Value {
        let headline = slack_escape(&self.headline());
        let mut text = format!("*{headline}*");
        let error = self.error();
        if !error.is_empty() {
            text.push_str(&format!("\n```{}```", code(&slack_escape(&error))));
        }
        let result = self.result();
        if !result.is_empty() {
            text.push_str(&format!("\nResult: ```{}```", code(&slack_escape(&result))));
        }
        if let Some(link) = &self.link {
            text.push_str(&format!("\n<{}|Open the run>", slack_escape(link)));
        }
        json!({
            "text": headline,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        })
    }

    /// `{"text"}`, as Google Chat's incoming webhooks take.
    fn google_chat(&self) -> Value {
        let mut text = format!("*{}*", chat_escape(&self.headline()));
        let error = self.error();
        if !error.is_empty() {
            text.push_str(&format!("\n```{}```", code(&chat_escape(&error))));
        }
        let result = self.result();
        if !result.is_empty() {
            text.push_str(&format!("\nResult: ```{}```", code(&chat_escape(&result))));
        }
        if let Some(link) = &self.link {
            text.push_str(&format!("\n<{link}|Open the run>"));
        }
        json!({ "text": text })
    }

    /// A plain object with named fields.
    fn json(&self) -> Value {
        let record = &self.record;
        let failure = record.failure.as_ref().map(|f| {
            json!({
                "cell": f.cell_index + 1,
                "exception": f.ename,
                "message": bounded(&f.evalue, MAX_ERROR_CHARS),
                "traceback": tail(&f.traceback, MAX_TRACEBACK_CHARS),
            })
        });
        json!({
            "event": self.event.as_str(),
            "text": self.headline(),
            "run_id": record.run_id,
            "first_attempt": record.first_attempt(),
            "attempt": record.attempt(),
            "profile": record.profile,
            "state": record.state.as_str(),
            "notebook": record.notebook,
            "output": record.output,
            "error": self.error(),
            "failure": failure,
            "result": record.result,
            "cancelled_by": self.cancelled_by(),
            "duration_seconds": self.duration().map(|d| d.as_secs()),
            "launched": record.launched,
            "started": record.started,
            "finished": record.finished,
            "overdue_at": record.overdue_at,
            "link": self.link,
        })
    }
}

/// At most `most` characters of `text`, marked when cut.
fn bounded(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The last `most` characters of `text`, marked when cut.
fn tail(text: &str, most: usize) -> String {
    let count = text.chars().count();
    if count <= most {
        return text.to_owned();
    }
    let start = text.char_indices().nth(count - most).map_or(0, |(i, _)| i);
    format!("…{}", &text[start..])
}

/// Slack's control characters as the entities Slack documents.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// No `<…>` Google Chat would read as a mention or a link.
fn chat_escape(text: &str) -> String {
    text.replace('<', "‹").replace('>', "›")
}

/// Text that cannot close the code block it is put in.
fn code(text: &str) -> String {
    text.replace("```", "'''")
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
