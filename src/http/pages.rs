//! The run history as HTML, for a browser: the list of runs, and one run with the cell that
//! failed, its traceback, the notebook's result (formatted JSON, as text), its log tail and
//! its executed notebook (rendered by `notebook`).
//!
//! Written by hand rather than with a template engine: two small pages do not pay for a
//! dependency. Everything a record holds is the users' data (notebook paths, parameters,
//! errors, log lines) and goes through [`escape`] on its way in, attribute values included;
//! links are built only from `gs://` URIs taken apart and percent-encoded, so no value from a
//! record can become a scheme or break out of an attribute. No JavaScript: a filter is a form,
//! and so are an operator's buttons (`controls`).

mod controls;

use std::fmt::Write as _;

use jiff::Timestamp;
use storage_client::GsUri;

use crate::history::{FilterText, Listing, RunDetail, RunRow, statuses};
use crate::launch::Relaunch;
use crate::run::{CancelRequest, CleanupRecord, Failure, RunRecord};

pub use controls::{Controls, RunActions, RunNow};

/// Where a `gs://` object is opened from the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectLinks {
    /// The Cloud Console's object page, which asks the viewer to sign in.
    Console,
    /// A Cloud Storage emulator (`STORAGE_EMULATOR_HOST`): the object's media URL there.
    Emulator(String),
}

impl ObjectLinks {
    /// The link to `uri`, or `None` for something that is not a `gs://` object.
    pub fn href(&self, uri: &str) -> Option<String> {
        let object = GsUri::parse(uri).ok()?;
        Some(match self {
            ObjectLinks::Console => format!(
                "https://console.cloud.google.com/storage/browser/_details/{}/{}",
                encode(&object.bucket, false),
                encode(&object.object, true)
            ),
            ObjectLinks::Emulator(base) => format!(
                "{}/storage/v1/b/{}/o/{}?alt=media",
                base.trim_end_matches('/'),
                encode(&object.bucket, false),
                encode(&object.object, false)
            ),
        })
    }
}

/// Percent-encodes all but unreserved characters (and `/` when `keep_slash`).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Text safe in an element and in a double- or single-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1f2328}\
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d0d7de;vertical-align:top}\
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.state{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-weight:600;color:#fff}\
.succeeded{background:#1a7f37}.failed{background:#cf222e}.timed_out{background:#bc4c00}\
.cancelled,.cancelling{background:#6e7781}.running{background:#0969da}.launched{background:#8250df}\
.unreported{background:#953800}.skipped{background:#6e7781}\
pre{background:#f6f8fa;padding:.8rem;overflow:auto;max-height:32rem}\
.warning{background:#fff8c5;padding:.5rem;border:1px solid #d4a72c}\
form{margin:.8rem 0}input,select{margin-right:.6rem}ul{margin:0;padding-left:1rem}\
#notebook .cell{margin:.8rem 0;padding-left:.6rem;border-left:3px solid #d0d7de}\
#notebook .prompt{color:#57606a;font:12px monospace}#notebook pre{margin:.3rem 0}\
#notebook pre.stderr{background:#fff8c5}#notebook pre.error{background:#ffebe9}\
#notebook img{max-width:100%}#notebook .html{overflow:auto}\
#notebook .html table{width:auto}#notebook .note{color:#57606a}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

fn time(at: Option<Timestamp>) -> String {
    at.map_or_else(
        || "-".to_owned(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn state(row: &RunRow) -> String {
    // The class is one of the known states; anything else gets no colour, never markup.
    let class = statuses().find(|k| *k == row.status).unwrap_or("");
    format!(
        "<span class=\"state {class}\">{}</span>",
        escape(&row.status)
    )
}

/// The link to an object, or its URI as text when it is not one.
fn object(links: &ObjectLinks, uri: &str, label: &str) -> String {
    match links.href(uri) {
        Some(href) => format!("<a href=\"{}\">{}</a>", escape(&href), escape(label)),
        None => escape(uri),
    }
}

/// An object's name below its run's folder: `outputs/output.csv` for
/// `gs://b/runs/RUN/outputs/output.csv`.
fn short<'a>(uri: &'a str, folder: &str) -> &'a str {
    uri.strip_prefix(folder)
        .filter(|rest| !rest.is_empty())
        .unwrap_or(uri)
}

fn warnings(out: &mut String, warnings: &[String]) {
    for warning in warnings {
        let _ = write!(out, "<p class=\"warning\">{}</p>", escape(warning));
    }
}

/// The filter form, holding what was asked.
fn form(asked: &FilterText) -> String {
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    let mut options = String::new();
    for s in std::iter::once("").chain(statuses()) {
        let selected = if asked.state.as_deref().unwrap_or("") == s {
            " selected"
        } else {
            ""
        };
        let label = if s.is_empty() { "any state" } else { s };
        let _ = write!(options, "<option value=\"{s}\"{selected}>{label}</option>");
    }
    let limit = asked
        .limit
        .map(|l| format!("<input type=\"hidden\" name=\"limit\" value=\"{l}\">"))
        .unwrap_or_default();
    format!(
        "<form method=\"get\" action=\"/runs\">\
         <label>since <input name=\"since\" size=\"12\" placeholder=\"7d\" value=\"{}\"></label>\
         <label>profile <input name=\"profile\" size=\"12\" value=\"{}\"></label>\
         <label>state <select name=\"state\">{options}</select></label>{limit}\
         <button type=\"submit\">Show</button></form>",
        value(&asked.since),
        value(&asked.profile)
    )
}

/// `GET /runs`: a row per run, newest first.
/// A refusal, for a browser: the status and the same message a program gets as JSON.
pub fn refusal(status: u16, reason: &str, message: &str) -> String {
    page(
        &format!("{status} {reason}"),
        &format!(
            "<h1>{status} {}</h1><p class=\"warning\" id=\"error\">{}</p>\
             <p><a href=\"/runs\">All runs</a></p>",
            escape(reason),
            escape(message)
        ),
    )
}

pub fn listing(
    listing: &Listing,
    asked: &FilterText,
    links: &ObjectLinks,
    run_now: &Controls<RunNow>,
) -> String {
    let mut body = String::from("<h1>Runs</h1>");
    body.push_str(&controls::run_now(run_now));
    body.push_str(&form(asked));
    let _ = write!(body, "<p id=\"count\">{}</p>", escape(&listing.count()));
    warnings(&mut body, &listing.warnings);
    body.push_str(
        "<table id=\"runs\"><thead><tr><th>Run</th><th>Attempt</th><th>State</th>\
         <th>Started</th><th>Duration</th><th>Profile</th><th>Trigger</th><th>Exit code</th><th>Outputs</th>\
         </tr></thead><tbody>",
    );
    for row in &listing.runs {
        let record = &row.record;
        let id = escape(record.run_id.as_str());
        let mut outputs = String::new();
        for uri in &record.outputs {
            let _ = write!(
                outputs,
                "<li>{}</li>",
                object(links, uri, short(uri, &record.output))
            );
        }
        let _ = write!(
            body,
            "<tr data-run=\"{id}\"><td><a href=\"/runs/{id}\">{id}</a></td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td><ul>{outputs}</ul></td></tr>",
            escape(&row.attempt_text()),
            state(row),
            time(record.started.or(Some(record.launched))),
            escape(&row.duration_text()),
            escape(&record.profile),
            escape(&record.trigger),
            record
                .exit_code
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
        );
    }
    body.push_str("</tbody></table>");
    if listing.runs.is_empty() {
        body.push_str("<p>No run matches.</p>");
    }
    page("Runs", &body)
}

/// `GET /runs/{run id}`: every field, an operator's forms, the error, the failing cell,
/// `notebook` (the executed notebook's section, from `notebook::section`), the log tail and the
/// run's objects.
pub fn run(
    detail: &RunDetail,
    links: &ObjectLinks,
    notebook: &str,
    actions: &Controls<RunActions>,
) -> String {
    let row = &detail.row;
    let record = &row.record;
    let id = escape(record.run_id.as_str());
    let mut body = format!(
        "<p><a href=\"/runs\">&larr; all runs</a></p><h1>Run {id} {}</h1>",
        state(row)
    );
    warnings(&mut body, &detail.warnings);
    attempts(&mut body, row);
    body.push_str("<table id=\"fields\"><tbody>");
    for (name, value) in run_fields(row) {
        let _ = write!(body, "<tr><th>{name}</th><td>{}</td></tr>", escape(&value));
    }
    let _ = write!(
        body,
        "<tr><th>Output</th><td>{}</td></tr></tbody></table>",
        escape(&record.output)
    );
    body.push_str(&controls::run_actions(&record.run_id, actions));
    if !record.error.is_empty() {
        let _ = write!(
            body,
            "<h2>Error</h2><pre id=\"error\">{}</pre>",
            escape(&record.error)
        );
    }
    if let Some(failure) = &record.failure {
        failure_section(&mut body, failure);
    }
    result_section(&mut body, record);
    body.push_str(notebook);
    let _ = write!(
        body,
        "<h2>Log tail</h2><pre id=\"log\">{}</pre>",
        if record.log_tail.is_empty() {
            "(no log: the run has not reported)".to_owned()
        } else {
            escape(&record.log_tail)
        }
    );
    body.push_str("<h2>Objects</h2><ul id=\"objects\">");
    for uri in &detail.objects {
        let _ = write!(
            body,
            "<li>{}</li>",
            object(links, uri, short(uri, &record.output))
        );
    }
    body.push_str("</ul>");
    page(&format!("Run {}", record.run_id), &body)
}

/// Links to the run's other attempts, for a run its profile retries: every attempt up to the
/// latest this record knows of (itself, or the next one scheduled).
fn attempts(body: &mut String, row: &RunRow) {
    let record = &row.record;
    let (attempt, of) = row.attempt_of();
    if of == 1 {
        return;
    }
    let latest = record
        .next_attempt
        .as_ref()
        .map_or(attempt, |next| next.attempt.max(attempt));
    let _ = write!(
        body,
        "<p id=\"attempts\">Attempt {attempt} of {of}; attempts:"
    );
    for n in 1..=latest {
        if n == attempt {
            let _ = write!(body, " <strong>{n}</strong>");
        } else {
            let id = escape(Relaunch::attempt_run_id(record.first_attempt(), n).as_str());
            let _ = write!(body, " <a href=\"/runs/{id}\">{n}</a>");
        }
    }
    body.push_str("</p>");
}

/// The cell that raised, its first lines, and the traceback.
fn failure_section(body: &mut String, failure: &Failure) {
    let _ = write!(
        body,
        "<h2>Failing cell {}</h2><p id=\"exception\"><strong>{}</strong>: {}</p>\
         <pre id=\"failing-source\">{}</pre><h3>Traceback</h3><pre id=\"traceback\">{}</pre>",
        failure.cell_number(),
        escape(&failure.ename),
        escape(&failure.evalue),
        escape(&failure.source),
        escape(&failure.traceback)
    );
}

/// The notebook's result as indented JSON, or why it has none; nothing when it wrote none.
fn result_section(body: &mut String, record: &RunRecord) {
    if let Some(result) = &record.result {
        let pretty = serde_json::to_string_pretty(result).unwrap_or_default();
        let _ = write!(
            body,
            "<h2>Result</h2><pre id=\"result\">{}</pre>",
            escape(&pretty)
        );
    } else if !record.result_error.is_empty() {
        let _ = write!(
            body,
            "<h2>Result</h2><p id=\"no-result\">No result: {}</p>",
            escape(&record.result_error)
        );
    }
}

/// The run's fields as the page's table shows them, unescaped, in order.
fn run_fields(row: &RunRow) -> [(&'static str, String); 16] {
    let record = &row.record;
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    [
        ("Status", row.status.clone()),
        ("Instance state", or_dash(row.instance_state.clone())),
        ("Profile", record.profile.clone()),
        ("Trigger", record.trigger.clone()),
        ("Message id", or_dash(record.message_id.clone())),
        ("Notebook", record.notebook.clone()),
        (
            "Parameters",
            serde_json::to_string(&record.parameters).unwrap_or_default(),
        ),
        ("Instance", record.runs_on().to_owned()),
        ("Launched", time(Some(record.launched))),
        ("Started", time(record.started)),
        ("Finished", time(record.finished)),
        ("Duration", row.duration_text()),
        (
            "Exit code",
            or_dash(record.exit_code.map(|c| c.to_string())),
        ),
        ("Cleanup", cleanup_text(record.cleanup.as_ref())),
        ("Cancelled by", cancel_text(record.cancel.as_ref())),
        ("Origin", origin_text(record.origin.as_ref())),
    ]
}

/// Who asked for the run to be cancelled, and when; `-` when nobody did.
fn cancel_text(cancel: Option<&CancelRequest>) -> String {
    cancel.map_or_else(
        || "-".to_owned(),
        |c| format!("{} at {}", c.by, time(Some(c.at))),
    )
}

/// What started a run the product launched itself: `rerun of r… by ana@…`; `-` for a message's.
fn origin_text(origin: Option<&crate::run::Origin>) -> String {
    use crate::run::Origin;
    match origin {
        None => "-".to_owned(),
        Some(Origin::Retry { of, attempt }) => format!("attempt {attempt} of {of}"),
        Some(Origin::Rerun { of, by }) => format!("rerun of {of} by {by}"),
        Some(Origin::RunNow { by }) => format!("run now by {by}"),
    }
}

/// What became of the instance: `stop by reaper at …: done`, or `-` before any cleanup.
fn cleanup_text(cleanup: Option<&CleanupRecord>) -> String {
    cleanup.map_or_else(
        || "-".to_owned(),
        |c| {
            let outcome = c
                .error
                .as_deref()
                .map_or("done".to_owned(), |e| format!("failed: {e}"));
            format!(
                "{} by {} at {}: {outcome}",
                c.action,
                c.by,
                time(Some(c.at))
            )
        },
    )
}

#[cfg(test)]
#[path = "pages_tests.rs"]
mod tests;
