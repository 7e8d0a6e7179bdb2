//! What `notebook-trigger runs` prints for a person: the listing as an aligned table with a
//! count under it (an error cut to its first line), and one run as its fields, the cell that
//! failed with its traceback, its log tail and its objects. Scripts take the
//! JSON of [`Listing`] and [`RunDetail`] instead; this text may change.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::{Listing, RunDetail, RunRow};
use crate::run::RunRecord;

const HEADER: [&str; 11] = [
    "RUN", "ATTEMPT", "PROFILE", "TRIGGER", "STATE", "STARTED", "DURATION", "EXIT", "ERROR",
    "RESULT", "OUTPUT",
];

/// The most characters of an error the table shows: its first line, cut; `runs show` has all.
const ERROR_WIDTH: usize = 60;

/// The most characters of a result the table shows, as compact JSON, cut; `runs show` (and
/// `--json`) has all.
const RESULT_WIDTH: usize = 40;

/// The table, newest first as listed, and how many of the matching runs it shows; `limit` is
/// the limit the listing was cut at, named in the count when it cut.
pub fn listing(listing: &Listing, limit: Option<usize>) -> String {
    if listing.runs.is_empty() {
        return "no runs\n".to_owned();
    }
    let rows: Vec<[String; 11]> = listing.runs.iter().map(cells).collect();
    let mut widths = HEADER.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    line(&mut out, &HEADER.map(str::to_owned), &widths);
    for row in &rows {
        line(&mut out, row, &widths);
    }
    match limit {
        Some(limit) if listing.is_cut() => {
            let _ = writeln!(out, "{} (--limit {limit})", listing.count());
        }
        _ => {
            let _ = writeln!(out, "{}", listing.count());
        }
    }
    out
}

/// One run: a field a line (those it has), then its log tail and the objects in its folder.
pub fn detail(detail: &RunDetail) -> String {
    let row = &detail.row;
    let record = &row.record;
    let trigger = match &record.message_id {
        Some(id) => format!("{} (message {id})", record.trigger),
        None => record.trigger.clone(),
    };
    let mut fields: Vec<(&str, String)> = vec![
        ("run", record.run_id.to_string()),
        ("state", state(row)),
        ("profile", record.profile.clone()),
        ("trigger", trigger),
        ("notebook", record.notebook.clone()),
        ("instance", record.runs_on().to_owned()),
        ("output", record.output.clone()),
        ("launched", time(record.launched)),
    ];
    let optional = [
        ("attempt", attempt(row)),
        ("next attempt", next_attempt(record)),
        ("started", record.started.map(time)),
        ("finished", record.finished.map(time)),
        (
            "duration",
            row.duration_seconds.map(|_| row.duration_text()),
        ),
        ("exit code", record.exit_code.map(|code| code.to_string())),
        (
            "error",
            Some(record.error.clone()).filter(|e| !e.is_empty()),
        ),
        (
            "parameters",
            Some(&record.parameters)
                .filter(|p| !p.is_empty())
                .map(|p| serde_json::Value::Object(p.clone()).to_string()),
        ),
        (
            "cleanup",
            record.cleanup.as_ref().map(|cleanup| {
                let result = cleanup
                    .error
                    .as_deref()
                    .map_or(String::new(), |error| format!(", failed: {error}"));
                format!(
                    "{} by {} at {}{result}",
                    cleanup.action.as_str(),
                    cleanup.by,
                    time(cleanup.at)
                )
            }),
        ),
    ];
    fields.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value))),
    );
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, value) in &fields {
        let _ = writeln!(out, "{name:<width$}  {value}");
    }
    if let Some(failure) = &record.failure {
        let _ = writeln!(out, "\nfailing cell {}:", failure.cell_number());
        indented(&mut out, &failure.source);
        let _ = writeln!(out, "\ntraceback:");
        indented(&mut out, &failure.traceback);
    }
    let _ = writeln!(out, "\nlog tail:");
    if record.log_tail.is_empty() {
        let _ = writeln!(out, "  (none reported)");
    }
    indented(&mut out, &record.log_tail);
    let _ = writeln!(out, "\nobjects:");
    for object in &detail.objects {
        let _ = writeln!(out, "{object}");
    }
    out
}

/// `2 of 3, retrying run R` for a retry, `1 of 3` for a first attempt its profile retries;
/// `None` for a run that is its only attempt.
fn attempt(row: &RunRow) -> Option<String> {
    let record = &row.record;
    if record.attempt() == 1 && record.retry.is_none() {
        return None;
    }
    let (attempt, of) = row.attempt_of();
    Some(match attempt {
        1 => format!("{attempt} of {of}"),
        _ => format!("{attempt} of {of}, retrying run {}", record.first_attempt()),
    })
}

/// The attempt after this one: its run, and whether it was launched, is due, was refused or
/// was cancelled before its launch.
fn next_attempt(record: &RunRecord) -> Option<String> {
    let cancelled = record
        .retry_cancelled()
        .then_some(record.cancel.as_ref())
        .flatten();
    let Some(next) = &record.next_attempt else {
        return cancelled.map(|cancel| format!("none: cancelled by {}", cancel.by));
    };
    let status = match (&next.launched, &next.refused, cancelled) {
        (Some(at), _, _) => format!("launched at {}", time(*at)),
        (None, Some(reason), _) => format!("refused: {reason}"),
        (None, None, Some(cancel)) => format!("cancelled by {} at {}", cancel.by, time(cancel.at)),
        (None, None, None) => format!("due at {}", time(next.at)),
    };
    Some(format!(
        "{} (attempt {}), {status}",
        next.run_id, next.attempt
    ))
}

/// Each line of `text`, indented by two spaces.
fn indented(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "  {line}");
    }
}

/// The row's cells, in [`HEADER`]'s order.
fn cells(row: &RunRow) -> [String; 11] {
    let record = &row.record;
    [
        record.run_id.to_string(),
        row.attempt_text(),
        record.profile.clone(),
        record.trigger.clone(),
        state(row),
        time(record.launched),
        row.duration_text(),
        record
            .exit_code
            .map_or_else(|| "-".to_owned(), |code| code.to_string()),
        error_cell(&record.error),
        record.result.as_ref().map_or_else(
            || "-".to_owned(),
            |result| cut(&result.to_string(), RESULT_WIDTH, false),
        ),
        record.output.clone(),
    ]
}

/// The error's first line, at most [`ERROR_WIDTH`] characters (`…` where cut); `-` for none.
fn error_cell(error: &str) -> String {
    let line = error.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return "-".to_owned();
    }
    cut(line, ERROR_WIDTH, error.lines().nth(1).is_some())
}

/// `text` in at most `width` characters, ending in `…` where cut, or where `more` follows.
fn cut(text: &str, width: usize, more: bool) -> String {
    let cut = more || text.chars().count() > width;
    let mut cell: String = text.chars().take(width - usize::from(cut)).collect();
    if cut {
        cell.push('…');
    }
    cell
}

/// The run's status, with its instance's own state while it has one: `running (ACTIVE)`.
fn state(row: &RunRow) -> String {
    match &row.instance_state {
        Some(instance) => format!("{} ({instance})", row.status),
        None => row.status.clone(),
    }
}

/// To the second, in UTC: the listing's times line up and sort as text.
fn time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One line of cells padded to their columns; the last one is not padded.
fn line(out: &mut String, cells: &[String; 11], widths: &[usize; 11]) {
    let last = cells.len() - 1;
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if i == last {
            let _ = writeln!(out, "{cell}");
        } else {
            let _ = write!(out, "{cell:<width$}  ");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::row::tests::record;
    use crate::run::{Cleanup, CleanupRecord, RunState};

    fn now() -> Timestamp {
        "2026-12-01T10:05:00Z".parse().unwrap()
    }

    fn rows() -> Vec<RunRow> {
        let running = record("1", "nightly", "2026-12-01T10:00:00Z");
        let mut failed = record("2", "default", "2026-11-30T08:00:00Z");
        failed.state = RunState::Failed;
        failed.started = Some("2026-11-30T08:01:00Z".parse().unwrap());
        failed.finished = Some("2026-11-30T08:04:07Z".parse().unwrap());
        failed.exit_code = Some(1);
        failed.error = format!("cell 3 raised ValueError: {}\nsecond line", "x".repeat(80));
        failed.result = Some(serde_json::json!({"rows": 3, "labels": ["a".repeat(60)]}));
        vec![
            RunRow::new(running, Some("ACTIVE".into()), now()),
            RunRow::new(failed, None, now()),
        ]
    }

    #[test]
    fn the_table_lines_up_its_columns_and_shows_live_states() {
        let runs = rows();
        let text = listing(
            &Listing {
                matched: runs.len(),
                complete: true,
                runs: runs.clone(),
                warnings: Vec::new(),
            },
            Some(50),
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), runs.len() + 2, "{text}");
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            HEADER,
            "{text}"
        );
        // Every column starts where its title does, counted in characters (an error cut
        // ends in `…`).
        for title in [
            "ATTEMPT", "STATE", "STARTED", "DURATION", "EXIT", "ERROR", "RESULT", "OUTPUT",
        ] {
            let at = lines[0].find(title).unwrap();
            for (line, row) in lines[1..=runs.len()].iter().zip(&runs) {
                let chars: Vec<char> = line.chars().collect();
                assert!(
                    chars.len() > at && chars[at - 1] == ' ',
                    "{title} in {line}"
                );
                let cell = cells(row)[HEADER.iter().position(|t| *t == title).unwrap()].clone();
                let from: String = chars[at..].iter().collect();
                assert!(from.starts_with(&cell), "{title}: {line}");
            }
        }
        assert!(lines[1].contains("running (ACTIVE)"), "{text}");
        assert!(lines[1].contains(&runs[0].duration_text()), "{text}");
        assert!(lines[2].contains("  failed  "), "{text}");
        assert!(lines[2].contains("2026-11-30T08:00:00Z"), "{text}");
        assert!(lines[2].contains("3m 07s"), "{text}");
        let error = cells(&runs[1])[8].clone();
        assert_eq!(error.chars().count(), ERROR_WIDTH, "{error}");
        assert!(error.starts_with("cell 3 raised ValueError: xxx") && error.ends_with('…'));
        assert!(lines[1].contains("  -  "), "no error, a dash: {text}");
        assert_eq!(error_cell("bad\nmore"), "bad…");
        let result = cells(&runs[1])[9].clone();
        assert_eq!(result.chars().count(), RESULT_WIDTH, "{result}");
        assert!(result.starts_with(r#"{"labels":["aaa"#) && result.ends_with('…'));
        assert_eq!(cells(&runs[0])[9], "-", "no result, a dash");
        assert_eq!(error_cell("  "), "-");
        assert!(lines.iter().all(|line| !line.ends_with(' ')), "{text:?}");
        assert_eq!(lines[3], "2 runs");
    }

    #[test]
    fn a_cut_listing_says_how_many_matched_and_an_empty_one_says_so() {
        let runs = rows();
        let cut = Listing {
            runs: runs[..1].to_vec(),
            matched: 340,
            complete: true,
            warnings: Vec::new(),
        };
        let text = listing(&cut, Some(1));
        assert_eq!(text.lines().last(), Some("1 of 340 runs (--limit 1)"));
        let unread = Listing {
            runs: runs.clone(),
            matched: 2,
            complete: false,
            warnings: Vec::new(),
        };
        assert_eq!(
            listing(&unread, Some(2)).lines().last(),
            Some("the 2 newest runs (older records not read) (--limit 2)")
        );
        let none = Listing {
            runs: Vec::new(),
            matched: 0,
            complete: true,
            warnings: Vec::new(),
        };
        assert_eq!(listing(&none, Some(50)), "no runs\n");
    }

    #[test]
    fn a_retry_in_full_names_its_run_and_the_attempt_after_it() {
        let mut row = rows().remove(1);
        let first = row.record.run_id.clone();
        row.record.retry = Some(crate::profile::RetryPolicy {
            retries: 2,
            on: [crate::profile::RetryOn::Failed].into(),
            delay: std::time::Duration::from_secs(60),
        });
        let scheduled = row
            .record
            .next_attempt_at(crate::run::RunId::derive("retry:x#2"), now())
            .unwrap();
        row.record.next_attempt = Some(scheduled.clone());
        let shown = |row: &RunRow| {
            detail(&RunDetail {
                row: row.clone(),
                objects: Vec::new(),
                warnings: Vec::new(),
            })
        };
        let text = shown(&row);
        assert!(text.contains("\nattempt       1 of 3\n"), "{text}");
        assert!(
            text.contains(&format!(
                "\nnext attempt  {} (attempt 2), due at 2026-12-01T10:06:00Z\n",
                scheduled.run_id
            )),
            "{text}"
        );
        assert_eq!(cells(&row)[1], "1/3");
        row.record.state = crate::run::RunState::Failed;
        let cancelled = row
            .record
            .cancel_requested("ana@example.com", now())
            .unwrap();
        let text = shown(&RunRow {
            record: cancelled,
            ..row.clone()
        });
        assert!(
            text.contains(&format!(
                "\nnext attempt  {} (attempt 2), cancelled by ana@example.com at 2026-12-01T10:05:00Z\n",
                scheduled.run_id
            )),
            "{text}"
        );
        row.record.origin = Some(crate::run::Origin::Retry {
            of: first.clone(),
            attempt: 3,
        });
        row.record.next_attempt = None;
        let text = shown(&row);
        assert!(
            text.contains(&format!("\nattempt    3 of 3, retrying run {first}\n")),
            "{text}"
        );
        assert!(!text.contains("next attempt"), "{text}");
    }

    #[test]
    fn a_run_in_full_shows_its_fields_its_log_tail_and_its_objects() {
        let mut row = rows().remove(1);
        row.record.log_tail = "Executing cell 3\nValueError: no rows".into();
        row.record.error = "cell 2 raised ValueError: no rows".into();
        row.record.failure = Some(crate::run::Failure {
            cell_index: 1,
            source: "import pandas\nraise ValueError('no rows')".into(),
            ename: "ValueError".into(),
            evalue: "no rows".into(),
            traceback: "Traceback (most recent call last)\nValueError: no rows".into(),
        });
        row.record.cleanup = Some(CleanupRecord {
            action: Cleanup::Stop,
            at: "2026-11-30T08:04:09Z".parse().unwrap(),
            error: None,
            by: "report".into(),
        });
        let objects = vec![
            format!("{}run.json", row.record.output),
            format!("{}seed.ipynb", row.record.output),
        ];
        let text = detail(&RunDetail {
            row: row.clone(),
            objects: objects.clone(),
            warnings: Vec::new(),
        });
        let field = |name: &str| {
            text.lines()
                .find(|line| line.starts_with(&format!("{name} ")))
                .map(|line| line[name.len()..].trim().to_owned())
        };
        assert_eq!(field("run"), Some(row.record.run_id.to_string()));
        assert_eq!(field("state"), Some("failed".into()));
        assert_eq!(field("exit code"), Some("1".into()));
        assert_eq!(field("duration"), Some(row.duration_text()));
        assert_eq!(
            field("cleanup"),
            Some("stop by report at 2026-11-30T08:04:09Z".into())
        );
        assert_eq!(field("parameters"), None, "no parameters, no line");
        assert_eq!(field("error"), Some(row.record.error.clone()));
        assert!(
            text.contains(
                "\nfailing cell 2:\n  import pandas\n  raise ValueError('no rows')\n\n\
                 traceback:\n  Traceback (most recent call last)\n  ValueError: no rows\n"
            ),
            "{text}"
        );
        let tail = text.split("log tail:\n").nth(1).unwrap();
        assert!(
            tail.starts_with("  Executing cell 3\n  ValueError: no rows\n"),
            "{text}"
        );
        let listed: Vec<&str> = text.split("objects:\n").nth(1).unwrap().lines().collect();
        assert_eq!(listed, objects);
    }
}
