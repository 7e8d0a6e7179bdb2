//! The one judgement of an untrusted `POST /`, shared by the libFuzzer target
//! (`fuzz/fuzz_targets/push_decode.rs`), the replay of its corpus and the property tests in
//! `tests/push_decode.rs`, so the three cannot drift apart.
//!
//! A request goes through everything the service does with it before anything leaves the
//! process, in the handler's order: the decoder, then `Dispatcher::create_request` (the payload
//! policy, the profile, the launch spec, the instance id and the request body). Whatever it
//! carries, that must not panic, and a refusal must be the client's (4xx): a 5xx would make
//! Pub/Sub redeliver something that can never work, where a 4xx sends it to the dead-letter
//! topic. What it would send must be a request the API can take: a valid instance id under the
//! configured parent, and a JSON object as the body.
//!
//! Inputs are laid out like an HTTP request without its request line, so seeds stay readable
//! and the fuzzer mutates headers as well as bodies: `Name: value` lines, a blank line (`\n\n`),
//! then the body. Without a blank line the whole input is the body.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use notebook_trigger::config::Settings;
use notebook_trigger::dispatch::Dispatcher;
use notebook_trigger::http::answer;
use notebook_trigger::naming::InstanceId;
use notebook_trigger::push;
use notebook_trigger::rejection::Rejection;
use notebook_trigger::startup::Services;
use tokio_util::sync::CancellationToken;

/// The lowest `MAX_PAYLOAD_BYTES` the service accepts: inputs of fuzzing size then reach 413.
pub const MAX_PAYLOAD_BYTES: usize = 1024;

const PROJECT: &str = "fuzz-project";

/// A named profile besides the default.
const PROFILES: &str =
    "[profiles.gpu]\naccelerator_type = \"NVIDIA_TESLA_T4\"\nmachine_type = \"n1-standard-8\"\n";

/// The dispatcher the service builds from its configuration, with the policy of
/// `tests/api/hostile.rs`: most overrides allowed, so values reach their checks, while the
/// service account and the network stay forbidden, so refusals are reached too. Its API
/// address is never called. Built once: the fuzzer calls [`check`] millions of times.
fn dispatcher() -> &'static Dispatcher {
    static DISPATCHER: OnceLock<Dispatcher> = OnceLock::new();
    DISPATCHER.get_or_init(|| {
        // Read while the services are built, removed right after.
        let profiles = std::env::temp_dir().join(format!(
            "notebook-trigger-oracle-{}.toml",
            std::process::id()
        ));
        std::fs::write(&profiles, PROFILES).expect("the oracle's profiles file is written");
        let profiles_path = profiles.to_string_lossy().into_owned();
        let env = |name: &str| {
            let value = match name {
                "PROFILES_FILE" => &profiles_path,
                "NOTEBOOKS_EMULATOR_HOST" => "127.0.0.1:9",
                "GOOGLE_CLOUD_PROJECT" => PROJECT,
                "NOTEBOOK_LOCATION" => "europe-west3-a",
                "CONTAINER_IMAGE" => "europe-docker.pkg.dev/team/nb/python-docker",
                "POST_STARTUP_SCRIPT" => "gs://socialsenti/default-startup-script.sh",
                "ALLOWED_OVERRIDES" => {
                    "machine_type,labels,instance_id,post_startup_script,container_image"
                }
                "ALLOWED_IMAGE_PREFIXES" => "europe-docker.pkg.dev/team/nb/",
                _ => return None,
            };
            Some(value.to_owned())
        };
        let settings = Settings::from_env(&env).expect("the oracle's configuration is valid");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to build the services");
        let services = runtime.block_on(Services::build(settings, CancellationToken::new()));
        std::fs::remove_file(&profiles).expect("the oracle's profiles file is removed");
        let services = services.expect("the oracle's services build without calling out");
        std::sync::Arc::into_inner(services.dispatcher).expect("nothing else holds the dispatcher")
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
/// would go on to call the API.
///
/// # Panics
/// When anything before the first call panics, when a refusal would be a 5xx, or when the
/// create it would send has an invalid id, a name outside the parent, or a body that is not a
/// JSON object.
pub fn check(headers: &HeaderMap, body: &[u8]) -> Option<StatusCode> {
    let prepared = push::decode(headers, body, MAX_PAYLOAD_BYTES)
        .map_err(Rejection::from)
        .and_then(|trigger| dispatcher().create_request(&trigger));
    let error = match prepared {
        Ok(create) => {
            assert!(
                InstanceId::parse(create.id.as_str()).is_ok(),
                "invalid instance id {:?}",
                create.id.as_str()
            );
            assert!(
                create
                    .parent
                    .starts_with(&format!("projects/{PROJECT}/locations/")),
                "parent {}",
                create.parent
            );
            assert_eq!(
                create.name,
                format!("{}/instances/{}", create.parent, create.id.as_str())
            );
            let body: serde_json::Value =
                serde_json::from_slice(&create.body).expect("the body is JSON");
            assert!(body.is_object(), "the body is not an object: {body}");
            return None;
        }
        Err(error) => error,
    };
    let status = answer::rejection_status(&error);
    assert!(
        status.is_client_error(),
        "refused with {status}, not a client error: {error}"
    );
    Some(status)
}
