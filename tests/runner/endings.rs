//! How a run ends: a time-out only when the time limit fired, a kill by a signal named in the
//! error, nothing left running when its instance stops; and what its log shows of its
//! parameters (their names, never their values).

use std::time::{Duration, Instant};

use notebook_trigger::run::Outcome;
use serde_json::json;

use crate::{Bench, Job, notebook, run_id};

/// A notebook whose only cell is `cell`, run as run `n`: its report.
async fn ending(cell: &str, n: u8, max_run_time: Duration) -> Option<crate::Finished> {
    let bench = Bench::start().await?;
    let object = format!("nb/ending-{n}/ending.ipynb");
    bench.upload(&object, notebook("x = 1", &[cell])).await;
    let run = run_id(n);
    let mut job = Job::new(&run, &object);
    job.max_run_time = max_run_time;
    let finished = bench.run(job, Duration::from_secs(180)).await;
    bench.stop().await;
    Some(finished)
}

/// The kernel's out-of-memory kill, as a notebook can cause it itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kernel_killed_by_sigkill_fails_the_run_and_the_error_names_the_signal() {
    let cell = "import os\nos.kill(os.getpid(), 9)";
    let Some(finished) = ending(cell, 5, Duration::from_secs(600)).await else {
        return;
    };
    let report = finished.report;
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.error);
    assert_eq!(
        report.error, "the kernel was killed by SIGKILL: out of memory?",
        "{}",
        report.log_tail
    );
}

/// papermill itself killed long before the time limit: no time-out, though timeout(1) answers
/// 137 as it does when it has to kill after its grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn papermill_killed_by_sigkill_before_the_limit_is_no_time_out() {
    let cell = "import os\nos.kill(os.getppid(), 9)";
    let Some(finished) = ending(cell, 6, Duration::from_secs(600)).await else {
        return;
    };
    let report = finished.report;
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.error);
    assert_eq!(report.exit_code, 137);
    assert_eq!(
        report.error, "papermill was killed by SIGKILL: out of memory?",
        "{}",
        report.log_tail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notebook_past_its_time_limit_times_out() {
    let cell = "import time\ntime.sleep(600)";
    let Some(finished) = ending(cell, 7, Duration::from_secs(5)).await else {
        return;
    };
    let report = finished.report;
    assert_eq!(
        report.outcome,
        Outcome::TimedOut,
        "{}\n{}",
        report.error,
        report.log_tail
    );
    assert_eq!(report.error, "the notebook ran longer than 5s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_named_in_the_log_and_their_values_never_shown() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let secret = "s3cr3t-value-that-must-not-be-logged";
    bench
        .upload(
            "nb/secret/secret.ipynb",
            notebook("api_key = ''\nrows = 1", &["total = rows * 2"]),
        )
        .await;
    let run = run_id(8);
    let mut job = Job::new(&run, "nb/secret/secret.ipynb");
    job.parameters = json!({"api_key": secret, "rows": 3});
    let finished = bench.run(job, Duration::from_secs(180)).await;
    let report = &finished.report;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.error);
    assert!(
        report
            .log_tail
            .contains(r#"papermill secret.ipynb, parameters "api_key", "rows", at most"#),
        "{}",
        report.log_tail
    );
    let log = bench.object(&format!("out/{run}/runner.log")).await;
    for (what, text) in [
        ("log tail", report.log_tail.clone()),
        ("console", finished.console.clone()),
        ("runner.log", String::from_utf8_lossy(&log).into_owned()),
    ] {
        assert!(
            !text.contains(secret),
            "the {what} shows the value:\n{text}"
        );
    }
    bench.stop().await;
}

/// Live processes of run `run`'s notebook: those whose arguments name its work directory
/// (timeout, papermill, the log's tee) or that work in it (the kernel), with their commands.
fn processes_of(run: &str) -> Vec<(i32, String)> {
    let mark = format!("/run-{run}.");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_owned();
            let command = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let command = String::from_utf8_lossy(&command).replace('\0', " ");
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            let ours = command.contains(&mark) || cwd.to_string_lossy().contains(&mark);
            (ours && state != "Z").then_some((pid, command))
        })
        .collect()
}

/// Kills what is left of run `run`'s processes when the test ends, passed or failed.
struct Leftovers(String);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for (pid, _) in processes_of(&self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// Launches run `run` of a notebook that sleeps; once its kernel runs the cell, its instance.
async fn sleeping(bench: &Bench, run: &str) -> String {
    let cell = "import time\ntime.sleep(600)";
    let object = format!("nb/sleep-{run}/sleep.ipynb");
    bench.upload(&object, notebook("x = 1", &[cell])).await;
    let instance = bench.launch(Job::new(run, &object)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = processes_of(run);
        let kernel = running.iter().any(|(_, c)| c.contains("ipykernel"));
        let timeout = running.iter().any(|(_, c)| c.starts_with("timeout "));
        if kernel
            && timeout
            && bench
                .emulator
                .console(&instance)
                .contains("Executing Cell 2")
        {
            return instance;
        }
        assert!(
            Instant::now() < deadline,
            "the notebook never ran: {running:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn none_left(run: &str, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = processes_of(run);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left after {after}: {left:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// papermill runs under timeout(1), in a process group of its own, and its kernel in a session
/// of its own: stopping the instance ends them all the same, as a VM going away does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_instance_ends_papermill_and_its_kernel() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let run = run_id(9);
    let _leftovers = Leftovers(run.clone());
    let instance = sleeping(&bench, &run).await;
    bench.verb(&instance, "stop").await;
    none_left(&run, "stop").await;
    bench.stop().await;
}

/// An emulator dropped without a shutdown (a test that fails, the demo ended) SIGKILLs its
/// scripts with no grace, so the runner cannot pass a signal on: papermill and its kernel must
/// be found all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_outright_leaves_no_papermill_or_kernel_behind() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let run = run_id(10);
    let _leftovers = Leftovers(run.clone());
    sleeping(&bench, &run).await;
    drop(bench);
    none_left(&run, "the emulator was dropped").await;
}
