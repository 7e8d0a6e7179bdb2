//! BENCHMARKS.md: the figures as a table against the targets, the detail of each part, and
//! the writer that replaces only the text between the markers, keeping the prose around it.

use std::fmt::Write as _;
use std::path::Path;

use crate::cold_start::StartFigures;
use crate::harness::Bench;
use crate::history::{self, HistoryFigures};
use crate::inflight::InflightFigures;
use crate::machine::{command_output, machine, read_trimmed};
use crate::procfs::clock_ticks_per_second;
use crate::size::{CC_IMAGE_PACKAGES, SizeFigures};
use crate::stats::megabytes;
use crate::throughput::{LoadRow, Server};

const MARK_BEGIN: &str = "<!-- BEGIN figures: written by bench/run.sh, do not edit by hand -->";
const MARK_END: &str = "<!-- END figures -->";

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

pub struct Figures {
    pub start: Option<StartFigures>,
    pub loads: Option<Vec<LoadRow>>,
    pub inflight: Vec<InflightFigures>,
    pub history: Option<HistoryFigures>,
    pub size: Option<SizeFigures>,
}

pub fn report(bench: &Bench<'_>, figures: &Figures, load_before: &str, started: &str) -> String {
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
    if let Some(figures) = &figures.history {
        history::rows(w, figures);
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
    if let Some(figures) = &figures.history {
        history::detail(w, figures);
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
    let workload = &bench.workload;
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
        workload.load_secs, workload.warmup_secs, workload.repeats
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "| Concurrency | Server | Requests/s | p50 | p99 | CPU per request | CPU busy |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|");
    for row in rows {
        for (under_test, name) in [(Server::Ceiling, "bare axum"), (Server::Service, "service")] {
            let _ = writeln!(
                w,
                "| {} | {name} | {} | {} | {} | {} | {} |",
                row.concurrency,
                row.of(under_test, |r| r.rate).show(0, ""),
                row.of(under_test, |r| r.p50_ms).show(2, "ms"),
                row.of(under_test, |r| r.p99_ms).show(2, "ms"),
                row.of(under_test, |r| r.server_us).show(1, "µs"),
                row.of(under_test, |r| r.server_percent).show(0, "%"),
            );
        }
        let _ = writeln!(
            w,
            "| {} | emulator (serving the service) | | | | {} | {} |",
            row.concurrency,
            row.of(Server::Service, |r| r.emulator_us.unwrap_or(f64::NAN))
                .show(1, "µs"),
            row.of(Server::Service, |r| r.emulator_percent.unwrap_or(f64::NAN))
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
pub fn write_figures(path: &Path, figures: &str) -> anyhow::Result<()> {
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
