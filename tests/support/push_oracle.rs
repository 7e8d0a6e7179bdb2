//! The one judgement of an untrusted `POST /`, shared by the libFuzzer target
//! (`fuzz/fuzz_targets/push_decode.rs`), the replay of its corpus and the property tests in
//! `tests/push_decode.rs`, so the three cannot drift apart.
//!
//! A request goes through what the service does with it before anything leaves the process:
//! the decoder, then the payload policy, in the handler's order. Whatever it carries, that must
//! not panic, and a refusal must be the client's (4xx): a 5xx would make Pub/Sub redeliver
//! something that can never work, where a 4xx sends it to the dead-letter topic.
//!
//! Inputs are laid out like an HTTP request without its request line, so seeds stay readable
//! and the fuzzer mutates headers as well as bodies: `Name: value` lines, a blank line (`\n\n`),
//! then the body. Without a blank line the whole input is the body.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use notebook_trigger::answer;
use notebook_trigger::launch::LaunchError;
use notebook_trigger::payload::{self, OverridePolicy};
use notebook_trigger::push;

/// The lowest `MAX_PAYLOAD_BYTES` the service accepts: inputs of fuzzing size then reach 413.
pub const MAX_PAYLOAD_BYTES: usize = 1024;

/// The policy of `tests/api/hostile.rs`: most overrides allowed, so values reach their checks,
/// while the service account and the network stay forbidden, so refusals are reached too.
/// Built once: the fuzzer calls [`check`] millions of times.
fn policy() -> &'static OverridePolicy {
    static POLICY: OnceLock<OverridePolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        OverridePolicy::parse("machine_type,labels,instance_id,post_startup_script,container_image")
            .and_then(|policy| policy.with_image_prefixes("europe-docker.pkg.dev/team/nb/"))
            .expect("the oracle's policy is valid")
    })
}

/// Splits an input into the headers and the body of a request (see the module comment).
///
/// A line hyper would refuse as a header (bad name or value) is dropped: hyper answers such
/// a request itself, so the handler never sees that header.
pub fn request(input: &[u8]) -> (HeaderMap, &[u8]) {
    let Some(blank) = input.windows(2).position(|pair| pair == b"\n\n") else {
        return (HeaderMap::new(), input);
    };
    let mut headers = HeaderMap::new();
    for line in input[..blank].split(|&byte| byte == b'\n') {
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            continue;
        };
        let name = HeaderName::from_bytes(line[..colon].trim_ascii());
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    (headers, &input[blank + 2..])
}

/// The status `POST /` would answer if the request is refused before launching, `None` if it
/// would go on to launch.
///
/// # Panics
/// When decoding or the payload check panics, or when a refusal would be a 5xx.
pub fn check(headers: &HeaderMap, body: &[u8]) -> Option<StatusCode> {
    let error = match push::decode(headers, body, MAX_PAYLOAD_BYTES) {
        Ok(trigger) => match payload::parse(&trigger.data, policy()) {
            Ok(_) => return None,
            Err(error) => LaunchError::from(error),
        },
        Err(error) => LaunchError::from(error),
    };
    let status = answer::status(&error);
    assert!(
        status.is_client_error(),
        "refused with {status}, not a client error: {error}"
    );
    Some(status)
}
