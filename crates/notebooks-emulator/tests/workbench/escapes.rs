//! Processes a script starts outside its process group end with its instance, as they would
//! with a real VM: `timeout` (a group of its own), `setsid` (a session of its own) and a
//! double-forked daemon whose parent is gone.

use super::*;

/// Starts one process of each kind and prints their pids.
const ESCAPING: &str = r#"timeout 600 sleep 600 &
echo "timeout $!"
setsid sleep 600 &
echo "setsid $!"
setsid -f sh -c 'echo "daemon $$"; exec sleep 600'
echo started
wait
"#;

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X'))
    })
}

/// Live children of `parent`.
fn children(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
                    == Some(parent)
            })
        })
        .filter(|&pid| alive(pid))
        .collect()
}

/// The processes a test started; whatever is still alive when it ends (a failing assertion
/// included) is killed, so that no test leaves a sleeper behind.
struct Started(Vec<i32>);

impl Drop for Started {
    fn drop(&mut self) {
        for pid in self.0.iter().filter(|&&pid| alive(pid)) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// Instance `id` runs [`ESCAPING`]; its script and every process it started, all alive.
async fn escaping(workbench: &Workbench, id: &str) -> Started {
    workbench.create(id, ESCAPING, json!({})).await;
    workbench.clock.advance(PROVISION);
    workbench.console_until(id, "started").await;
    let console = workbench.console_until(id, "daemon ").await;
    let pid = |label: &str| -> i32 {
        console
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{label} "))?.parse().ok())
            .unwrap_or_else(|| panic!("no `{label} PID` on the console:\n{console}"))
    };
    let script = workbench.emulator.state().script_groups()[&Workbench::name(id)];
    let timeout = pid("timeout");
    let mut started = Started(vec![script, timeout, pid("setsid"), pid("daemon")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let sleeper = loop {
        if let Some(&sleeper) = children(timeout).first() {
            break sleeper;
        }
        assert!(Instant::now() < deadline, "timeout never started its sleep");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    started.0.push(sleeper);
    for &pid in &started.0 {
        assert!(alive(pid), "{pid} of {:?} is not running", started.0);
    }
    started
}

async fn none_alive(started: &Started, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<i32> = started.0.iter().copied().filter(|&p| alive(p)).collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{alive:?} of {:?} outlived {after}",
            started.0
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn escapees_end_with(verb: &str) {
    let workbench = Workbench::start(Storage::Local, true).await;
    let started = escaping(&workbench, "nb").await;
    workbench.verb("nb", verb).await;
    none_alive(&started, verb).await;
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn stop_ends_processes_in_other_groups_and_sessions() {
    escapees_end_with("stop").await;
}

#[tokio::test]
async fn delete_ends_processes_in_other_groups_and_sessions() {
    escapees_end_with("delete").await;
}

#[tokio::test]
async fn shutdown_ends_processes_in_other_groups_and_sessions() {
    let workbench = Workbench::start(Storage::Local, true).await;
    let started = escaping(&workbench, "nb").await;
    workbench.emulator.shutdown().await;
    none_alive(&started, "the emulator's shutdown").await;
}

/// An ended script's pid is soon another process's (pids wrap at 32768 on many systems), so the
/// emulator forgets it: a later delete signals what carries the script's marker, never whatever
/// process, group or session has taken that pid over, and what the script left running still
/// ends.
#[tokio::test]
async fn an_ended_scripts_pid_is_forgotten_and_its_leftovers_still_end() {
    let workbench = Workbench::start(Storage::Local, true).await;
    let script = "setsid sleep 1000 &\necho \"left $!\"\n";
    workbench.create("nb", script, json!({})).await;
    workbench.clock.advance(PROVISION);
    let console = workbench.console_until("nb", "post-startup-script").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while workbench
        .emulator
        .state()
        .script_groups()
        .contains_key(&Workbench::name("nb"))
    {
        assert!(
            Instant::now() < deadline,
            "the ended script is still listed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let console = workbench.console_until("nb", "left ").await + &console;
    let left: i32 = console
        .split("left ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("the leftover's pid in {console}"));
    assert!(
        alive(left),
        "the leftover sleep runs in a session of its own"
    );
    workbench.verb("nb", "delete").await;
    while alive(left) {
        assert!(
            Instant::now() < deadline,
            "the marked leftover outlived the delete"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    workbench.emulator.shutdown().await;
}
