//! Serial consoles of emulated instances: what their post-startup scripts print, and what the
//! emulator says about running them.
//!
//! A Workbench instance is a Compute Engine VM of the same name in the same zone, and the
//! Notebooks API has no console method; Compute's has, so the emulator serves it at its real
//! path and in its real shape: `GET /compute/v1/projects/P/zones/ZONE/instances/ID/serialPort`
//! (`instances.getSerialPortOutput`, `?start=BYTE` to read on from an earlier `next`). So
//! `gcloud compute instances get-serial-port-output` works against the emulator with
//! `CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=http://HOST:PORT/compute/v1/`. Every line also goes
//! to the emulator's log.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ApiVersion;
use super::state::EmulatorState;

/// The most of a console kept, as Compute keeps the last megabyte.
const KEPT_BYTES: usize = 1 << 20;

#[derive(Debug, Default)]
struct Console {
    /// The kept tail of the output.
    tail: VecDeque<u8>,
    /// Bytes ever written: the offset after the last byte of `tail`.
    written: u64,
}

/// Every instance's console, by Notebooks resource name.
#[derive(Debug, Default)]
pub struct Consoles(Mutex<BTreeMap<String, Console>>);

impl Consoles {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Console>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a line (a newline is added) and logs it.
    pub fn line(&self, instance: &str, line: &str) {
        tracing::info!(instance, "console: {line}");
        let mut consoles = self.lock();
        let console = consoles.entry(instance.to_owned()).or_default();
        console.tail.extend(line.as_bytes());
        console.tail.push_back(b'\n');
        console.written += line.len() as u64 + 1;
        let excess = console.tail.len().saturating_sub(KEPT_BYTES);
        console.tail.drain(..excess);
    }

    /// The output from byte `start` on (or from the oldest byte kept), that start, and the
    /// offset to ask for next.
    pub fn read(&self, instance: &str, start: u64) -> (String, u64, u64) {
        let consoles = self.lock();
        let Some(console) = consoles.get(instance) else {
            return (String::new(), 0, 0);
        };
        let first = console.written - console.tail.len() as u64;
        let start = start.clamp(first, console.written);
        let skip = usize::try_from(start - first).unwrap_or(usize::MAX);
        let bytes: Vec<u8> = console.tail.iter().skip(skip).copied().collect();
        (
            String::from_utf8_lossy(&bytes).into_owned(),
            start,
            console.written,
        )
    }

    pub fn remove(&self, instance: &str) {
        self.lock().remove(instance);
    }
}

/// `instances.getSerialPortOutput` of Compute Engine v1, for Workbench instances.
pub async fn serial_port_output(
    State(state): State<EmulatorState>,
    Path((project, zone, id)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let resource = format!("projects/{project}/locations/{zone}/instances/{id}");
    let exists = [ApiVersion::V2, ApiVersion::V1]
        .into_iter()
        .any(|version| state.0.store.instance(version, &resource).is_ok());
    let self_link = format!("projects/{project}/zones/{zone}/instances/{id}");
    if !exists {
        let message = format!("The resource '{self_link}' was not found");
        let error = json!({"error": {"code": 404, "message": message,
            "errors": [{"message": message, "domain": "global", "reason": "notFound"}]}});
        return (StatusCode::NOT_FOUND, Json(error)).into_response();
    }
    let start = query.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let (contents, start, next) = state.0.consoles.read(&resource, start);
    Json(json!({
        "kind": "compute#serialPortOutput",
        "contents": contents,
        "start": start.to_string(),
        "next": next.to_string(),
        "selfLink": format!("{self_link}/serialPort"),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_on_from_next_returns_only_new_output() {
        let consoles = Consoles::default();
        assert_eq!(consoles.read("i", 0), (String::new(), 0, 0));
        consoles.line("i", "hello");
        let (text, start, next) = consoles.read("i", 0);
        assert_eq!((text.as_str(), start, next), ("hello\n", 0, 6));
        consoles.line("i", "world");
        assert_eq!(consoles.read("i", next).0, "world\n");
        assert_eq!(consoles.read("i", 999).0, "");
    }

    #[test]
    fn only_the_last_megabyte_is_kept() {
        let consoles = Consoles::default();
        let line = "x".repeat(1023);
        for _ in 0..1100 {
            consoles.line("i", &line);
        }
        let (text, start, next) = consoles.read("i", 0);
        assert_eq!(text.len(), KEPT_BYTES);
        assert_eq!(next, 1100 * 1024);
        assert_eq!(start, next - KEPT_BYTES as u64);
    }
}
