//! Hostile input, table-driven: each case is one request with the status it must get. After
//! the table, nothing was created, the Notebooks API was never called, the keys were fetched
//! once, and the service still answers and still launches for a valid request.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, json, push_body, spawn_app};
use crate::tokens::{self, Issuer, bearer, claims, claims_with};

/// One hostile request.
struct Case {
    name: &'static str,
    method: Method,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    expected: u16,
}

/// A POST with a valid token, so that only the body is hostile.
fn post(name: &'static str, body: impl Into<Vec<u8>>, expected: u16) -> Case {
    Case {
        name,
        method: Method::POST,
        headers: vec![("authorization", bearer(&tokens::google(&claims())))],
        body: body.into(),
        expected,
    }
}

/// A push envelope whose (base64) data is `payload`.
fn payload(name: &'static str, payload: &str, expected: u16) -> Case {
    post(name, push_body(name, payload), expected)
}

/// A valid push body with the given `Authorization` header (or none).
fn token(name: &'static str, authorization: Option<String>, expected: u16) -> Case {
    Case {
        name,
        method: Method::POST,
        headers: authorization
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default(),
        body: push_body(name, "TweetiNoteStartTopic").into(),
        expected,
    }
}

fn with_header(mut case: Case, name: &'static str, value: &str) -> Case {
    case.headers.push((name, value.to_owned()));
    case
}

fn method(name: &'static str, method: Method) -> Case {
    Case {
        method,
        ..post(name, push_body(name, "x"), 405)
    }
}

fn cases() -> Vec<Case> {
    let envelope = |message: serde_json::Value| json!({ "message": message }).to_string();
    let thousand: serde_json::Map<String, serde_json::Value> =
        (0..1000).map(|i| (format!("k{i}"), json!("v"))).collect();
    let deep_body = format!(
        r#"{{"message":{{"messageId":"d"}},"x":{}{}}}"#,
        "[".repeat(64),
        "]".repeat(64)
    );
    let deep_payload = format!(r#"{{"labels":{}{}}}"#, "{\"a\":".repeat(40), "}".repeat(40));
    let ce = |case: Case| {
        with_header(
            case,
            "ce-source",
            "//pubsub.googleapis.com/projects/p/topics/t",
        )
    };
    vec![
        // Methods.
        method("GET on /", Method::GET),
        method("PUT on /", Method::PUT),
        method("DELETE on /", Method::DELETE),
        method("PATCH on /", Method::PATCH),
        // Not JSON, or JSON of the wrong kind.
        post("empty body", "", 400),
        post("plain text", "TweetiNoteStartTopic", 400),
        post("truncated JSON", r#"{"message":{"data":"eA==""#, 400),
        post("null", "null", 400),
        post("number", "42", 400),
        post("array", "[]", 400),
        post("string", r#""message""#, 400),
        post("two JSON values", r#"{"data":"a"} {"data":"b"}"#, 400),
        // Wrong types for every field.
        post("message is a string", envelope(json!("x")), 400),
        post(
            "message.data is a number",
            envelope(json!({"data": 5})),
            400,
        ),
        post(
            "message.data is an object",
            envelope(json!({"data": {}})),
            400,
        ),
        post(
            "message.attributes is an array",
            envelope(json!({"attributes": []})),
            400,
        ),
        post(
            "attribute value is a number",
            envelope(json!({"attributes": {"a": 1}})),
            400,
        ),
        post(
            "messageId is a number",
            envelope(json!({"messageId": 7})),
            400,
        ),
        post(
            "message_id is an array",
            envelope(json!({"message_id": []})),
            400,
        ),
        post(
            "publishTime is a number",
            envelope(json!({"publishTime": 1})),
            400,
        ),
        post(
            "publishTime is not a time",
            envelope(json!({"publishTime": "noon"})),
            400,
        ),
        post(
            "orderingKey is a boolean",
            envelope(json!({"orderingKey": true})),
            400,
        ),
        post(
            "subscription is a number",
            json!({"message": {}, "subscription": 1}).to_string(),
            400,
        ),
        post(
            "deliveryAttempt is a string",
            json!({"message": {}, "deliveryAttempt": "3"}).to_string(),
            400,
        ),
        post(
            "deliveryAttempt is negative",
            json!({"message": {}, "deliveryAttempt": -1}).to_string(),
            400,
        ),
        post("manual data is a number", r#"{"data":5}"#, 400),
        // Encodings.
        post(
            "invalid base64",
            envelope(json!({"data": "%%%not base64"})),
            400,
        ),
        post(
            "invalid UTF-8 in the body",
            b"{\"data\":\"\xff\xfe\"}".to_vec(),
            400,
        ),
        post(
            "raw NUL byte in the body",
            b"{\"data\":\"a\x00b\"}".to_vec(),
            400,
        ),
        payload(
            "escaped NUL in a field",
            r#"{"machine_type":"n1-standard-4\u0000"}"#,
            400,
        ),
        // Sizes and shapes.
        post(
            "body over MAX_BODY_BYTES",
            format!(r#"{{"data":"{}"}}"#, "A".repeat(300_000)),
            413,
        ),
        post(
            "payload over MAX_PAYLOAD_BYTES",
            envelope(json!({"data": STANDARD.encode(vec![b'x'; 70_000]), "messageId": "big"})),
            413,
        ),
        post("body nested 64 deep", deep_body, 400),
        payload("payload nested 40 deep", &deep_payload, 400),
        post(
            "1000 attributes",
            envelope(json!({"attributes": thousand})),
            400,
        ),
        payload("payload is broken JSON", r#"{"machine_type":"#, 400),
        // Overrides.
        payload("unknown override", r#"{"overrides":{"colour":"red"}}"#, 400),
        payload(
            "service account is not overridable",
            r#"{"service_account":"evil@x.iam.gserviceaccount.com"}"#,
            400,
        ),
        payload(
            "network is not overridable",
            r#"{"network":"projects/evil/global/networks/n"}"#,
            400,
        ),
        payload(
            "image outside ALLOWED_IMAGE_PREFIXES",
            r#"{"container_image":"docker.io/evil/miner"}"#,
            400,
        ),
        payload(
            "image escaping its prefix",
            r#"{"container_image":"europe-docker.pkg.dev/team/nb/../../evil/x"}"#,
            400,
        ),
        payload(
            "machine type off pattern",
            r#"{"machine_type":"n1-standard-4; rm -rf /"}"#,
            400,
        ),
        payload("label key in upper case", r#"{"labels":{"Team":"x"}}"#, 400),
        payload(
            "label value too long",
            &format!(r#"{{"labels":{{"team":"{}"}}}}"#, "a".repeat(64)),
            400,
        ),
        payload(
            "script not on gs://",
            r#"{"post_startup_script":"https://evil.example/x.sh"}"#,
            400,
        ),
        payload("instance id ../x", r#"{"instance_id":"../x"}"#, 400),
        payload(
            "instance id in upper case",
            r#"{"instance_id":"Notebook"}"#,
            400,
        ),
        payload(
            "instance id of 200 characters",
            &format!(r#"{{"instance_id":"{}"}}"#, "a".repeat(200)),
            400,
        ),
        payload("override of the wrong type", r#"{"labels":["a"]}"#, 400),
        payload("unknown profile", r#"{"profile":"../../etc"}"#, 400),
        // CloudEvents.
        ce(with_header(
            with_header(
                post("CloudEvent of a foreign type", push_body("ce1", "x"), 400),
                "ce-type",
                "google.cloud.storage.object.v1.finalized",
            ),
            "ce-id",
            "1",
        )),
        ce(with_header(
            post("CloudEvent without ce-id", push_body("ce2", "x"), 400),
            "ce-type",
            "google.cloud.pubsub.topic.v1.messagePublished",
        )),
        // Tokens.
        token("no token", None, 401),
        token("garbage token", Some(bearer("garbage")), 401),
        token("Basic credentials", Some("Basic dXNlcjpwYXNz".into()), 401),
        token("empty bearer", Some("Bearer ".into()), 401),
        token(
            "expired token",
            Some(bearer(&tokens::google(&claims_with(
                json!({"exp": now() - 3600, "iat": now() - 7200}),
            )))),
            401,
        ),
        token(
            "token expired 2 minutes ago",
            Some(bearer(&tokens::google(&claims_with(
                json!({"exp": now() - 120}),
            )))),
            401,
        ),
        token(
            "token issued in the future",
            Some(bearer(&tokens::google(&claims_with(
                json!({"iat": now() + 600}),
            )))),
            401,
        ),
        token(
            "token without iat",
            Some(bearer(&tokens::google(&claims_with(json!({"iat": null}))))),
            401,
        ),
        token(
            "wrong audience",
            Some(bearer(&tokens::google(&claims_with(
                json!({"aud": "https://other.a.run.app"}),
            )))),
            401,
        ),
        token(
            "wrong issuer",
            Some(bearer(&tokens::google(&claims_with(
                json!({"iss": "https://evil.example"}),
            )))),
            401,
        ),
        token(
            "signed by another key",
            Some(bearer(&tokens::foreign(&claims(), tokens::KID))),
            401,
        ),
        token(
            "signed by another key with an unknown kid",
            Some(bearer(&tokens::foreign(&claims(), "attacker-key"))),
            401,
        ),
        token("no kid", Some(bearer(&tokens::without_kid(&claims()))), 401),
        token("alg none", Some(bearer(&tokens::unsigned(&claims()))), 401),
        token(
            "HS256 signed with the public key",
            Some(bearer(&tokens::hs256_with_public_key(&claims()))),
            401,
        ),
        token(
            "wrong email",
            Some(bearer(&tokens::google(&claims_with(
                json!({"email": "someone@else.iam.gserviceaccount.com"}),
            )))),
            403,
        ),
        token(
            "unverified email",
            Some(bearer(&tokens::google(&claims_with(
                json!({"email_verified": false}),
            )))),
            403,
        ),
        token(
            "email_verified as a string",
            Some(bearer(&tokens::google(&claims_with(
                json!({"email_verified": "true"}),
            )))),
            403,
        ),
        token(
            "no email",
            Some(bearer(&tokens::google(&claims_with(
                json!({"email": null}),
            )))),
            403,
        ),
        Case {
            name: "huge body without a token is refused before it is read",
            method: Method::POST,
            headers: vec![],
            body: vec![b'A'; 400_000],
            expected: 401,
        },
    ]
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

async fn send(app: &TestApp, case: &Case) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
    let mut request = app
        .http
        .request(case.method.clone(), &app.address)
        .header("content-type", "application/json")
        .body(case.body.clone());
    for (name, value) in &case.headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("the service answers");
    let headers = response.headers().clone();
    let (status, body) = json(response).await;
    (status, body, headers)
}

#[tokio::test]
async fn hostile_requests_get_their_status_create_nothing_and_leave_the_service_healthy() {
    let issuer = Issuer::start().await;
    let mut env = issuer.env();
    env.extend([
        (
            "ALLOWED_OVERRIDES",
            "machine_type,labels,instance_id,post_startup_script,container_image".to_owned(),
        ),
        (
            "ALLOWED_IMAGE_PREFIXES",
            "europe-docker.pkg.dev/team/nb/".to_owned(),
        ),
        ("MAX_BODY_BYTES", "262144".to_owned()),
    ]);
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(&vars).await;
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let (status, body, headers) = send(&app, case).await;
        if status != case.expected {
            failures.push(format!(
                "{}: expected {}, got {status}: {body}",
                case.name, case.expected
            ));
        }
        if status == 401 && headers.get("www-authenticate").is_none() {
            failures.push(format!("{}: 401 without WWW-Authenticate", case.name));
        }
        let text = body.to_string();
        if text.contains("eyJ") {
            failures.push(format!("{}: the answer echoes a token: {text}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(app.instances().is_empty(), "a refusal created an instance");
    assert_eq!(
        app.emulator.request_count(),
        0,
        "a refusal reached the Notebooks API"
    );
    assert_eq!(
        issuer.hits(),
        1,
        "keys fetched once and cached; unknown kids did not refetch within the minute"
    );
    let health = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "healthz needs no token");
    let valid = send(
        &app,
        &token("valid token", Some(bearer(&tokens::google(&claims()))), 200),
    )
    .await;
    assert_eq!(valid.0, 200, "{}", valid.1);
    let accounts_issuer = send(
        &app,
        &token(
            "bare issuer",
            Some(bearer(&tokens::google(&claims_with(
                json!({"iss": "accounts.google.com"}),
            )))),
            200,
        ),
    )
    .await;
    assert_eq!(accounts_issuer.0, 200, "{}", accounts_issuer.1);
    let skewed = send(
        &app,
        &token(
            "expired 30 s ago, within leeway",
            Some(bearer(&tokens::google(&claims_with(
                json!({"exp": now() - 30}),
            )))),
            200,
        ),
    )
    .await;
    assert_eq!(skewed.0, 200, "{}", skewed.1);
    assert_eq!(app.instances().len(), 3);
}

#[tokio::test]
async fn unreachable_keys_answer_503_with_retry_after_naming_the_cause_and_create_nothing() {
    let vars = [
        ("PUSH_AUTH_AUDIENCE", tokens::AUDIENCE),
        ("PUSH_AUTH_SERVICE_ACCOUNTS", tokens::PUSH_ACCOUNT),
        ("PUSH_AUTH_JWKS_URL", "http://127.0.0.1:9/certs"),
    ];
    let app = spawn_app(&vars).await;
    let response = send(
        &app,
        &token("keys down", Some(bearer(&tokens::google(&claims()))), 503),
    )
    .await;
    assert_eq!(response.0, 503, "{}", response.1);
    assert!(response.2.contains_key("retry-after"));
    let error = response.1["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot reach http://127.0.0.1:9/certs") && error.contains("error sending"),
        "the answer says which fetch failed and how: {}",
        response.1
    );
    assert!(app.instances().is_empty());
    assert_eq!(app.emulator.request_count(), 0);
}
