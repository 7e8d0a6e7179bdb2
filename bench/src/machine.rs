//! What the figures were measured on: CPU, kernel, memory and wrk version, so that a reader
//! can compare them with another run.

use std::process::Command;

pub fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

pub fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

pub fn machine() -> String {
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
