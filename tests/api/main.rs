//! Integration tests: the service on a free port against the Notebooks emulator on another.
mod helpers;
mod hostile;
mod launch;
#[path = "../support/openssl.rs"]
mod openssl;
mod surface;
mod tokens;
