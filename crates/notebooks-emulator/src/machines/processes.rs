//! Every process one script started, found in /proc, so that a VM going away ends all of them.
//!
//! A process group is not enough: `timeout` and papermill's kernels move to groups (or
//! sessions) of their own, and a daemon may `setsid` away. Without cgroups (which need
//! privileges) the emulator therefore recognises a script's processes three ways, each covering
//! what the others miss:
//! - the script's session: it runs under `setsid`, and new process groups stay in it;
//! - a marker in the environment ([`MARKER_VARIABLE`]), inherited by whatever it starts, even
//!   a new session or a double-forked daemon whose parent is gone;
//! - descent: the children of any process found, whatever their session or environment.

use std::collections::HashSet;

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

/// The environment variable whose value, unique per boot, marks a script's processes.
pub const MARKER_VARIABLE: &str = "NOTEBOOKS_EMULATOR_MACHINE";

/// What identifies the processes of one booted script.
#[derive(Clone, Debug)]
pub struct Reach {
    /// The script's pid, which leads its process group (and its session, with `setsid`);
    /// `None` once the script has ended, when the pid may already be another process's.
    pub leader: Option<i32>,
    /// The script leads a session of its own, so the session is its alone.
    pub session: bool,
    /// [`MARKER_VARIABLE`]'s value for this boot.
    pub marker: String,
}

/// One line of /proc/PID/stat, as far as finding a script's processes needs.
struct Stat {
    pid: i32,
    ppid: i32,
    session: i32,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp session …`: comm may hold spaces and parentheses.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&("Z" | "X"))) {
        return None;
    }
    Some(Stat {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
    })
}

fn carries(pid: i32, entry: &[u8]) -> bool {
    // Another user's process cannot be read, and cannot be the script's either.
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|environ| environ.split(|&b| b == 0).any(|e| e == entry))
}

impl Reach {
    /// Live processes of this script now (zombies left out: they are gone already).
    pub fn members(&self) -> Vec<i32> {
        let own = i32::try_from(std::process::id()).unwrap_or(0);
        let entry = format!("{MARKER_VARIABLE}={}", self.marker).into_bytes();
        let all: Vec<Stat> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|&pid| pid != own)
            .filter_map(stat)
            .collect();
        let mut found: HashSet<i32> = all
            .iter()
            .filter(|p| {
                Some(p.pid) == self.leader
                    || (self.session && Some(p.session) == self.leader)
                    || carries(p.pid, &entry)
            })
            .map(|p| p.pid)
            .collect();
        loop {
            let before = found.len();
            found.extend(
                all.iter()
                    .filter(|p| found.contains(&p.ppid))
                    .map(|p| p.pid)
                    .collect::<Vec<_>>(),
            );
            if found.len() == before {
                break;
            }
        }
        found.into_iter().collect()
    }

    /// Sends `signal` to every process of the script; how many there were.
    pub fn signal(&self, signal: Signal) -> usize {
        if let Some(group) = self.leader.and_then(Pid::from_raw) {
            // ESRCH: the whole group has already gone.
            let _ = kill_process_group(group, signal);
        }
        let members = self.members();
        for pid in members.iter().copied().filter_map(Pid::from_raw) {
            let _ = kill_process(pid, signal);
        }
        members.len()
    }

    /// SIGKILL until nothing is left: a process forking while it is killed leaves a child that
    /// the next scan finds. Bounded, so a machine that forks faster than it dies cannot hang
    /// the emulator.
    pub fn kill(&self) {
        for _ in 0..20 {
            if self.signal(Signal::KILL) == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
