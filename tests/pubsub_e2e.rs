//! End to end through real Pub/Sub: Google's Pub/Sub emulator pushes to the service binary,
//! which launches instances on the Notebooks emulator. Skipped (with the reason printed) where
//! the Cloud SDK is missing, unless `REQUIRE_PUBSUB_EMULATOR=1`.

#[path = "support/pubsub_emulator.rs"]
mod pubsub_emulator;
#[path = "support/test_log.rs"]
mod test_log;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use notebooks_emulator::{Emulator, EmulatorConfig};
use pubsub_emulator::PubSubEmulator;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_notebook-trigger");
const PROJECT: &str = "e2e-project";
/// The line the service logs once per answered push (see `src/http.rs`).
const ANSWER_LINES: [&str; 3] = [
    "instance ready",
    "not launched yet; Pub/Sub will redeliver",
    "launch refused",
];

/// The service as a separate process on a fixed port, so it can be SIGKILLed and restarted.
struct Service {
    child: Option<Child>,
    port: u16,
    env: Vec<(String, String)>,
    logs: tempfile::TempDir,
    runs: usize,
}

impl Service {
    fn start(notebooks: &Emulator, extra: &[(&str, &str)]) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
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

    fn spawn(&mut self) {
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
                "service did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_path(&self, run: usize) -> PathBuf {
        self.logs.path().join(format!("run-{run}.log"))
    }

    /// SIGKILL, as a crash or an OOM kill would: no graceful shutdown.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn restart(&mut self, extra: &[(&str, &str)]) {
        self.kill();
        for (k, v) in extra {
            self.env.retain(|(key, _)| key != k);
            self.env.push(((*k).to_owned(), (*v).to_owned()));
        }
        self.spawn();
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The JSON lines the service logged in one run.
    fn run_lines(&self, run: usize) -> Vec<Value> {
        std::fs::read_to_string(self.log_path(run))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .collect()
    }

    /// Every JSON line the service logged, over all its runs.
    fn log_lines(&self) -> Vec<Value> {
        (1..=self.runs)
            .flat_map(|run| self.run_lines(run))
            .collect()
    }

    /// Deliveries a SIGKILL cut: launched in a run that was killed, and not answered in it.
    fn cut_by_crashes(&self) -> usize {
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
    fn deliveries(&self) -> usize {
        self.log_lines()
            .iter()
            .filter(|line| ANSWER_LINES.contains(&line["message"].as_str().unwrap_or_default()))
            .count()
    }

    /// Message ids the service started launching but never answered "instance ready", for a
    /// failure message: they tell a lost message from a slow one.
    fn unfinished(&self) -> Vec<String> {
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

/// How the push subscription spaces redeliveries after a nack.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backoff {
    /// A `retryPolicy`, as `deploy/deploy.sh` sets in production, shortened to 1 s to 3 s.
    Exponential,
    /// No `retryPolicy`: redeliver at once. Needed where messages may be nacked more than
    /// twice in a row: with a `retryPolicy`, Google's Pub/Sub emulator (0.8.20, Cloud SDK 528)
    /// may never push again messages that were nacked for the third time together (see the
    /// README, "How the emulator differs from production"). Production Pub/Sub keeps
    /// redelivering until the dead-letter policy takes the message.
    Immediate,
}

/// Topic, dead-letter topic with a pull subscription, and a push subscription to the service.
struct Topology {
    http: reqwest::Client,
}

impl Topology {
    async fn create(
        pubsub: &PubSubEmulator,
        push_endpoint: &str,
        max_delivery_attempts: u32,
        backoff: Backoff,
    ) -> Topology {
        let topology = Topology {
            http: reqwest::Client::new(),
        };
        for topic in ["trigger", "trigger-dead"] {
            topology
                .put(pubsub, &format!("topics/{topic}"), json!({}))
                .await;
        }
        topology
            .put(
                pubsub,
                "subscriptions/trigger-dead-pull",
                json!({"topic": format!("projects/{PROJECT}/topics/trigger-dead")}),
            )
            .await;
        let mut subscription = json!({
            "topic": format!("projects/{PROJECT}/topics/trigger"),
            "pushConfig": {"pushEndpoint": push_endpoint},
            "ackDeadlineSeconds": 30,
            "deadLetterPolicy": {"deadLetterTopic": format!("projects/{PROJECT}/topics/trigger-dead"), "maxDeliveryAttempts": max_delivery_attempts},
        });
        if backoff == Backoff::Exponential {
            subscription["retryPolicy"] = json!({"minimumBackoff": "1s", "maximumBackoff": "3s"});
        }
        topology
            .put(pubsub, "subscriptions/trigger-push", subscription)
            .await;
        topology
    }

    async fn put(&self, pubsub: &PubSubEmulator, path: &str, body: Value) {
        let response = self
            .http
            .put(pubsub.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "PUT {path}: {}",
            response.text().await.unwrap()
        );
    }

    async fn publish_batch(&self, pubsub: &PubSubEmulator, data: &[String]) {
        let messages: Vec<Value> = data
            .iter()
            .map(|d| json!({"data": base64::engine::general_purpose::STANDARD.encode(d)}))
            .collect();
        let response = self
            .http
            .post(pubsub.url("topics/trigger:publish"))
            .json(&json!({"messages": messages}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    async fn pull_dead_letters(&self, pubsub: &PubSubEmulator) -> Vec<Value> {
        let response = self
            .http
            .post(pubsub.url("subscriptions/trigger-dead-pull:pull"))
            .json(&json!({"maxMessages": 10}))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        body["receivedMessages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Gives a pulled message back at once (what a nack does), so `replay` can take it.
    async fn release(&self, pubsub: &PubSubEmulator, ack_ids: Vec<Value>) {
        let body = json!({"ackIds": ack_ids, "ackDeadlineSeconds": 0});
        let response = self
            .http
            .post(pubsub.url("subscriptions/trigger-dead-pull:modifyAckDeadline"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}

async fn notebooks(provision: Duration) -> Emulator {
    let config = EmulatorConfig {
        provision_time: provision,
        seed: 7,
        ..EmulatorConfig::default()
    };
    test_log::init();
    Emulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap()
}

/// Runs the binary as a user would, bounded in time; the child is killed if the test fails.
async fn cli(pubsub: &PubSubEmulator, args: &[&str]) -> std::process::Output {
    let child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PUBSUB_EMULATOR_HOST", &pubsub.host)
        .env("GOOGLE_CLOUD_PROJECT", PROJECT)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cli runs");
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("`{}` did not finish within 60 s", args.join(" ")))
        .expect("cli output")
}

/// Waits until `check` holds, up to `limit`.
async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn active(notebooks: &Emulator) -> usize {
    notebooks
        .instances()
        .iter()
        .filter(|i| i["state"] == "ACTIVE")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_messages_launch_exactly_what_they_ask_for() {
    let Some(pubsub) = PubSubEmulator::start(PROJECT) else {
        return;
    };
    let notebooks = notebooks(Duration::from_millis(500)).await;
    let mut service = Service::start(&notebooks, &[("ALLOWED_OVERRIDES", "machine_type,labels")]);
    let _topology = Topology::create(&pubsub, &service.endpoint(), 5, Backoff::Exponential).await;

    // A plain-text test message, through the real binary.
    let output = cli(
        &pubsub,
        &["publish", "--topic", "trigger", "TweetiNoteStartTopic"],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).trim().is_empty(),
        "publish prints the message id"
    );
    eventually(Duration::from_secs(30), "one ACTIVE instance", || {
        active(&notebooks) == 1
    })
    .await;

    // A JSON payload with an allowed override.
    let output = cli(
        &pubsub,
        &[
            "publish",
            "--topic",
            "trigger",
            r#"{"machine_type":"n1-standard-16","labels":{"run":"e2e"}}"#,
        ],
    )
    .await;
    assert!(output.status.success());
    eventually(Duration::from_secs(30), "the override instance", || {
        active(&notebooks) == 2
    })
    .await;
    let instances = notebooks.instances();
    assert!(
        instances.iter().any(
            |i| i["gceSetup"]["machineType"] == "n1-standard-16" && i["labels"]["run"] == "e2e"
        )
    );

    // A slow operation: longer than POLL_TIMEOUT → 503, redelivery, resumed, one instance.
    service.restart(&[("POLL_TIMEOUT", "1s")]);
    notebooks.set_provision_time(Duration::from_secs(3));
    let output = cli(&pubsub, &["publish", "--topic", "trigger", "slow"]).await;
    assert!(output.status.success());
    eventually(
        Duration::from_secs(60),
        "the slow instance becomes ACTIVE",
        || active(&notebooks) == 3,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(notebooks.instances().len(), 3, "nothing duplicated");
    let slow = notebooks.instances().into_iter().find(|i| {
        i["gceSetup"]["machineType"] == "n1-standard-4"
            && i["labels"]["trigger-key"] != instances[0]["labels"]["trigger-key"]
    });
    assert!(slow.is_some());
    assert!(
        service.deliveries() >= 4,
        "the slow message needed more than one delivery"
    );
    notebooks.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_replayed_after_the_fix() {
    let Some(pubsub) = PubSubEmulator::start(PROJECT) else {
        return;
    };
    let notebooks = notebooks(Duration::from_millis(200)).await;
    let mut service = Service::start(&notebooks, &[]);
    let topology = Topology::create(&pubsub, &service.endpoint(), 5, Backoff::Exponential).await;

    let output = cli(
        &pubsub,
        &[
            "publish",
            "--topic",
            "trigger",
            "--attribute",
            "origin=webapp",
            r#"{"machine_type":"n1-highmem-8"}"#,
        ],
    )
    .await;
    assert!(output.status.success());
    let mut dead = Vec::new();
    let started = Instant::now();
    while dead.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the poison message never reached the dead-letter topic"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        dead = topology.pull_dead_letters(&pubsub).await;
    }
    let message = &dead[0]["message"];
    let data = base64::engine::general_purpose::STANDARD
        .decode(message["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, br#"{"machine_type":"n1-highmem-8"}"#);
    assert_eq!(message["attributes"]["origin"], "webapp");
    assert!(
        message["attributes"]["CloudPubSubDeadLetterSourceSubscription"].is_string(),
        "{message}"
    );
    assert!(
        message["attributes"]["CloudPubSubDeadLetterSourceDeliveryCount"].is_string(),
        "{message}"
    );
    assert!(
        notebooks.instances().is_empty(),
        "a refused message creates nothing"
    );
    assert!(notebooks.create_requests().is_empty());
    topology
        .release(&pubsub, dead.iter().map(|m| m["ackId"].clone()).collect())
        .await;

    // The fix: the deployment now allows machine_type overrides. Then replay.
    service.restart(&[("ALLOWED_OVERRIDES", "machine_type")]);
    let replay = cli(
        &pubsub,
        &[
            "replay",
            "--subscription",
            "trigger-dead-pull",
            "--topic",
            "trigger",
            "--idle",
            "3s",
        ],
    )
    .await;
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let report: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(report["republished"], 1);
    eventually(
        Duration::from_secs(30),
        "the replayed message launches",
        || active(&notebooks) == 1,
    )
    .await;
    assert_eq!(
        notebooks.instances()[0]["gceSetup"]["machineType"],
        "n1-highmem-8"
    );
    assert!(
        topology.pull_dead_letters(&pubsub).await.is_empty(),
        "the dead-letter subscription is empty"
    );
    notebooks.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_api_faults_and_crashes_nothing_is_lost_and_nothing_duplicated() {
    let Some(pubsub) = PubSubEmulator::start(PROJECT) else {
        return;
    };
    let setting = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name}={v} is not a count"))
            })
            .unwrap_or(default)
    };
    let count = setting("RELIABILITY_MESSAGES", 300);
    let kills = setting("RELIABILITY_KILLS", 2);
    let notebooks = notebooks(Duration::from_secs(1)).await;
    notebooks.set_fault_rate(0.10);
    let mut service = Service::start(&notebooks, &[]);
    // A crashed delivery is nacked by the dropped connection and a faulted one by a 503, so one
    // message can be nacked three times in a row: see `Backoff::Immediate`.
    let topology = Topology::create(&pubsub, &service.endpoint(), 5, Backoff::Immediate).await;
    let started = Instant::now();
    let data: Vec<String> = (0..count).map(|i| format!("run-{i}")).collect();
    for chunk in data.chunks(100) {
        topology.publish_batch(&pubsub, chunk).await;
    }
    // SIGKILL (a crash, an OOM kill: no graceful shutdown) spread over the run, so each one
    // lands while launches are mid-poll; the service comes back on the same port.
    let mut crash_points = (1..=kills).map(|k| k * count / (kills + 1)).peekable();
    let deadline = started + Duration::from_secs(300);
    loop {
        let ready = active(&notebooks);
        if ready >= count {
            break;
        }
        if crash_points.next_if(|&at| ready >= at).is_some() {
            service.restart(&[]);
        }
        assert!(
            Instant::now() < deadline,
            "after 300 s: {ready} of {count} ACTIVE, {} instances, {} answered deliveries, {} API requests; launched but never answered ready: {:?}",
            notebooks.instances().len(),
            service.deliveries(),
            notebooks.request_count(),
            service.unfinished()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        crash_points.next().is_none(),
        "every crash happened during the run"
    );
    let cut = service.cut_by_crashes();
    assert!(
        kills == 0 || cut > 0,
        "the crashes landed between launches, so they proved nothing"
    );
    // Late redeliveries would show up as extra instances.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let instances = notebooks.instances();
    let keys: HashSet<&str> = instances
        .iter()
        .filter_map(|i| i["labels"]["trigger-key"].as_str())
        .collect();
    assert_eq!(instances.len(), count, "nothing duplicated");
    assert_eq!(keys.len(), count, "one instance per message");
    println!(
        "{count} messages → {count} instances in {:.1}s; {} answered push deliveries, {} Notebooks API requests (10 % faulted), service SIGKILLed {kills} times cutting {cut} launches mid-flight",
        started.elapsed().as_secs_f64(),
        service.deliveries(),
        notebooks.request_count()
    );
    notebooks.shutdown().await;
}
