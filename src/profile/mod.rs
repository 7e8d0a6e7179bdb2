//! Launch profiles: what an instance is made of, and who may change which part of it.
//!
//! A profile is a set of optional [`Fields`]. The default profile comes from environment
//! variables; `PROFILES_FILE` adds named profiles, each layered over the default so it only
//! states what differs; a message may then override the fields the deployment lists in
//! `ALLOWED_OVERRIDES`. The layered result is parsed once into a [`LaunchSpec`], whose types
//! cannot hold an invalid value: the request builders never validate anything.
//!
//! `fields` declares every field once; `backend` says whether runs execute on an instance or
//! as notebook execution jobs, and refuses what a job cannot honour; `spec` parses a layered profile with the rules of
//! `checks`, and `run` the notebook it runs, if any, with the `secrets` its kernel reads and the
//! `retry` policy its attempts follow, and `concurrency` how many of its runs may go at once;
//! `retention` reads how long each output folder keeps its runs (`keep_runs`);
//! `metadata` declares the instance metadata keys that Compute Engine, Workbench and the runner
//! read, and who may set them; `files` loads the named profiles; `notify` holds the form of
//! the webhooks a profile notifies and how long its runs should take.

mod backend;
mod checks;
mod concurrency;
mod fields;
mod files;
mod metadata;
mod notify;
mod retention;
mod retry;
mod run;
mod secrets;
mod spec;
#[cfg(test)]
mod tests;

pub use backend::{Backend, ExecutionSpec, region_of};
pub use checks::check_gcs_uri;
pub use concurrency::{Concurrency, MAX_CONCURRENT_RUNS_LIMIT, WhenBusy};
pub use fields::{
    DEFAULT_CONTAINER_TAG, DEFAULT_MACHINE_TYPE, Field, FieldError, Fields, VARIABLES, parse_bool,
};
pub use files::{Profiles, ProfilesError, SecretGrant};
pub use metadata::{KeyClass, RESERVED_KEYS, ReservedKey, reserved_key};
pub use notify::{MAX_RULES, NotifyRule, expected_duration};
pub use retention::{Retention, RetentionError, keep_runs, shown_keep};
pub use retry::{MAX_RETRIES, MAX_RETRY_DELAY, RetryOn, RetryPolicy};
pub use run::{MAX_PARAMETERS_BYTES, MAX_RUN_TIME_LIMIT, RunTarget, check_parameter_name};
pub use secrets::{check_version as check_secret_version, secret_of};
pub use spec::{Accelerator, BootDisk, LaunchSpec, ScriptBehavior};
