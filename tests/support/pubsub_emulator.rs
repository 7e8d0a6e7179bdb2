//! Google's Pub/Sub emulator, started by a test on a free port and stopped by it.
//!
//! The launcher script in the Cloud SDK `exec`s Java, so the pid we hold is the emulator
//! itself and killing it leaves nothing behind (unlike `gcloud beta emulators pubsub start`,
//! whose Java child survives the gcloud process). Without the Cloud SDK the tests that need it
//! are skipped with a message, unless `REQUIRE_PUBSUB_EMULATOR=1` (CI) makes that a failure.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running emulator; dropped → killed and reaped.
pub struct PubSubEmulator {
    child: Child,
    /// `127.0.0.1:PORT`, the value of `PUBSUB_EMULATOR_HOST`.
    pub host: String,
    pub project: String,
}

fn launcher() -> Result<PathBuf, String> {
    let output = Command::new("gcloud")
        .args(["info", "--format=value(installation.sdk_root)"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("gcloud is not installed ({e})"))?;
    let root = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let path = PathBuf::from(root).join("platform/pubsub-emulator/bin/cloud-pubsub-emulator");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "the Pub/Sub emulator component is not installed ({} is missing; gcloud components install pubsub-emulator)",
            path.display()
        ))
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl PubSubEmulator {
    /// Starts the emulator and waits until it answers; `None` (with the reason printed) when
    /// it is not installed and not required.
    pub fn start(project: &str) -> Option<Self> {
        let launcher = match launcher() {
            Ok(path) => path,
            Err(reason) => {
                assert!(
                    std::env::var("REQUIRE_PUBSUB_EMULATOR").as_deref() != Ok("1"),
                    "REQUIRE_PUBSUB_EMULATOR=1 but {reason}"
                );
                eprintln!(
                    "skipped: {reason} (set REQUIRE_PUBSUB_EMULATOR=1 to make this a failure)"
                );
                return None;
            }
        };
        let port = free_port();
        let child = Command::new(launcher)
            .arg("--host=127.0.0.1")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the Pub/Sub emulator starts");
        let emulator = Self {
            child,
            host: format!("127.0.0.1:{port}"),
            project: project.to_owned(),
        };
        emulator.wait_ready(Duration::from_secs(60));
        Some(emulator)
    }

    fn wait_ready(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.answers() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "the Pub/Sub emulator on {} did not answer within {limit:?}",
            self.host
        );
    }

    /// `GET /` answers "Ok" once the emulator is up; it keeps the connection open, so read
    /// until the word arrives rather than until the connection closes.
    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(&self.host) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = Vec::new();
        let mut buffer = [0u8; 512];
        while let Ok(read) = stream.read(&mut buffer) {
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..read]);
            if answer.ends_with(b"Ok") {
                return true;
            }
        }
        String::from_utf8_lossy(&answer).contains("\r\n\r\nOk")
    }

    /// `http://127.0.0.1:PORT/v1/projects/PROJECT/` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/v1/projects/{}/{path}", self.host, self.project)
    }
}

impl Drop for PubSubEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
