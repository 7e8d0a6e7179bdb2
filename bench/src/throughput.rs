//! Throughput and latency under wrk, the service against a bare axum server on the same
//! core: the share of the ceiling the service reaches is what its own work leaves, a figure
//! that holds on any machine, unlike a raw rate.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use serde::Deserialize;

use crate::harness::{Bench, Logs};
use crate::procfs::{CpuMark, status_bytes};
use crate::push::count_instances;
use crate::stats::{Spread, spread};

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

/// The server under load: the service, or the bare axum server whose rate is the ceiling.
#[derive(Clone, Copy, PartialEq)]
pub enum Server {
    Service,
    Ceiling,
}

pub struct LoadRun {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// CPU seconds per request of the server under test, in microseconds.
    pub server_us: f64,
    pub server_percent: f64,
    pub emulator_us: Option<f64>,
    pub emulator_percent: Option<f64>,
    pub hwm: u64,
}

fn load_run(
    bench: &mut Bench<'_>,
    under_test: Server,
    concurrency: u32,
    run_id: &str,
) -> anyhow::Result<LoadRun> {
    let load_cpu = bench.load_cpu().map(str::to_owned);
    let service_cpu = bench.service_cpu().map(str::to_owned);
    let emulator = match under_test {
        Server::Service => Some(bench.emulator(Duration::ZERO, load_cpu.as_deref())?),
        Server::Ceiling => None,
    };
    let (server, port) = match (&emulator, under_test) {
        (Some((_, emulator_port)), _) => {
            bench.service(service_cpu.as_deref(), *emulator_port, Logs::Warn)?
        }
        (None, _) => bench.ceiling(service_cpu.as_deref())?,
    };
    wrk(
        bench,
        port,
        concurrency,
        bench.workload.warmup_secs,
        &format!("{run_id}-warm"),
    )?;
    let server_before = CpuMark::now(server.pid())?;
    let emulator_before = match &emulator {
        Some((proc, _)) => Some(CpuMark::now(proc.pid())?),
        None => None,
    };
    let result = wrk(bench, port, concurrency, bench.workload.load_secs, run_id)?;
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

pub struct LoadRow {
    pub concurrency: u32,
    pub service: Vec<LoadRun>,
    pub ceiling: Vec<LoadRun>,
}

impl LoadRow {
    pub fn of(&self, under_test: Server, pick: impl Fn(&LoadRun) -> f64) -> Spread {
        let runs = match under_test {
            Server::Service => &self.service,
            Server::Ceiling => &self.ceiling,
        };
        spread(&runs.iter().map(pick).collect::<Vec<_>>())
    }

    /// Each service run over the ceiling run of the same repeat, in percent.
    pub fn ratio(&self) -> Spread {
        let ratios: Vec<f64> = self
            .service
            .iter()
            .zip(&self.ceiling)
            .map(|(service, ceiling)| 100.0 * service.rate / ceiling.rate)
            .collect();
        spread(&ratios)
    }
}

pub fn throughput(bench: &mut Bench<'_>) -> anyhow::Result<Vec<LoadRow>> {
    let mut rows: Vec<LoadRow> = bench
        .workload
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
    for repeat in 0..bench.workload.repeats {
        for row in &mut rows {
            for under_test in [Server::Ceiling, Server::Service] {
                let name = match under_test {
                    Server::Service => "service",
                    Server::Ceiling => "bare axum",
                };
                bench.say(&format!(
                    "throughput: {name} at concurrency {}, repeat {}/{}",
                    row.concurrency,
                    repeat + 1,
                    bench.workload.repeats
                ));
                let run_id = format!("{}-c{}-r{repeat}", bench.nonce, row.concurrency);
                let run = load_run(bench, under_test, row.concurrency, &run_id)?;
                match under_test {
                    Server::Service => row.service.push(run),
                    Server::Ceiling => row.ceiling.push(run),
                }
            }
        }
    }
    Ok(rows)
}
