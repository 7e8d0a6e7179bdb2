//! The service binary as a separate process on a fixed port, so it can be SIGKILLed and
//! restarted, with its JSON log lines kept per run.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use notebooks_emulator::Emulator;
use serde_json::Value;

use crate::{BIN, PROJECT, test_log};

/// The line the service logs once per answered push (see `src/http.rs`).
const ANSWER_LINES: [&str; 3] = [
    "instance ready",
    "not launched yet; Pub/Sub will redeliver",
    "launch refused",
];

/// The service as a separate process on a fixed port, so it can be SIGKILLed and restarted.
pub struct Service {
    child: Option<Child>,
    port: u16,
    env: Vec<(String, String)>,
    logs: tempfile::TempDir,
    runs: usize,
}

impl Service {
    pub fn start(notebooks: &Emulator, extra: &[(&str, &str)]) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Service::start_on(port, notebooks, extra)
    }

    /// On a port chosen beforehand, for a service that must know its own URL.
    pub fn start_on(port: u16, notebooks: &Emulator, extra: &[(&str, &str)]) -> Service {
        let mut env: Vec<(String, String)> = [
            ("PORT", port.to_string()),
            (
                "NOTEBOOKS_EMULATOR_HOST",
                notebooks.local_addr().to_string(),
            ),
            ("GOOGLE_CLOUD_PROJECT", PROJECT.to_owned()),
            ("NOTEBOOK_LOCATION", "us-central1-a".to_owned()),
            (
                "CONTAINER_IMAGE",
                "europe-west3-docker.pkg.dev/tweetiment-xyz/tweetimentrep/python-docker".to_owned(),
            ),
            (
                "POST_STARTUP_SCRIPT",
                "gs://socialsenti/default-startup-script.sh".to_owned(),
            ),
            ("POLL_INITIAL_DELAY", "50ms".to_owned()),
            ("POLL_MAX_DELAY", "250ms".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut service = Service {
            child: None,
            port,
            env,
            logs: tempfile::tempdir().unwrap(),
            runs: 0,
        };
        service.spawn();
        service
    }

    pub fn spawn(&mut self) {
        self.runs += 1;
        let log = std::fs::File::create(self.log_path(self.runs)).unwrap();
        let child = Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("service starts");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "service did not listen on {}; its log:\n{}",
                self.port,
                std::fs::read_to_string(self.log_path(self.runs)).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_path(&self, run: usize) -> PathBuf {
        self.logs.path().join(format!("run-{run}.log"))
    }

    /// SIGKILL, as a crash or an OOM kill would: no graceful shutdown.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn restart(&mut self, extra: &[(&str, &str)]) {
        self.kill();
        for (k, v) in extra {
            self.env.retain(|(key, _)| key != k);
            self.env.push(((*k).to_owned(), (*v).to_owned()));
        }
        self.spawn();
    }

    /// `notebook-trigger reap` with the service's configuration, as a separate process: a
    /// person at a terminal, or a second scheduler.
    pub fn reap_cli(&self) -> Child {
        self.reap_cli_with(&[])
    }

    /// `notebook-trigger reap ARGS` (`--dry-run`) likewise.
    pub fn reap_cli_with(&self, args: &[&str]) -> Child {
        Command::new(BIN)
            .arg("reap")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(
                self.env
                    .iter()
                    .filter(|(k, _)| k != "PORT")
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("reap starts")
    }

    /// The service's environment, for a command that runs with its configuration.
    pub fn env(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The JSON lines the service logged in one run.
    pub fn run_lines(&self, run: usize) -> Vec<Value> {
        std::fs::read_to_string(self.log_path(run))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .collect()
    }

    /// Every JSON line the service logged, over all its runs.
    pub fn log_lines(&self) -> Vec<Value> {
        (1..=self.runs)
            .flat_map(|run| self.run_lines(run))
            .collect()
    }

    /// Deliveries a SIGKILL cut: launched in a run that was killed, and not answered in it.
    pub fn cut_by_crashes(&self) -> usize {
        (1..self.runs)
            .map(|run| {
                let lines = self.run_lines(run);
                let ids = |pick: &dyn Fn(&str) -> bool| -> HashSet<String> {
                    lines
                        .iter()
                        .filter(|line| pick(line["message"].as_str().unwrap_or_default()))
                        .filter_map(|line| line["message_id"].as_str().map(str::to_owned))
                        .collect()
                };
                ids(&|m| m == "launching")
                    .difference(&ids(&|m| ANSWER_LINES.contains(&m)))
                    .count()
            })
            .sum()
    }

    /// Push deliveries the service answered, from its logs (one line per answered request).
    pub fn deliveries(&self) -> usize {
        self.log_lines()
            .iter()
            .filter(|line| ANSWER_LINES.contains(&line["message"].as_str().unwrap_or_default()))
            .count()
    }

    /// Message ids the service started launching but never answered "instance ready", for a
    /// failure message: they tell a lost message from a slow one.
    pub fn unfinished(&self) -> Vec<String> {
        let lines = self.log_lines();
        let with = |message: &str| -> HashSet<String> {
            lines
                .iter()
                .filter(|line| line["message"] == message)
                .filter_map(|line| line["message_id"].as_str().map(str::to_owned))
                .collect()
        };
        let mut open: Vec<String> = with("launching")
            .difference(&with("instance ready"))
            .cloned()
            .collect();
        open.sort();
        open
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
        for run in 1..=self.runs {
            let log = std::fs::read_to_string(self.log_path(run)).unwrap_or_default();
            test_log::show(&format!("service run {run}"), &log);
        }
    }
}
