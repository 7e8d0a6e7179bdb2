//! Post-startup scripts: run when the instance becomes ACTIVE (on the emulator's clock), print
//! to the console, read their metadata, take tokens, write to Cloud Storage, and end with their
//! instance.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

/// Reads its metadata, takes an access token and an identity token, and writes both to
/// Cloud Storage with the access token (plain bash and curl, as a user's script would).
pub const REPORTING_SCRIPT: &str = r#"set -eu
md() { curl -sSf -H 'Metadata-Flavor: Google' "http://$GCE_METADATA_HOST/computeMetadata/v1/$1"; }
name=$(md instance/name)
echo "hello from $name in $(md instance/zone)"
token=$(md instance/service-accounts/default/token | sed -e 's/.*"access_token":"\([^"]*\)".*/\1/')
md "instance/service-accounts/default/identity?audience=https://service.test&format=full" > identity.jwt
for key in project/project-id instance/attributes/greeting instance/service-accounts/default/email; do
  echo "$(md $key)"
done > report.txt
for file in report.txt identity.jwt; do
  curl -sSf -o /dev/null -H "Authorization: Bearer $token" --data-binary "@$file" \
    "$STORAGE_EMULATOR_HOST/upload/storage/v1/b/scripts/o?uploadType=media&name=results/$name/$file"
done
echo "wrote gs://scripts/results/$name"
"#;

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn a_script_reads_its_metadata_and_writes_to(backend: Storage) {
    let workbench = Workbench::start(backend, true).await;
    workbench
        .create("nb", REPORTING_SCRIPT, json!({"greeting": "bonjour"}))
        .await;
    workbench.clock.advance(PROVISION);
    let console = workbench
        .console_until("nb", "post-startup-script finished")
        .await;
    assert!(console.contains("hello from nb in projects/"), "{console}");
    assert!(console.contains("zones/us-central1-a"), "{console}");
    assert!(
        console.contains("wrote gs://scripts/results/nb"),
        "{console}"
    );

    let report = workbench
        .storage
        .download(BUCKET, "results/nb/report.txt")
        .await
        .expect("the script wrote its report");
    assert_eq!(
        String::from_utf8(report).unwrap(),
        "p\nbonjour\nrunner@p.iam.gserviceaccount.com\n"
    );
    let jwt = workbench
        .storage
        .download(BUCKET, "results/nb/identity.jwt")
        .await
        .unwrap();
    let claims = claims(std::str::from_utf8(&jwt).unwrap());
    assert_eq!(claims["iss"], "https://accounts.google.com");
    assert_eq!(claims["aud"], "https://service.test");
    assert_eq!(claims["email"], "runner@p.iam.gserviceaccount.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["sub"], claims["azp"]);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let engine = &claims["google"]["compute_engine"];
    assert_eq!(engine["instance_name"], "nb");
    assert_eq!(engine["zone"], "us-central1-a");
    assert_eq!(engine["project_id"], "p");
    assert!(engine["project_number"].is_u64(), "{claims}");
    assert!(engine["instance_id"].is_string(), "{claims}");
    assert_eq!(workbench.state("nb"), "ACTIVE");
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn a_script_reads_its_metadata_and_writes_to_the_emulators_storage() {
    a_script_reads_its_metadata_and_writes_to(Storage::Local).await;
}

#[tokio::test]
async fn a_script_reads_its_metadata_and_writes_to_fake_gcs_server() {
    if let Some(fake) = Storage::fake().await {
        a_script_reads_its_metadata_and_writes_to(fake).await;
    }
}

#[tokio::test]
async fn the_demo_script_writes_what_its_identity_token_says() {
    let workbench = Workbench::start(Storage::Local, true).await;
    workbench
        .create("demo", notebooks_emulator::DEMO_SCRIPT, json!({}))
        .await;
    workbench.clock.advance(PROVISION);
    let console = workbench
        .console_until("demo", "post-startup-script finished")
        .await;
    assert!(
        console.contains("wrote gs://scripts/runs/demo/hello.txt"),
        "{console}"
    );
    let hello = workbench
        .storage
        .download(BUCKET, "runs/demo/hello.txt")
        .await
        .expect("the demo script wrote its file");
    let hello = String::from_utf8(hello).unwrap();
    assert!(
        hello.starts_with("Hello from demo in project p."),
        "{hello}"
    );
    let said: Value = serde_json::from_str(hello.lines().nth(2).unwrap()).unwrap();
    assert_eq!(said["email"], "runner@p.iam.gserviceaccount.com");
    assert_eq!(said["google"]["compute_engine"]["instance_name"], "demo");
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn scripts_start_when_the_clock_reaches_active_and_not_before() {
    let workbench = Workbench::start(Storage::Local, true).await;
    workbench.create("nb", "echo started", json!({})).await;
    workbench.clock.advance(PROVISION - Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(workbench.emulator.console(&Workbench::name("nb")), "");
    assert_eq!(workbench.state("nb"), "PROVISIONING");
    workbench.clock.advance(Duration::from_secs(1));
    workbench.console_until("nb", "started").await;
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn stop_ends_the_script_and_its_children() {
    let workbench = Workbench::start(Storage::Local, true).await;
    let script = "sleep 1000 &\necho \"child $!\"\nwait\n";
    workbench.create("nb", script, json!({})).await;
    workbench.clock.advance(PROVISION);
    workbench.console_until("nb", "child ").await;
    let group = workbench.emulator.state().script_groups()[&Workbench::name("nb")];
    assert!(live_members(group).len() >= 2, "bash and sleep run");

    workbench.verb("nb", "stop").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !live_members(group).is_empty() {
        assert!(Instant::now() < deadline, "group {group} still alive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let console = workbench.console_until("nb", "ended by signal").await;
    assert!(
        console.contains("post-startup-script failed: ended by signal 15"),
        "{console}"
    );
    workbench.clock.advance(PROVISION);
    assert_eq!(workbench.state("nb"), "STOPPED");
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn a_script_that_ignores_sigterm_is_killed_after_the_grace() {
    let workbench = Workbench::start(Storage::Local, true).await;
    let script = "trap '' TERM\nsleep 1000 &\necho \"child $!\"\nwait\n";
    workbench.create("stubborn", script, json!({})).await;
    workbench.clock.advance(PROVISION);
    workbench.console_until("stubborn", "child ").await;
    let group = workbench.emulator.state().script_groups()[&Workbench::name("stubborn")];
    workbench.verb("stubborn", "stop").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !live_members(group).is_empty(),
        "SIGTERM is ignored, so the group lives through the grace"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !live_members(group).is_empty() {
        assert!(Instant::now() < deadline, "group {group} outlived SIGKILL");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    workbench
        .console_until("stubborn", "ended by signal 9")
        .await;
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn delete_and_shutdown_end_every_script() {
    let workbench = Workbench::start(Storage::Local, true).await;
    for id in ["a", "b"] {
        workbench.create(id, "sleep 1000", json!({})).await;
    }
    workbench.clock.advance(PROVISION);
    for id in ["a", "b"] {
        workbench
            .console_until(id, "running post-startup-script")
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let groups = loop {
        let groups = workbench.emulator.state().script_groups();
        if groups.len() == 2 {
            break groups;
        }
        assert!(Instant::now() < deadline, "both scripts spawned");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    workbench.verb("a", "delete").await;
    let group_a = groups[&Workbench::name("a")];
    let group_b = groups[&Workbench::name("b")];
    while !live_members(group_a).is_empty() {
        assert!(
            Instant::now() < deadline,
            "deleted instance's script still alive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !live_members(group_b).is_empty(),
        "the other instance runs on"
    );
    workbench.emulator.shutdown().await;
    assert!(
        live_members(group_b).is_empty(),
        "shutdown ends every script"
    );
}

#[tokio::test]
async fn failing_and_missing_scripts_are_on_the_console_and_the_instance_stays_active() {
    let workbench = Workbench::start(Storage::Local, true).await;
    workbench
        .create("fails", "echo about to fail >&2\nexit 3\n", json!({}))
        .await;
    workbench
        .create_with_metadata(
            "missing",
            json!({"post-startup-script": "gs://scripts/none.sh"}),
        )
        .await;
    workbench.create_with_metadata("plain", json!({})).await;
    workbench.clock.advance(PROVISION);
    let console = workbench
        .console_until("fails", "failed: exit status 3")
        .await;
    assert!(
        console.contains("about to fail"),
        "stderr is on the console: {console}"
    );
    let console = workbench
        .console_until(
            "missing",
            "cannot fetch post-startup-script gs://scripts/none.sh",
        )
        .await;
    assert!(console.contains("404"), "{console}");
    workbench.console_until("plain", "nothing to run").await;
    for id in ["fails", "missing", "plain"] {
        assert_eq!(workbench.state(id), "ACTIVE");
    }
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn start_runs_the_script_again_only_when_its_behavior_says_so() {
    let workbench = Workbench::start(Storage::Local, true).await;
    workbench.create("once", "echo ran", json!({})).await;
    workbench
        .create(
            "every",
            "echo ran",
            json!({"post-startup-script-behavior": "run_every_start"}),
        )
        .await;
    workbench.clock.advance(PROVISION);
    for id in ["once", "every"] {
        workbench.console_until(id, "finished").await;
        workbench.verb(id, "stop").await;
    }
    workbench.clock.advance(PROVISION);
    for id in ["once", "every"] {
        workbench.verb(id, "start").await;
    }
    workbench.clock.advance(PROVISION);
    workbench
        .console_until("once", "is not run again on start")
        .await;
    let console = workbench.emulator.console(&Workbench::name("once"));
    assert_eq!(console.matches("\nran\n").count(), 1, "{console}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let console = workbench.emulator.console(&Workbench::name("every"));
        if console.matches("\nran\n").count() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "run_every_start ran once only:\n{console}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn nothing_runs_without_run_scripts() {
    let workbench = Workbench::start(Storage::Local, false).await;
    let marker = std::env::temp_dir().join(format!("never-{}", std::process::id()));
    let script = format!("touch {}", marker.display());
    workbench.create("nb", &script, json!({})).await;
    workbench.clock.advance(PROVISION);
    assert_eq!(workbench.state("nb"), "ACTIVE");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!marker.exists(), "a script ran without --run-scripts");
    assert_eq!(workbench.emulator.console(&Workbench::name("nb")), "");
    assert!(workbench.emulator.state().script_groups().is_empty());
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn run_scripts_is_refused_unless_the_emulator_listens_on_loopback() {
    let config = EmulatorConfig {
        run_scripts: true,
        ..EmulatorConfig::default()
    };
    let error = Emulator::start("0.0.0.0:0".parse().unwrap(), config.clone())
        .await
        .expect_err("a wildcard address is refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("loopback"), "{error}");
    let on_loopback = Emulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("loopback is fine");
    on_loopback.shutdown().await;
}
