//! Configuration: every environment variable read once, at start-up, into typed settings.
//!
//! A bad value stops start-up with a message naming the variable and the expected form:
//! a service that starts with a half-understood configuration fails later, on a message, at
//! night. The source is a function rather than the process environment so that tests can pass
//! their own variables.

mod demo;
mod settings;
#[cfg(test)]
mod tests;
mod variables;

pub use settings::{Backend, LogFormat, SettingError, Settings, field_error};
pub use variables::{VARIABLES, Variable, variables_help};
