//! Processes a test starts: bounded in time, and killed and reaped when the test ends, pass or
//! fail, so no test leaves a process behind.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Kills and reaps the child on drop, unless it has already exited.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// What a finished command printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to completion, or kills it and panics after `limit`. Output goes to files,
/// not pipes, so a chatty child never blocks on a full pipe while the test waits for it.
pub fn run_bounded(command: &mut Command, limit: Duration) -> Finished {
    let dir = tempfile::tempdir().expect("a directory for the output");
    let out = dir.path().join("stdout");
    let err = dir.path().join("stderr");
    let mut child = ChildGuard(
        command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?} does not start: {e}")),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("the child can be waited on") {
            break status;
        }
        assert!(
            started.elapsed() < limit,
            "{command:?} did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    let finished = Finished {
        status,
        stdout: read(&out),
        stderr: read(&err),
    };
    let program = command.get_program().to_string_lossy().into_owned();
    crate::test_log::show(&format!("{program} stdout"), &finished.stdout);
    crate::test_log::show(&format!("{program} stderr"), &finished.stderr);
    finished
}
