//! Hostile input on stable Rust, judged by the fuzz target's own oracle: every file of
//! `fuzz/corpus/push_decode/` on every `cargo test` (so a crash input added there stays a test
//! for good), and property tests on generated envelopes.

#[path = "support/push_oracle.rs"]
mod push_oracle;

use std::path::Path;

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use push_oracle::{MAX_PAYLOAD_BYTES, check, request};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/push_decode");

/// The committed seeds: real requests, each of which must go on to launch. A seed that is
/// refused would start the fuzzer at the door instead of deep in the decoder.
/// `manual_near_limit` carries 1020 bytes, so a few inserted bytes reach the 413 path.
const SEEDS: [&str; 8] = [
    "attributes_only",
    "cloudevent",
    "manual",
    "manual_base64",
    "manual_near_limit",
    "manual_overrides",
    "overrides",
    "pubsub_push",
];

#[test]
fn every_corpus_file_passes_the_fuzz_oracle() {
    let mut files: Vec<_> = std::fs::read_dir(CORPUS)
        .expect("the corpus directory exists")
        .map(|entry| entry.expect("a readable directory entry").path())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for path in &files {
        let input = std::fs::read(path).expect("a readable corpus file");
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let verdict = std::panic::catch_unwind(|| {
            let (headers, body) = request(&input);
            check(&headers, body)
        });
        match verdict {
            Err(panic) => failures.push(format!("{name}: {}", panic_text(&*panic))),
            Ok(Some(status)) if SEEDS.contains(&name) => {
                failures.push(format!("{name}: a seed is refused with {status}"));
            }
            Ok(_) => {}
        }
    }
    for seed in SEEDS {
        assert!(
            Path::new(CORPUS).join(seed).is_file(),
            "seed {seed} is missing"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[test]
fn the_input_layout_splits_headers_from_the_body() {
    let (headers, body) = request(
        b"ce-type: x\nCE-ID:  7 \nno colon\nbad name: v\nce-id: 8\n\n{\"data\":\"a\"}\n\nrest",
    );
    assert_eq!(headers["ce-type"], "x");
    let ids: Vec<_> = headers.get_all("ce-id").iter().collect();
    assert_eq!(
        ids,
        ["7", "8"],
        "names are case-insensitive, values trimmed"
    );
    assert_eq!(headers.len(), 3, "lines hyper would refuse are dropped");
    assert_eq!(body, b"{\"data\":\"a\"}\n\nrest");
    let (headers, body) = request(b"{\"data\":\"a\"}\n");
    assert!(headers.is_empty());
    assert_eq!(body, b"{\"data\":\"a\"}\n", "no blank line: all body");
}

#[test]
fn the_oracle_sees_refusals_and_their_status() {
    let refused = |input: &[u8]| {
        let (headers, body) = request(input);
        check(&headers, body).map(|status| status.as_u16())
    };
    assert_eq!(refused(b"not json"), Some(400));
    assert_eq!(
        refused(b"ce-type: google.cloud.storage.object.v1.finalized\n\n{\"message\":{}}"),
        Some(400)
    );
    let big = format!(
        r#"{{"message":{{"data":"{}"}}}}"#,
        STANDARD.encode(vec![b'x'; MAX_PAYLOAD_BYTES + 1])
    );
    assert_eq!(refused(big.as_bytes()), Some(413));
    let forbidden = format!(
        r#"{{"message":{{"data":"{}"}}}}"#,
        STANDARD.encode(r#"{"service_account":"evil@x.iam.gserviceaccount.com"}"#)
    );
    assert_eq!(refused(forbidden.as_bytes()), Some(400));
    // Past the payload policy: the profile, the launch spec and the instance id.
    let manual = |payload: &str| {
        let input = serde_json::json!({ "data": payload }).to_string();
        refused(input.as_bytes())
    };
    assert_eq!(manual(r#"{"profile":"gpu"}"#), None);
    assert_eq!(manual(r#"{"profile":"tpu"}"#), Some(400));
    assert_eq!(manual(r#"{"instance_id":"Not_An_Id"}"#), Some(400));
    assert_eq!(
        manual(r#"{"container_image":"europe-docker.pkg.dev/team/nb/img:bad tag"}"#),
        Some(400)
    );
}

proptest! {
    #[test]
    fn arbitrary_bodies_never_panic_nor_yield_a_5xx(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        ce_type in proptest::option::of("[ -~]{0,60}"),
    ) {
        let mut headers = HeaderMap::new();
        if let Some(kind) = ce_type.and_then(|k| HeaderValue::from_str(&k).ok()) {
            headers.insert("ce-type", kind);
        }
        check(&headers, &bytes);
    }

    #[test]
    fn envelopes_with_arbitrary_fields_never_panic_nor_yield_a_5xx(
        data in proptest::option::of(any::<String>()),
        encoded in proptest::collection::vec(any::<u8>(), 0..1200),
        id in proptest::option::of(any::<String>()),
        time in proptest::option::of(any::<String>()),
        attributes in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..120),
        attempt in any::<i64>(),
    ) {
        let data = data.unwrap_or_else(|| STANDARD.encode(&encoded));
        let body = serde_json::json!({
            "message": {"data": data, "messageId": id, "publishTime": time, "attributes": attributes},
            "deliveryAttempt": attempt,
        });
        check(&HeaderMap::new(), body.to_string().as_bytes());
    }

    #[test]
    fn json_payloads_of_any_shape_never_panic_nor_yield_a_5xx(
        payload in "\\{(\"[a-z_]{1,20}\":(\"[ -~]{0,20}\"|-?[0-9]{1,20}|true|null|\\{\\}|\\[\\]|\\{\"[a-z]{1,5}\":[0-9]\\}),?){0,5}\\}?",
    ) {
        let body = serde_json::json!({"message": {"data": STANDARD.encode(payload), "messageId": "1"}});
        check(&HeaderMap::new(), body.to_string().as_bytes());
    }
}
