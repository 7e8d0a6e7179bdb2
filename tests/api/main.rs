//! Integration tests: the service on a free port against the Notebooks emulator on another.
mod helpers;
mod hostile;
mod launch;
mod surface;
mod tokens;
