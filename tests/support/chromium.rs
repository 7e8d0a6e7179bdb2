//! Debian's chromium, headless: what a browser renders of a page, and a screenshot of it.
//! Installed with apt-get when missing (CI runs as root); where it cannot be had, the test
//! skips with the reason printed, unless `CI=true` or `REQUIRE_CHROMIUM=1`. Every run is a
//! process group of its own (chromium forks a zygote, renderers and a crash handler), killed
//! whole when it is done, on success and on failure.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

const BINARY: &str = "chromium";

/// Longest a page may take to load and render.
const LIMIT: Duration = Duration::from_secs(60);

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("REQUIRE_CHROMIUM").is_ok_and(|v| v == "1")
}

fn found() -> bool {
    Command::new(BINARY)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn install() -> Result<(), String> {
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("apt-get cannot run: {e}"))
    };
    if !apt(&["install", "-y", "-qq", BINARY])?.success() {
        apt(&["update", "-qq"])?;
        let status = apt(&["install", "-y", "-qq", BINARY])?;
        if !status.success() {
            return Err(format!("apt-get install {BINARY} failed: {status}"));
        }
    }
    Ok(())
}

/// A headless browser.
pub struct Chromium {
    profile: tempfile::TempDir,
}

/// One chromium run and its process group, killed whole on drop.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(group) = i32::try_from(self.0.id()).ok().and_then(Pid::from_raw) {
            let _ = kill_process_group(group, Signal::KILL);
        }
        let _ = self.0.wait();
    }
}

impl Chromium {
    /// `None` (with the reason printed) when chromium cannot be had outside CI.
    pub fn find() -> Option<Chromium> {
        if !found() {
            if let Err(reason) = install().and_then(|()| {
                found()
                    .then_some(())
                    .ok_or_else(|| format!("{BINARY} is still not on PATH"))
            }) {
                if required() {
                    panic!("chromium is required (apt-get install -y chromium): {reason}");
                }
                eprintln!("skipped: chromium is not available ({reason})");
                return None;
            }
        }
        Some(Chromium {
            profile: tempfile::tempdir().expect("a profile directory"),
        })
    }

    /// Runs chromium on `url` with `args`, in a 1280×800 window; its standard output.
    fn run(&self, url: &str, args: &[String]) -> String {
        self.run_in(url, (1280, 800), args)
    }

    /// Runs chromium on `url` with `args`, in a window of `size`; its standard output.
    fn run_in(&self, url: &str, size: (u32, u32), args: &[String]) -> String {
        let out = self.profile.path().join("stdout");
        let err = self.profile.path().join("stderr");
        let child = Command::new(BINARY)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
            ])
            .arg(format!("--window-size={},{}", size.0, size.1))
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .args(args)
            .arg(url)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("{BINARY} does not start: {e}"));
        let mut group = Group(child);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = group.0.try_wait().expect("chromium can be waited on") {
                break status;
            }
            assert!(
                started.elapsed() < LIMIT,
                "chromium did not finish {url} within {LIMIT:?}: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        drop(group);
        let stderr = std::fs::read_to_string(&err).unwrap_or_default();
        assert!(status.success(), "chromium on {url}: {status}\n{stderr}");
        std::fs::read_to_string(&out).unwrap_or_default()
    }

    /// The document as rendered (`--dump-dom`).
    pub fn dom(&self, url: &str) -> String {
        self.run(url, &["--dump-dom".to_owned()])
    }

    /// A PNG of the page at 1280×800, written to `path`.
    pub fn screenshot(&self, url: &str, path: &Path) -> PathBuf {
        self.screenshot_sized(url, path, (1280, 800))
    }

    /// A PNG of the page in a window of `size`, written to `path`.
    pub fn screenshot_sized(&self, url: &str, path: &Path, size: (u32, u32)) -> PathBuf {
        let _ = std::fs::remove_file(path);
        self.run_in(url, size, &[format!("--screenshot={}", path.display())]);
        let png = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            path.display()
        );
        path.to_owned()
    }
}
