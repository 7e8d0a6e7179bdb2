//! What the profiles' `notify` rules need of the deploy: the service's account may read each
//! secret a `url_secret` names, and no other; each variable a `url_env` names reaches the
//! service, from Secret Manager when `WEBHOOK_SECRETS` says where, else from the deployer's own
//! environment, and never shows in what the deploy prints; unset, the deploy stops. Each in a
//! dry run and for real, with a gcloud that records what it is asked and answers as Google
//! would.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use crate::child::Finished;
use crate::{PROJECT, Sandbox, line_with, succeeded};

/// The value of the webhook variable: a credential the deploy must pass and never print.
const WEBHOOK: &str = "https://hooks.slack.com/services/T0/B0/deploy-secret-part";
/// A rule whose URL is the deployer's variable, for a profile in a file.
const URL_ENV_PROFILE: &str = "[profiles.nightly]\nnotebook = \"gs://notebooks/n.ipynb\"\n\
     output = \"gs://runs-bucket/n\"\nnotify = [{ url_env = \"SLACK_WEBHOOK\", format = \"slack\" }]\n";

fn runtime() -> String {
    format!("serviceAccount:notebook-trigger-run@{PROJECT}.iam.gserviceaccount.com")
}

/// A gcloud on PATH that records each call (one line, its arguments joined by U+001F) and
/// answers the reads the deploy makes: the service's URL, the project's number.
struct FakeGcloud {
    bin: PathBuf,
    log: PathBuf,
}

impl FakeGcloud {
    fn new(sandbox: &Sandbox) -> FakeGcloud {
        let bin = sandbox.path("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        let log = sandbox.path("gcloud-calls");
        let script = format!(
            "#!/usr/bin/env bash\n( IFS=$'\\x1f'; echo \"$*\" ) >>'{}'\n\
             case \"$*\" in\n\
             'run services describe '*'--format=value(status.url)'*) echo https://notebook-trigger-x-ey.a.run.app ;;\n\
             'projects describe '*) echo 123456789012 ;;\n\
             esac\n",
            log.display()
        );
        let gcloud = bin.join("gcloud");
        std::fs::write(&gcloud, script).expect("fake gcloud written");
        std::fs::set_permissions(&gcloud, std::fs::Permissions::from_mode(0o755))
            .expect("fake gcloud executable");
        FakeGcloud { bin, log }
    }

    /// PATH with the fake first.
    fn path(&self) -> (&'static str, String) {
        let rest = std::env::var("PATH").unwrap_or_default();
        ("PATH", format!("{}:{rest}", self.bin.display()))
    }

    /// Every call so far, each as its arguments.
    fn calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| line.split('\u{1f}').map(str::to_owned).collect())
            .collect()
    }

    /// The calls that start with `words`.
    fn calls_of(&self, words: &[&str]) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter(|call| call.len() >= words.len() && call[..words.len()] == *words)
            .collect()
    }
}

/// Runs deploy.sh with `args` and `env`; a failure shows everything printed.
fn deploy(sandbox: &Sandbox, args: &[&str], env: &[(&str, String)]) -> Finished {
    sandbox.run("deploy.sh", args, env)
}

/// The argument of `call` that starts with `flag`, without it.
fn flag<'a>(call: &'a [String], flag: &str) -> Option<&'a str> {
    call.iter().find_map(|arg| arg.strip_prefix(flag))
}

/// A sandbox whose profiles file names the deployer's `SLACK_WEBHOOK`, and the environment
/// that points the deploy at it.
fn with_url_env_profile(extra_config: &str) -> (Sandbox, Vec<(&'static str, String)>) {
    let sandbox = Sandbox::new(&format!("RUNS_BUCKET=\"runs-bucket\"\n{extra_config}"));
    let profiles = sandbox.path("profiles.toml");
    std::fs::write(&profiles, URL_ENV_PROFILE).expect("profiles written");
    let env = vec![
        ("POST_STARTUP_SCRIPT", String::new()),
        ("PROFILES_FILE", profiles.display().to_string()),
    ];
    (sandbox, env)
}

#[test]
fn a_url_env_from_the_deployers_environment_reaches_the_service_and_is_never_printed() {
    let (sandbox, mut env) = with_url_env_profile("");
    env.push(("SLACK_WEBHOOK", WEBHOOK.to_owned()));
    let dry = deploy(&sandbox, &["--dry-run", "--only", "service"], &env);
    succeeded(&dry);
    let shown = format!("{}{}", dry.stdout, dry.stderr);
    assert!(!shown.contains("deploy-secret-part"), "{shown}");
    let line = line_with(&dry.stdout, &["+ gcloud run deploy "]);
    assert!(
        line.contains(r"##SLACK_WEBHOOK=\<redacted\>") && line.contains(" --clear-secrets "),
        "{line}"
    );

    let gcloud = FakeGcloud::new(&sandbox);
    env.push(gcloud.path());
    let real = deploy(&sandbox, &["--only", "service"], &env);
    succeeded(&real);
    let shown = format!("{}{}", real.stdout, real.stderr);
    assert!(!shown.contains("deploy-secret-part"), "{shown}");
    let deploys = gcloud.calls_of(&["run", "deploy"]);
    assert_eq!(deploys.len(), 1, "{:?}", gcloud.calls());
    let envs = flag(&deploys[0], "--set-env-vars=").expect("the service's environment");
    assert!(
        envs.split("##")
            .any(|item| item == format!("SLACK_WEBHOOK={WEBHOOK}")),
        "the service gets the value: {envs}"
    );
    assert!(deploys[0].contains(&"--clear-secrets".to_owned()));
    assert!(
        !gcloud
            .calls()
            .iter()
            .flatten()
            .any(|a| a.contains("secretmanager")),
        "a variable from the deployer needs no secret: {:?}",
        gcloud.calls()
    );
}

#[test]
fn an_unset_url_env_stops_the_deploy_naming_it_and_both_fixes() {
    let (sandbox, mut env) = with_url_env_profile("");
    let dry = deploy(&sandbox, &["--dry-run", "--only", "service"], &env);
    assert!(!dry.status.success(), "{}", dry.stdout);
    let said = line_with(&dry.stderr, &["url_env SLACK_WEBHOOK is not set"]);
    assert!(
        said.contains("export SLACK_WEBHOOK=")
            && said.contains("WEBHOOK_SECRETS=\"SLACK_WEBHOOK=SECRET\""),
        "{said}"
    );
    assert!(!dry.stdout.contains("gcloud run deploy"), "{}", dry.stdout);

    let gcloud = FakeGcloud::new(&sandbox);
    env.push(gcloud.path());
    // An empty value is no URL either.
    env.push(("SLACK_WEBHOOK", String::new()));
    let real = deploy(&sandbox, &["--only", "service"], &env);
    assert!(!real.status.success(), "{}", real.stdout);
    line_with(&real.stderr, &["url_env SLACK_WEBHOOK is not set"]);
    assert_eq!(
        gcloud.calls_of(&["run", "deploy"]),
        Vec::<Vec<String>>::new()
    );
}

/// `WEBHOOK_SECRETS` names the secret: Cloud Run reads it as the service's account, which may
/// read that secret (granted before the deploy, which checks it), and the deployer's own value,
/// if any, stays home.
#[test]
fn a_url_env_from_secret_manager_is_granted_then_set_as_a_secret() {
    let (sandbox, mut env) =
        with_url_env_profile("WEBHOOK_SECRETS=\"SLACK_WEBHOOK=slack-hook, OLD_HOOK=old:2\"\n");
    env.push(("SLACK_WEBHOOK", WEBHOOK.to_owned()));
    let gcloud = FakeGcloud::new(&sandbox);
    let dry = deploy(&sandbox, &["--dry-run", "--only", "service"], &env);
    succeeded(&dry);
    let grant = line_with(
        &dry.stdout,
        &[
            &format!(
                "+ gcloud secrets add-iam-policy-binding projects/{PROJECT}/secrets/slack-hook "
            ),
            &runtime(),
            "--role=roles/secretmanager.secretAccessor",
        ],
    );
    let deploy_line = line_with(&dry.stdout, &["+ gcloud run deploy "]);
    assert!(
        dry.stdout.find(grant) < dry.stdout.find(deploy_line),
        "{}",
        dry.stdout
    );
    assert!(
        deploy_line.contains(" --set-secrets=SLACK_WEBHOOK=slack-hook:latest ")
            && !deploy_line.contains("SLACK_WEBHOOK=\\<"),
        "{deploy_line}"
    );
    line_with(
        &dry.stderr,
        &["WEBHOOK_SECRETS names OLD_HOOK, which no notify rule's url_env names"],
    );
    assert!(
        !deploy_line.contains("OLD_HOOK") && !dry.stdout.contains("secrets/old"),
        "{}",
        dry.stdout
    );

    env.push(gcloud.path());
    let real = deploy(&sandbox, &["--only", "service"], &env);
    succeeded(&real);
    let deploys = gcloud.calls_of(&["run", "deploy"]);
    assert_eq!(
        flag(&deploys[0], "--set-secrets="),
        Some("SLACK_WEBHOOK=slack-hook:latest")
    );
    let envs = flag(&deploys[0], "--set-env-vars=").expect("the service's environment");
    assert!(!envs.contains("SLACK_WEBHOOK"), "{envs}");
    let grants = gcloud.calls_of(&["secrets", "add-iam-policy-binding"]);
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(
        grants[0][2],
        format!("projects/{PROJECT}/secrets/slack-hook")
    );

    let malformed = Sandbox::new("WEBHOOK_SECRETS=\"SLACK_WEBHOOK\"\n");
    let outcome = deploy(&malformed, &["--dry-run", "--only", "service"], &[]);
    assert!(!outcome.status.success(), "{}", outcome.stdout);
    line_with(
        &outcome.stderr,
        &["WEBHOOK_SECRETS: 'SLACK_WEBHOOK' is not NAME=SECRET"],
    );
}

/// The secrets the service's own account reads when it sends (`url_secret`), in a named
/// profile or the default profile's `NOTIFY`: one grant on each secret, whichever version,
/// and no other for that account.
#[test]
fn a_url_secret_gets_exactly_its_grant_for_the_service_and_none_without_one() {
    let sandbox = Sandbox::new(
        "RUNS_BUCKET=\"runs-bucket\"\n\
         NOTIFY='[{\"url_secret\": \"projects/shared/secrets/ops-hook/versions/latest\"}]'\n",
    );
    let profiles = sandbox.path("profiles.toml");
    std::fs::write(
        &profiles,
        "[profiles.nightly]\nnotebook = \"gs://notebooks/n.ipynb\"\noutput = \"gs://runs-bucket/n\"\n\
         notify = [{ url_secret = \"projects/deploy-test/secrets/chat-hook/versions/3\", format = \"google_chat\" },\n\
         { url_secret = \"projects/deploy-test/secrets/chat-hook/versions/latest\", on = [\"succeeded\"] },\n\
         { url = \"https://ops.example.com/hook\" }]\n",
    )
    .expect("profiles written");
    let env = vec![
        ("POST_STARTUP_SCRIPT", String::new()),
        ("PROFILES_FILE", profiles.display().to_string()),
    ];
    let service_grants = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains("secretmanager") && l.contains(&runtime()))
            .map(str::to_owned)
            .collect()
    };
    let dry = deploy(&sandbox, &["--dry-run", "--only", "runs"], &env);
    succeeded(&dry);
    let expected: Vec<String> = [
        "projects/deploy-test/secrets/chat-hook",
        "projects/shared/secrets/ops-hook",
    ]
    .iter()
    .map(|secret| {
        format!(
            "+ gcloud secrets add-iam-policy-binding {secret} --member={} \
                 --role=roles/secretmanager.secretAccessor --project={PROJECT} --quiet ",
            runtime()
        )
    })
    .collect();
    assert_eq!(service_grants(&dry.stdout), expected, "{}", dry.stdout);
    assert_eq!(
        dry.stdout.matches("secretmanager").count(),
        2,
        "nothing for the VM: {}",
        dry.stdout
    );

    let gcloud = FakeGcloud::new(&sandbox);
    let mut real_env = env.clone();
    real_env.push(gcloud.path());
    succeeded(&deploy(&sandbox, &["--only", "runs"], &real_env));
    let granted: Vec<(String, String)> = gcloud
        .calls_of(&["secrets", "add-iam-policy-binding"])
        .iter()
        .map(|call| {
            (
                call[2].clone(),
                flag(call, "--member=").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        granted,
        [
            (
                "projects/deploy-test/secrets/chat-hook".to_owned(),
                runtime()
            ),
            ("projects/shared/secrets/ops-hook".to_owned(), runtime()),
        ]
    );

    std::fs::write(
        &profiles,
        "[profiles.nightly]\nnotebook = \"gs://notebooks/n.ipynb\"\noutput = \"gs://runs-bucket/n\"\n\
         notify = [{ url = \"https://ops.example.com/hook\" }]\n",
    )
    .expect("profiles written");
    let without = Sandbox::new("RUNS_BUCKET=\"runs-bucket\"\n");
    let outcome = deploy(&without, &["--dry-run", "--only", "runs"], &env);
    succeeded(&outcome);
    assert_eq!(
        service_grants(&outcome.stdout),
        Vec::<String>::new(),
        "{}",
        outcome.stdout
    );
}

/// A rule the service would refuse stops the deploy before anything is granted or deployed,
/// naming the profile, the field and the rule; so does a `url_env` that names one of the
/// service's own variables.
#[test]
fn a_notify_rule_the_service_would_refuse_stops_the_deploy() {
    let sandbox = Sandbox::new("RUNS_BUCKET=\"runs-bucket\"\n");
    let profiles = sandbox.path("profiles.toml");
    std::fs::write(
        &profiles,
        "[profiles.nightly]\nnotebook = \"gs://notebooks/n.ipynb\"\noutput = \"gs://runs-bucket/n\"\n\
         notify = [{ url_secret = \"chat-hook\" }]\n",
    )
    .expect("profiles written");
    let env = [
        ("POST_STARTUP_SCRIPT", String::new()),
        ("PROFILES_FILE", profiles.display().to_string()),
    ];
    let refused = |step: &str| deploy(&sandbox, &["--dry-run", "--only", step], &env);
    for step in ["service", "runs"] {
        let outcome = refused(step);
        assert!(!outcome.status.success(), "{step}: {}", outcome.stdout);
        line_with(
            &outcome.stderr,
            &["profile `nightly`: field `notify`: rule 1: url_secret:"],
        );
        assert!(
            !outcome.stdout.contains("gcloud run deploy")
                && !outcome.stdout.contains("secretmanager"),
            "{step}: {}",
            outcome.stdout
        );
    }

    // A variable of the service's own would be set twice, and mean two things.
    std::fs::write(
        &profiles,
        "[profiles.nightly]\nnotebook = \"gs://notebooks/n.ipynb\"\noutput = \"gs://runs-bucket/n\"\n\
         notify = [{ url_env = \"RUN_EVENTS_TOPIC\" }]\n",
    )
    .expect("profiles written");
    let outcome = refused("service");
    assert!(!outcome.status.success(), "{}", outcome.stdout);
    line_with(
        &outcome.stderr,
        &["url_env RUN_EVENTS_TOPIC is one of the service's own settings"],
    );
    assert!(
        !outcome.stdout.contains("gcloud run deploy"),
        "{}",
        outcome.stdout
    );
}
