//! `scheduler.yaml`: the cron jobs that publish to the trigger topic, validated here and turned
//! into the `gcloud scheduler jobs …` commands that make the cloud match the file.
//!
//! Why a planner in the product rather than YAML in bash: the deploy script must stay free of
//! YAML parsing, a mistake in the file must be reported before anything is created (naming the
//! job and the field), and "create missing, update changed, pause/resume" needs a real diff
//! against what `gcloud scheduler jobs list --format=json` reports.
//!
//! The rooms, in the order a deploy goes through them: [`file`](mod@file) reads the YAML into
//! one `job_spec::JobSpec` per job (the job as written), `validate` checks each (with [`cron`]
//! for the schedule) and yields a [`Job`]; [`current`] reads what exists; [`plan()`] diffs the
//! two for a [`SchedulerTarget`], with `flags` spelling the gcloud flags and [`shell`] quoting
//! each command onto one line.

pub mod cron;
pub mod current;
pub mod file;
mod flags;
pub mod job;
mod job_spec;
pub mod plan;
pub mod shell;
pub mod target;
mod validate;

pub use current::{CurrentJob, CurrentPubsubTarget, CurrentRetry, parse_current};
pub use file::{ParseError, load, parse};
pub use job::{DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF, DEFAULT_TIME_ZONE, Job, Retry};
pub use plan::{SchedulerPlan, plan};
pub use target::SchedulerTarget;
pub use validate::{MAX_GCLOUD_PAYLOAD_BYTES, MAX_JOB_BYTES};

/// What can go wrong with the file or the current state.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
    },
    #[error("current state (gcloud scheduler jobs list --format=json): {0}")]
    Current(String),
    #[error("--topic: {0}")]
    Topic(String),
}

/// One invalid field of one job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job `{job}`, field `{field}`: {reason}")]
pub struct Problem {
    /// The job's name, or `#N` (1-based position) when it has no usable name.
    pub job: String,
    pub field: String,
    pub reason: String,
}
