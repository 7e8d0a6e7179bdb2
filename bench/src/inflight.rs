//! Launches in flight: the service holding thousands of pushes open while the emulator
//! provisions, and what that costs it in CPU and memory while it waits, read once per step
//! from /proc while the burst client runs.

use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};

use crate::burst::BurstReport;
use crate::harness::{Bench, Logs};
use crate::process::{Proc, live};
use crate::procfs::{CpuMark, status_bytes};

/// One reading of the service and the emulator during the wait.
#[derive(Clone, Copy)]
pub struct Reading {
    pub at: Duration,
    pub service: CpuMark,
    pub service_rss: u64,
    /// Open descriptors: pushes held open plus connections to the emulator.
    pub service_fds: usize,
    pub emulator: CpuMark,
    pub emulator_rss: u64,
}

/// How the pushes reach the service.
#[derive(Clone, Copy, PartialEq)]
pub enum Transport {
    /// One HTTP/1.1 connection per push, as Cloud Run forwards requests by default.
    Http1,
    /// HTTP/2 streams over a few connections, as with Cloud Run's `--use-http2`.
    Http2 { connections: usize },
}

impl Transport {
    pub fn describe(self) -> String {
        match self {
            Transport::Http1 => "HTTP/1.1, one connection per push".to_owned(),
            Transport::Http2 { connections: 1 } => "HTTP/2 (h2c), one connection".to_owned(),
            Transport::Http2 { connections } => {
                format!("HTTP/2 (h2c), {connections} connections")
            }
        }
    }
}

pub struct InflightFigures {
    pub transport: Transport,
    pub report: BurstReport,
    pub provision: Duration,
    pub window: (Duration, Duration),
    pub service_percent: f64,
    pub service_rss_max: u64,
    pub service_hwm: u64,
    pub service_idle_rss: u64,
    pub emulator_percent: f64,
    pub emulator_rss_max: u64,
    pub readings: Vec<Reading>,
}

pub fn inflight(bench: &mut Bench<'_>, transport: Transport) -> anyhow::Result<InflightFigures> {
    let count = bench.workload.inflight;
    let provision = bench.workload.provision;
    bench.say(&format!(
        "in flight: {count} launches at once over {}, provisioning {provision:?}",
        transport.describe()
    ));
    let load_cpu = bench.load_cpu().map(str::to_owned);
    let service_cpu = bench.service_cpu().map(str::to_owned);
    let (emulator, emulator_port) = bench.emulator(provision, load_cpu.as_deref())?;
    let (service, port) = bench.service(service_cpu.as_deref(), emulator_port, Logs::Warn)?;
    std::thread::sleep(Duration::from_millis(500));
    let service_idle_rss = status_bytes(service.pid(), "VmRSS")?;
    let (log, _) = bench.log_file("burst")?;
    let me = std::env::current_exe()?;
    let mut command = bench.command(load_cpu.as_deref(), &me);
    command
        .args(["burst", "--port", &port.to_string(), "--count"])
        .arg(count.to_string())
        .args(["--id-prefix", &format!("{}-inflight", bench.nonce)])
        .args(["--timeout-secs", &(provision.as_secs() + 300).to_string()])
        .args(match transport {
            Transport::Http1 => Vec::new(),
            Transport::Http2 { connections } => {
                vec!["--http2-connections".to_owned(), connections.to_string()]
            }
        })
        .stdout(Stdio::piped())
        .stderr(log);
    let started = Instant::now();
    let mut client = Proc::spawn("burst client", &mut command)?;
    let mut readings = Vec::new();
    let read = |started: Instant| -> anyhow::Result<Reading> {
        Ok(Reading {
            at: started.elapsed(),
            service: CpuMark::now(service.pid())?,
            service_rss: status_bytes(service.pid(), "VmRSS")?,
            service_fds: std::fs::read_dir(format!("/proc/{}/fd", service.pid()))?.count(),
            emulator: CpuMark::now(emulator.pid())?,
            emulator_rss: status_bytes(emulator.pid(), "VmRSS")?,
        })
    };
    let step = if bench.args.smoke {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    let status = loop {
        readings.push(read(started)?);
        if let Some(status) = client.child.try_wait()? {
            live().remove(&client.pid());
            break status;
        }
        ensure!(
            started.elapsed() < provision + Duration::from_secs(600),
            "the burst client is still running after {:?}",
            started.elapsed()
        );
        std::thread::sleep(step);
    };
    let mut stdout = String::new();
    client
        .child
        .stdout
        .take()
        .context("no client output")?
        .read_to_string(&mut stdout)?;
    ensure!(status.success(), "the burst client failed: {status}");
    let report: BurstReport = serde_json::from_str(stdout.trim())
        .with_context(|| format!("burst client output: {stdout}"))?;
    let service_hwm = status_bytes(service.pid(), "VmHWM")?;
    service.stop()?;
    emulator.stop()?;
    ensure!(
        report.created == count,
        "{} of {count} launches were answered 200 created: {:?} {:?}",
        report.created,
        report.statuses,
        report.errors
    );
    // While they wait: after the burst of creates, before the first operation can finish.
    let window = (provision.mul_f64(0.25), provision.mul_f64(0.9));
    let inside: Vec<&Reading> = readings
        .iter()
        .filter(|r| r.at >= window.0 && r.at <= window.1)
        .collect();
    let (Some(first), Some(last)) = (inside.first(), inside.last()) else {
        bail!("no readings between {window:?}");
    };
    Ok(InflightFigures {
        transport,
        service_percent: first.service.percent_until(last.service, bench.tick),
        service_rss_max: inside
            .iter()
            .map(|r| r.service_rss)
            .max()
            .unwrap_or_default(),
        emulator_percent: first.emulator.percent_until(last.emulator, bench.tick),
        emulator_rss_max: inside
            .iter()
            .map(|r| r.emulator_rss)
            .max()
            .unwrap_or_default(),
        report,
        provision,
        window,
        service_hwm,
        service_idle_rss,
        readings,
    })
}
