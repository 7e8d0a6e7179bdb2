//! Emulated instances that run: with `--run-scripts`, an instance that becomes ACTIVE gets a
//! metadata server and runs its post-startup script as a local process, as a Workbench VM does.
//!
//! # Noticing ACTIVE
//! Lifecycle is lazy (states are computed from timestamps on read), so nothing in the store
//! notices the moment an instance becomes ACTIVE. Instead the moment is known when the
//! transition is stored: a successful create or start is done at `done_at`, and no other
//! mutation can intervene (the store refuses them while an operation is pending). So the router
//! hands each accepted transition to [`Machines`], which waits for that moment on the
//! emulator's clock ([`Clock::reached`](crate::Clock::reached)) and then boots the instance.
//! With a manual clock the script starts when the test moves the clock past `done_at`, never
//! earlier, so tests stay deterministic; no task polls.
//!
//! # A VM going away
//! `stop` and `delete` end every process the script started, as a real VM going away does:
//! SIGTERM, a short grace while the script exits, then SIGKILL for whatever is left. A process
//! group would miss too much (`timeout` and papermill's kernels take groups and sessions of
//! their own, daemons `setsid` away), so [`processes`] finds them by session, by a marker in
//! their environment and by descent. Shutting the emulator down does the same for every
//! instance.

mod boot;
pub(crate) mod processes;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::Url;
use rustix::process::Signal;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::ApiVersion;
use super::state::EmulatorState;
use processes::Reach;

/// How long a script gets to exit after SIGTERM before its processes are killed.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// How long, after SIGKILL, the console may take to report that the script ended.
const KILL_REPORT: Duration = Duration::from_secs(1);

/// Why an instance boots: `run_once` scripts run after creation only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boot {
    Created,
    Started,
}

/// The script process of one instance, as far as stopping it needs to know.
#[derive(Clone, Debug)]
struct Script {
    /// Its processes; the leader is known once it is spawned, and kept after it exits, for
    /// the daemons it left.
    reach: Reach,
    running: bool,
}

#[derive(Debug)]
struct Machine {
    cancel: CancellationToken,
    task: JoinHandle<()>,
    script: Arc<watch::Sender<Script>>,
}

impl Machine {
    fn reach(&self) -> Reach {
        self.script.borrow().reach.clone()
    }
}

/// Where scripts run and find Cloud Storage, and the instances currently running.
#[derive(Debug)]
pub struct Machines {
    /// Loopback address metadata servers bind to.
    ip: IpAddr,
    /// The emulator's own Notebooks API, where scripts stop their own instance.
    api: Url,
    /// Cloud Storage the scripts are fetched from, and pointed at.
    storage: Url,
    /// Each instance's scratch directory lies under it.
    root: PathBuf,
    running: Mutex<HashMap<String, Machine>>,
}

impl Machines {
    pub fn new(ip: IpAddr, api: Url, storage: Url, root: PathBuf) -> Self {
        Self {
            ip,
            api,
            storage,
            root,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Machine>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Boots `name` once the clock reaches `at`.
    pub fn boot(
        &self,
        state: &EmulatorState,
        version: ApiVersion,
        name: &str,
        at: Timestamp,
        why: Boot,
    ) {
        let cancel = CancellationToken::new();
        // Unique per boot, so that a reboot's processes are never taken for the last one's.
        let script = Arc::new(watch::Sender::new(Script {
            reach: Reach {
                leader: None,
                session: false,
                marker: uuid::Uuid::new_v4().simple().to_string(),
            },
            running: false,
        }));
        let task = tokio::spawn(boot::run(boot::BootJob {
            state: state.clone(),
            version,
            name: name.to_owned(),
            at,
            why,
            ip: self.ip,
            api: self.api.clone(),
            storage: self.storage.clone(),
            dir: self.root.join(name),
            cancel: cancel.clone(),
            script: script.clone(),
        }));
        let machine = Machine {
            cancel,
            task,
            script,
        };
        if let Some(previous) = self.lock().insert(name.to_owned(), machine) {
            kill_now(&previous);
        }
    }

    /// Ends `name`'s script, everything it started, and its metadata server, as its VM going
    /// away would.
    pub async fn halt(&self, name: &str) {
        let machine = self.lock().remove(name);
        if let Some(machine) = machine {
            halt(machine).await;
        }
    }

    /// [`Machines::halt`] for every instance, at once.
    pub async fn halt_all(&self) {
        let machines: Vec<Machine> = self.lock().drain().map(|(_, m)| m).collect();
        let halts: Vec<_> = machines
            .into_iter()
            .map(|machine| tokio::spawn(halt(machine)))
            .collect();
        for halt in halts {
            let _ = halt.await;
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }

    /// SIGKILL for every script's processes, without a grace: for when the emulator is dropped.
    pub fn kill_all_now(&self) {
        for (_, machine) in self.lock().drain() {
            kill_now(&machine);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }

    /// Process groups (and sessions) of instances running now, for tests that check they end:
    /// the script's pid, which leads both.
    pub fn groups(&self) -> HashMap<String, i32> {
        self.lock()
            .iter()
            .filter_map(|(name, m)| Some((name.clone(), m.script.borrow().reach.leader?)))
            .collect()
    }
}

fn kill_now(machine: &Machine) {
    machine.reach().kill();
    machine.cancel.cancel();
    machine.task.abort();
}

async fn halt(machine: Machine) {
    let reach = machine.reach();
    if reach.leader.is_some() {
        let mut changes = machine.script.subscribe();
        reach.signal(Signal::TERM);
        let _ = tokio::time::timeout(STOP_GRACE, changes.wait_for(|s| !s.running)).await;
        // Forked during the grace, or spawned late: the reach is scanned again.
        machine.reach().kill();
        // Long enough for the script's end to reach the console.
        let _ = tokio::time::timeout(KILL_REPORT, changes.wait_for(|s| !s.running)).await;
    }
    machine.cancel.cancel();
    let _ = machine.task.await;
}
