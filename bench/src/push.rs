//! Pushes over a plain socket, so that nothing stands between the clock and the bytes: the
//! request as Pub/Sub sends it, the answer as the service gives it, and the emulator's
//! instance count that proves every answered push was a real create.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context as _, ensure};

use crate::process::local;

/// The project of every push and every instance of a run.
pub const PROJECT: &str = "bench-project";
/// What a push answered 200 after a real create says.
pub const CREATED: &str = r#""outcome":"created""#;

pub fn push_body(message_id: &str) -> String {
    serde_json::json!({
        "message": {
            "data": "VHdlZXRpTm90ZVN0YXJ0VG9waWM=",
            "messageId": message_id,
            "publishTime": "2026-11-22T06:00:00.000Z",
            "attributes": {"source": "cloud-scheduler"},
        },
        "subscription": format!("projects/{PROJECT}/subscriptions/notebook-trigger-push"),
    })
    .to_string()
}

pub fn request(method: &str, path: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Status and body of a `Connection: close` answer.
pub fn parse_answer(raw: &[u8]) -> anyhow::Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").context("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status line in `{head}`"))?;
    Ok((status, body.to_owned()))
}

pub fn exchange(stream: &mut TcpStream, raw: &str) -> anyhow::Result<(u16, String)> {
    stream.write_all(raw.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    parse_answer(&answer)
}

pub fn http(port: u16, method: &str, path: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(local(port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    exchange(&mut stream, &request(method, path, body))
}

/// Instances in the emulator: that every answered push was a real create.
pub fn count_instances(emulator_port: u16) -> anyhow::Result<usize> {
    let mut count = 0;
    let mut token = String::new();
    loop {
        let path =
            format!("/v2/projects/{PROJECT}/locations/-/instances?pageSize=1000&pageToken={token}");
        let (status, body) = http(emulator_port, "GET", &path, "")?;
        ensure!(status == 200, "listing instances: HTTP {status}: {body}");
        let page: serde_json::Value = serde_json::from_str(&body)?;
        count += page["instances"].as_array().map_or(0, Vec::len);
        match page["nextPageToken"].as_str() {
            Some(next) if !next.is_empty() => token = next.to_owned(),
            _ => return Ok(count),
        }
    }
}
