//! The per-push work that happens before any network call, function by function: decoding what
//! arrived, reading the payload, deriving the names, building the create body. The load
//! benchmark (`bench/run.sh`) measures the whole request; these show which part of the CPU a
//! push costs is ours, and catch a regression in one function long before it shows there.
//!
//! `cargo bench --bench hot_paths` (add `-- --quick` for a fast pass).

use std::collections::BTreeMap;
use std::hint::black_box;

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use notebook_trigger::launch::body;
use notebook_trigger::naming::{self, IdPrefix};
use notebook_trigger::payload::{self, OverridePolicy};
use notebook_trigger::profile::{Fields, LaunchSpec};
use notebook_trigger::push::{self, PUBSUB_CLOUDEVENT_TYPE, Trigger};

/// `MAX_PAYLOAD_BYTES`' default.
const PAYLOAD_LIMIT: usize = 64 * 1024;

/// What Pub/Sub pushes: both spellings of id and time, as its documentation shows.
const PUSH: &str = r#"{"message":{"attributes":{"source":"cloud-scheduler"},"data":"VHdlZXRpTm90ZVN0YXJ0VG9waWM=","messageId":"2070443601311540","message_id":"2070443601311540","publishTime":"2026-11-22T06:00:00.749Z","publish_time":"2026-11-22T06:00:00.749Z"},"subscription":"projects/p/subscriptions/notebook-trigger-push","deliveryAttempt":1}"#;

/// The manual test message a scheduler job or a person sends.
const MANUAL: &str = r#"{"data":"TweetiNoteStartTopic"}"#;

fn push_with_payload(payload: &str) -> String {
    serde_json::json!({
        "message": {
            "data": STANDARD.encode(payload),
            "messageId": "2070443601311541",
            "publishTime": "2026-11-22T06:00:00Z",
        },
        "subscription": "projects/p/subscriptions/notebook-trigger-push",
    })
    .to_string()
}

fn cloud_event_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("ce-type", HeaderValue::from_static(PUBSUB_CLOUDEVENT_TYPE));
    headers.insert("ce-id", HeaderValue::from_static("1096434104173400"));
    headers.insert(
        "ce-source",
        HeaderValue::from_static("//pubsub.googleapis.com/projects/p/topics/notebook-trigger"),
    );
    headers
}

fn decoded(body: &str) -> Trigger {
    push::decode(&HeaderMap::new(), body.as_bytes(), PAYLOAD_LIMIT).expect("a valid push")
}

/// The default profile of a typical deployment, as the environment gives it.
fn default_profile() -> Fields {
    Fields {
        location: Some("us-central1-a".into()),
        container_image: Some("europe-west3-docker.pkg.dev/p/r/python-docker".into()),
        post_startup_script: Some("gs://socialsenti/default-startup-script.sh".into()),
        idle_timeout_seconds: Some(3600),
        ..Fields::default()
    }
}

/// Every field set, so the builders take every branch.
fn full_profile() -> Fields {
    default_profile().overlay(&Fields {
        service_account: Some("vm@p.iam.gserviceaccount.com".into()),
        network: Some("default".into()),
        subnet: Some("sub".into()),
        disable_public_ip: Some(true),
        accelerator_type: Some("NVIDIA_TESLA_T4".into()),
        boot_disk_type: Some("PD_SSD".into()),
        boot_disk_size_gb: Some(200),
        post_startup_script_behavior: Some("run_every_start".into()),
        labels: Some(BTreeMap::from([("team".into(), "ml".into())])),
        metadata: Some(BTreeMap::from([("jupyter-user".into(), "ml".into())])),
        ..Fields::default()
    })
}

fn envelope_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    let empty = HeaderMap::new();
    let overrides = push_with_payload(r#"{"profile":"gpu","machine_type":"n1-standard-8"}"#);
    let cloud_event = cloud_event_headers();
    for (name, headers, body) in [
        ("pubsub_push", &empty, PUSH),
        ("manual", &empty, MANUAL),
        ("cloud_event", &cloud_event, PUSH),
        ("pubsub_json_payload", &empty, overrides.as_str()),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                push::decode(
                    black_box(headers),
                    black_box(body.as_bytes()),
                    PAYLOAD_LIMIT,
                )
            })
        });
    }
    group.finish();
}

fn payload_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("payload");
    let policy = OverridePolicy::parse("machine_type,labels").expect("valid policy");
    let text = decoded(PUSH);
    let json = decoded(&push_with_payload(
        r#"{"profile":"gpu","machine_type":"n1-standard-8","labels":{"run":"nightly"}}"#,
    ));
    group.bench_function("text", |b| {
        b.iter(|| payload::parse(black_box(&text.data), &text.attributes, &policy))
    });
    group.bench_function("json_overrides", |b| {
        b.iter(|| payload::parse(black_box(&json.data), &json.attributes, &policy))
    });
    group.finish();
}

fn names(c: &mut Criterion) {
    let mut group = c.benchmark_group("naming");
    let trigger = decoded(PUSH);
    let prefix = IdPrefix::default();
    group.bench_function("instance_id", |b| {
        b.iter(|| naming::instance_id(None, &prefix, black_box(&trigger)))
    });
    group.bench_function("request_id", |b| {
        b.iter(|| naming::request_id(black_box(&trigger.key)))
    });
    group.bench_function("provenance_labels", |b| {
        b.iter(|| naming::provenance(black_box(&trigger), "default"))
    });
    group.finish();
}

fn bodies(c: &mut Criterion) {
    let mut group = c.benchmark_group("body");
    let trigger = decoded(PUSH);
    let labels = naming::provenance(&trigger, "default");
    for (name, fields) in [("default", default_profile()), ("full", full_profile())] {
        let spec = LaunchSpec::parse(&fields, "p").expect("valid profile");
        group.bench_function(format!("v2_{name}"), |b| {
            b.iter(|| body::v2(black_box(&spec), &labels))
        });
        group.bench_function(format!("v1_{name}"), |b| {
            b.iter(|| body::v1(black_box(&spec), &labels))
        });
        group.bench_function(format!("spec_{name}"), |b| {
            b.iter(|| LaunchSpec::parse(black_box(&fields), "p"))
        });
    }
    group.finish();
}

/// Everything `Launcher::launch` does before its first HTTP call, in the same order, down to
/// the create body as JSON text: the CPU a push costs us beyond HTTP itself.
fn whole_push(c: &mut Criterion) {
    let policy = OverridePolicy::default();
    let profile = default_profile();
    let prefix = IdPrefix::default();
    c.bench_function("push_to_create_body", |b| {
        b.iter_batched(
            HeaderMap::new,
            |headers| {
                let trigger = push::decode(&headers, black_box(PUSH.as_bytes()), PAYLOAD_LIMIT)
                    .expect("a valid push");
                let request = payload::parse(&trigger.data, &trigger.attributes, &policy)
                    .expect("a valid payload");
                let spec = LaunchSpec::parse(&profile.overlay(&request.overrides), "p")
                    .expect("a valid profile");
                let id = naming::instance_id(spec.instance_id.as_ref(), &prefix, &trigger);
                let mut labels = spec.labels.clone();
                labels.extend(naming::provenance(&trigger, "default"));
                (
                    id,
                    naming::request_id(&trigger.key),
                    naming::key_hash(&trigger.key),
                    body::v2(&spec, &labels).to_string().into_bytes(),
                )
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(
    hot_paths,
    envelope_decode,
    payload_parse,
    names,
    bodies,
    whole_push
);
criterion_main!(hot_paths);
