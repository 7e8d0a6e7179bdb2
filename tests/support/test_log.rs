//! `TEST_LOG=1 cargo test NAME`: the logs of everything the test runs, shown when it fails.
//!
//! A passing test stays quiet; a failing one should say what the service and the emulators
//! were doing. In-process servers log through a subscriber that writes to the test's captured
//! output; processes a test starts have their output replayed into it when they end. With
//! `--nocapture` everything is shown as it happens. `RUST_LOG` narrows the filter.

use std::sync::Once;

/// Whether `TEST_LOG` asks for logs (any value but empty or `0`).
pub fn enabled() -> bool {
    std::env::var("TEST_LOG").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Installs the in-process subscriber once per test binary, when [`enabled`].
#[allow(dead_code, reason = "not every test binary runs servers in-process")]
pub fn init() {
    static ONCE: Once = Once::new();
    if !enabled() {
        return;
    }
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "debug,hyper=info,h2=info,reqwest=info,rustls=info,tower=info",
            )
        });
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .with_ansi(false)
            .try_init();
    });
}

/// Replays what a process printed into the test's output, labelled, when [`enabled`].
#[allow(dead_code, reason = "not every test binary starts processes")]
pub fn show(label: &str, output: &str) {
    if enabled() && !output.is_empty() {
        eprintln!("----- {label} -----\n{output}----- end of {label} -----");
    }
}
