//! Grants that follow a setting: the run events' topic for the service, the run history's
//! readers on the service. Each is given to exactly who needs it, and nothing without the
//! setting.

use crate::{PROJECT, Sandbox, line_with};

/// With `RUN_EVENTS_TOPIC` the deploy makes the topic, hands the variable to the service and
/// lets the service's account publish to that topic, not to the project's topics at large.
#[test]
fn run_events_get_their_topic_and_a_grant_on_it_alone() {
    let sandbox = Sandbox::new("RUN_EVENTS_TOPIC=\"run-events\"\n");
    let only = "service,pubsub,pubsub-iam";
    let outcome = sandbox.run("deploy.sh", &["--dry-run", "--only", only], &[]);
    assert!(outcome.status.success(), "{}", outcome.stderr);
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
    assert!(outcome.status.success(), "{}", outcome.stderr);
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
    let without = Sandbox::new("").run("deploy.sh", &["--dry-run", "--only", "service"], &[]);
    assert!(without.status.success(), "{}", without.stderr);
    let invokers = without
        .stdout
        .lines()
        .filter(|l| l.contains("--role=roles/run.invoker"))
        .count();
    assert_eq!(invokers, 1, "only the push account: {}", without.stdout);
}
