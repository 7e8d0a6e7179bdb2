//! Run history: `notebook-trigger runs --json` (the release binary) over thousands of run
//! records, timed from spawn to exit, with the peak RSS its parent's `wait4` reports (through
//! GNU time, since a short process's last readings from /proc would miss its final JSON).
//!
//! The records are seeded into the Notebooks emulator's own Cloud Storage, run in this process
//! on a clock that is moved to each record's last write, so every object's `updated` time is
//! what production would show (a run's record is last written when it ends) and `--since`
//! skips what it would skip there. The newest runs that have not reported have live instances,
//! so the join with the instance listing is part of every measurement.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use jiff::{SignedDuration, Timestamp};
use notebooks_emulator::storage::StorageClient;
use notebooks_emulator::{Emulator, EmulatorConfig, ManualClock};
use serde_json::{Value, json};

use crate::harness::Bench;
use crate::push::PROJECT;
use crate::stats::{Spread, megabytes, spread};

const BUCKET: &str = "bench-history";
const ZONE: &str = "us-central1-a";
/// GNU time, for the child's maximum RSS (`%M`, from `wait4`).
pub const GNU_TIME: &str = "/usr/bin/time";
/// The runs span this many days back from now.
const SPAN_DAYS: i64 = 30;
/// The narrow window of `--since`.
pub const SINCE: &str = "1d";
const SINCE_DAYS: i64 = 1;
/// Runs that have not reported and whose instances are up.
const LIVE: usize = 10;
/// Profiles, with the output prefix each one's records are under.
const PROFILES: [(&str, &str); 3] = [
    ("default", "runs"),
    ("nightly", "runs"),
    ("weekly", "weekly"),
];

/// Targets: every run listed within 2 s, the narrow window within 1 s, in under 64 MB.
const ALL_MS: f64 = 2000.0;
const SINCE_MS: f64 = 1000.0;
const RSS_MB: f64 = 64.0;

/// One way of asking, measured.
pub struct Measured {
    pub args: Vec<&'static str>,
    pub wall_ms: Spread,
    pub rss_mb: Spread,
    pub rows: usize,
    /// Matching runs among the records read: all of them unless the limit let reading stop.
    pub matched: usize,
}

pub struct HistoryFigures {
    pub runs: usize,
    pub objects: usize,
    pub live: usize,
    pub measured: Vec<Measured>,
}

/// The rows of the summary table (part 6).
pub fn rows(w: &mut String, figures: &HistoryFigures) {
    let n = figures.runs;
    let verdict = |met: bool| if met { "**met**" } else { "**missed**" };
    for (measured, target) in figures
        .measured
        .iter()
        .zip([Some(ALL_MS), None, Some(SINCE_MS)])
    {
        let (goal, met) = match target {
            Some(ms) => (
                format!("< {:.0} s", ms / 1000.0),
                verdict(measured.wall_ms.median < ms),
            ),
            None => (String::new(), ""),
        };
        let _ = writeln!(
            w,
            "| 6 | `runs --json{}` over {n} runs ({} of {} shown): exec → exit | {} | {goal} | {met} |",
            arguments(measured),
            measured.rows,
            measured.matched,
            measured.wall_ms.show(0, "ms"),
        );
    }
    let peak = figures
        .measured
        .iter()
        .map(|m| m.rss_mb.max)
        .fold(0.0, f64::max);
    let _ = writeln!(
        w,
        "| 6 | `runs --json` over {n} runs: peak RSS (highest of all the listings) | {peak:.1} MB | < {RSS_MB:.0} MB | {} |",
        verdict(peak < RSS_MB)
    );
}

/// The arguments after `--json`, each after a space.
fn arguments(measured: &Measured) -> String {
    measured.args.iter().map(|arg| format!(" {arg}")).collect()
}

/// What was listed, and each listing's figures.
pub fn detail(w: &mut String, figures: &HistoryFigures) {
    let _ = writeln!(w, "### Run history");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{} run records over {SPAN_DAYS} days under two output prefixes ({} objects with the \
         notebooks the finished runs wrote) in the Notebooks emulator's Cloud Storage, each \
         object written with the emulator's clock at the record's last write; {} runs still \
         up as instances. `notebook-trigger runs --json` (release build, not pinned) is timed \
         from spawn to exit through GNU time, which gives its peak RSS; each listing {} time(s).",
        figures.runs,
        figures.objects,
        figures.live,
        figures.measured.first().map_or(0, |m| m.wall_ms.n)
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "| Arguments | Runs shown / matched | exec → exit | Peak RSS |"
    );
    let _ = writeln!(w, "|---|---|---|---|");
    for measured in &figures.measured {
        let _ = writeln!(
            w,
            "| `--json{}` | {} / {} | {} | {} |",
            arguments(measured),
            measured.rows,
            measured.matched,
            measured.wall_ms.show(0, "ms"),
            measured.rss_mb.show(1, "MB"),
        );
    }
    let _ = writeln!(w);
}

pub fn history(bench: &mut Bench<'_>) -> anyhow::Result<HistoryFigures> {
    ensure!(
        Path::new(GNU_TIME).exists(),
        "{GNU_TIME} is needed for the peak RSS of `runs` (Debian package `time`)"
    );
    let count = bench.workload.history_runs;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let now = Timestamp::now();
    let start = now - SignedDuration::from_hours(24 * SPAN_DAYS);
    let clock = Arc::new(ManualClock::new(start));
    let config = EmulatorConfig {
        provision_time: Duration::ZERO,
        ..EmulatorConfig::default()
    };
    let emulator = runtime.block_on(Emulator::start_with_clock(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        config,
        clock.clone(),
    ))?;
    bench.say(&format!("history: seeding {count} run records"));
    let seeded = Instant::now();
    let runs = records(count, now);
    let objects = runtime.block_on(seed(&emulator, &clock, start, &runs))?;
    bench.say(&format!(
        "history: {objects} objects seeded in {:.1} s",
        seeded.elapsed().as_secs_f64()
    ));
    // What each listing must show, newest first, from the seeded records alone.
    let mut newest: Vec<&Value> = runs.iter().collect();
    newest.sort_by_key(|run| std::cmp::Reverse(launched(run)));
    let ids = |runs: &[&Value]| -> Vec<String> {
        runs.iter()
            .map(|run| run["run_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let recent: Vec<&Value> = newest
        .iter()
        .copied()
        .filter(|run| launched(run) >= now - SignedDuration::from_hours(24 * SINCE_DAYS))
        .collect();
    let mut measured = Vec::new();
    // Each way of asking: the runs it must show, and how many match in all.
    for (args, expected, matching) in [
        (vec!["--limit", "0"], ids(&newest), count),
        (vec![], ids(&newest[..50.min(count)]), count),
        (
            vec!["--since", SINCE, "--limit", "0"],
            ids(&recent),
            recent.len(),
        ),
    ] {
        let mut walls = Vec::new();
        let mut peaks = Vec::new();
        let mut matched = 0;
        for _ in 0..bench.workload.history_repeats {
            let (wall, peak, listing) = list(bench, &emulator, &args)?;
            let shown: Vec<&str> = listing["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|run| run["run_id"].as_str())
                .collect();
            ensure!(
                shown == expected,
                "runs {args:?}: {} runs shown, not the {} newest expected",
                shown.len(),
                expected.len()
            );
            matched = listing["matched"].as_u64().unwrap_or_default() as usize;
            let complete = listing["complete"] == true;
            ensure!(
                (complete || !args.contains(&"0")) && (!complete || matched == matching),
                "runs {args:?}: complete {complete}, {matched} matched, expected {matching}"
            );
            let rows = shown.len();
            let running = listing["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|run| run["status"] == "running")
                .count();
            ensure!(
                rows < count || running == LIVE.min(count),
                "runs {args:?}: {running} running, expected {LIVE}"
            );
            walls.push(wall.as_secs_f64() * 1e3);
            peaks.push(megabytes(peak));
        }
        measured.push(Measured {
            args,
            wall_ms: spread(&walls),
            rss_mb: spread(&peaks),
            rows: expected.len(),
            matched,
        });
    }
    runtime.block_on(emulator.shutdown());
    Ok(HistoryFigures {
        runs: count,
        objects,
        live: LIVE.min(count),
        measured,
    })
}

/// `count` records, oldest first, launched evenly over [`SPAN_DAYS`] (half a step off the
/// step boundaries, so a window a few seconds late still holds the same runs).
fn records(count: usize, now: Timestamp) -> Vec<Value> {
    let span = SignedDuration::from_hours(24 * SPAN_DAYS);
    let step = span / i32::try_from(count.max(1)).unwrap_or(i32::MAX);
    let live_from = count.saturating_sub(LIVE);
    (0..count)
        .map(|i| {
            let at = now - span + step * i32::try_from(i).unwrap_or(0) + step / 2;
            let (profile, prefix) = PROFILES[i % PROFILES.len()];
            let run = format!("r{:016x}", splitmix(i as u64));
            let folder = format!("gs://{BUCKET}/{prefix}/{run}/");
            let state = match i {
                _ if i >= live_from => "launched",
                _ => match i % 20 {
                    0..=13 => "succeeded",
                    14..=16 => "failed",
                    17 => "timed_out",
                    18 => "cancelled",
                    _ => "launched",
                },
            };
            let mut record = json!({
                "schema": 1, "run_id": run, "trigger": "pubsub", "message_id": i.to_string(),
                "profile": profile, "notebook": format!("gs://{BUCKET}/notebooks/report.ipynb"),
                "parameters": {"day": at.strftime("%Y-%m-%d").to_string(), "rows": 1000},
                "instance": format!("projects/{PROJECT}/locations/{ZONE}/instances/nb-{run}"),
                "output": folder, "launched": at.to_string(), "state": state,
                "cleanup": {"action": "delete", "at": at.to_string(), "by": "report"},
            });
            if state != "launched" {
                let started = at + SignedDuration::from_secs(90);
                let finished = started + SignedDuration::from_secs(600 + (i as i64 % 300));
                let failed = state != "succeeded";
                let lines = if failed { 60 } else { 8 };
                record["started"] = json!(started.to_string());
                record["finished"] = json!(finished.to_string());
                record["exit_code"] = json!(i32::from(failed));
                record["outputs"] = json!([format!("{folder}report.ipynb")]);
                record["log_tail"] = json!(
                    (0..lines)
                        .map(|n| format!("[papermill] Executing cell {n}: df = load(day, rows)"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                record["cleanup"]["at"] = json!(finished.to_string());
            } else {
                record.as_object_mut().map(|r| r.remove("cleanup"));
            }
            record
        })
        .collect()
}

fn launched(record: &Value) -> Timestamp {
    record["launched"]
        .as_str()
        .and_then(|at| at.parse().ok())
        .unwrap_or_default()
}

/// Writes each record (and the notebook it wrote) with the clock at its last write, then the
/// instances of the live runs with the clock at now: how many objects there are.
async fn seed(
    emulator: &Emulator,
    clock: &ManualClock,
    start: Timestamp,
    records: &[Value],
) -> anyhow::Result<usize> {
    let storage = StorageClient::new(emulator.storage_url().parse()?);
    storage.ensure_bucket(PROJECT, BUCKET).await?;
    let mut writes: Vec<(Timestamp, &Value)> = records
        .iter()
        .map(|record| {
            let written = record["finished"]
                .as_str()
                .and_then(|at| at.parse().ok())
                .unwrap_or_else(|| launched(record));
            (written, record)
        })
        .collect();
    writes.sort_by_key(|(at, _)| *at);
    let mut at = start;
    let mut objects = 0;
    for (written, record) in writes {
        if written > at {
            clock.advance(Duration::try_from(written - at).unwrap_or_default());
            at = written;
        }
        let folder = record["output"]
            .as_str()
            .context("a record has an output")?;
        let object = folder
            .strip_prefix(&format!("gs://{BUCKET}/"))
            .context("the output is in the bucket")?;
        let body = serde_json::to_vec_pretty(record)?;
        storage
            .upload(
                BUCKET,
                // Where the service keeps a run's record, apart from its files.
                &format!(
                    "notebook-trigger-records/{}.json",
                    object.trim_end_matches('/')
                ),
                "application/json",
                body,
            )
            .await?;
        objects += 1;
        if record["state"] != "launched" {
            let notebook = vec![b'x'; 2048];
            storage
                .upload(
                    BUCKET,
                    &format!("{object}report.ipynb"),
                    "application/json",
                    notebook,
                )
                .await?;
            objects += 1;
        }
    }
    let now = Timestamp::now();
    if now > at {
        clock.advance(Duration::try_from(now - at).unwrap_or_default());
    }
    let http = reqwest::Client::new();
    for record in records.iter().rev().take(LIVE) {
        let run = record["run_id"].as_str().unwrap_or_default();
        let created = http
            .post(format!(
                "{}/v2/projects/{PROJECT}/locations/{ZONE}/instances?instanceId=nb-{run}",
                emulator.base_url()
            ))
            .json(&json!({
                "labels": {"run-id": run, "managed-by": "notebook-trigger"},
                "gceSetup": {"machineType": "e2-standard-4"},
            }))
            .send()
            .await?;
        ensure!(
            created.status().is_success(),
            "create: {}",
            created.status()
        );
    }
    Ok(objects)
}

/// One `notebook-trigger runs --json ARGS`: wall time from spawn to exit, peak RSS, the JSON.
fn list(
    bench: &mut Bench<'_>,
    emulator: &Emulator,
    args: &[&str],
) -> anyhow::Result<(Duration, u64, Value)> {
    let dir = bench.dir.path().to_owned();
    let profiles = dir.join("history-profiles.toml");
    std::fs::write(
        &profiles,
        format!("[profiles.nightly]\n\n[profiles.weekly]\noutput = \"gs://{BUCKET}/weekly\"\n"),
    )?;
    let (stdout_path, rss_path) = (dir.join("history-stdout.json"), dir.join("history-rss"));
    let (stderr, stderr_path) = bench.log_file("history")?;
    let mut command = bench.command(None, Path::new(GNU_TIME));
    command
        .args(["-f", "%M", "-o"])
        .arg(&rss_path)
        .arg(&bench.args.service)
        .args(["runs", "--json"])
        .args(args)
        .env("NOTEBOOKS_EMULATOR_HOST", emulator.local_addr().to_string())
        .env("STORAGE_EMULATOR_HOST", emulator.storage_url())
        .env("GOOGLE_CLOUD_PROJECT", PROJECT)
        .env("NOTEBOOK_LOCATION", ZONE)
        .env(
            "CONTAINER_IMAGE",
            "europe-west3-docker.pkg.dev/bench-project/notebooks/python-docker",
        )
        .env("NOTEBOOK", format!("gs://{BUCKET}/notebooks/report.ipynb"))
        .env("NOTEBOOK_OUTPUT", format!("gs://{BUCKET}/runs"))
        .env("SERVICE_URL", "https://notebook-trigger.bench")
        .env("RUNNER_SCRIPT", format!("gs://{BUCKET}/runner.sh"))
        .env("PROFILES_FILE", &profiles)
        .stdout(std::fs::File::create(&stdout_path)?)
        .stderr(stderr);
    let started = Instant::now();
    let status = command
        .stdin(Stdio::null())
        .status()
        .context("cannot run notebook-trigger runs")?;
    let wall = started.elapsed();
    let said = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    ensure!(status.success(), "runs {args:?}: {status}\n{}", said());
    let kib: u64 = std::fs::read_to_string(&rss_path)?
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .with_context(|| format!("no maximum RSS from {GNU_TIME}"))?;
    let listing = serde_json::from_slice(&std::fs::read(&stdout_path)?)
        .with_context(|| format!("runs {args:?} printed no JSON\n{}", said()))?;
    Ok((wall, kib * 1024, listing))
}

/// A fixed permutation of the run numbers into ids of the product's form.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
