//! Readings from /proc: CPU ticks and memory lines of one process. Read directly rather than
//! through `ps` or `top`, so that a reading costs no fork and measures exactly one pid.

use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;

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
pub fn status_bytes(pid: u32, key: &str) -> anyhow::Result<u64> {
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

pub fn clock_ticks_per_second() -> f64 {
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
pub struct CpuMark {
    pub at: Instant,
    pub ticks: u64,
}

impl CpuMark {
    pub fn now(pid: u32) -> anyhow::Result<Self> {
        Ok(Self {
            at: Instant::now(),
            ticks: cpu_ticks(pid)?,
        })
    }

    pub fn seconds_until(self, later: CpuMark, tick: f64) -> f64 {
        later.ticks.saturating_sub(self.ticks) as f64 / tick
    }

    /// Share of one core, in percent.
    pub fn percent_until(self, later: CpuMark, tick: f64) -> f64 {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        100.0 * self.seconds_until(later, tick) / wall
    }
}
