//! The 5-field unix-cron syntax Cloud Scheduler reads, checked before any job is sent.
//!
//! Cloud Scheduler would refuse a bad schedule too, but only at deploy time, one job at a time,
//! after the image was built and the service deployed. A small hand parser (no crate: the
//! popular ones read 6- or 7-field Quartz syntax with seconds, which Scheduler rejects) gives
//! the same verdict in milliseconds, naming the field and the item that is wrong.

/// One of the five fields, with its range and the names it accepts.
struct Field {
    label: &'static str,
    min: u32,
    max: u32,
    /// Names for values `min..`, in order (JAN=1…, SUN=0…).
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        label: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        label: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        label: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        label: "month",
        min: 1,
        max: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    },
    // 7 is Sunday too, as in Vixie cron.
    Field {
        label: "day of week",
        min: 0,
        max: 7,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    },
];

/// Checks `schedule`: five space-separated fields, each a comma list of `*`, `*/STEP`, `N`,
/// `N-M` or `N-M/STEP`, with numbers in range or names (`MON`, `jan`) where the field has them.
///
/// # Errors
/// A sentence naming the field and the offending item.
pub fn check(schedule: &str) -> Result<(), String> {
    let parts: Vec<&str> = schedule.split_whitespace().collect();
    if parts.len() != FIELDS.len() {
        return Err(format!(
            "`{schedule}` has {} fields; unix-cron needs 5: minute hour day-of-month month day-of-week (e.g. `0 6 * * MON-FRI`)",
            parts.len()
        ));
    }
    for (part, field) in parts.iter().zip(FIELDS.iter()) {
        for item in part.split(',') {
            check_item(item, field)
                .map_err(|reason| format!("{} field `{part}`: {reason}", field.label))?;
        }
    }
    Ok(())
}

fn check_item(item: &str, field: &Field) -> Result<(), String> {
    if item.is_empty() {
        return Err("empty list item".into());
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        let step: u32 = step
            .parse()
            .map_err(|_| format!("step `{step}` is not a number"))?;
        if step == 0 || step > field.max {
            return Err(format!("step {step} is outside 1-{}", field.max));
        }
    }
    if range == "*" {
        return Ok(());
    }
    match range.split_once('-') {
        Some((low, high)) => {
            let low = value(low, field)?;
            let high = value(high, field)?;
            if low > high {
                return Err(format!("range `{range}` runs backwards"));
            }
            Ok(())
        }
        None if step.is_some() => Err(format!(
            "`{item}`: a step needs `*` or a range before it (e.g. `*/{}` or `0-30/{}`)",
            step.unwrap_or_default(),
            step.unwrap_or_default()
        )),
        None => value(range, field).map(|_| ()),
    }
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    if let Ok(number) = text.parse::<u32>() {
        if (field.min..=field.max).contains(&number) {
            return Ok(number);
        }
        return Err(format!("{number} is outside {}-{}", field.min, field.max));
    }
    field
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
        .and_then(|index| u32::try_from(index).ok())
        .map(|index| field.min + index)
        .ok_or_else(|| {
            if field.names.is_empty() {
                format!("`{text}` is not a number")
            } else {
                format!(
                    "`{text}` is neither a number nor one of {}",
                    field.names.join(" ")
                )
            }
        })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_what_cloud_scheduler_documents() {
        for schedule in [
            "0 6 * * *",
            "*/5 * * * *",
            "0 9 * * MON-FRI",
            "0 9 * * mon,wed,fri",
            "30 8 1,15 * *",
            "0 0 1 JAN,jul *",
            "0 */2 * * 0",
            "0 22 * * 7",
            "0-30/10 6-18 * * 1-5",
            "  0   6 * *   *  ",
        ] {
            assert_eq!(check(schedule), Ok(()), "{schedule}");
        }
    }

    #[test]
    fn refuses_with_the_field_named() {
        for (schedule, needle) in [
            ("0 6 * *", "has 4 fields"),
            ("0 0 6 * * *", "has 6 fields"),
            ("60 6 * * *", "minute field `60`: 60 is outside 0-59"),
            ("0 24 * * *", "hour field `24`"),
            ("0 6 0 * *", "day of month field `0`"),
            ("0 6 * 13 *", "month field `13`"),
            ("0 6 * * 8", "day of week field `8`"),
            ("0 6 * * MONDAY", "neither a number nor one of SUN"),
            ("0 6 * FOO *", "neither a number nor one of JAN"),
            ("*/0 * * * *", "step 0 is outside"),
            ("5/10 * * * *", "a step needs `*` or a range"),
            ("0 18-6 * * *", "runs backwards"),
            ("0 6,,7 * * *", "empty list item"),
            ("0 x * * *", "`x` is not a number"),
            ("@daily", "has 1 fields"),
            ("every 5 minutes", "has 3 fields"),
        ] {
            let error = check(schedule).expect_err(schedule);
            assert!(error.contains(needle), "{schedule}: {error}");
        }
    }
}
