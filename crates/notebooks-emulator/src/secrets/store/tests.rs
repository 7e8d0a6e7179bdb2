//! The secrets as their methods see them: numbering, checks, access and policies.

use super::*;
use crate::clock::ManualClock;

const SECRET: &str = "projects/p/secrets/db";
const VM: &str = "vm@p.iam.gserviceaccount.com";

fn secrets() -> Secrets {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    Secrets::new(clock.clone(), Arc::new(AccessTokens::new(clock)))
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn seeded(values: &[&[u8]]) -> Secrets {
    let secrets = secrets();
    let body = object(json!({"replication": {"automatic": {}}}));
    secrets
        .create(&Caller::Owner, "p", Some("db"), &body)
        .unwrap();
    for value in values {
        let payload = object(json!({"payload": {"data": STANDARD.encode(value)}}));
        secrets
            .add_version(&Caller::Owner, SECRET, &payload)
            .unwrap();
    }
    secrets
}

fn grant(secrets: &Secrets, role: &str, condition: Option<Value>) {
    let mut binding = json!({"role": role, "members": [format!("serviceAccount:{VM}")]});
    if let Some(condition) = condition {
        binding["condition"] = condition;
    }
    let request = object(json!({"policy": {"version": 3, "bindings": [binding]}}));
    secrets
        .set_policy(&Caller::Owner, SECRET, &request)
        .unwrap();
}

#[test]
fn crc32c_is_castagnolis() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
}

#[test]
fn versions_are_numbered_from_one_and_latest_is_the_last() {
    let secrets = seeded(&[b"one", b"two\n"]);
    let latest = secrets.access(&Caller::Owner, SECRET, "latest").unwrap();
    assert_eq!(latest["name"], format!("{SECRET}/versions/2"));
    assert_eq!(latest["payload"]["data"], STANDARD.encode(b"two\n"));
    assert_eq!(
        latest["payload"]["dataCrc32c"],
        crc32c(b"two\n").to_string()
    );
    let first = secrets.access(&Caller::Owner, SECRET, "1").unwrap();
    assert_eq!(first["payload"]["data"], STANDARD.encode(b"one"));
    for (version, message) in [
        (
            "3",
            "Secret Version [projects/p/secrets/db/versions/3] not found.",
        ),
        (
            "0",
            "Secret Version [projects/p/secrets/db/versions/0] not found.",
        ),
        (
            "alias",
            "Secret Version [projects/p/secrets/db/versions/alias] not found.",
        ),
    ] {
        let error = secrets.access(&Caller::Owner, SECRET, version).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (Code::NotFound, message)
        );
    }
    let error = seeded(&[])
        .access(&Caller::Owner, SECRET, "latest")
        .unwrap_err();
    assert_eq!(
        error.message,
        "Secret [projects/p/secrets/db] not found or has no versions."
    );
}

#[test]
fn creates_and_payloads_are_checked_as_google_checks_them() {
    let secrets = seeded(&[]);
    let body = object(json!({"replication": {"automatic": {}}}));
    let again = secrets.create(&Caller::Owner, "p", Some("db"), &body);
    assert_eq!(again.unwrap_err().code, Code::AlreadyExists);
    for (id, body) in [
        (None, json!({"replication": {"automatic": {}}})),
        (Some("a b"), json!({"replication": {"automatic": {}}})),
        (Some("x"), json!({})),
    ] {
        let error = secrets
            .create(&Caller::Owner, "p", id, &object(body))
            .unwrap_err();
        assert_eq!(error.code, Code::InvalidArgument, "{id:?}");
    }
    let add = |payload: Value| secrets.add_version(&Caller::Owner, SECRET, &object(payload));
    let checked = add(json!({"payload": {"data": "YQ==", "dataCrc32c": crc32c(b"a").to_string()}}));
    assert_eq!(checked.unwrap()["clientSpecifiedPayloadChecksum"], true);
    for bad in [
        json!({"payload": {"data": "YQ==", "dataCrc32c": "1"}}),
        json!({"payload": {"data": "not base64!"}}),
        json!({"payload": {"data": STANDARD.encode(vec![0; MAX_PAYLOAD_BYTES + 1])}}),
        json!({}),
    ] {
        assert_eq!(add(bad).unwrap_err().code, Code::InvalidArgument);
    }
    let missing = secrets.add_version(&Caller::Owner, "projects/p/secrets/nope", &Map::new());
    assert_eq!(
        missing.unwrap_err().message,
        "Secret [projects/p/secrets/nope] not found."
    );
}

#[test]
fn an_account_reads_only_what_an_unconditional_binding_grants_it() {
    let secrets = seeded(&[b"pw"]);
    let vm = Caller::Account(VM.to_owned());
    let denied = secrets.access(&vm, SECRET, "latest").unwrap_err();
    assert_eq!(denied.code, Code::PermissionDenied);
    assert_eq!(
        denied.message,
        "Permission 'secretmanager.versions.access' denied for resource 'projects/p/secrets/db/versions/latest' (or it may not exist)."
    );
    let missing = secrets.access(&vm, "projects/p/secrets/other", "1");
    assert_eq!(
        missing.unwrap_err().code,
        Code::PermissionDenied,
        "existence is not told"
    );
    grant(
        &secrets,
        "roles/secretmanager.secretAccessor",
        Some(json!({"title": "t", "expression": "true"})),
    );
    assert!(secrets.access(&vm, SECRET, "latest").is_err());
    grant(&secrets, "roles/secretmanager.viewer", None);
    assert!(secrets.access(&vm, SECRET, "latest").is_err());
    grant(&secrets, "roles/secretmanager.secretAccessor", None);
    let read = secrets.access(&vm, SECRET, "latest").unwrap();
    assert_eq!(read["payload"]["data"], STANDARD.encode(b"pw"));
    let add = object(json!({"payload": {"data": "YQ=="}}));
    assert_eq!(
        secrets.add_version(&vm, SECRET, &add).unwrap_err().code,
        Code::PermissionDenied
    );
    assert_eq!(
        secrets.policy(&vm, SECRET).unwrap_err().code,
        Code::PermissionDenied
    );
    let create = secrets.create(
        &vm,
        "p",
        Some("new"),
        &object(json!({"replication": {"automatic": {}}})),
    );
    assert_eq!(create.unwrap_err().code, Code::PermissionDenied);
}

#[test]
fn a_policy_is_replaced_only_by_a_writer_that_read_it() {
    let secrets = seeded(&[]);
    let empty = secrets.policy(&Caller::Owner, SECRET).unwrap();
    assert_eq!(empty, json!({"version": 1, "etag": EMPTY_POLICY_ETAG}));
    let binding = json!({"role": "roles/secretmanager.secretAccessor", "members": [format!("serviceAccount:{VM}")]});
    let request = |etag: &str| object(json!({"policy": {"bindings": [binding], "etag": etag}}));
    let set = secrets
        .set_policy(&Caller::Owner, SECRET, &request(EMPTY_POLICY_ETAG))
        .unwrap();
    assert_eq!(secrets.policy(&Caller::Owner, SECRET).unwrap(), set);
    let stale = secrets.set_policy(&Caller::Owner, SECRET, &request(EMPTY_POLICY_ETAG));
    assert_eq!(stale.unwrap_err().code, Code::Aborted);
    let current = set["etag"].as_str().unwrap();
    assert!(
        secrets
            .set_policy(&Caller::Owner, SECRET, &request(current))
            .is_ok()
    );
    let bad =
        object(json!({"policy": {"bindings": [{"role": "secretAccessor", "members": ["x"]}]}}));
    assert_eq!(
        secrets
            .set_policy(&Caller::Owner, SECRET, &bad)
            .unwrap_err()
            .code,
        Code::InvalidArgument
    );
}
