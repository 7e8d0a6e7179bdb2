//! Grants that follow a setting: the run events' topic for the service, the run history's
//! readers on the service. Each is given to exactly who needs it, and nothing without the
//! setting.

use crate::{PROJECT, Sandbox, line_with, succeeded};

/// With `RUN_EVENTS_TOPIC` the deploy makes the topic, hands the variable to the service and
/// lets the service's account publish to that topic, not to the project's topics at large.
#[test]
fn run_events_get_their_topic_and_a_grant_on_it_alone() {
    let sandbox = Sandbox::new("RUN_EVENTS_TOPIC=\"run-events\"\n");
    let only = "service,pubsub,pubsub-iam";
    let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", only], &[]);
    succeeded(&outcome);
    let out = &outcome.stdout;
    line_with(out, &["gcloud run deploy", "RUN_EVENTS_TOPIC=run-events"]);
    line_with(out, &["? gcloud pubsub topics describe run-events "]);
    line_with(out, &["+ gcloud pubsub topics create run-events "]);
    let runtime = format!("serviceAccount:notebook-trigger-run@{PROJECT}.iam.gserviceaccount.com");
    let grants: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("add-iam-policy-binding") && l.contains(&runtime))
        .filter(|l| l.contains("pubsub"))
        .collect();
    assert_eq!(grants.len(), 1, "{out}");
    assert!(
        grants[0].starts_with("+ gcloud pubsub topics add-iam-policy-binding run-events ")
            && grants[0].contains("--role=roles/pubsub.publisher"),
        "{}",
        grants[0]
    );

    let without = Sandbox::new("").run("deploy.sh", &["--dry-run", "--only", only], &[]);
    assert!(without.status.success(), "{}", without.stderr);
    assert!(
        !without
            .stdout
            .lines()
            .any(|l| l.contains(&runtime) && l.contains("roles/pubsub.")),
        "without run events the service gets no Pub/Sub role: {}",
        without.stdout
    );
}

/// Each account in `RUNS_READERS` may invoke the service (a person as `user:`, a service
/// account as `serviceAccount:`), so it reaches the history; nobody else is added.
#[test]
fn history_readers_are_let_through_cloud_run_and_no_one_else() {
    let readers = "ana@example.com, ops@p.iam.gserviceaccount.com";
    let sandbox = Sandbox::new(&format!("RUNS_READERS=\"{readers}\"\n"));
    let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", "service"], &[]);
    succeeded(&outcome);
    let out = &outcome.stdout;
    line_with(out, &["gcloud run deploy", "RUNS_READERS=ana@example.com"]);
    let invokers: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("run services add-iam-policy-binding"))
        .filter(|l| l.contains("--role=roles/run.invoker"))
        .filter_map(|l| l.split("--member=").nth(1)?.split(' ').next())
        .collect();
    assert_eq!(
        invokers[1..],
        [
            "user:ana@example.com",
            "serviceAccount:ops@p.iam.gserviceaccount.com"
        ],
        "{out}"
    );
    let operators = Sandbox::new("RUNS_OPERATORS=\"oli@example.com\"\n");
    let outcome = operators.run("deploy.sh", &["--dry-run", "--only", "service"], &[]);
    succeeded(&outcome);
    line_with(
        &outcome.stdout,
        &[
            "add-iam-policy-binding",
            "--member=user:oli@example.com",
            "roles/run.invoker",
        ],
    );
    let without = Sandbox::new("").run("deploy.sh", &["--dry-run", "--only", "service"], &[]);
    assert!(without.status.success(), "{}", without.stderr);
    let invokers = without
        .stdout
        .lines()
        .filter(|l| l.contains("--role=roles/run.invoker"))
        .count();
    assert_eq!(invokers, 1, "only the push account: {}", without.stdout);
}

/// Each VM account may read exactly the secrets its profiles name: one grant per secret and
/// account, on the secret itself (never the project), whichever version a profile reads.
#[test]
fn vm_accounts_get_exactly_the_secrets_their_profiles_name() {
    let sandbox = Sandbox::new("RUNS_BUCKET=\"runs-bucket\"\n");
    let profiles = sandbox.path("profiles.toml");
    let write = |text: &str| std::fs::write(&profiles, text).expect("profiles written");
    write(
        "[profiles.nightly]\nnotebook = \"gs://notebooks/nightly.ipynb\"\noutput = \"gs://runs-bucket/n\"\n\
         secrets = { DB_PASSWORD = \"projects/deploy-test/secrets/db-password/versions/latest\", \
         API_KEY = \"projects/shared/secrets/api-key/versions/3\" }\n\
         [profiles.other]\nnotebook = \"gs://notebooks/other.ipynb\"\noutput = \"gs://runs-bucket/o\"\n\
         service_account = \"other@deploy-test.iam.gserviceaccount.com\"\n\
         secrets = { DB_PASSWORD = \"projects/deploy-test/secrets/db-password/versions/2\" }\n",
    );
    // A profile with a notebook has the runner as its post-startup script.
    let env = [
        ("POST_STARTUP_SCRIPT", String::new()),
        ("PROFILES_FILE", profiles.display().to_string()),
    ];
    let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", "runs"], &env);
    succeeded(&outcome);
    let grants: Vec<&str> = outcome
        .stdout
        .lines()
        .filter(|l| l.contains("secretmanager"))
        .collect();
    let vm = format!("notebook-trigger-vm@{PROJECT}.iam.gserviceaccount.com");
    let expected: Vec<String> = [
        ("projects/deploy-test/secrets/db-password", vm.as_str()),
        (
            "projects/deploy-test/secrets/db-password",
            "other@deploy-test.iam.gserviceaccount.com",
        ),
        ("projects/shared/secrets/api-key", vm.as_str()),
    ]
    .iter()
    .map(|(secret, account)| {
        format!(
            "+ gcloud secrets add-iam-policy-binding {secret} --member=serviceAccount:{account} \
             --role=roles/secretmanager.secretAccessor --project={PROJECT} --quiet "
        )
    })
    .collect();
    assert_eq!(grants, expected, "{}", outcome.stdout);

    // Deployed with the service, the profiles are shipped to Cloud Storage first (which a dry
    // run does not do): the grants still come from the file shipped.
    let both = sandbox.run("deploy.sh", &["--dry-run", "--only", "service,runs"], &env);
    assert!(both.status.success(), "{}\n{}", both.stdout, both.stderr);
    let shipped: Vec<&str> = both
        .stdout
        .lines()
        .filter(|l| l.contains("secretmanager"))
        .collect();
    assert_eq!(shipped, expected, "{}", both.stdout);

    // A profile the service would refuse stops the deploy, naming the profile, field and key.
    write(
        "[profiles.bad]\nnotebook = \"gs://notebooks/a.ipynb\"\noutput = \"gs://runs-bucket/b\"\n\
         secrets = { PATH = \"projects/p/secrets/s/versions/1\" }\n",
    );
    let refused = sandbox.run("deploy.sh", &["--dry-run", "--only", "runs"], &env);
    assert!(!refused.status.success(), "{}", refused.stdout);
    line_with(
        &refused.stderr,
        &["profile `bad`: field `secrets`: `PATH` cannot name a secret"],
    );
    assert!(
        !refused.stdout.contains("secretmanager"),
        "{}",
        refused.stdout
    );

    let without = Sandbox::new("RUNS_BUCKET=\"runs-bucket\"\n");
    let outcome = without.run("deploy.sh", &["--dry-run", "--only", "runs"], &[]);
    succeeded(&outcome);
    assert!(
        !outcome.stdout.contains("secretmanager"),
        "{}",
        outcome.stdout
    );
}

/// A profile whose runs execute as jobs: the deploy enables Vertex AI, lets the service act as
/// the job's account, and lets that account read the runs' parameterized notebooks (and no
/// record), write into the runs' folders and pull the image. Without such a profile, none of
/// it.
#[test]
fn execution_accounts_get_what_a_job_needs_and_only_with_an_execution_profile() {
    let sandbox = Sandbox::new("RUNS_BUCKET=\"runs-bucket\"\n");
    let profiles = sandbox.path("profiles.toml");
    std::fs::write(
        &profiles,
        "[profiles.managed]\nbackend = \"execution\"\nnotebook = \"gs://notebooks/n.ipynb\"\n\
         output = \"gs://runs-bucket/m\"\nservice_account = \"job@deploy-test.iam.gserviceaccount.com\"\n\
         [profiles.vm]\nnotebook = \"gs://notebooks/v.ipynb\"\noutput = \"gs://runs-bucket/v\"\n",
    )
    .expect("profiles written");
    let env = [
        ("POST_STARTUP_SCRIPT", String::new()),
        ("PROFILES_FILE", profiles.display().to_string()),
    ];
    let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", "runs"], &env);
    succeeded(&outcome);
    let out = &outcome.stdout;
    line_with(out, &["gcloud services enable aiplatform.googleapis.com"]);
    let job = "serviceAccount:job@deploy-test.iam.gserviceaccount.com";
    let runtime = format!("serviceAccount:notebook-trigger-run@{PROJECT}.iam.gserviceaccount.com");
    line_with(
        out,
        &[
            "gcloud iam service-accounts add-iam-policy-binding job@deploy-test.iam.gserviceaccount.com",
            &runtime,
            "roles/iam.serviceAccountUser",
        ],
    );
    let to_job: Vec<&str> = out.lines().filter(|l| l.contains(job)).collect();
    assert_eq!(to_job.len(), 3, "{out}");
    // The copies beside the records, and nothing else there (gcloud's condition, shell-quoted).
    let records = "buckets/runs-bucket/objects/notebook-trigger-records/";
    line_with(
        out,
        &[
            "storage buckets add-iam-policy-binding gs://runs-bucket",
            job,
            "roles/storage.objectViewer",
            &format!("=resource.name.startsWith\\(\\\"projects/_/{records}"),
            "resource.name.endsWith\\(\\\".ipynb\\\"\\)",
        ],
    );
    line_with(
        out,
        &[
            job,
            "roles/storage.objectCreator",
            &format!("=\\!resource.name.startsWith\\(\\\"projects/_/{records}"),
        ],
    );
    line_with(out, &[job, "roles/artifactregistry.reader"]);

    std::fs::write(
        &profiles,
        "[profiles.vm]\nnotebook = \"gs://notebooks/v.ipynb\"\noutput = \"gs://runs-bucket/v\"\n",
    )
    .expect("profiles written");
    let without = sandbox.run("deploy.sh", &["--dry-run", "--only", "runs"], &env);
    assert!(without.status.success(), "{}", without.stderr);
    assert!(
        !without.stdout.contains("aiplatform"),
        "no execution profile, no Vertex AI: {}",
        without.stdout
    );
}
