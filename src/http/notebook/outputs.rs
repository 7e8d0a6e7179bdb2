//! One output of a code cell as HTML: a stream, an error, or the richest form of a result
//! this page can show (HTML, markdown, a PNG or JPEG image, plain text). Text is escaped and
//! made plain (no terminal escapes); HTML and markdown go through `clean`; an image is put in
//! a `data:` URI only after its bytes are checked to be base64 of a PNG or a JPEG, so nothing
//! from the notebook can leave the attribute or be another kind of document.

use base64::Engine as _;
use serde_json::Value;

use super::{MAX_HTML, MAX_IMAGE, clean, joined, shown};
use crate::http::pages::escape;
use crate::run::plain_text;

/// The forms a result may carry, richest first, and each one's rendering.
const FORMS: [&str; 5] = [
    "text/html",
    "text/markdown",
    "image/png",
    "image/jpeg",
    "text/plain",
];

/// `output` (an item of a code cell's `outputs`) as HTML; nothing for what is not an output.
pub fn output(output: &Value) -> String {
    match output["output_type"].as_str() {
        Some("stream") => stream(output),
        Some("error") => error(output),
        Some("execute_result" | "display_data") => rich(&output["data"]),
        _ => String::new(),
    }
}

fn stream(output: &Value) -> String {
    let class = match output["name"].as_str() {
        Some("stderr") => "stderr",
        _ => "stdout",
    };
    format!(
        "<pre class=\"{class}\">{}</pre>",
        escape(&shown(&plain_text(&joined(&output["text"]))))
    )
}

fn error(output: &Value) -> String {
    let traceback = plain_text(&joined(&output["traceback"]));
    let text = if traceback.trim().is_empty() {
        format!(
            "{}: {}",
            plain_text(&joined(&output["ename"])),
            plain_text(&joined(&output["evalue"]))
        )
    } else {
        traceback
    };
    format!("<pre class=\"error\">{}</pre>", escape(&shown(&text)))
}

/// The first form in [`FORMS`] that `data` holds and can be shown; a note naming the forms
/// when there is none.
fn rich(data: &Value) -> String {
    for form in FORMS {
        let value = &data[form];
        if value.is_null() {
            continue;
        }
        let text = joined(value);
        let shown = match form {
            "text/html" if text.len() <= MAX_HTML => {
                Some(format!("<div class=\"html\">{}</div>", clean::html(&text)))
            }
            "text/markdown" if text.len() <= MAX_HTML => Some(format!(
                "<div class=\"markdown\">{}</div>",
                clean::markdown(&text)
            )),
            "image/png" | "image/jpeg" => image(form, &text),
            "text/plain" => Some(format!(
                "<pre class=\"stdout\">{}</pre>",
                escape(&shown(&plain_text(&text)))
            )),
            _ => None,
        };
        if let Some(html) = shown {
            return html;
        }
    }
    let forms: Vec<&str> = data
        .as_object()
        .map(|forms| forms.keys().map(String::as_str).collect())
        .unwrap_or_default();
    format!(
        "<p class=\"note\">(an output not shown here: {})</p>",
        escape(&forms.join(", "))
    )
}

/// An `<img>` of `base64`, when it is at most [`MAX_IMAGE`] bytes of base64 that decode to
/// an image of the kind `form` names.
fn image(form: &str, base64: &str) -> Option<String> {
    let compact: String = base64
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.len() > MAX_IMAGE {
        return Some(format!(
            "<p class=\"note\">(an image of {} KiB, too large to show here)</p>",
            compact.len() / 1024 * 3 / 4
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .ok()?;
    let is_kind = match form {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        _ => bytes.starts_with(b"\xff\xd8\xff"),
    };
    // `compact` is the base64 alphabet only, as it decoded: nothing in it needs escaping.
    is_kind.then(|| format!("<img alt=\"\" src=\"data:{form};base64,{compact}\">"))
}
