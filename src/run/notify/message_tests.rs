use super::*;
use crate::run::{Failure, Origin, RunId};

const SERVICE: &str = "https://trigger.example.run.app";

fn failed() -> RunRecord {
    let mut record = RunRecord::example("7", "2026-12-01T10:00:00Z");
    record.profile = "nightly".into();
    record.state = RunState::Failed;
    record.started = Some("2026-12-01T10:01:00Z".parse().unwrap());
    record.finished = Some("2026-12-01T10:04:07Z".parse().unwrap());
    record.error = "cell 3 raised ValueError: the data is bad".into();
    record.failure = Some(Failure {
        cell_index: 2,
        source: "check(df)".into(),
        ename: "ValueError".into(),
        evalue: "the data is bad".into(),
        traceback: "Traceback …\nValueError: the data is bad".into(),
    });
    record
}

#[test]
fn json_names_each_fact_of_the_run() {
    let record = failed();
    let body =
        Notice::new(RunEvent::Reached(RunState::Failed), &record, Some(SERVICE)).body(Format::Json);
    assert_eq!(body["event"], "failed");
    assert_eq!(body["run_id"], record.run_id.as_str());
    assert_eq!(body["first_attempt"], record.run_id.as_str());
    assert_eq!(body["attempt"], 1);
    assert_eq!(body["profile"], "nightly");
    assert_eq!(body["state"], "failed");
    assert_eq!(body["error"], "cell 3 raised ValueError: the data is bad");
    assert_eq!(body["failure"]["cell"], 3);
    assert_eq!(body["failure"]["exception"], "ValueError");
    assert_eq!(body["failure"]["message"], "the data is bad");
    assert_eq!(body["duration_seconds"], 187);
    assert_eq!(body["link"], format!("{SERVICE}/runs/{}", record.run_id));
    assert_eq!(
        body["text"],
        format!("Run {} (profile nightly) failed after 3m 7s", record.run_id)
    );
}

#[test]
fn slack_and_chat_get_a_text_with_the_error_and_the_link() {
    let record = failed();
    let notice = Notice::new(RunEvent::Reached(RunState::Failed), &record, Some(SERVICE));
    let slack = notice.body(Format::Slack);
    let headline = format!("Run {} (profile nightly) failed after 3m 7s", record.run_id);
    assert_eq!(slack["text"], headline.as_str());
    let section = &slack["blocks"][0];
    assert_eq!(section["type"], "section");
    assert_eq!(section["text"]["type"], "mrkdwn");
    assert_eq!(
        section["text"]["text"],
        format!(
            "*{headline}*\n```cell 3 raised ValueError: the data is bad```\n<{SERVICE}/runs/{}|Open the run>",
            record.run_id
        )
    );
    let chat = notice.body(Format::GoogleChat);
    assert_eq!(chat, json!({"text": section["text"]["text"]}));
    assert_eq!(chat.as_object().unwrap().len(), 1);
}

#[test]
fn what_a_notebook_wrote_cannot_mention_link_or_break_out() {
    let mut record = failed();
    record.error =
        "cell 1 raised E: <!channel> <users/all> <https://evil.test|click> a&b ``` *x*".into();
    let notice = Notice::new(RunEvent::Reached(RunState::Failed), &record, None);
    let slack = notice.body(Format::Slack)["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        slack.contains(
            "&lt;!channel&gt; &lt;users/all&gt; &lt;https://evil.test|click&gt; a&amp;b '''"
        ),
        "{slack}"
    );
    assert_eq!(slack.matches("```").count(), 2, "{slack}");
    let chat = notice.body(Format::GoogleChat)["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!chat.contains('<') && !chat.contains('>'), "{chat}");
    assert!(chat.contains("‹users/all›"), "{chat}");
    assert_eq!(chat.matches("```").count(), 2, "{chat}");
}

#[test]
fn errors_and_tracebacks_are_bounded() {
    let mut record = failed();
    record.error = "é".repeat(5000);
    if let Some(failure) = record.failure.as_mut() {
        failure.traceback = format!("{}END", "x".repeat(10_000));
    }
    let body = Notice::new(RunEvent::Reached(RunState::Failed), &record, None).body(Format::Json);
    assert_eq!(
        body["error"].as_str().unwrap().chars().count(),
        MAX_ERROR_CHARS + 1
    );
    let traceback = body["failure"]["traceback"].as_str().unwrap();
    assert_eq!(traceback.chars().count(), MAX_TRACEBACK_CHARS + 1);
    assert!(traceback.starts_with('…') && traceback.ends_with("END"));
}

#[test]
fn an_overdue_run_says_how_long_it_has_gone_and_a_retry_its_attempt() {
    let mut record = RunRecord::example("8", "2026-12-01T10:00:00Z")
        .overdue("2026-12-01T10:25:00Z".parse().unwrap())
        .unwrap();
    let first = RunId::derive("pubsub:first");
    record.origin = Some(Origin::Retry {
        of: first.clone(),
        attempt: 2,
    });
    let notice = Notice::new(RunEvent::Overdue, &record, None);
    assert_eq!(notice.duration(), Some(Duration::from_secs(1500)));
    let body = notice.body(Format::Json);
    assert_eq!(
        body["text"],
        format!(
            "Run {} (profile default, attempt 2) is overdue: still running after 25m",
            record.run_id
        )
    );
    assert_eq!(body["attempt"], 2);
    assert_eq!(body["first_attempt"], first.as_str());
    assert_eq!(body["overdue_at"], "2026-12-01T10:25:00Z");
    assert!(body["link"].is_null() && body["failure"].is_null());
    let launched = Notice::new(
        RunEvent::Reached(RunState::Launched),
        &RunRecord::example("9", "2026-12-01T10:00:00Z"),
        None,
    );
    assert_eq!(launched.duration(), None);
    assert!(
        launched.body(Format::Json)["text"]
            .as_str()
            .unwrap()
            .ends_with("(profile default) launched")
    );
}

#[test]
fn a_retry_and_a_skip_say_what_comes_next() {
    let mut record = failed();
    record.next_attempt = Some(crate::run::NextAttempt {
        run_id: RunId::derive("retry:x#2"),
        attempt: 2,
        at: "2026-12-01T10:05:07Z".parse().unwrap(),
        launched: None,
        refused: None,
    });
    let body = Notice::new(RunEvent::Retrying, &record, Some(SERVICE)).body(Format::Json);
    let text = body["text"].as_str().unwrap_or_default().to_owned() + &body.to_string();
    assert!(
        text.contains("ended failed; attempt 2 starts at 2026-12-01T10:05:07Z"),
        "{text}"
    );
    let mut skipped = RunRecord::example("8", "2026-12-01T10:00:00Z");
    skipped.state = RunState::Skipped;
    let body = Notice::new(RunEvent::Reached(RunState::Skipped), &skipped, None).body(Format::Json);
    assert!(
        body.to_string()
            .contains("max_concurrent_runs were all going"),
        "{body}"
    );
}

#[test]
fn a_result_is_carried_whole_in_json_and_quoted_inert_in_chats() {
    let mut record = RunRecord::example("10", "2026-12-01T10:00:00Z");
    record.state = RunState::Succeeded;
    record.result = Some(json!({"rows": 3, "note": "<!channel> ``` &"}));
    let notice = Notice::new(RunEvent::Reached(RunState::Succeeded), &record, None);
    assert_eq!(
        notice.body(Format::Json)["result"],
        record.result.clone().unwrap()
    );
    let slack = notice.body(Format::Slack)["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        slack.ends_with("\nResult: ```{\"note\":\"&lt;!channel&gt; ''' &amp;\",\"rows\":3}```"),
        "{slack}"
    );
    let chat = notice.body(Format::GoogleChat)["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        chat.ends_with("\nResult: ```{\"note\":\"‹!channel› ''' &\",\"rows\":3}```"),
        "{chat}"
    );
    record.result = Some(json!("x".repeat(70_000)));
    let notice = Notice::new(RunEvent::Reached(RunState::Succeeded), &record, None);
    let chat = notice.body(Format::GoogleChat)["text"].to_string();
    assert!(
        chat.len() < MAX_RESULT_CHARS + 200,
        "a chat quotes its start"
    );
    let none = Notice::new(
        RunEvent::Reached(RunState::Failed),
        &failed(),
        Some(SERVICE),
    );
    assert!(none.body(Format::Json)["result"].is_null());
    assert!(!none.body(Format::Slack).to_string().contains("Result:"));
}

#[test]
fn a_cancelled_run_names_who_cancelled_it() {
    let mut record = failed();
    record.state = RunState::Cancelled;
    record.error = String::new();
    record.failure = None;
    record.cancel = Some(crate::run::CancelRequest {
        by: "cli:ops".into(),
        at: "2026-12-01T10:04:00Z".parse().unwrap(),
    });
    let notice = Notice::new(RunEvent::Reached(RunState::Cancelled), &record, None);
    let body = notice.body(Format::Json);
    assert_eq!(
        body["text"],
        format!(
            "Run {} (profile nightly) cancelled by cli:ops after 3m 7s",
            record.run_id
        )
    );
    assert_eq!(body["cancelled_by"], "cli:ops");
    // Stopped from outside (the console, a shutdown): the runner reports cancelled, by nobody.
    record.cancel = None;
    let body =
        Notice::new(RunEvent::Reached(RunState::Cancelled), &record, None).body(Format::Json);
    assert!(body["cancelled_by"].is_null());
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .ends_with(") cancelled after 3m 7s")
    );
}
