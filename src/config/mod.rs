//! Configuration: every environment variable read once, at start-up, into typed settings.
//!
//! Bad values stop start-up with one message naming every variable at fault and the expected
//! form: a service that starts with a half-understood configuration fails later, on a
//! message, at night. A variable that is set but read by nobody, and spelt almost like one of
//! ours, is a warning: it is usually a typo whose setting silently stays at its default. The source is a function rather than the process environment so that tests can pass
//! their own variables.
//!
//! [`VARIABLES`] declares each variable once (name, default, meaning); [`Settings::from_env`]
//! parses them, taking every default from that declaration, and `--help` prints them.
//!
//! - `variables`: the table; `env`: reading one variable, with errors that name it;
//!   `settings`: the service's settings, `runs` those of notebook runs; `readers`: who may
//!   read the run history; `demo`: what the embedded demo fills in; `spelling`: the
//!   variables that look like a typo of one of ours.

pub mod demo;
mod env;
mod readers;
mod runs;
mod settings;
mod spelling;
#[cfg(test)]
mod tests;
mod variables;

pub use env::{SettingError, SettingErrors, field_error, profile_field_error};
pub use runs::RunSettings;
pub use settings::{Backend, ProfilesFile, Settings};
pub use spelling::{Misspelt, misspelt};
pub use variables::{RUST_LOG, VARIABLES, variables_help};
