//! The load benchmark: the release binary against the Notebooks emulator (a separate
//! process), wrk as the load generator, and a bare axum server as the ceiling. It measures cold
//! start, memory, throughput and latency, ten thousand launches in flight and the binary's size,
//! and writes the figures into BENCHMARKS.md. `bench/run.sh` builds everything and runs it.
//!
//! Why a program and not a shell script: a cold start is a few milliseconds, so the clock has to
//! start at `spawn` and stop at the first accepted connection and the first answered push, with
//! no shell forks in between; ten thousand pushes held open at once need an async client; and
//! medians, spreads and /proc arithmetic are easier to get right, and to review, typed.
//!
//! Every process started here is owned by a [`Proc`]: killed by pid when dropped (on success, on
//! an error, on a panic), and on SIGINT, SIGTERM or SIGHUP through the registry of live pids.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

const PROJECT: &str = "bench-project";
const ZONE: &str = "us-central1-a";
/// What a push answered 200 after a real create says.
const CREATED: &str = r#""outcome":"created""#;
/// distroless/static-debian12, "around 2 MiB" in the distroless README; the cc image adds the
/// packages in [`CC_IMAGE_PACKAGES`] to it.
const STATIC_IMAGE_BYTES: u64 = 2 * 1024 * 1024;
/// The Debian 12 packages gcr.io/distroless/cc-debian12 adds to the static image
/// (`base/config.bzl` and `cc/config.bzl` of GoogleContainerTools/distroless).
const CC_IMAGE_PACKAGES: [&str; 6] = [
    "libc6",
    "libssl3",
    "libgomp1",
    "libstdc++6",
    "libgcc-s1",
    "gcc-12-base",
];
const MARK_BEGIN: &str = "<!-- BEGIN figures: written by bench/run.sh, do not edit by hand -->";
const MARK_END: &str = "<!-- END figures -->";

#[derive(Parser)]
#[command(about = "The load benchmark of notebook-trigger (see bench/run.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Measure everything and write the figures.
    Run(RunArgs),
    /// The in-flight load generator: COUNT distinct pushes at once, each on its own connection,
    /// then one JSON line of what came back. `run` starts it as a separate, pinned process.
    Burst(BurstArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The release binary of the service (also runs the emulator).
    #[arg(long)]
    service: PathBuf,
    /// The bare axum server (`bare_axum` of this crate, release build).
    #[arg(long)]
    ceiling: PathBuf,
    /// The wrk script that makes every request a distinct push.
    #[arg(long, default_value = "bench/push.lua")]
    wrk_script: PathBuf,
    /// Tiny runs: checks that every measurement works, in seconds; figures go to stdout.
    #[arg(long)]
    smoke: bool,
    /// Where a full run writes its figures (between the markers, the rest is kept).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// CPU of the service (or the ceiling) under load.
    #[arg(long, default_value = "0")]
    service_cpu: String,
    /// CPU of the load generator and the emulator.
    #[arg(long, default_value = "1")]
    load_cpu: String,
    /// Only these parts: cold, throughput, inflight, size (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Launches in flight at once (default: 10000, smoke: 100).
    #[arg(long)]
    inflight: Option<usize>,
}

#[derive(Args)]
struct BurstArgs {
    #[arg(long)]
    port: u16,
    #[arg(long)]
    count: usize,
    /// Prefix of the message ids, unique per run.
    #[arg(long)]
    id_prefix: String,
    /// Give up on a push after this many seconds.
    #[arg(long)]
    timeout_secs: u64,
    /// Send over HTTP/2 without TLS, as Cloud Run does with --use-http2: this many connections,
    /// the pushes spread over them as streams (the server allows 200 streams per connection).
    #[arg(long)]
    http2_connections: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Mode::Run(args) => {
            watch_signals();
            run(&args)
        }
        Mode::Burst(args) => burst(&args),
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// Pids of the children still alive, for the signal handler.
static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn live() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// On SIGINT, SIGTERM or SIGHUP, kill every child by pid and exit: `Drop` does not run then.
fn watch_signals() {
    std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a signal-watching runtime");
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                eprintln!("warning: cannot watch signals; an interrupted run may leave processes");
                return;
            };
            let code = tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
                _ = hup.recv() => 129,
            };
            for pid in live().iter() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            eprintln!("interrupted: stopped every process this run started");
            std::process::exit(code);
        });
    });
}

/// A child process, killed by pid when dropped.
struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    fn spawn(name: &str, command: &mut Command) -> anyhow::Result<Self> {
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name} ({command:?})"))?;
        live().insert(child.id());
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            live().remove(&self.child.id());
            bail!("{} exited early: {status}", self.name);
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL if it is still there after 10 s.
    fn stop(mut self) -> anyhow::Result<ExitStatus> {
        let pid = self.pid();
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let asked = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                live().remove(&pid);
                return Ok(status);
            }
            if asked.elapsed() > Duration::from_secs(10) {
                bail!("{} did not stop within 10 s of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            live().remove(&self.child.id());
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Waits until `port` accepts connections, failing early if the process died.
fn wait_listening(proc: &mut Proc, port: u16) -> anyhow::Result<()> {
    let started = Instant::now();
    while TcpStream::connect(local(port)).is_err() {
        proc.ensure_running()?;
        ensure!(
            started.elapsed() < Duration::from_secs(15),
            "{} did not listen on port {port} within 15 s",
            proc.name
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// /proc

/// utime + stime of every thread, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which may contain spaces: state is field 3, utime 14.
    let after = stat
        .rsplit_once(')')
        .context("unexpected /proc/PID/stat")?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// A `/proc/PID/status` line such as `VmRSS`, in bytes.
fn status_bytes(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .with_context(|| format!("no {key} in /proc/{pid}/status"))?;
    let kib: u64 = line
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("{key}: `{line}`"))?;
    Ok(kib * 1024)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU used by one process between two readings.
#[derive(Clone, Copy)]
struct CpuMark {
    at: Instant,
    ticks: u64,
}

impl CpuMark {
    fn now(pid: u32) -> anyhow::Result<Self> {
        Ok(Self {
            at: Instant::now(),
            ticks: cpu_ticks(pid)?,
        })
    }

    fn seconds_until(self, later: CpuMark, tick: f64) -> f64 {
        later.ticks.saturating_sub(self.ticks) as f64 / tick
    }

    /// Share of one core, in percent.
    fn percent_until(self, later: CpuMark, tick: f64) -> f64 {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        100.0 * self.seconds_until(later, tick) / wall
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics

/// Median and range of repeated measurements.
#[derive(Clone, Copy, Serialize)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
    n: usize,
}

fn spread(values: &[f64]) -> Spread {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    };
    Spread {
        median,
        min: sorted.first().copied().unwrap_or(f64::NAN),
        max: sorted.last().copied().unwrap_or(f64::NAN),
        n,
    }
}

impl Spread {
    fn show(&self, decimals: usize, unit: &str) -> String {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        if self.n == 1 {
            return format!("{:.decimals$}{unit}", self.median);
        }
        format!(
            "{:.decimals$}{unit} ({:.decimals$}–{:.decimals$}, n={})",
            self.median, self.min, self.max, self.n
        )
    }
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

// ---------------------------------------------------------------------------------------------
// Pushes over a plain socket: nothing between the clock and the bytes

fn push_body(message_id: &str) -> String {
    serde_json::json!({
        "message": {
            "data": "VHdlZXRpTm90ZVN0YXJ0VG9waWM=",
            "messageId": message_id,
            "publishTime": "2026-11-22T06:00:00.000Z",
            "attributes": {"source": "cloud-scheduler"},
        },
        "subscription": format!("projects/{PROJECT}/subscriptions/notebook-trigger-push"),
    })
    .to_string()
}

fn request(method: &str, path: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Status and body of a `Connection: close` answer.
fn parse_answer(raw: &[u8]) -> anyhow::Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").context("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status line in `{head}`"))?;
    Ok((status, body.to_owned()))
}

fn exchange(stream: &mut TcpStream, raw: &str) -> anyhow::Result<(u16, String)> {
    stream.write_all(raw.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    parse_answer(&answer)
}

fn http(port: u16, method: &str, path: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(local(port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    exchange(&mut stream, &request(method, path, body))
}

/// Instances in the emulator: that every answered push was a real create.
fn count_instances(emulator_port: u16) -> anyhow::Result<usize> {
    let mut count = 0;
    let mut token = String::new();
    loop {
        let path =
            format!("/v2/projects/{PROJECT}/locations/-/instances?pageSize=1000&pageToken={token}");
        let (status, body) = http(emulator_port, "GET", &path, "")?;
        ensure!(status == 200, "listing instances: HTTP {status}: {body}");
        let page: serde_json::Value = serde_json::from_str(&body)?;
        count += page["instances"].as_array().map_or(0, Vec::len);
        match page["nextPageToken"].as_str() {
            Some(next) if !next.is_empty() => token = next.to_owned(),
            _ => return Ok(count),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The bench

struct Plan {
    cold_runs: usize,
    idle_runs: usize,
    warmup_secs: u32,
    load_secs: u32,
    repeats: usize,
    concurrency: [u32; 3],
    inflight: usize,
    provision: Duration,
}

impl Plan {
    fn new(args: &RunArgs) -> Self {
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
            }
        }
    }
}

struct Bench<'a> {
    args: &'a RunArgs,
    plan: Plan,
    dir: tempfile::TempDir,
    tick: f64,
    /// Makes every message id of this run new to the emulator.
    nonce: String,
    logs: usize,
}

/// How the service logs: as in production (info), or at warn so that logs do not dominate a
/// load.
#[derive(Clone, Copy)]
enum Logs {
    Production,
    Warn,
}

impl Bench<'_> {
    fn say(&self, text: &str) {
        eprintln!("[loadbench] {text}");
    }

    /// A fresh log file in the run's directory.
    fn log_file(&mut self, name: &str) -> anyhow::Result<(File, PathBuf)> {
        self.logs += 1;
        let path = self.dir.path().join(format!("{:03}-{name}.log", self.logs));
        Ok((File::create(&path)?, path))
    }

    /// `program` with a clean environment, pinned to `cpu` by taskset when given.
    fn command(&self, cpu: Option<&str>, program: &Path) -> Command {
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

    fn emulator(&mut self, provision: Duration, cpu: Option<&str>) -> anyhow::Result<(Proc, u16)> {
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
    fn service_command(
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

    fn service(
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

    fn ceiling(&mut self, cpu: Option<&str>) -> anyhow::Result<(Proc, u16)> {
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

    fn service_cpu(&self) -> Option<&str> {
        Some(self.args.service_cpu.as_str()).filter(|cpu| *cpu != "none")
    }

    fn load_cpu(&self) -> Option<&str> {
        Some(self.args.load_cpu.as_str()).filter(|cpu| *cpu != "none")
    }
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: cold start and idle memory

struct ColdStart {
    listening: Duration,
    answered: Duration,
    rss_after_push: u64,
}

/// exec → first accepted connection → first push answered. Not pinned: taskset's own exec
/// would be counted, and the prober sleeps between attempts, so it takes no core away.
fn cold_start(bench: &mut Bench<'_>, emulator_port: u16, run: usize) -> anyhow::Result<ColdStart> {
    let (mut command, port, log) = bench.service_command(None, emulator_port, Logs::Production)?;
    let raw = request(
        "POST",
        "/",
        &push_body(&format!("{}-cold-{run}", bench.nonce)),
    );
    let started = Instant::now();
    let mut proc = Proc::spawn("service", &mut command)?;
    let mut stream = loop {
        match TcpStream::connect(local(port)) {
            Ok(stream) => break stream,
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                proc.ensure_running()
                    .with_context(|| std::fs::read_to_string(&log).unwrap_or_default())?;
                ensure!(
                    started.elapsed() < Duration::from_secs(15),
                    "the service did not listen within 15 s"
                );
                std::thread::sleep(Duration::from_micros(50));
            }
            Err(error) => return Err(error.into()),
        }
    };
    let listening = started.elapsed();
    let (status, body) = exchange(&mut stream, &raw)?;
    let answered = started.elapsed();
    ensure!(
        status == 200 && body.contains(CREATED),
        "first push: HTTP {status}: {body}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let rss_after_push = status_bytes(proc.pid(), "VmRSS")?;
    proc.stop()?;
    Ok(ColdStart {
        listening,
        answered,
        rss_after_push,
    })
}

/// VmRSS one second after start, before any request.
fn idle_rss(bench: &mut Bench<'_>, emulator_port: u16) -> anyhow::Result<u64> {
    let (mut proc, _) = bench.service(None, emulator_port, Logs::Production)?;
    std::thread::sleep(Duration::from_secs(1));
    proc.ensure_running()?;
    let rss = status_bytes(proc.pid(), "VmRSS")?;
    proc.stop()?;
    Ok(rss)
}

struct StartFigures {
    listening_ms: Spread,
    answered_ms: Spread,
    idle_rss: Spread,
    rss_after_push: Spread,
}

fn start_figures(bench: &mut Bench<'_>) -> anyhow::Result<StartFigures> {
    bench.say(&format!(
        "cold start: {} runs, then idle memory: {} runs",
        bench.plan.cold_runs, bench.plan.idle_runs
    ));
    let (emulator, emulator_port) = bench.emulator(Duration::ZERO, None)?;
    let mut runs = Vec::new();
    for run in 0..bench.plan.cold_runs {
        runs.push(cold_start(bench, emulator_port, run)?);
    }
    let mut idle = Vec::new();
    for _ in 0..bench.plan.idle_runs {
        idle.push(megabytes(idle_rss(bench, emulator_port)?));
    }
    emulator.stop()?;
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    Ok(StartFigures {
        listening_ms: spread(&runs.iter().map(|r| ms(&r.listening)).collect::<Vec<_>>()),
        answered_ms: spread(&runs.iter().map(|r| ms(&r.answered)).collect::<Vec<_>>()),
        idle_rss: spread(&idle),
        rss_after_push: spread(
            &runs
                .iter()
                .map(|r| megabytes(r.rss_after_push))
                .collect::<Vec<_>>(),
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// 3: throughput and latency against the ceiling

/// What `bench/push.lua` prints when wrk is done.
#[derive(Deserialize)]
struct WrkResult {
    requests: u64,
    duration_us: u64,
    p50_us: u64,
    p99_us: u64,
    connect_errors: u64,
    read_errors: u64,
    write_errors: u64,
    status_errors: u64,
    timeouts: u64,
}

impl WrkResult {
    fn rate(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }

    fn errors(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.status_errors
            + self.timeouts
    }
}

fn wrk(
    bench: &Bench<'_>,
    port: u16,
    concurrency: u32,
    secs: u32,
    run_id: &str,
) -> anyhow::Result<WrkResult> {
    let output = bench
        .command(bench.load_cpu(), Path::new("wrk"))
        .args([
            "-t1".to_owned(),
            format!("-c{concurrency}"),
            format!("-d{secs}s"),
            "--timeout".to_owned(),
            "30s".to_owned(),
            "-s".to_owned(),
        ])
        .arg(&bench.args.wrk_script)
        .arg(format!("http://127.0.0.1:{port}/"))
        .args(["--", run_id])
        .output()
        .context("cannot run wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "wrk failed: {}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|line| line.starts_with('{'))
        .with_context(|| format!("no result line from bench/push.lua in: {stdout}"))?;
    let result: WrkResult = serde_json::from_str(line)?;
    ensure!(
        result.requests > 0 && result.errors() == 0,
        "wrk at concurrency {concurrency} saw errors (non-2xx answers, timeouts or broken connections): {line}"
    );
    Ok(result)
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Service,
    Ceiling,
}

struct LoadRun {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU seconds per request of the server under test, in microseconds.
    server_us: f64,
    server_percent: f64,
    emulator_us: Option<f64>,
    emulator_percent: Option<f64>,
    hwm: u64,
}

fn load_run(
    bench: &mut Bench<'_>,
    target: Target,
    concurrency: u32,
    run_id: &str,
) -> anyhow::Result<LoadRun> {
    let load_cpu = bench.load_cpu().map(str::to_owned);
    let service_cpu = bench.service_cpu().map(str::to_owned);
    let emulator = match target {
        Target::Service => Some(bench.emulator(Duration::ZERO, load_cpu.as_deref())?),
        Target::Ceiling => None,
    };
    let (server, port) = match (&emulator, target) {
        (Some((_, emulator_port)), _) => {
            bench.service(service_cpu.as_deref(), *emulator_port, Logs::Warn)?
        }
        (None, _) => bench.ceiling(service_cpu.as_deref())?,
    };
    wrk(
        bench,
        port,
        concurrency,
        bench.plan.warmup_secs,
        &format!("{run_id}-warm"),
    )?;
    let server_before = CpuMark::now(server.pid())?;
    let emulator_before = match &emulator {
        Some((proc, _)) => Some(CpuMark::now(proc.pid())?),
        None => None,
    };
    let result = wrk(bench, port, concurrency, bench.plan.load_secs, run_id)?;
    let server_after = CpuMark::now(server.pid())?;
    let requests = result.requests as f64;
    let per_request = |seconds: f64| 1e6 * seconds / requests;
    let (emulator_us, emulator_percent) = match (&emulator, emulator_before) {
        (Some((proc, _)), Some(before)) => {
            let after = CpuMark::now(proc.pid())?;
            (
                Some(per_request(before.seconds_until(after, bench.tick))),
                Some(before.percent_until(after, bench.tick)),
            )
        }
        _ => (None, None),
    };
    let hwm = status_bytes(server.pid(), "VmHWM")?;
    server.stop()?;
    if let Some((proc, emulator_port)) = emulator {
        // Warm-up and measured requests, plus any still in flight when wrk stopped.
        let instances = count_instances(emulator_port)?;
        ensure!(
            instances as f64 >= requests,
            "{instances} instances for {requests} answered pushes: not every push was a create"
        );
        proc.stop()?;
    }
    Ok(LoadRun {
        rate: result.rate(),
        p50_ms: result.p50_us as f64 / 1e3,
        p99_ms: result.p99_us as f64 / 1e3,
        server_us: per_request(server_before.seconds_until(server_after, bench.tick)),
        server_percent: server_before.percent_until(server_after, bench.tick),
        emulator_us,
        emulator_percent,
        hwm,
    })
}

struct LoadRow {
    concurrency: u32,
    service: Vec<LoadRun>,
    ceiling: Vec<LoadRun>,
}

impl LoadRow {
    fn of(&self, target: Target, pick: impl Fn(&LoadRun) -> f64) -> Spread {
        let runs = match target {
            Target::Service => &self.service,
            Target::Ceiling => &self.ceiling,
        };
        spread(&runs.iter().map(pick).collect::<Vec<_>>())
    }

    /// Each service run over the ceiling run of the same repeat, in percent.
    fn ratio(&self) -> Spread {
        let ratios: Vec<f64> = self
            .service
            .iter()
            .zip(&self.ceiling)
            .map(|(service, ceiling)| 100.0 * service.rate / ceiling.rate)
            .collect();
        spread(&ratios)
    }
}

fn throughput(bench: &mut Bench<'_>) -> anyhow::Result<Vec<LoadRow>> {
    let mut rows: Vec<LoadRow> = bench
        .plan
        .concurrency
        .iter()
        .map(|&concurrency| LoadRow {
            concurrency,
            service: Vec::new(),
            ceiling: Vec::new(),
        })
        .collect();
    // Repeats on the outside, ceiling and service side by side: a noisy minute on this shared
    // machine then hits one repeat of everything rather than every run of one configuration.
    for repeat in 0..bench.plan.repeats {
        for row in &mut rows {
            for target in [Target::Ceiling, Target::Service] {
                let name = match target {
                    Target::Service => "service",
                    Target::Ceiling => "bare axum",
                };
                bench.say(&format!(
                    "throughput: {name} at concurrency {}, repeat {}/{}",
                    row.concurrency,
                    repeat + 1,
                    bench.plan.repeats
                ));
                let run_id = format!("{}-c{}-r{repeat}", bench.nonce, row.concurrency);
                let run = load_run(bench, target, row.concurrency, &run_id)?;
                match target {
                    Target::Service => row.service.push(run),
                    Target::Ceiling => row.ceiling.push(run),
                }
            }
        }
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// 4: ten thousand launches in flight

/// What the burst client reports.
#[derive(Serialize, Deserialize)]
struct BurstReport {
    count: usize,
    created: usize,
    statuses: BTreeMap<String, usize>,
    errors: Vec<String>,
    /// When the last push was written; not seen through an HTTP/2 client.
    all_sent_ms: Option<u64>,
    first_done_ms: u64,
    median_done_ms: u64,
    last_done_ms: u64,
}

fn burst(args: &BurstArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(burst_async(args))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn burst_async(args: &BurstArgs) -> anyhow::Result<BurstReport> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let started = Instant::now();
    let timeout = Duration::from_secs(args.timeout_secs);
    let url = format!("http://127.0.0.1:{}/", args.port);
    // One client per connection: a client keeps one HTTP/2 connection per host.
    let clients = (0..args.http2_connections.unwrap_or(0))
        .map(|_| {
            reqwest::Client::builder()
                .http2_prior_knowledge()
                .timeout(timeout)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.count {
        let body = push_body(&format!("{}-{i}", args.id_prefix));
        let port = args.port;
        let client = clients.get(i % clients.len().max(1)).cloned();
        let url = url.clone();
        tasks.spawn(async move {
            let exchange = async {
                if let Some(client) = client {
                    let response = client
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    let status = response.status().as_u16();
                    return anyhow::Ok((None, (status, response.text().await?)));
                }
                let raw = request("POST", "/", &body);
                let mut stream = tokio::net::TcpStream::connect(local(port)).await?;
                stream.write_all(raw.as_bytes()).await?;
                let sent = started.elapsed();
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                anyhow::Ok((Some(sent), parse_answer(&answer)?))
            };
            match tokio::time::timeout(timeout, exchange).await {
                Ok(Ok((sent, (status, body)))) => Ok((
                    sent,
                    started.elapsed(),
                    status,
                    status == 200 && body.contains(CREATED),
                )),
                Ok(Err(error)) => Err(format!("{error:#}")),
                Err(_) => Err(format!("no answer within {timeout:?}")),
            }
        });
    }
    let mut report = BurstReport {
        count: args.count,
        created: 0,
        statuses: BTreeMap::new(),
        errors: Vec::new(),
        all_sent_ms: None,
        first_done_ms: 0,
        median_done_ms: 0,
        last_done_ms: 0,
    };
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok((sent, finished, status, created)) => {
                *report.statuses.entry(status.to_string()).or_default() += 1;
                report.created += usize::from(created);
                if let Some(sent) = sent {
                    let sent = sent.as_millis() as u64;
                    report.all_sent_ms = Some(report.all_sent_ms.map_or(sent, |all| all.max(sent)));
                }
                done.push(finished.as_millis() as u64);
            }
            Err(error) => {
                if report.errors.len() < 5 {
                    report.errors.push(error);
                }
                *report.statuses.entry("error".to_owned()).or_default() += 1;
            }
        }
    }
    done.sort_unstable();
    report.first_done_ms = done.first().copied().unwrap_or_default();
    report.median_done_ms = done.get(done.len() / 2).copied().unwrap_or_default();
    report.last_done_ms = done.last().copied().unwrap_or_default();
    Ok(report)
}

/// One reading of the service and the emulator during the wait.
#[derive(Clone, Copy)]
struct Reading {
    at: Duration,
    service: CpuMark,
    service_rss: u64,
    /// Open descriptors: pushes held open plus connections to the emulator.
    service_fds: usize,
    emulator: CpuMark,
    emulator_rss: u64,
}

/// How the pushes reach the service.
#[derive(Clone, Copy, PartialEq)]
enum Transport {
    /// One HTTP/1.1 connection per push, as Cloud Run forwards requests by default.
    Http1,
    /// HTTP/2 streams over a few connections, as with Cloud Run's `--use-http2`.
    Http2 { connections: usize },
}

impl Transport {
    fn describe(self) -> String {
        match self {
            Transport::Http1 => "HTTP/1.1, one connection per push".to_owned(),
            Transport::Http2 { connections: 1 } => "HTTP/2 (h2c), one connection".to_owned(),
            Transport::Http2 { connections } => {
                format!("HTTP/2 (h2c), {connections} connections")
            }
        }
    }
}

struct InflightFigures {
    transport: Transport,
    report: BurstReport,
    provision: Duration,
    window: (Duration, Duration),
    service_percent: f64,
    service_rss_max: u64,
    service_hwm: u64,
    service_idle_rss: u64,
    emulator_percent: f64,
    emulator_rss_max: u64,
    readings: Vec<Reading>,
}

fn inflight(bench: &mut Bench<'_>, transport: Transport) -> anyhow::Result<InflightFigures> {
    let count = bench.plan.inflight;
    let provision = bench.plan.provision;
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

// ---------------------------------------------------------------------------------------------
// 5: size

struct SizeFigures {
    binary: u64,
    stripped: u64,
    base: Option<u64>,
}

fn size(bench: &Bench<'_>) -> anyhow::Result<SizeFigures> {
    let binary = std::fs::metadata(&bench.args.service)?.len();
    let stripped_path = bench.dir.path().join("stripped");
    let status = Command::new("strip")
        .arg("-o")
        .arg(&stripped_path)
        .arg(&bench.args.service)
        .status()
        .context("cannot run strip (binutils)")?;
    ensure!(status.success(), "strip failed");
    let stripped = std::fs::metadata(&stripped_path)?.len();
    let mut packages = 0;
    for package in CC_IMAGE_PACKAGES {
        let Some(kib) = installed_size_kib(package) else {
            return Ok(SizeFigures {
                binary,
                stripped,
                base: None,
            });
        };
        packages += kib * 1024;
    }
    Ok(SizeFigures {
        binary,
        stripped,
        base: Some(STATIC_IMAGE_BYTES + packages),
    })
}

/// `Installed-Size` of a Debian package, as apt-cache knows it.
fn installed_size_kib(package: &str) -> Option<u64> {
    let output = Command::new("apt-cache")
        .args(["show", "--no-all-versions", package])
        .output()
        .ok()?;
    String::from_utf8(output.stdout)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("Installed-Size:"))?
        .trim()
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------------------------
// The report

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown", |(_, model)| model.trim())
        .to_owned();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("unknown".to_owned(), |kib| {
            format!("{:.0} GB", kib * 1024.0 / 1e9)
        });
    format!(
        "`nproc` {}, {model}, Linux {}, {memory} RAM, {}",
        command_output("nproc", &[]),
        read_trimmed("/proc/sys/kernel/osrelease"),
        wrk_version()
    )
}

/// `wrk --version` prints its version and exits 1.
fn wrk_version() -> String {
    Command::new("wrk")
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| {
            let line = text.lines().next()?;
            Some(
                line.split(" Copyright")
                    .next()
                    .unwrap_or(line)
                    .trim()
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| "wrk".to_owned())
}

struct Figures {
    start: Option<StartFigures>,
    loads: Option<Vec<LoadRow>>,
    inflight: Vec<InflightFigures>,
    size: Option<SizeFigures>,
}

fn report(bench: &Bench<'_>, figures: &Figures, load_before: &str, started: &str) -> String {
    let args = bench.args;
    let load_after = read_trimmed("/proc/loadavg");
    let commit = command_output("git", &["rev-parse", "--short=12", "HEAD"]);
    let dirty =
        if command_output("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty() {
            ""
        } else {
            " with uncommitted changes"
        };
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "{MARK_BEGIN}");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "Run {started}, commit `{commit}`{dirty}, `bash bench/run.sh{}`.  ",
        if args.smoke { " --smoke" } else { "" }
    );
    let _ = writeln!(w, "Machine: {}.  ", machine());
    let _ = writeln!(
        w,
        "Shared machine (other builds and tests ran at the same time): load average \
         (1, 5, 15 min) before `{}`, after `{}`.",
        load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load_after
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "Figures are medians with (min–max, n = runs). MB = 10⁶ bytes. Service and bare axum \
         under load on CPU {}, wrk, the emulator and the burst client on CPU {} (taskset).",
        args.service_cpu, args.load_cpu
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "| # | Measure | Figure | Target | |");
    let _ = writeln!(w, "|---|---|---|---|---|");
    if let Some(start) = &figures.start {
        let _ = writeln!(
            w,
            "| 1 | exec → listening | {} | < 20 ms | {} |",
            start.listening_ms.show(1, "ms"),
            verdict(start.listening_ms.median < 20.0)
        );
        let _ = writeln!(
            w,
            "| 1 | exec → first push answered 200 (instance created) | {} | < 50 ms | {} |",
            start.answered_ms.show(1, "ms"),
            verdict(start.answered_ms.median < 50.0)
        );
        let _ = writeln!(
            w,
            "| 2 | VmRSS idle, 1 s after start | {} | < 15 MB | {} |",
            start.idle_rss.show(1, "MB"),
            verdict(start.idle_rss.median < 15.0)
        );
        let _ = writeln!(
            w,
            "| 2 | VmRSS 0.5 s after the first push | {} | | |",
            start.rss_after_push.show(1, "MB")
        );
    }
    if let Some(rows) = &figures.loads {
        let hwm = rows
            .iter()
            .flat_map(|row| &row.service)
            .map(|run| run.hwm)
            .max()
            .unwrap_or_default();
        let _ = writeln!(
            w,
            "| 2 | VmHWM after the loads (highest of the service runs) | {:.1} MB | | |",
            megabytes(hwm)
        );
        for row in rows {
            let ratio = row.ratio();
            let target = if row.concurrency == 32 {
                ("≥ 30 %", verdict(ratio.median >= 30.0))
            } else {
                ("", "")
            };
            let _ = writeln!(
                w,
                "| 3 | throughput at concurrency {}, share of bare axum | {} | {} | {} |",
                row.concurrency,
                ratio.show(1, "%"),
                target.0,
                target.1
            );
        }
    }
    for inflight in &figures.inflight {
        let n = inflight.report.count;
        let over = inflight.transport.describe();
        let _ = writeln!(
            w,
            "| 4 | {n} launches in flight ({over}): VmRSS while waiting (highest reading) | {:.1} MB | < 100 MB | {} |",
            megabytes(inflight.service_rss_max),
            verdict(megabytes(inflight.service_rss_max) < 100.0)
        );
        let _ = writeln!(
            w,
            "| 4 | {n} launches in flight ({over}): CPU while waiting | {:.2} % of one core | < 5 % | {} |",
            inflight.service_percent,
            verdict(inflight.service_percent < 5.0)
        );
        let _ = writeln!(
            w,
            "| 4 | {n} launches in flight ({over}): answered 200 created | {} of {n} | all | {} |",
            inflight.report.created,
            verdict(inflight.report.created == n)
        );
    }
    if let Some(size) = &figures.size {
        let _ = writeln!(
            w,
            "| 5 | release binary, stripped | {:.1} MB | < 20 MB | {} |",
            megabytes(size.stripped),
            verdict(megabytes(size.stripped) < 20.0)
        );
        let image = size
            .base
            .map_or("unknown (no apt-cache)".to_owned(), |base| {
                format!("≈ {:.1} MB uncompressed", megabytes(size.stripped + base))
            });
        let _ = writeln!(
            w,
            "| 5 | runtime image, binary + distroless/cc-debian12 | {image} | | |"
        );
    }
    let _ = writeln!(w);
    if let Some(rows) = &figures.loads {
        write_loads(w, bench, rows);
    }
    for inflight in &figures.inflight {
        write_inflight(w, inflight);
    }
    if let Some(size) = &figures.size {
        let _ = writeln!(w, "### Size");
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "`target/release/notebook-trigger` is {} bytes as built (`strip = true` in the release \
             profile) and {} bytes after `strip`.",
            size.binary, size.stripped
        );
        if let Some(base) = size.base {
            let _ = writeln!(
                w,
                "The image estimate adds {:.1} MB for gcr.io/distroless/cc-debian12: 2 MiB for \
                 distroless/static-debian12 (the distroless README's \"around 2 MiB\") plus the \
                 `Installed-Size` that `apt-cache` on this Debian 12 machine gives for {} — the \
                 packages distroless's `base/config.bzl` and `cc/config.bzl` add for debian12. It \
                 is an uncompressed upper bound; the pulled, compressed image is smaller.",
                megabytes(base),
                CC_IMAGE_PACKAGES.join(", ")
            );
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "{MARK_END}");
    out
}

fn write_loads(w: &mut String, bench: &Bench<'_>, rows: &[LoadRow]) {
    let plan = &bench.plan;
    let _ = writeln!(w, "### Throughput and latency");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "`wrk -t1 -cC -d{}s -s bench/push.lua` after a {} s warm-up on the same connections, {} \
         repeat(s), a fresh service (or bare axum) and emulator for each. Every request is a \
         distinct Pub/Sub push (its own `messageId`), so each one is a real create in the \
         emulator, which answers with a finished operation (provisioning 0 s): one upstream call \
         per push. After each service run the emulator's instances are counted and must be at \
         least the pushes answered. Logs at warn. CPU is utime + stime from /proc/PID/stat over \
         the measured run.",
        plan.load_secs, plan.warmup_secs, plan.repeats
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "| Concurrency | Server | Requests/s | p50 | p99 | CPU per request | CPU busy |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|");
    for row in rows {
        for (target, name) in [(Target::Ceiling, "bare axum"), (Target::Service, "service")] {
            let _ = writeln!(
                w,
                "| {} | {name} | {} | {} | {} | {} | {} |",
                row.concurrency,
                row.of(target, |r| r.rate).show(0, ""),
                row.of(target, |r| r.p50_ms).show(2, "ms"),
                row.of(target, |r| r.p99_ms).show(2, "ms"),
                row.of(target, |r| r.server_us).show(1, "µs"),
                row.of(target, |r| r.server_percent).show(0, "%"),
            );
        }
        let _ = writeln!(
            w,
            "| {} | emulator (serving the service) | | | | {} | {} |",
            row.concurrency,
            row.of(Target::Service, |r| r.emulator_us.unwrap_or(f64::NAN))
                .show(1, "µs"),
            row.of(Target::Service, |r| r.emulator_percent.unwrap_or(f64::NAN))
                .show(0, "%"),
        );
    }
    let _ = writeln!(w);
}

fn write_inflight(w: &mut String, inflight: &InflightFigures) {
    let report = &inflight.report;
    let _ = writeln!(
        w,
        "### Launches in flight, {}",
        inflight.transport.describe()
    );
    let _ = writeln!(w);
    let sent = report.all_sent_ms.map_or(String::new(), |ms| {
        format!("All pushes were written {ms} ms after the start. ")
    });
    let _ = writeln!(
        w,
        "{} distinct pushes sent at once by a separate client process over {}; the emulator \
         provisions for {:?}; the service polls with its defaults (`POLL_INITIAL_DELAY` 1 s \
         doubling to `POLL_MAX_DELAY` 15 s, `POLL_TIMEOUT` 540 s), with \
         `MAX_CONCURRENT_LAUNCHES=20000` and logs at warn. \"While waiting\" is {:?}–{:?} after \
         the burst started: the creates are in, no operation can have finished. {sent}Answers \
         came from {} ms (first) over {} ms (median) to {} ms (last); statuses {:?}.",
        report.count,
        inflight.transport.describe(),
        inflight.provision,
        inflight.window.0,
        inflight.window.1,
        report.first_done_ms,
        report.median_done_ms,
        report.last_done_ms,
        report.statuses
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "| | Service | Emulator |\n|---|---|---|\n| CPU while waiting | {:.2} % of one core | {:.2} % |\n| VmRSS while waiting (highest) | {:.1} MB | {:.1} MB |\n| VmRSS idle before / VmHWM after | {:.1} / {:.1} MB | |",
        inflight.service_percent,
        inflight.emulator_percent,
        megabytes(inflight.service_rss_max),
        megabytes(inflight.emulator_rss_max),
        megabytes(inflight.service_idle_rss),
        megabytes(inflight.service_hwm),
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "Readings over the run (CPU over the interval since the row before; descriptors are the \
         pushes held open plus the connections to the emulator):\n\n\
         | t | service CPU | service VmRSS | service fds | emulator CPU | emulator VmRSS |\n\
         |---|---|---|---|---|---|"
    );
    let step = (inflight.readings.len() / 16).max(1);
    let tick = clock_ticks_per_second();
    for pair in inflight
        .readings
        .iter()
        .step_by(step)
        .collect::<Vec<_>>()
        .windows(2)
    {
        let (before, reading) = (pair[0], pair[1]);
        let _ = writeln!(
            w,
            "| {:.1} s | {:.1} % | {:.1} MB | {} | {:.1} % | {:.1} MB |",
            reading.at.as_secs_f64(),
            before.service.percent_until(reading.service, tick),
            megabytes(reading.service_rss),
            reading.service_fds,
            before.emulator.percent_until(reading.emulator, tick),
            megabytes(reading.emulator_rss),
        );
    }
    let _ = writeln!(w);
}

/// Puts `figures` between the markers of `path`, keeping everything around them.
fn write_figures(path: &Path, figures: &str) -> anyhow::Result<()> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    let updated = match (current.find(MARK_BEGIN), current.find(MARK_END)) {
        (Some(begin), Some(end)) if begin < end => format!(
            "{}{}{}",
            &current[..begin],
            figures.trim_end(),
            &current[end + MARK_END.len()..]
        ),
        _ => format!("# Benchmarks\n\n{figures}"),
    };
    std::fs::write(path, updated)?;
    Ok(())
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    for program in ["taskset", "wrk", "strip"] {
        ensure!(
            Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .stdout(Stdio::null())
                .status()?
                .success(),
            "`{program}` is not installed (bench/run.sh installs wrk; taskset is util-linux, strip binutils)"
        );
    }
    let wanted = |part: &str| args.only.is_empty() || args.only.iter().any(|p| p == part);
    let started_at = jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string();
    let load_before = read_trimmed("/proc/loadavg");
    let mut bench = Bench {
        args,
        plan: Plan::new(args),
        dir: tempfile::Builder::new().prefix("loadbench-").tempdir()?,
        tick: clock_ticks_per_second(),
        nonce: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
        logs: 0,
    };
    let figures = Figures {
        start: if wanted("cold") {
            Some(start_figures(&mut bench)?)
        } else {
            None
        },
        loads: if wanted("throughput") {
            Some(throughput(&mut bench)?)
        } else {
            None
        },
        inflight: if wanted("inflight") {
            let count = bench.plan.inflight;
            vec![
                inflight(&mut bench, Transport::Http1)?,
                inflight(
                    &mut bench,
                    Transport::Http2 {
                        connections: count.div_ceil(100),
                    },
                )?,
            ]
        } else {
            Vec::new()
        },
        size: if wanted("size") {
            Some(size(&bench)?)
        } else {
            None
        },
    };
    let text = report(&bench, &figures, &load_before, &started_at);
    if args.smoke {
        println!("{text}");
        bench.say("smoke run: every measurement worked (targets are reported, not checked)");
    } else {
        write_figures(&args.out, &text)?;
        println!("{text}");
        bench.say(&format!("figures written to {}", args.out.display()));
    }
    Ok(())
}
