//! Integration tests: the service on a free port against the Notebooks emulator on another.
mod helpers;
mod launch;
mod surface;
