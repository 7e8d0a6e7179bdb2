//! Cold start and memory at start: exec to the first accepted connection and to the first
//! answered push, timed from `spawn` with no shell in between, and VmRSS when idle and after
//! that push.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};

use crate::harness::{Bench, Logs};
use crate::process::{Proc, local};
use crate::procfs::status_bytes;
use crate::push::{CREATED, exchange, push_body, request};
use crate::stats::{Spread, megabytes, spread};

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

pub struct StartFigures {
    pub listening_ms: Spread,
    pub answered_ms: Spread,
    pub idle_rss: Spread,
    pub rss_after_push: Spread,
}

pub fn start_figures(bench: &mut Bench<'_>) -> anyhow::Result<StartFigures> {
    bench.say(&format!(
        "cold start: {} runs, then idle memory: {} runs",
        bench.workload.cold_runs, bench.workload.idle_runs
    ));
    let (emulator, emulator_port) = bench.emulator(Duration::ZERO, None)?;
    let mut runs = Vec::new();
    for run in 0..bench.workload.cold_runs {
        runs.push(cold_start(bench, emulator_port, run)?);
    }
    let mut idle = Vec::new();
    for _ in 0..bench.workload.idle_runs {
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
