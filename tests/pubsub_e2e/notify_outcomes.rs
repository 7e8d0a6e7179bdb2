//! A notification for each outcome, end to end: messages published to Google's Pub/Sub
//! emulator become runs of the service binary that real papermill executes on emulated
//! instances, and each outcome reaches a local receiver once for each rule that asks for it,
//! in that rule's format: a success with its result (Slack's format, its URL in the emulator's
//! Secret Manager as `url_secret` names it, and JSON), a notebook past its `max_run_time`
//! (Google Chat's, its URL in the service's environment as `url_env` names it), a run cancelled
//! from the terminal naming who cancelled it, a message skipped while its profile's one slot is
//! held, a notebook that kills its own runner and is reaped `unreported`, and a failing attempt
//! that is retried (JSON, its URL in the profile). A failure's own notification is `notify`'s.
//! The outcomes run at once; nothing arrives that no rule asked for.

use std::time::{Duration, Instant};

use notebooks_emulator::Emulator;
use serde_json::{Value, json};
use storage_client::StorageClient;

use crate::chaos::KILL_THE_RUNNER;
use crate::deployment::{Deployment, emulators, finished, launched_record, publish, records};
use crate::operate::runs_here;
use crate::pubsub_emulator::PubSubEmulator;
use crate::receiver::Receiver;
use crate::runs::{BUCKET, finished_record, notebook, stage};
use crate::secrets::seed_secret;
use crate::service::Service;
use crate::{PROJECT, eventually};

/// The secret whose latest version is the Slack rule's URL.
const SLACK_SECRET: &str = "slack-hook";
/// The service's variable that holds the Google Chat rule's URL.
const CHAT_VARIABLE: &str = "E2E_CHAT_WEBHOOK";
/// The crashing notebook's `max_run_time`, in seconds: long enough for its kernel to start and
/// kill the runner before the runner's own limit could end the run `timed_out`.
const CRASHING_MAX_RUN_TIME: i64 = 15;
/// `RUN_GRACE`, in seconds: past the crashing run's limit, the reap judges it unreported.
const RUN_GRACE: i64 = 10;
/// How long any one outcome may take to be recorded and notified.
const WITHIN: Duration = Duration::from_secs(120);

/// What the successful notebook returns.
fn result() -> Value {
    json!({"rows": 3, "table": "sales"})
}

fn notebooks() -> Vec<(&'static str, Vec<u8>)> {
    let returns = format!(
        "import json, os\nos.makedirs('outputs', exist_ok=True)\n\
         json.dump({}, open('outputs/result.json', 'w'))",
        result()
    );
    let sleeps = || notebook("x = 1", &["import time\ntime.sleep(300)"]);
    vec![
        ("nb/done/done.ipynb", notebook("x = 1", &[&returns])),
        ("nb/overrun/overrun.ipynb", sleeps()),
        ("nb/busy/busy.ipynb", sleeps()),
        (
            "nb/crashing/crashing.ipynb",
            notebook("x = 1", &[KILL_THE_RUNNER, "import time\ntime.sleep(2)"]),
        ),
        (
            "nb/flaky/flaky.ipynb",
            notebook("x = 1", &["raise ValueError('the data is bad')"]),
        ),
    ]
}

/// Each profile asks for one outcome (`busy` for two) at a path of the receiver of its own.
fn profiles(receiver: &Receiver) -> String {
    format!(
        r#"[profiles.done]
notebook = "gs://{BUCKET}/nb/done/done.ipynb"
notify = [
  {{ url_secret = "projects/{PROJECT}/secrets/{SLACK_SECRET}/versions/latest", on = ["succeeded"], format = "slack" }},
  {{ url = "{done}", on = ["succeeded"], format = "json" }},
]
[profiles.overrun]
notebook = "gs://{BUCKET}/nb/overrun/overrun.ipynb"
max_run_time = "4s"
notify = [{{ url_env = "{CHAT_VARIABLE}", on = ["timed_out"], format = "google_chat" }}]
[profiles.busy]
notebook = "gs://{BUCKET}/nb/busy/busy.ipynb"
max_concurrent_runs = 1
when_busy = "skip"
notify = [{{ url = "{busy}", on = ["cancelled", "skipped"] }}]
[profiles.crashing]
notebook = "gs://{BUCKET}/nb/crashing/crashing.ipynb"
max_run_time = "{CRASHING_MAX_RUN_TIME}s"
notify = [{{ url = "{crashing}", on = ["unreported"] }}]
[profiles.flaky]
notebook = "gs://{BUCKET}/nb/flaky/flaky.ipynb"
retries = 1
retry_delay = "0s"
notify = [{{ url = "{flaky}", on = ["retrying"], format = "json" }}]
"#,
        done = receiver.url("/done"),
        busy = receiver.url("/busy"),
        crashing = receiver.url("/crashing"),
        flaky = receiver.url("/flaky"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_reaches_each_rule_that_asks_for_it_once_in_its_format() {
    let Some((gcs, pubsub)) = emulators().await else {
        return;
    };
    let receiver = Receiver::start().await;
    let (storage, notebooks) = stage(&gcs, notebooks()).await;
    let secret_manager = notebooks.secretmanager_url();
    seed_secret(
        &secret_manager,
        PROJECT,
        SLACK_SECRET,
        &receiver.url("/slack"),
    )
    .await;
    let extra = [
        (CHAT_VARIABLE, receiver.url("/chat")),
        ("RUN_GRACE", format!("{RUN_GRACE}s")),
    ];
    let profiles = profiles(&receiver);
    let deployed = Deployment::start(&gcs, &notebooks, &pubsub, &profiles, &extra).await;
    for profile in ["done", "overrun", "busy", "crashing", "flaky"] {
        publish(&pubsub, &json!({ "profile": profile }).to_string()).await;
    }
    let world = World {
        storage: &storage,
        notebooks: &notebooks,
        pubsub: &pubsub,
        service: &deployed.service,
        receiver: &receiver,
    };
    tokio::join!(world.succeeded(), world.retried(), async {
        tokio::join!(world.timed_out(), world.cancelled_and_skipped());
        // Only now may a reap judge runs past their time: the runs with a short limit have
        // reported, and none is left to it but the one that crashed.
        world.unreported().await;
    });

    let mut got: Vec<String> = receiver
        .all()
        .iter()
        .map(|(path, body)| format!("{path} {}", body["event"].as_str().unwrap_or("-")))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "/busy cancelled",
            "/busy skipped",
            "/chat -",
            "/crashing unreported",
            "/done succeeded",
            "/flaky retrying",
            "/slack -",
        ],
        "each once, nothing else: {:#?}",
        receiver.all()
    );
}

/// What the test watches and acts on.
struct World<'a> {
    storage: &'a StorageClient,
    notebooks: &'a Emulator,
    pubsub: &'a PubSubEmulator,
    service: &'a Service,
    receiver: &'a Receiver,
}

impl World<'_> {
    /// The run's page, as a notification links it.
    fn link(&self, record: &Value) -> String {
        let run = record["run_id"].as_str().unwrap();
        format!("{}runs/{run}", self.service.endpoint())
    }

    /// The one notification at `path` so far, once there is one.
    async fn one_at(&self, path: &str) -> Value {
        let got = self.receiver.received(WITHIN, |at, _| at == path).await;
        assert_eq!(got.len(), 1, "once at {path}: {got:#?}");
        got.into_iter().next().unwrap()
    }

    /// A JSON notification of `event` tells the run of `record` (attempt `attempt`).
    fn tells(&self, body: &Value, event: &str, record: &Value, attempt: u32) {
        assert_eq!(body["event"], event, "{body:#}");
        assert_eq!(body["state"], record["state"], "{body:#}");
        assert_eq!(body["run_id"], record["run_id"], "{body:#}");
        assert_eq!(body["attempt"], attempt, "{body:#}");
        assert_eq!(body["link"], self.link(record), "{body:#}");
        let error = record["error"].as_str().unwrap_or_default();
        assert_eq!(body["error"], error, "{body:#}");
    }

    /// A success, with its result: in JSON, and in Slack's text and section block.
    async fn succeeded(&self) {
        let record = finished_record(self.storage, WITHIN, "done").await;
        assert_eq!(record["state"], "succeeded", "{record:#}");
        assert_eq!(record["result"], result(), "{record:#}");
        let json = self.one_at("/done").await;
        self.tells(&json, "succeeded", &record, 1);
        assert_eq!(json["result"], result(), "{json:#}");
        assert!(json["duration_seconds"].is_u64(), "{json:#}");

        let slack = self.one_at("/slack").await;
        let run = record["run_id"].as_str().unwrap();
        let headline = slack["text"].as_str().unwrap();
        assert!(
            headline.starts_with(&format!("Run {run} (profile done) succeeded after ")),
            "{slack:#}"
        );
        let section = &slack["blocks"][0];
        assert_eq!(section["type"], "section", "{slack:#}");
        assert_eq!(section["text"]["type"], "mrkdwn", "{slack:#}");
        let link = self.link(&record);
        let text = format!(
            "*{headline}*\nResult: ```{}```\n<{link}|Open the run>",
            result()
        );
        assert_eq!(section["text"]["text"], text, "{slack:#}");
    }

    /// A notebook past its `max_run_time`, in Google Chat's text.
    async fn timed_out(&self) {
        let record = finished_record(self.storage, WITHIN, "overrun").await;
        assert_eq!(record["state"], "timed_out", "{record:#}");
        assert_eq!(record["error"], "the notebook ran longer than 4s");
        let chat = self.one_at("/chat").await;
        assert_eq!(
            chat.as_object().map(|o| o.len()),
            Some(1),
            "text only: {chat:#}"
        );
        let text = chat["text"].as_str().unwrap();
        let run = record["run_id"].as_str().unwrap();
        let link = self.link(&record);
        assert!(
            text.starts_with(&format!("*Run {run} (profile overrun) timed_out after "))
                && text.ends_with(&format!(
                    "*\n```the notebook ran longer than 4s```\n<{link}|Open the run>"
                )),
            "{text}"
        );
    }

    /// A second message while the first run holds its profile's one slot is skipped; then the
    /// first is cancelled from the terminal while papermill runs it.
    async fn cancelled_and_skipped(&self) {
        let running = launched_record(self.storage, "busy").await;
        publish(self.pubsub, r#"{"profile": "busy"}"#).await;
        let skipped = self.skipped_record("busy").await;
        let instance = running["instance"].as_str().unwrap();
        eventually(WITHIN, "papermill runs the busy notebook", || {
            self.notebooks
                .console(instance)
                .contains("papermill busy.ipynb")
        })
        .await;
        let run = running["run_id"].as_str().unwrap();
        let said = runs_here(self.service, &["cancel", run]).await;
        assert!(said.contains("asked by cli:tester"), "{said}");
        let cancelled = finished_record(self.storage, WITHIN, "busy").await;
        assert_eq!(cancelled["run_id"], run, "{cancelled:#}");
        assert_eq!(cancelled["state"], "cancelled", "{cancelled:#}");

        let busy = self.receiver.received(WITHIN, |path, body| {
            path == "/busy" && body["event"] == "cancelled"
        });
        let notice = &busy.await[0];
        self.tells(notice, "cancelled", &cancelled, 1);
        assert_eq!(notice["cancelled_by"], "cli:tester", "{notice:#}");
        let text = notice["text"].as_str().unwrap();
        assert!(
            text.contains(&format!(
                "Run {run} (profile busy) cancelled by cli:tester after "
            )),
            "{text}"
        );
        let notice = &self.receiver.of_event("skipped", WITHIN).await[0];
        self.tells(notice, "skipped", &skipped, 1);
        assert!(
            notice["duration_seconds"].is_null(),
            "it never ran: {notice:#}"
        );
    }

    /// The record of the run of `profile` recorded skipped, once there is one.
    async fn skipped_record(&self, profile: &str) -> Value {
        let deadline = Instant::now() + WITHIN;
        loop {
            let records = records(self.storage).await;
            let skipped = |r: &&Value| r["profile"] == profile && r["state"] == "skipped";
            if let Some(record) = records.iter().find(skipped) {
                return record.clone();
            }
            assert!(Instant::now() < deadline, "no skipped run of {profile}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A notebook that kills its own runner: nobody reports, and a reap past its
    /// `max_run_time` and `RUN_GRACE` ends it `unreported`.
    async fn unreported(&self) {
        let crashed = launched_record(self.storage, "crashing").await;
        let launched: jiff::Timestamp = crashed["launched"].as_str().unwrap().parse().unwrap();
        let limit = jiff::SignedDuration::from_secs(CRASHING_MAX_RUN_TIME + RUN_GRACE);
        while jiff::Timestamp::now() < launched + limit {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The reaper counts from the instance's creation, a moment after the launch.
        let deadline = Instant::now() + Duration::from_secs(30);
        let ended = loop {
            let reap = self.service.reap_cli();
            let reaped = tokio::task::block_in_place(|| reap.wait_with_output().unwrap());
            let said = String::from_utf8_lossy(&reaped.stdout).into_owned();
            assert!(reaped.status.success(), "{said}");
            let records = records(self.storage).await;
            let ended = records
                .into_iter()
                .find(|r| r["run_id"] == crashed["run_id"] && finished(r));
            if let Some(ended) = ended {
                break ended;
            }
            assert!(Instant::now() < deadline, "not reaped: {said}");
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        assert_eq!(ended["state"], "unreported", "{ended:#}");
        assert!(
            ended["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("no report: up for")),
            "{ended:#}"
        );
        let notice = self.one_at("/crashing").await;
        self.tells(&notice, "unreported", &ended, 1);
    }

    /// A failing first attempt is retried once: the retry is announced, naming the next
    /// attempt; the second attempt's failure retries nothing and is not asked for.
    async fn retried(&self) {
        let deadline = Instant::now() + WITHIN;
        let attempts = loop {
            let mut attempts = records(self.storage).await;
            attempts.retain(|r| r["profile"] == "flaky");
            if attempts.len() == 2 && attempts.iter().all(finished) {
                attempts.sort_by_key(|r| r["origin"]["attempt"].as_u64().unwrap_or(1));
                break attempts;
            }
            assert!(Instant::now() < deadline, "{attempts:#?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        assert_eq!(attempts[0]["state"], "failed", "{attempts:#?}");
        assert_eq!(attempts[1]["state"], "failed", "{attempts:#?}");
        assert_eq!(attempts[1]["origin"]["of"], attempts[0]["run_id"]);
        let notice = self.one_at("/flaky").await;
        self.tells(&notice, "retrying", &attempts[0], 1);
        let text = notice["text"].as_str().unwrap();
        assert!(
            text.contains("(profile flaky) ended failed; attempt 2 starts at "),
            "{text}"
        );
        assert_eq!(
            notice["error"], "cell 2 raised ValueError: the data is bad",
            "{notice:#}"
        );
    }
}
