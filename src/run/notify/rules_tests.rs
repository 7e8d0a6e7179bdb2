use std::collections::BTreeSet;

use super::*;

const SECRET_URL: &str = "https://hooks.slack.com/services/T0/B0/very-secret";

fn env(name: &str) -> Option<String> {
    match name {
        "SLACK_WEBHOOK" => Some(SECRET_URL.to_owned()),
        "PLAIN_HTTP" => Some("http://hooks.example.com/x".to_owned()),
        _ => None,
    }
}

fn parse(json: &str) -> Result<Vec<Rule>, FieldError> {
    let fields = Fields {
        notify: Some(serde_json::from_str(json).unwrap()),
        ..Fields::default()
    };
    parse_rules(&fields, &env)
}

fn refused(json: &str) -> String {
    let error = parse(json).unwrap_err();
    assert_eq!(error.field, Field::Notify);
    assert!(!error.reason.contains("very-secret"), "{error}");
    error.reason
}

#[test]
fn a_rule_names_its_webhook_events_and_format() {
    let rules = parse(
        r#"[{"url_env": "SLACK_WEBHOOK", "on": ["failed", "overdue"], "format": "slack"},
            {"url": "http://127.0.0.1:9/hook", "format": "google_chat"},
            {"url_secret": "projects/p/secrets/hook/versions/latest"}]"#,
    )
    .unwrap();
    assert_eq!(
        rules[0].destination,
        Destination::Url(SECRET_URL.parse().unwrap())
    );
    assert_eq!(rules[0].source, "url_env SLACK_WEBHOOK");
    assert_eq!(
        rules[0].on,
        [RunEvent::Reached(RunState::Failed), RunEvent::Overdue]
    );
    assert_eq!(rules[0].format, Format::Slack);
    assert_eq!(rules[1].on, DEFAULT_ON, "unset: the unhappy ones");
    assert_eq!(rules[1].format, Format::GoogleChat);
    assert_eq!(
        rules[2].destination,
        Destination::Secret("projects/p/secrets/hook/versions/latest".into())
    );
    assert_eq!(rules[2].format, Format::Json, "unset: plain JSON");
    assert!(!format!("{rules:?}").contains("very-secret"));
    assert_eq!(parse("[]").unwrap(), []);
    assert_eq!(parse_rules(&Fields::default(), &env).unwrap(), []);
}

#[test]
fn unknown_formats_and_events_are_named_with_the_choices() {
    let said = refused(r#"[{"url": "https://x.test/h", "format": "teams"}]"#);
    assert!(
        said.starts_with("rule 1: format `teams`") && said.contains("slack, google_chat, json"),
        "{said}"
    );
    let said =
        refused(r#"[{"url": "https://x.test/h"}, {"url": "https://x.test/h", "on": ["faild"]}]"#);
    assert!(
        said.starts_with("rule 2: `faild` in on is not an event"),
        "{said}"
    );
    assert!(
        said.contains(
            "launched, succeeded, failed, timed_out, cancelled, unreported, lost, skipped, overdue, retrying"
        ) && !said.contains("cleaned_up"),
        "{said}"
    );
    let said = refused(r#"[{"url": "https://x.test/h", "on": ["cleaned_up"]}]"#);
    assert!(said.contains("not an event"), "{said}");
    let said = refused(r#"[{"url": "https://x.test/h", "on": []}]"#);
    assert!(said.contains("on is empty"), "{said}");
}

#[test]
fn a_url_is_https_or_to_this_machine() {
    for ok in [
        "https://hooks.slack.com/services/x",
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]:9/hook",
    ] {
        assert!(check_url(ok).is_ok(), "{ok}");
    }
    for (bad, said) in [
        ("http://hooks.example.com/x", "https://"),
        ("http://10.0.0.1/x", "127.0.0.1 and localhost only"),
        ("http://127.0.0.1.evil.test/x", "https://"),
        ("ftp://x.test/h", "not an https:// URL"),
        ("file:///etc/passwd", "not an https:// URL"),
        ("hooks.slack.com/x", "not a URL"),
    ] {
        let error = check_url(bad).unwrap_err();
        assert!(error.contains(said), "{bad}: {error}");
    }
    let said = refused(r#"[{"url_env": "PLAIN_HTTP"}]"#);
    assert!(
        said.starts_with("rule 1: the value of PLAIN_HTTP is http://"),
        "{said}"
    );
    assert!(!said.contains("hooks.example.com"), "never the URL: {said}");
}

#[test]
fn a_missing_variable_or_a_bad_secret_says_how_to_fix_it() {
    let said = refused(r#"[{"url_env": "TEAMS_HOOK"}]"#);
    assert!(
        said.contains("url_env TEAMS_HOOK is not set in the service's environment")
            && said.contains("--set-secrets"),
        "{said}"
    );
    let said = refused(r#"[{"url_env": "slack hook"}]"#);
    assert!(said.contains("not a variable name"), "{said}");
    let said = refused(r#"[{"url_secret": "slack-hook"}]"#);
    assert!(
        said.starts_with("rule 1: url_secret:") && said.contains("projects/PROJECT"),
        "{said}"
    );
    for both in [
        r#"[{"url": "https://x.test/h", "url_env": "SLACK_WEBHOOK"}]"#,
        r#"[{"on": ["failed"]}]"#,
    ] {
        assert!(refused(both).contains("name the webhook once"), "{both}");
    }
}

#[test]
fn a_profile_has_a_bounded_number_of_rules() {
    let many = format!(
        "[{}]",
        [r#"{"url": "https://x.test/h"}"#; MAX_RULES + 1].join(",")
    );
    assert!(refused(&many).contains("more than 10"));
}

#[test]
fn help_names_every_event_a_rule_may_name_and_the_defaults() {
    let help = crate::profile::VARIABLES
        .iter()
        .find(|v| v.name == "NOTIFY")
        .expect("NOTIFY is declared")
        .meaning;
    let names: Vec<&str> = notifiable().map(RunEvent::as_str).collect();
    assert!(help.contains(&names.join(", ")), "{help}");
    let defaults: Vec<&str> = DEFAULT_ON.iter().map(|e| e.as_str()).collect();
    assert!(
        help.contains(&format!("(default: {})", defaults.join(", "))),
        "{help}"
    );
    let formats = Format::ALL.map(Format::as_str).join(" | ");
    assert!(help.contains(&formats), "{help}");
}

fn sources(json: &str) -> Result<BTreeSet<WebhookSource>, FieldError> {
    let fields = Fields {
        notify: Some(serde_json::from_str(json).unwrap()),
        ..Fields::default()
    };
    webhook_sources(&fields)
}

#[test]
fn a_deployment_provides_the_variables_and_secrets_the_rules_name_once_each() {
    let found = sources(
        r#"[{"url_env": "TEAMS_HOOK", "on": ["failed"]},
            {"url_env": "TEAMS_HOOK", "on": ["succeeded"], "format": "json"},
            {"url_secret": "projects/p/secrets/chat-hook/versions/latest", "format": "google_chat"},
            {"url_secret": "projects/p/secrets/chat-hook/versions/3"},
            {"url_secret": "projects/other/secrets/hook/versions/1"},
            {"url": "https://x.test/h"}]"#,
    )
    .unwrap();
    assert_eq!(
        found,
        BTreeSet::from([
            WebhookSource::Variable("TEAMS_HOOK".into()),
            WebhookSource::Secret("projects/other/secrets/hook".into()),
            WebhookSource::Secret("projects/p/secrets/chat-hook".into()),
        ]),
        "a variable needs no value yet; a secret is granted whole, whichever version"
    );
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "url_env TEAMS_HOOK",
            "url_secret projects/other/secrets/hook",
            "url_secret projects/p/secrets/chat-hook",
        ]
    );
    assert_eq!(
        sources(r#"[{"url": "https://x.test/h"}]"#).unwrap(),
        BTreeSet::new()
    );
    assert_eq!(
        webhook_sources(&Fields::default()).unwrap(),
        BTreeSet::new()
    );
}

#[test]
fn a_deployment_is_refused_what_start_up_would_refuse_but_a_variable_not_set_yet() {
    for (rules, said) in [
        (
            r#"[{"url_env": "slack hook"}]"#,
            "rule 1: url_env `slack hook` is not a variable name",
        ),
        (r#"[{"url_secret": "slack-hook"}]"#, "rule 1: url_secret:"),
        (
            r#"[{"url": "http://hooks.example.com/x"}]"#,
            "rule 1: url is http:// to another machine",
        ),
        (
            r#"[{"url_env": "SLACK_WEBHOOK", "url_secret": "projects/p/secrets/s/versions/1"}]"#,
            "name the webhook once",
        ),
        (
            r#"[{"url_env": "SLACK_WEBHOOK"}, {"url_env": "SLACK_WEBHOOK", "format": "teams"}]"#,
            "rule 2: format `teams`",
        ),
        (
            r#"[{"url_env": "SLACK_WEBHOOK", "on": ["faild"]}]"#,
            "`faild` in on is not an event",
        ),
    ] {
        let error = sources(rules).unwrap_err();
        assert_eq!(error.field, Field::Notify);
        assert!(error.reason.contains(said), "{rules}: {error}");
        let start_up = parse(rules).unwrap_err();
        assert_eq!(
            start_up.reason, error.reason,
            "{rules}: refused alike at start-up"
        );
    }
    let many = format!("[{}]", [r#"{"url_env": "A"}"#; MAX_RULES + 1].join(","));
    assert!(sources(&many).unwrap_err().reason.contains("more than 10"));
}
