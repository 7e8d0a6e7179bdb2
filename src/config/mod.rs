//! Configuration: every environment variable read once, at start-up, into typed settings.
//!
//! A bad value stops start-up with a message naming the variable and the expected form:
//! a service that starts with a half-understood configuration fails later, on a message, at
//! night. The source is a function rather than the process environment so that tests can pass
//! their own variables.
//!
//! [`VARIABLES`] declares each variable once (name, default, meaning); [`Settings::from_env`]
//! parses them, taking every default from that declaration, and `--help` prints them.
//!
//! - `variables`: the table; `env`: reading one variable, with errors that name it;
//!   `settings`: the service's settings; `readers`: who may read the run history; `demo`:
//!   what the embedded demo fills in.

pub mod demo;
mod env;
mod readers;
mod settings;
#[cfg(test)]
mod tests;
mod variables;

pub use env::{SettingError, field_error};
pub use settings::{Backend, RunSettings, Settings};
pub use variables::{RUST_LOG, VARIABLES, variables_help};
