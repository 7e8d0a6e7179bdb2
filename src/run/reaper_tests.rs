use std::collections::BTreeMap;

use super::*;
use crate::run::{CleanupRecord, RunState};

const NOW: &str = "2026-12-01T12:00:00Z";

fn policy() -> ReaperPolicy {
    ReaperPolicy {
        grace: Duration::from_secs(600),
        keep_stopped: Duration::from_secs(86_400),
        lost_after: Duration::from_secs(3600),
        cleanup: CleanupPolicy::default(),
    }
}

fn managed(name: &str, state: &str, created: &str, updated: &str) -> Observed {
    Observed {
        name: format!("projects/p/locations/z/instances/{name}"),
        state: state.into(),
        labels: BTreeMap::from([(LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned())]),
        created: created.parse().unwrap(),
        updated: updated.parse().unwrap(),
        max_run_time: Some(Duration::from_secs(3600)),
        record: None,
    }
}

fn record(state: RunState, cleanup: Option<CleanupRecord>) -> RunRecord {
    RunRecord {
        state,
        cleanup,
        ..RunRecord::example("1", "2026-12-01T10:00:00Z")
    }
}

fn judged(instances: &[Observed]) -> Vec<(String, Cleanup)> {
    judge(instances, NOW.parse().unwrap(), policy())
        .into_iter()
        .map(|v| (v.instance.rsplit('/').next().unwrap().to_owned(), v.action))
        .collect()
}

#[test]
fn a_run_past_its_limit_and_grace_is_stopped_and_one_within_it_is_left() {
    let overdue = managed(
        "overdue",
        "ACTIVE",
        "2026-12-01T10:49:00Z",
        "2026-12-01T10:50:00Z",
    );
    let on_time = managed(
        "on-time",
        "ACTIVE",
        "2026-12-01T10:51:00Z",
        "2026-12-01T10:52:00Z",
    );
    let no_limit = Observed {
        max_run_time: None,
        ..managed(
            "no-limit",
            "ACTIVE",
            "2026-11-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
        )
    };
    assert_eq!(
        judged(&[overdue, on_time, no_limit]),
        [("overdue".to_owned(), Cleanup::Stop)]
    );
}

#[test]
fn an_instance_stopped_longer_than_keep_stopped_is_deleted() {
    let old = managed(
        "old",
        "STOPPED",
        "2026-11-29T00:00:00Z",
        "2026-11-30T11:59:00Z",
    );
    let recent = managed(
        "recent",
        "STOPPED",
        "2026-11-29T00:00:00Z",
        "2026-11-30T12:01:00Z",
    );
    assert_eq!(
        judged(&[old, recent]),
        [("old".to_owned(), Cleanup::Delete)]
    );
}

#[test]
fn a_failed_cleanup_after_a_report_is_done_again_and_a_done_one_is_not() {
    let failed_cleanup = CleanupRecord {
        action: Cleanup::Delete,
        at: "2026-12-01T11:00:00Z".parse().unwrap(),
        error: Some("UNAVAILABLE".into()),
        by: "report".into(),
    };
    let owed = Observed {
        record: Some(record(RunState::Succeeded, Some(failed_cleanup))),
        ..managed(
            "owed",
            "ACTIVE",
            "2026-12-01T11:30:00Z",
            "2026-12-01T11:31:00Z",
        )
    };
    let never = Observed {
        record: Some(record(RunState::Failed, None)),
        ..managed(
            "never",
            "ACTIVE",
            "2026-12-01T11:30:00Z",
            "2026-12-01T11:31:00Z",
        )
    };
    let done = Observed {
        record: Some(record(
            RunState::Failed,
            Some(CleanupRecord {
                action: Cleanup::Stop,
                at: "2026-12-01T11:00:00Z".parse().unwrap(),
                error: None,
                by: "report".into(),
            }),
        )),
        ..managed(
            "done",
            "STOPPED",
            "2026-12-01T11:30:00Z",
            "2026-12-01T11:31:00Z",
        )
    };
    let verdicts = judge(&[owed, never, done], NOW.parse().unwrap(), policy());
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert_eq!(verdicts[0].action, Cleanup::Delete);
    assert!(
        verdicts[0].reason.contains("cleanup failed (UNAVAILABLE)"),
        "{}",
        verdicts[0].reason
    );
    assert_eq!(verdicts[1].action, Cleanup::Stop);
    assert!(
        verdicts[1].reason.contains("ended failed"),
        "{}",
        verdicts[1].reason
    );
}

#[test]
fn an_instance_without_the_managed_by_label_is_never_touched() {
    let mut stray = managed(
        "stray",
        "ACTIVE",
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
    );
    stray.labels.clear();
    let mut other = managed(
        "other",
        "STOPPED",
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
    );
    other
        .labels
        .insert(LABEL_MANAGED_BY.into(), "someone-else".into());
    assert!(judged(&[stray, other]).is_empty());
}

#[test]
fn the_same_observation_gives_the_same_verdicts() {
    let instances = [
        managed(
            "a",
            "ACTIVE",
            "2026-12-01T09:00:00Z",
            "2026-12-01T09:00:00Z",
        ),
        managed(
            "b",
            "STOPPED",
            "2026-11-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
        ),
    ];
    let now = NOW.parse().unwrap();
    assert_eq!(
        judge(&instances, now, policy()),
        judge(&instances, now, policy())
    );
}

#[test]
fn no_record_keeps_an_instance_up_past_its_time_and_grace() {
    let overdue = |name: &str, record: RunRecord| Observed {
        record: Some(record),
        ..managed(
            name,
            "ACTIVE",
            "2026-12-01T10:49:00Z",
            "2026-12-01T10:50:00Z",
        )
    };
    let kept = CleanupRecord {
        action: Cleanup::Keep,
        at: "2026-12-01T10:55:00Z".parse().unwrap(),
        error: None,
        by: "report".into(),
    };
    let stopped = CleanupRecord {
        action: Cleanup::Stop,
        ..kept.clone()
    };
    assert_eq!(
        judged(&[
            overdue("said-kept", record(RunState::Succeeded, Some(kept))),
            overdue("restarted", record(RunState::Failed, Some(stopped))),
            overdue("unreported", record(RunState::Unreported, None)),
        ]),
        [
            ("said-kept".to_owned(), Cleanup::Delete),
            ("restarted".to_owned(), Cleanup::Stop),
            ("unreported".to_owned(), Cleanup::Stop),
        ]
    );
    // Unless the deployment's own policy keeps what that outcome leaves.
    let keep = ReaperPolicy {
        cleanup: CleanupPolicy {
            on_complete: Cleanup::Keep,
            on_failure: Cleanup::Stop,
        },
        ..policy()
    };
    let succeeded = overdue("kept", record(RunState::Succeeded, None));
    let verdicts = judge(&[succeeded], NOW.parse().unwrap(), keep);
    assert!(verdicts.is_empty(), "{verdicts:?}");
}

#[test]
fn a_cancelled_run_that_never_reported_is_cleaned_up_once_its_grace_is_over() {
    let cancelled_at = |at: &str| {
        let mut record = record(RunState::Launched, None);
        record.cancel = record
            .cancel_requested("ana@example.com", at.parse().unwrap())
            .and_then(|r| r.cancel);
        record
    };
    let instance = |name: &str, state: &str, record: RunRecord| Observed {
        record: Some(record),
        ..managed(name, state, "2026-12-01T11:30:00Z", "2026-12-01T11:40:00Z")
    };
    let verdicts = judge(
        &[
            instance("killed", "STOPPED", cancelled_at("2026-12-01T11:40:00Z")),
            instance("stopping", "STOPPING", cancelled_at("2026-12-01T11:55:00Z")),
            instance("running", "ACTIVE", record(RunState::Launched, None)),
        ],
        NOW.parse().unwrap(),
        policy(),
    );
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    assert!(verdicts[0].instance.ends_with("/killed"));
    assert_eq!(verdicts[0].action, Cleanup::Stop);
    assert!(
        verdicts[0]
            .reason
            .contains("cancelled by ana@example.com 20m"),
        "{}",
        verdicts[0].reason
    );
}
