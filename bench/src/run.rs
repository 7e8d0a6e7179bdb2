//! A full run: checks the tools, measures the chosen parts in order and writes the report.

use std::process::{Command, Stdio};

use anyhow::ensure;

use crate::cli::RunArgs;
use crate::cold_start::start_figures;
use crate::harness::{Bench, Workload};
use crate::history::history;
use crate::inflight::{Transport, inflight};
use crate::machine::read_trimmed;
use crate::procfs::clock_ticks_per_second;
use crate::report::{Figures, report, write_figures};
use crate::size::size;
use crate::throughput::throughput;

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
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
        workload: Workload::new(args),
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
            let count = bench.workload.inflight;
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
        history: if wanted("history") {
            Some(history(&mut bench)?)
        } else {
            None
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
