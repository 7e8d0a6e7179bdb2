//! A run's result: the JSON value a notebook leaves in `outputs/result.json`, as Databricks'
//! `dbutils.notebook.exit(value)` hands one back, kept in the run's record so that whoever
//! follows runs (the page, run events, notifications, a program reading records) has it
//! without opening the run's files.
//!
//! The runner reads the file, checks it and sends it in its report; the value comes from a
//! machine the service does not control, so the service checks it again: at most
//! [`MAX_RESULT_BYTES`] as compact JSON and [`MAX_RESULT_DEPTH`] levels deep. A result that
//! fails either is not kept, and the record says why instead (`result_error`), as it does
//! when the runner found the file unfit; neither ever changes the run's outcome. The file also
//! stays among the run's outputs in Cloud Storage, as any file the run wrote.

use serde_json::Value;

use super::failure::head;
use super::plain_text;

/// Where a notebook writes its result, relative to its working directory.
pub const RESULT_FILE: &str = "outputs/result.json";
/// The largest result kept, as compact JSON.
pub const MAX_RESULT_BYTES: usize = 64 * 1024;
/// The deepest nesting of arrays and objects a result may have: the same bound as anything
/// else the service reads.
pub const MAX_RESULT_DEPTH: usize = crate::json_depth::MAX_JSON_DEPTH;
/// The most bytes kept of the reason a run has no result.
pub const MAX_RESULT_ERROR: usize = 1024;

/// What a record keeps of a report's `result` and the runner's `result_error`: the value when
/// it fits the bounds, else none and why. A runner's reason is kept only when it sent no value.
pub(super) fn checked(result: Option<Value>, said: &str) -> (Option<Value>, String) {
    match result {
        Some(value) => match unfit(&value) {
            None => (Some(value), String::new()),
            Some(reason) => (None, format!("the report's result {reason}")),
        },
        None => (None, head(plain_text(said), MAX_RESULT_ERROR)),
    }
}

/// Why `value` is no result, or `None` when it is one.
fn unfit(value: &Value) -> Option<String> {
    let bytes = serde_json::to_vec(value).map_or(usize::MAX, |json| json.len());
    if bytes > MAX_RESULT_BYTES {
        return Some(format!(
            "is {bytes} bytes of JSON; a result is at most {MAX_RESULT_BYTES}"
        ));
    }
    (depth(value) > MAX_RESULT_DEPTH)
        .then(|| format!("nests arrays and objects deeper than {MAX_RESULT_DEPTH} levels"))
}

/// How many arrays and objects `value` opens inside each other (serde_json parsed it, so at
/// most its own limit of 128: the recursion is bounded).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |inner, _| json!([inner]))
    }

    #[test]
    fn a_result_within_its_bounds_is_kept_and_the_runners_reason_is_then_ignored() {
        let value = json!({"rows": 12, "tables": ["a", "b"], "ok": true});
        assert_eq!(
            checked(Some(value.clone()), "ignored"),
            (Some(value), String::new())
        );
        let deepest = nested(MAX_RESULT_DEPTH);
        assert_eq!(checked(Some(deepest.clone()), "").0, Some(deepest));
        assert_eq!(
            checked(Some(json!("plain text")), "").0,
            Some(json!("plain text"))
        );
    }

    #[test]
    fn a_result_too_large_or_too_deep_is_not_kept_and_the_record_says_why() {
        let large = json!("x".repeat(MAX_RESULT_BYTES));
        let (kept, why) = checked(Some(large), "");
        assert_eq!(kept, None);
        assert!(
            why.contains("65538 bytes") && why.contains("at most 65536"),
            "{why}"
        );
        let (kept, why) = checked(Some(nested(MAX_RESULT_DEPTH + 1)), "");
        assert_eq!(kept, None);
        assert!(why.contains("deeper than 32"), "{why}");
    }

    #[test]
    fn the_runners_reason_is_kept_plain_and_bounded() {
        let said = format!(
            "\u{1b}[31m{RESULT_FILE} is not JSON\u{1b}[0m{}",
            "!".repeat(5000)
        );
        let (kept, why) = checked(None, &said);
        assert_eq!(kept, None);
        assert!(why.starts_with("outputs/result.json is not JSON!"), "{why}");
        assert!(why.len() <= MAX_RESULT_ERROR, "{}", why.len());
        assert_eq!(checked(None, ""), (None, String::new()));
    }
}
