use super::*;

fn launched() -> RunRecord {
    RunRecord::example("1", "2026-12-01T10:00:00Z")
}

#[test]
fn every_state_is_named_once_as_the_record_writes_it() {
    for state in RunState::ALL {
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            serde_json::Value::from(state.as_str())
        );
    }
    let names: std::collections::BTreeSet<_> = RunState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(names.len(), RunState::ALL.len());
}

fn report(outcome: Outcome) -> CompletionReport {
    CompletionReport {
        run_id: launched().run_id,
        outcome,
        exit_code: i32::from(outcome != Outcome::Succeeded),
        started: "2026-12-01T10:01:00Z".parse().unwrap(),
        finished: "2026-12-01T10:02:00Z".parse().unwrap(),
        outputs: vec!["gs://b/runs/r/seed.ipynb".into()],
        error: "cell 1 raised ValueError: bad".into(),
        failure: Some(Failure {
            cell_index: 0,
            source: "raise ValueError('bad')".into(),
            ename: "ValueError".into(),
            evalue: "bad".into(),
            traceback: "ValueError: bad".into(),
        }),
        log_tail: "Traceback".into(),
        result: Some(serde_json::json!({"rows": 2})),
        result_error: String::new(),
    }
}

fn cleanup(error: Option<&str>) -> CleanupRecord {
    CleanupRecord {
        action: Cleanup::Stop,
        at: "2026-12-01T10:02:01Z".parse().unwrap(),
        error: error.map(str::to_owned),
        by: "report".into(),
    }
}

#[test]
fn a_record_round_trips_at_every_step_and_says_how_far_the_run_got() {
    let record = launched();
    let json = serde_json::to_string(&record).unwrap();
    assert!(
        !json.contains("cleanup")
            && !json.contains("exit_code")
            && !json.contains("late")
            && !json.contains("result"),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<RunRecord>(&json).unwrap(), record);
    assert!(!record.has_outcome() && !record.needs_cleanup());
    assert_eq!(
        record.cleaned(&cleanup(None)),
        None,
        "no cleanup before an outcome"
    );

    let failed = record.completed(&report(Outcome::Failed)).unwrap();
    assert_eq!(failed.state, RunState::Failed);
    assert_eq!(failed.failure, report(Outcome::Failed).failure);
    assert_eq!(failed.result, Some(serde_json::json!({"rows": 2})));
    assert!(failed.needs_cleanup());
    let refused = failed.cleaned(&cleanup(Some("UNAVAILABLE"))).unwrap();
    assert!(refused.needs_cleanup(), "a failed cleanup is owed again");
    let done = refused.cleaned(&cleanup(None)).unwrap();
    assert!(!done.needs_cleanup());
    assert_eq!(
        done.cleaned(&cleanup(Some("late"))),
        None,
        "the cleanup that happened first stays"
    );
    let json = serde_json::to_string(&done).unwrap();
    assert_eq!(serde_json::from_str::<RunRecord>(&json).unwrap(), done);
}

#[test]
fn a_record_moves_only_forward_and_the_first_outcome_stands() {
    let record = launched();
    let succeeded = record.completed(&report(Outcome::Succeeded)).unwrap();
    assert_eq!(succeeded.completed(&report(Outcome::Failed)), None);
    assert_eq!(succeeded.unreported("past max_run_time"), None);
    assert_eq!(succeeded.lost("gone"), None);
    assert_eq!(succeeded.not_launched("refused"), None);

    let unreported = record.unreported("up for 2h, past max_run_time").unwrap();
    assert_eq!(unreported.state, RunState::Unreported);
    assert_eq!(unreported.error, "no report: up for 2h, past max_run_time");
    assert_eq!(unreported.lost("gone"), None);
    let late = unreported.completed(&report(Outcome::Succeeded)).unwrap();
    assert_eq!(late.state, RunState::Unreported, "the first outcome stands");
    assert_eq!(late.error, unreported.error);
    let kept = late.late_report.as_ref().unwrap();
    assert_eq!((kept.outcome, kept.exit_code), (Outcome::Succeeded, 0));
    assert_eq!(late.log_tail, "Traceback");
    assert_eq!(
        late.completed(&report(Outcome::Failed)),
        None,
        "one late report"
    );
    let json = serde_json::to_string(&late).unwrap();
    assert_eq!(serde_json::from_str::<RunRecord>(&json).unwrap(), late);

    let lost = record.lost("its instance is gone").unwrap();
    assert_eq!(
        (lost.state, lost.error.as_str()),
        (RunState::Lost, "lost: its instance is gone")
    );
    assert!(
        lost.has_outcome() && !lost.needs_cleanup(),
        "nothing to clean up"
    );
    let refused = record.not_launched("INVALID_ARGUMENT").unwrap();
    assert_eq!(refused.state, RunState::Failed);
    assert_eq!(refused.error, "not launched: INVALID_ARGUMENT");
}

#[test]
fn a_cancel_is_asked_once_of_a_run_still_going_and_a_silent_runner_ends_it_cancelled() {
    let at: Timestamp = "2026-12-01T10:03:00Z".parse().unwrap();
    let asked = launched().cancel_requested("ana@example.com", at).unwrap();
    let cancel = asked.cancel.clone().unwrap();
    assert_eq!((cancel.by.as_str(), cancel.at), ("ana@example.com", at));
    assert_eq!(asked.state, RunState::Launched, "the runner has yet to say");
    assert!(
        asked.cancel_requested("bo@example.com", at).is_none(),
        "the first cancel stays"
    );
    let mut ended = launched();
    ended.state = RunState::Succeeded;
    assert!(ended.cancel_requested("ana@example.com", at).is_none());

    let reaped = asked.unreported("stopped 20m ago").unwrap();
    assert_eq!(reaped.state, RunState::Cancelled);
    assert!(
        reaped
            .error
            .starts_with("cancelled by ana@example.com at 2026-12-01T10:03:00Z")
    );
    assert_eq!(
        asked.lost("its instance is gone").unwrap().state,
        RunState::Cancelled
    );
    assert_eq!(
        launched().unreported("x").unwrap().state,
        RunState::Unreported
    );

    // The runner's own report, when it comes, is the outcome; the record keeps who asked.
    let reported = asked.completed(&report(Outcome::Cancelled)).unwrap();
    assert_eq!(reported.state, RunState::Cancelled);
    assert_eq!(reported.cancel, Some(cancel.clone()));
    let raced = asked.completed(&report(Outcome::Succeeded)).unwrap();
    assert_eq!(
        (raced.state, raced.cancel.is_some()),
        (RunState::Succeeded, true),
        "a run that finished before the stop reached it stands as it ended"
    );
}

#[test]
fn a_run_is_found_overdue_once_and_only_while_it_goes_on() {
    let at: Timestamp = "2026-12-01T10:30:00Z".parse().unwrap();
    let overdue = launched()
        .overdue(at)
        .expect("a launched run can be overdue");
    assert_eq!(overdue.overdue_at, Some(at));
    assert_eq!(overdue.state, RunState::Launched);
    assert_eq!(overdue.overdue(at), None, "announced once");
    let ended = launched().completed(&report(Outcome::Succeeded)).unwrap();
    assert_eq!(ended.overdue(at), None, "an ended run is not overdue");
    let written = serde_json::to_value(&overdue).unwrap();
    assert_eq!(written["overdue_at"], "2026-12-01T10:30:00Z");
    assert!(
        serde_json::to_value(launched())
            .unwrap()
            .get("overdue_at")
            .is_none()
    );
}
