//! How long a profile's runs are kept after they end (`keep_runs`), read per output folder.
//!
//! The reap deletes old runs by listing an output folder's records, so retention belongs to
//! the folder, not to each run's message: profiles that write runs to one output must agree on
//! `keep_runs` (a profile that keeps forever next to one that keeps 7 days would have its
//! runs deleted, or the other's kept, against what one of them says), and start-up refuses
//! them when they do not, naming both. A message can never set it (`payload::policy`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::fields::{Field, FieldError, Fields};
use super::files::Profiles;

/// Each output prefix (`gs://B/PREFIX`, no trailing slash) whose runs are deleted, with how
/// long after its end a run there is kept. An output not listed keeps its runs forever.
pub type Retention = BTreeMap<String, Duration>;

/// Why the profiles' retention cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// A profile's `keep_runs` is not a retention.
    #[error("profile `{profile}`: field `{}`: {}", .error.field, .error.reason)]
    Field { profile: String, error: FieldError },
    /// Two profiles write to one output and keep its runs for different times.
    #[error(
        "profiles `{first}` and `{second}` both write runs to {output} but keep them for {first_keeps} and {second_keeps}: retention is per output folder; give them the same keep_runs, or different outputs"
    )]
    Disagree {
        output: String,
        first: String,
        first_keeps: String,
        second: String,
        second_keeps: String,
    },
}

impl Profiles {
    /// Every output whose runs are deleted after a time, checked across profiles.
    ///
    /// # Errors
    /// [`RetentionError`] for a `keep_runs` that is no duration, one set on a profile that
    /// runs no notebook, or profiles of one output that disagree.
    pub fn retention(&self) -> Result<Retention, RetentionError> {
        // Output → (the first profile writing there, what it keeps).
        let mut seen: BTreeMap<String, (&str, Option<Duration>)> = BTreeMap::new();
        for name in self.names() {
            let fields = self.get(Some(name)).expect("a listed profile exists");
            let keep = keep_runs(fields).map_err(|error| RetentionError::Field {
                profile: name.to_owned(),
                error,
            })?;
            let Some(output) = fields.output.as_deref() else {
                continue;
            };
            let output = output.trim_end_matches('/').to_owned();
            match seen.get(&output) {
                Some((first, kept)) if *kept != keep => {
                    return Err(RetentionError::Disagree {
                        output,
                        first: (*first).to_owned(),
                        first_keeps: shown_keep(*kept),
                        second: name.to_owned(),
                        second_keeps: shown_keep(keep),
                    });
                }
                Some(_) => {}
                None => {
                    seen.insert(output, (name, keep));
                }
            }
        }
        Ok(seen
            .into_iter()
            .filter_map(|(output, (_, keep))| Some((output, keep?)))
            .collect())
    }
}

/// A layer's `keep_runs`: `None` keeps its runs forever.
///
/// # Errors
/// A [`FieldError`] naming `keep_runs` and the form it takes.
pub fn keep_runs(fields: &Fields) -> Result<Option<Duration>, FieldError> {
    let Some(text) = fields.keep_runs.as_deref() else {
        return Ok(None);
    };
    let refused = |reason: String| FieldError::new(Field::KeepRuns, reason);
    if fields.notebook.is_none() {
        return Err(refused(
            "the profile runs no notebook, so it keeps no runs: set notebook and output, or leave keep_runs unset".to_owned(),
        ));
    }
    let keep = parse_keep(text).map_err(refused)?;
    if keep.is_zero() {
        return Err(refused(format!(
            "`{text}` would delete runs as they end: give a time such as 90d, or leave keep_runs unset to keep runs forever"
        )));
    }
    Ok(Some(keep))
}

/// `90d`, or any duration the other settings take (`36h`, `30m`, `45s`).
fn parse_keep(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if let Some(days) = trimmed.strip_suffix('d') {
        return days
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|days| days.checked_mul(24 * 3600))
            .map(Duration::from_secs)
            .ok_or_else(|| format!("`{text}` is not a number of days (expected e.g. 90d)"));
    }
    notebooks_wire::duration::parse(trimmed)
        .map_err(|_| format!("`{text}` is not a time to keep runs (expected e.g. 90d, 36h)"))
}

/// A retention as a person reads it, as `keep_runs` is written: `7d`, `36h`, or `forever`.
pub fn shown_keep(keep: Option<Duration>) -> String {
    match keep {
        None => "forever".to_owned(),
        Some(keep) if keep.as_secs() % (24 * 3600) == 0 && keep.subsec_nanos() == 0 => {
            format!("{}d", keep.as_secs() / (24 * 3600))
        }
        Some(keep) => notebooks_wire::duration::display(keep),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn runs(output: &str, keep: Option<&str>) -> Fields {
        Fields {
            notebook: Some("gs://bkt/nb/a.ipynb".into()),
            output: Some(output.into()),
            keep_runs: keep.map(str::to_owned),
            ..Fields::default()
        }
    }

    #[test]
    fn keep_runs_takes_days_or_any_duration_and_is_never_zero() {
        let keep = |text: &str| keep_runs(&runs("gs://bkt/o", Some(text)));
        assert_eq!(keep("90d"), Ok(Some(90 * DAY)));
        assert_eq!(keep(" 7 d "), Ok(Some(7 * DAY)));
        assert_eq!(keep("36h"), Ok(Some(36 * 3600 * Duration::from_secs(1))));
        assert_eq!(keep("45s"), Ok(Some(Duration::from_secs(45))));
        assert_eq!(keep_runs(&runs("gs://bkt/o", None)), Ok(None));
        for (bad, says) in [
            ("soon", "expected e.g. 90d"),
            ("-3d", "not a number of days"),
            ("0d", "leave keep_runs unset"),
            ("0s", "leave keep_runs unset"),
            ("99999999999999999d", "not a number of days"),
        ] {
            let error = keep(bad).unwrap_err();
            assert_eq!(error.field, Field::KeepRuns, "{bad}");
            assert!(error.reason.contains(says), "{bad}: {error}");
        }
        let no_notebook = Fields {
            keep_runs: Some("7d".into()),
            ..Fields::default()
        };
        assert!(
            keep_runs(&no_notebook)
                .unwrap_err()
                .reason
                .contains("runs no notebook")
        );
    }

    /// The profiles of `toml` over a default that writes to gs://bkt/runs and keeps 30 days.
    fn profiles(toml: &str) -> Profiles {
        let default = Fields {
            location: Some("us-central1-a".into()),
            container_image: Some("us-docker.pkg.dev/p/r/img".into()),
            ..runs("gs://bkt/runs/", Some("30d"))
        };
        Profiles::parse(default, "profiles.toml", toml, "p").unwrap()
    }

    #[test]
    fn retention_is_per_output_and_profiles_of_one_output_must_agree() {
        let agreeing = "[profiles.hourly]\noutput = \"gs://bkt/hourly\"\nkeep_runs = \"36h\"\n\
                        [profiles.same]\nmachine_type = \"n1-standard-8\"\n\
                        [profiles.kept]\noutput = \"gs://bkt/kept\"\n";
        let kept = profiles(&format!("{agreeing}keep_runs = \"999999d\"\n"));
        assert_eq!(kept.retention().unwrap().len(), 3);
        let retention = profiles(agreeing).retention().unwrap();
        assert_eq!(
            retention,
            Retention::from([
                ("gs://bkt/hourly".to_owned(), Duration::from_secs(36 * 3600)),
                ("gs://bkt/kept".to_owned(), 30 * DAY),
                ("gs://bkt/runs".to_owned(), 30 * DAY),
            ])
        );
        let error = profiles("[profiles.forever]\nkeep_runs = \"12h\"\n")
            .retention()
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "profiles `default` and `forever` both write runs to gs://bkt/runs but keep them for 30d and 12h: retention is per output folder; give them the same keep_runs, or different outputs"
        );
        let error =
            profiles("[profiles.typo]\noutput = \"gs://bkt/o\"\nkeep_runs = \"3 months\"\n")
                .retention()
                .unwrap_err()
                .to_string();
        assert!(
            error.starts_with("profile `typo`: field `keep_runs`: `3 months`"),
            "{error}"
        );
    }
}
