//! The executed notebook on a run's page, rendered by the service from the `.ipynb` the
//! runner saved: markdown cells, code cells with their source and outputs (streams, errors,
//! images, HTML such as a DataFrame's table), each in its own box.
//!
//! Everything in a notebook is untrusted: whoever wrote the notebook, or the data it read,
//! decides what its outputs hold. Text is escaped; HTML and markdown keep only what `clean`'s
//! policy allows; images are PNG or JPEG `data:` URIs, checked. So no notebook can run script
//! in the page, load anything or pose as the page's own parts; the page's content security
//! policy (`headers`) stands behind this, allowing `data:` images and still no script.
//!
//! What is rendered is bounded: each text to [`MAX_TEXT`] bytes, an HTML output to
//! [`MAX_HTML`], an image to [`MAX_IMAGE`], and the whole to [`MAX_RENDERED`], past which the
//! notebook is cut with a link to download it whole.
//!
//! - `clean`: the HTML policy, and markdown through it.
//! - `outputs`: one output of a code cell.

mod clean;
mod outputs;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use serde_json::Value;

use super::pages::{ObjectLinks, escape};
use crate::history::ExecutedNotebook;
use crate::papermill::MAX_NOTEBOOK_BYTES;

/// The most HTML a notebook adds to its page.
pub const MAX_RENDERED: usize = 4 * 1024 * 1024;
/// The most bytes of one text shown (a cell's source, a stream, a traceback).
pub const MAX_TEXT: usize = 64 * 1024;
/// The largest HTML or markdown output rendered; a larger one falls back to its plain text.
pub const MAX_HTML: usize = 512 * 1024;
/// The largest image shown, in bytes of base64.
pub const MAX_IMAGE: usize = 2 * 1024 * 1024;

/// The page's section for the run's executed notebook; nothing when the run has none.
pub fn section(notebook: &ExecutedNotebook, links: &ObjectLinks) -> String {
    let body = match notebook {
        ExecutedNotebook::Absent => return String::new(),
        ExecutedNotebook::TooLarge { uri } => format!(
            "<p class=\"warning\">The notebook is larger than {} MiB, so it is not shown \
             here: {}.</p>",
            MAX_NOTEBOOK_BYTES / (1024 * 1024),
            download(links, uri)
        ),
        ExecutedNotebook::Unreadable { uri, reason } => format!(
            "<p class=\"warning\">The notebook cannot be shown: {} ({}).</p>",
            escape(reason),
            download(links, uri)
        ),
        ExecutedNotebook::Read { uri, bytes } => render(bytes, &download(links, uri)),
    };
    format!("<section id=\"notebook\"><h2>Notebook</h2>{body}</section>")
}

/// A link to download the notebook at `uri`, or its URI when there is no link.
fn download(links: &ObjectLinks, uri: &str) -> String {
    match links.href(uri) {
        Some(href) => format!("<a href=\"{}\">download it</a>", escape(&href)),
        None => format!("it is {}", escape(uri)),
    }
}

/// The cells of the notebook `bytes`, within [`MAX_RENDERED`]; `download` (HTML) says where
/// the whole is when it is cut.
fn render(bytes: &[u8], download: &str) -> String {
    let notebook = serde_json::from_slice::<Value>(bytes).unwrap_or_default();
    let Some(cells) = notebook.get("cells").and_then(Value::as_array) else {
        return format!(
            "<p class=\"warning\">The saved notebook is not one this page can read: \
             {download}.</p>"
        );
    };
    let mut html = String::new();
    for (shown, cell) in cells.iter().enumerate() {
        let (rendered, whole) = render_cell(cell, MAX_RENDERED.saturating_sub(html.len()));
        html.push_str(&rendered);
        if !whole {
            let _ = write!(
                html,
                "<p class=\"warning\" id=\"notebook-cut\">The notebook is cut here, {shown} of \
                 its {} cells shown whole: {download}.</p>",
                cells.len()
            );
            break;
        }
    }
    html
}

/// `cell` as HTML in at most about `room` bytes, and whether all of it fit: outputs that do
/// not are left out (the cell's box is still closed).
fn render_cell(cell: &Value, room: usize) -> (String, bool) {
    let source = shown(&joined(&cell["source"]));
    let mut html = match cell["cell_type"].as_str() {
        Some("markdown") => {
            let rendered = clean::markdown(&source);
            return fitted(
                format!("<div class=\"cell markdown\">{rendered}</div>"),
                room,
            );
        }
        Some("raw") => {
            let raw = escape(&source);
            return fitted(format!("<pre class=\"cell raw\">{raw}</pre>"), room);
        }
        Some("code") => {
            let count = cell["execution_count"]
                .as_u64()
                .map_or_else(|| " ".to_owned(), |n| n.to_string());
            format!(
                "<div class=\"cell code\"><div class=\"prompt\">In [{count}]:</div>\
                 <pre class=\"source\">{}</pre>",
                escape(&source)
            )
        }
        _ => return (String::new(), true),
    };
    let closing = "</div>";
    for output in cell["outputs"].as_array().into_iter().flatten() {
        let rendered = outputs::output(output);
        if html.len() + rendered.len() + closing.len() > room {
            html.push_str(closing);
            return (html, false);
        }
        html.push_str(&rendered);
    }
    html.push_str(closing);
    let whole = html.len() <= room;
    (html, whole)
}

/// `html` when it fits in `room`, else nothing.
fn fitted(html: String, room: usize) -> (String, bool) {
    if html.len() <= room {
        (html, true)
    } else {
        (String::new(), false)
    }
}

/// A notebook's text field: a string, or a list of strings to join (nbformat allows both);
/// anything else is empty.
fn joined(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

/// `text` cut to [`MAX_TEXT`] bytes, saying how much more there was.
fn shown(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let kept = crate::run::text::head(text, MAX_TEXT);
    format!(
        "{kept}\n… ({} more bytes not shown)",
        text.len() - kept.len()
    )
}
