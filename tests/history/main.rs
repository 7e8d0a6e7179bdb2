//! `notebook-trigger runs` (the real binary) over real sockets: run records seeded into Cloud
//! Storage (the Notebooks emulator's own, and fake-gcs-server), one run's instance up in the
//! Notebooks emulator, one damaged record. The listing's order, filters, limit and JSON, the
//! table, and `runs show` are checked against what was seeded.

#[path = "../support/child.rs"]
mod child;
#[path = "../support/fake_gcs.rs"]
mod fake_gcs;
#[path = "../support/test_log.rs"]
mod test_log;

mod reading;

use notebook_trigger::run::RECORDS_PREFIX;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use child::{Finished, run_bounded};
use jiff::{SignedDuration, Timestamp};
use notebooks_emulator::storage::StorageClient;
use notebooks_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

const PROJECT: &str = "history-project";
const ZONE: &str = "us-central1-a";
const BUCKET: &str = "history-runs";
/// The default profile's output prefix, and the `nightly` profile's.
const OUTPUTS: [(&str, &str); 2] = [("default", "runs"), ("nightly", "nightly")];
/// A record that is not one, where the runs of `runs/` keep their records.
const DAMAGED: &str = "notebook-trigger-records/runs/r00000000000000ff.json";

/// One seeded run.
struct Seed {
    run: String,
    profile: &'static str,
    state: &'static str,
    /// How long before now it was launched.
    age: SignedDuration,
    exit_code: Option<i32>,
    /// Its instance is up in the emulator.
    live: bool,
    /// Files beside its record.
    files: &'static [&'static str],
    log_tail: &'static str,
}

impl Seed {
    fn prefix(&self) -> &'static str {
        OUTPUTS.iter().find(|(p, _)| *p == self.profile).unwrap().1
    }

    fn folder(&self) -> String {
        format!("gs://{BUCKET}/{}/{}/", self.prefix(), self.run)
    }

    /// Where the run's record is, apart from its files.
    fn record_object(&self) -> String {
        format!("{RECORDS_PREFIX}/{}/{}.json", self.prefix(), self.run)
    }

    fn launched(&self, now: Timestamp) -> Timestamp {
        now - self.age
    }

    /// Its status as a history shows it.
    fn status(&self) -> &'static str {
        if self.live && self.state == "launched" {
            "running"
        } else {
            self.state
        }
    }

    fn record(&self, now: Timestamp) -> Value {
        let launched = self.launched(now);
        let mut record = json!({
            "schema": 1, "run_id": self.run, "trigger": "pubsub", "message_id": self.run,
            "profile": self.profile, "notebook": format!("gs://{BUCKET}/nb/seed.ipynb"),
            "parameters": {"rows": 3},
            "instance": format!("projects/{PROJECT}/locations/{ZONE}/instances/nb-{}", self.run),
            "output": self.folder(), "launched": launched.to_string(), "state": self.state,
        });
        if let Some(code) = self.exit_code {
            record["exit_code"] = json!(code);
            record["started"] = json!((launched + SignedDuration::from_secs(60)).to_string());
            record["finished"] = json!((launched + SignedDuration::from_secs(247)).to_string());
            record["log_tail"] = json!(self.log_tail);
            record["outputs"] = json!(
                self.files
                    .iter()
                    .map(|f| format!("{}{f}", self.folder()))
                    .collect::<Vec<_>>()
            );
        }
        record
    }
}

fn seeds() -> Vec<Seed> {
    let hours = |h: i64| SignedDuration::from_hours(h);
    let seed = |n: u8, profile, state, age, exit_code| Seed {
        run: format!("r{n:016x}"),
        profile,
        state,
        age,
        exit_code,
        live: false,
        files: &[],
        log_tail: "",
    };
    vec![
        Seed {
            files: &["seed.ipynb", "outputs/result.csv"],
            log_tail: "Executing cell 3 of 4\nValueError: no rows",
            ..seed(2, "nightly", "failed", hours(50), Some(1))
        },
        Seed {
            files: &["seed.ipynb"],
            log_tail: "Executing cell 4 of 4",
            ..seed(1, "default", "succeeded", hours(1), Some(0))
        },
        Seed {
            live: true,
            ..seed(
                3,
                "default",
                "launched",
                SignedDuration::from_mins(10),
                None,
            )
        },
        seed(4, "default", "timed_out", hours(24 * 10), Some(124)),
        seed(5, "nightly", "launched", hours(3), None),
    ]
}

/// The emulator (instances; its own Cloud Storage unless `storage` names another), the
/// records of [`seeds`] and the damaged one written, the live run's instance ACTIVE.
async fn seeded(storage: Option<&str>) -> (Emulator, String, Vec<Seed>, Timestamp) {
    test_log::init();
    let config = EmulatorConfig {
        provision_time: Duration::from_millis(100),
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap();
    let storage_url = storage.map_or_else(|| emulator.storage_url(), str::to_owned);
    let storage = StorageClient::new(storage_url.parse().unwrap());
    storage.ensure_bucket(PROJECT, BUCKET).await.unwrap();
    let now = Timestamp::now();
    let seeds = seeds();
    for seed in &seeds {
        let object = format!("{}/{}/", seed.prefix(), seed.run);
        let body = serde_json::to_vec(&seed.record(now)).unwrap();
        storage
            .upload(BUCKET, &seed.record_object(), "application/json", body)
            .await
            .unwrap();
        for file in seed.files {
            let name = format!("{object}{file}");
            storage
                .upload(BUCKET, &name, "text/plain", b"x".to_vec())
                .await
                .unwrap();
        }
        if seed.live {
            create_instance(&emulator, seed).await;
        }
    }
    storage
        .upload(
            BUCKET,
            DAMAGED,
            "application/json",
            b"{\"schema\": 1, \"run_".to_vec(),
        )
        .await
        .unwrap();
    wait_active(&emulator, seeds.iter().filter(|s| s.live).count()).await;
    (emulator, storage_url, seeds, now)
}

/// The instance a launch makes for the run: its run id and the managed-by label.
async fn create_instance(emulator: &Emulator, seed: &Seed) {
    let body = json!({
        "labels": {"run-id": seed.run, "managed-by": "notebook-trigger"},
        "gceSetup": {"machineType": "e2-standard-4"},
    });
    let created = reqwest::Client::new()
        .post(format!(
            "{}/v2/projects/{PROJECT}/locations/{ZONE}/instances?instanceId=nb-{}",
            emulator.base_url(),
            seed.run
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
}

async fn wait_active(emulator: &Emulator, count: usize) {
    for _ in 0..200 {
        let active = emulator
            .instances()
            .iter()
            .filter(|i| i["state"] == "ACTIVE")
            .count();
        if active == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("not ACTIVE: {:?}", emulator.instances());
}

/// `notebook-trigger runs ARGS` configured as the service would be, with a clean environment.
fn runs(emulator: &Emulator, storage: &str, args: &[&str]) -> Finished {
    let home = tempfile::tempdir().unwrap();
    let profiles = home.path().join("profiles.toml");
    std::fs::write(
        &profiles,
        format!(
            "[profiles.nightly]\noutput = \"gs://{BUCKET}/{}\"\n",
            OUTPUTS[1].1
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_notebook-trigger"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("NOTEBOOKS_EMULATOR_HOST", emulator.local_addr().to_string())
        .env("STORAGE_EMULATOR_HOST", storage)
        .env("GOOGLE_CLOUD_PROJECT", PROJECT)
        .env("NOTEBOOK_LOCATION", ZONE)
        .env(
            "CONTAINER_IMAGE",
            "europe-west3-docker.pkg.dev/p/r/python-docker",
        )
        .env("NOTEBOOK", format!("gs://{BUCKET}/nb/seed.ipynb"))
        .env("NOTEBOOK_OUTPUT", format!("gs://{BUCKET}/{}", OUTPUTS[0].1))
        .env("SERVICE_URL", "https://notebook-trigger.test")
        .env("RUNNER_SCRIPT", format!("gs://{BUCKET}/runner.sh"))
        .env("PROFILES_FILE", &profiles)
        .arg("runs")
        .args(args);
    run_bounded(&mut command, Duration::from_secs(30))
}

/// Runs `runs ARGS --json` and returns the listing.
fn listing(emulator: &Emulator, storage: &str, args: &[&str]) -> (Value, String) {
    let mut args = args.to_vec();
    args.push("--json");
    let done = runs(emulator, storage, &args);
    assert!(done.status.success(), "{args:?}: {}", done.stderr);
    (serde_json::from_str(&done.stdout).unwrap(), done.stderr)
}

fn ids(listing: &Value) -> Vec<String> {
    listing["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["run_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The seeds `keep` chooses, newest first: what a listing must show.
fn expected(seeds: &[Seed], keep: impl Fn(&Seed) -> bool) -> Vec<String> {
    let mut chosen: Vec<&Seed> = seeds.iter().filter(|s| keep(s)).collect();
    chosen.sort_by_key(|s| s.age);
    chosen.iter().map(|s| s.run.clone()).collect()
}

fn check_history(emulator: &Emulator, storage: &str, seeds: &[Seed], now: Timestamp) {
    let (all, stderr) = listing(emulator, storage, &["--limit", "0"]);
    assert_eq!(ids(&all), expected(seeds, |_| true), "{all:#}");
    assert_eq!(all["matched"], seeds.len());
    let damaged = format!("gs://{BUCKET}/{DAMAGED}");
    let warnings = all["warnings"]
        .as_array()
        .expect("a warning for the damaged record");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains(&damaged)),
        "{warnings:?}"
    );
    assert!(stderr.contains(&damaged), "warnings go to stderr: {stderr}");
    for (row, seed) in all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .zip(expected_seeds(seeds))
    {
        assert_eq!(row["profile"], seed.profile, "{row}");
        assert_eq!(row["state"], seed.state, "{row}");
        assert_eq!(row["status"], seed.status(), "{row}");
        assert_eq!(row["output"], seed.folder(), "{row}");
        assert_eq!(row["exit_code"], json!(seed.exit_code), "{row}");
        let launched: Timestamp = row["launched"].as_str().unwrap().parse().unwrap();
        assert_eq!(launched, seed.launched(now), "{row}");
        let live = seed.live.then_some("ACTIVE");
        assert_eq!(row["instance_state"].as_str(), live, "{row}");
    }

    let week = listing(emulator, storage, &["--since", "7d"]).0;
    let days = |s: &Seed| s.age < SignedDuration::from_hours(24 * 7);
    assert_eq!(ids(&week), expected(seeds, days));
    let narrow = listing(emulator, storage, &["--since", "30m"]).0;
    let recent = |s: &Seed| s.age < SignedDuration::from_mins(30);
    assert_eq!(ids(&narrow), expected(seeds, recent));
    let nightly = listing(emulator, storage, &["--profile", "nightly"]).0;
    assert_eq!(ids(&nightly), expected(seeds, |s| s.profile == "nightly"));
    let failed = listing(emulator, storage, &["--state", "failed"]).0;
    assert_eq!(ids(&failed), expected(seeds, |s| s.state == "failed"));
    let running = listing(emulator, storage, &["--state", "running"]).0;
    assert_eq!(ids(&running), expected(seeds, |s| s.status() == "running"));
    let two = listing(emulator, storage, &["--limit", "2"]).0;
    assert_eq!(ids(&two), expected(seeds, |_| true)[..2]);
    assert_eq!(two["matched"], seeds.len());

    let bad = runs(emulator, storage, &["--since", "yesterday"]);
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("since: `yesterday`"), "{}", bad.stderr);

    check_table(emulator, storage, seeds);
    check_show(emulator, storage, seeds);
}

fn expected_seeds(seeds: &[Seed]) -> Vec<&Seed> {
    let mut sorted: Vec<&Seed> = seeds.iter().collect();
    sorted.sort_by_key(|s| s.age);
    sorted
}

fn check_table(emulator: &Emulator, storage: &str, seeds: &[Seed]) {
    let table = runs(emulator, storage, &["--limit", "3"]);
    assert!(table.status.success(), "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("RUN ") && lines[0].ends_with("OUTPUT"),
        "{}",
        table.stdout
    );
    let newest = expected_seeds(seeds);
    for (line, seed) in lines[1..4].iter().zip(&newest) {
        assert!(line.starts_with(&seed.run), "{line}");
        assert!(line.ends_with(&seed.folder()), "{line}");
        let state = if seed.live {
            format!("{} (ACTIVE)", seed.status())
        } else {
            seed.status().to_owned()
        };
        assert!(line.contains(&format!("  {state}  ")), "{line}");
    }
    assert_eq!(
        lines.last().copied(),
        Some(format!("3 of {} runs (--limit 3)", seeds.len()).as_str())
    );
    assert!(table.stderr.contains("warning: "), "{}", table.stderr);
}

/// `runs show RUN --json`, and what it said on stderr.
fn shown_json(emulator: &Emulator, storage: &str, run: &str) -> (Value, String) {
    let done = runs(emulator, storage, &["show", run, "--json"]);
    assert!(done.status.success(), "{}", done.stderr);
    (serde_json::from_str(&done.stdout).unwrap(), done.stderr)
}

fn check_show(emulator: &Emulator, storage: &str, seeds: &[Seed]) {
    let seed = seeds.iter().find(|s| s.files.len() > 1).unwrap();
    let shown = runs(emulator, storage, &["show", &seed.run]);
    assert!(shown.status.success(), "{}", shown.stderr);
    let text = &shown.stdout;
    assert!(text.starts_with("run ") && text.lines().next().unwrap().ends_with(&seed.run));
    let tail = text.split("log tail:\n").nth(1).expect(text);
    for line in seed.log_tail.lines() {
        assert!(tail.contains(&format!("  {line}\n")), "{text}");
    }
    let mut objects: Vec<String> = seed
        .files
        .iter()
        .map(|f| format!("{}{f}", seed.folder()))
        .chain(std::iter::once(format!(
            "gs://{BUCKET}/{}",
            seed.record_object()
        )))
        .collect();
    objects.sort();
    let mut listed: Vec<&str> = text.split("objects:\n").nth(1).unwrap().lines().collect();
    listed.sort_unstable();
    assert_eq!(listed, objects, "{text}");

    let (detail, _) = shown_json(emulator, storage, &seed.run);
    assert_eq!(detail["run_id"], seed.run.as_str());
    assert_eq!(detail["log_tail"], seed.log_tail);
    assert_eq!(detail["objects"].as_array().unwrap().len(), objects.len());

    // The live run's own instance, asked for by the name its record keeps.
    let live = seeds.iter().find(|s| s.live).unwrap();
    let (detail, _) = shown_json(emulator, storage, &live.run);
    assert_eq!(
        (detail["status"].as_str(), detail["instance_state"].as_str()),
        (Some("running"), Some("ACTIVE")),
        "{detail:#}"
    );
    let (detail, _) = shown_json(emulator, storage, &seed.run);
    assert!(detail.get("instance_state").is_none(), "{detail:#}");

    let malformed = runs(emulator, storage, &["show", "r123"]);
    assert!(!malformed.status.success());
    assert!(
        malformed.stderr.contains("16 lowercase hex digits"),
        "{}",
        malformed.stderr
    );
    let unknown = format!("r{:016x}", 0xdead_u32);
    let missing = runs(emulator, storage, &["show", &unknown]);
    assert!(!missing.status.success());
    assert!(
        missing.stderr.contains(&format!("no run {unknown}")),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_lists_and_shows_the_records_in_the_emulators_storage() {
    let (emulator, storage, seeds, now) = seeded(None).await;
    tokio::task::block_in_place(|| check_history(&emulator, &storage, &seeds, now));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_lists_and_shows_the_records_in_fake_gcs_server() {
    let Some(gcs) = fake_gcs::FakeGcs::start().await else {
        return;
    };
    let (emulator, storage, seeds, now) = seeded(Some(&gcs.url)).await;
    tokio::task::block_in_place(|| check_history(&emulator, &storage, &seeds, now));
    emulator.shutdown().await;
}
