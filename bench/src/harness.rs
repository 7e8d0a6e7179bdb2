//! What every measurement shares: how big a run is (smoke or full), the run's scratch
//! directory and logs, and how the emulator, the service and the bare axum ceiling are
//! started — with a clean environment, on free ports, pinned by taskset when asked.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::RunArgs;
use crate::process::{Proc, free_port, wait_listening};
use crate::push::PROJECT;

const ZONE: &str = "us-central1-a";

/// How much each measurement does: a smoke run only checks, in seconds, that every measurement
/// works; a full run repeats enough for medians worth reporting.
pub struct Workload {
    pub cold_runs: usize,
    pub idle_runs: usize,
    pub warmup_secs: u32,
    pub load_secs: u32,
    pub repeats: usize,
    pub concurrency: [u32; 3],
    pub inflight: usize,
    pub provision: Duration,
    /// Run records seeded for `runs`, and how often each listing is timed.
    pub history_runs: usize,
    pub history_repeats: usize,
}

impl Workload {
    pub fn new(args: &RunArgs) -> Self {
        if args.smoke {
            Self {
                cold_runs: 2,
                idle_runs: 1,
                warmup_secs: 1,
                load_secs: 1,
                repeats: 1,
                concurrency: [1, 32, 256],
                inflight: args.inflight.unwrap_or(100),
                provision: Duration::from_secs(2),
                history_runs: args.history_runs.unwrap_or(200),
                history_repeats: 1,
            }
        } else {
            Self {
                cold_runs: 20,
                idle_runs: 5,
                warmup_secs: 2,
                load_secs: 10,
                repeats: 3,
                concurrency: [1, 32, 256],
                inflight: args.inflight.unwrap_or(10_000),
                provision: Duration::from_secs(60),
                history_runs: args.history_runs.unwrap_or(3000),
                history_repeats: 5,
            }
        }
    }
}

/// One run: its arguments and workload, and the scratch directory that holds every log and is
/// the home directory of every process it starts.
pub struct Bench<'a> {
    pub args: &'a RunArgs,
    pub workload: Workload,
    pub dir: tempfile::TempDir,
    pub tick: f64,
    /// Makes every message id of this run new to the emulator.
    pub nonce: String,
    /// Log files written so far, numbering the next one.
    pub logs: usize,
}

/// How the service logs: as in production (info), or at warn so that logs do not dominate a
/// load.
#[derive(Clone, Copy)]
pub enum Logs {
    Production,
    Warn,
}

impl Bench<'_> {
    pub fn say(&self, text: &str) {
        eprintln!("[loadbench] {text}");
    }

    /// A fresh log file in the run's directory.
    pub fn log_file(&mut self, name: &str) -> anyhow::Result<(File, PathBuf)> {
        self.logs += 1;
        let path = self.dir.path().join(format!("{:03}-{name}.log", self.logs));
        Ok((File::create(&path)?, path))
    }

    /// `program` with a clean environment, pinned to `cpu` by taskset when given.
    pub fn command(&self, cpu: Option<&str>, program: &Path) -> Command {
        let mut command = match cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.args(["-c", cpu]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .stdin(Stdio::null());
        command
    }

    pub fn emulator(
        &mut self,
        provision: Duration,
        cpu: Option<&str>,
    ) -> anyhow::Result<(Proc, u16)> {
        let port = free_port()?;
        let (log, _) = self.log_file("emulator")?;
        let mut command = self.command(cpu, &self.args.service);
        command
            .args(["emulator", "--port", &port.to_string(), "--provision-time"])
            .arg(format!("{}ms", provision.as_millis()))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        let mut proc = Proc::spawn("emulator", &mut command)?;
        wait_listening(&mut proc, port)?;
        Ok((proc, port))
    }

    /// The service's command on a free port, against the emulator, with push auth off.
    pub fn service_command(
        &mut self,
        cpu: Option<&str>,
        emulator_port: u16,
        logs: Logs,
    ) -> anyhow::Result<(Command, u16, PathBuf)> {
        let port = free_port()?;
        let (log, path) = self.log_file("service")?;
        let mut command = self.command(cpu, &self.args.service);
        command
            .arg("serve")
            .env("PORT", port.to_string())
            .env(
                "NOTEBOOKS_EMULATOR_HOST",
                format!("127.0.0.1:{emulator_port}"),
            )
            .env("GOOGLE_CLOUD_PROJECT", PROJECT)
            .env("NOTEBOOK_LOCATION", ZONE)
            .env(
                "CONTAINER_IMAGE",
                "europe-west3-docker.pkg.dev/bench-project/notebooks/python-docker",
            )
            .env("POST_STARTUP_SCRIPT", "gs://bench-bucket/startup.sh")
            .env("PUSH_AUTH", "off")
            .env("LOG_FORMAT", "json")
            .env("MAX_CONCURRENT_LAUNCHES", "20000")
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Logs::Warn = logs {
            command.env("RUST_LOG", "warn");
        }
        Ok((command, port, path))
    }

    pub fn service(
        &mut self,
        cpu: Option<&str>,
        emulator_port: u16,
        logs: Logs,
    ) -> anyhow::Result<(Proc, u16)> {
        let (mut command, port, log) = self.service_command(cpu, emulator_port, logs)?;
        let mut proc = Proc::spawn("service", &mut command)?;
        wait_listening(&mut proc, port).with_context(|| {
            format!(
                "service log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })?;
        Ok((proc, port))
    }

    pub fn ceiling(&mut self, cpu: Option<&str>) -> anyhow::Result<(Proc, u16)> {
        let port = free_port()?;
        let (log, _) = self.log_file("ceiling")?;
        let mut command = self.command(cpu, &self.args.ceiling);
        command
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(log);
        let mut proc = Proc::spawn("bare axum", &mut command)?;
        wait_listening(&mut proc, port)?;
        Ok((proc, port))
    }

    pub fn service_cpu(&self) -> Option<&str> {
        Some(self.args.service_cpu.as_str()).filter(|cpu| *cpu != "none")
    }

    pub fn load_cpu(&self) -> Option<&str> {
        Some(self.args.load_cpu.as_str()).filter(|cpu| *cpu != "none")
    }
}
