//! The processes a run starts: each owned by a [`Proc`], killed by pid when dropped (on
//! success, on an error, on a panic), and on SIGINT, SIGTERM or SIGHUP through the registry of
//! live pids, because `Drop` does not run when a signal ends the program.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};

/// Pids of the children still alive, for the signal handler.
static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// The registry, usable even after a panic while it was held.
pub fn live() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// On SIGINT, SIGTERM or SIGHUP, kill every child by pid and exit: `Drop` does not run then.
pub fn watch_signals() {
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
pub struct Proc {
    name: String,
    pub child: Child,
}

impl Proc {
    pub fn spawn(name: &str, command: &mut Command) -> anyhow::Result<Self> {
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name} ({command:?})"))?;
        live().insert(child.id());
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            live().remove(&self.child.id());
            bail!("{} exited early: {status}", self.name);
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL if it is still there after 10 s.
    pub fn stop(mut self) -> anyhow::Result<ExitStatus> {
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

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Waits until `port` accepts connections, failing early if the process died.
pub fn wait_listening(proc: &mut Proc, port: u16) -> anyhow::Result<()> {
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
