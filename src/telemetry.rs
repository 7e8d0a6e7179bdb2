//! Logs: readable text in a terminal, one JSON object per line on Cloud Run.
//!
//! Cloud Logging only understands `severity` (not `level`) and correlates a line with its
//! request through `logging.googleapis.com/trace` = `projects/P/traces/T`. The JSON format here
//! writes those keys, lifts span fields (`trace`, `message_id`, `instance`) onto every line
//! of the request, and never sees a token: nothing in the product logs headers.

use std::fmt;
use std::io::IsTerminal as _;

use axum::http::HeaderMap;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, prelude::*};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Text,
    /// One JSON object per line with `severity`, as Cloud Logging reads it.
    Json,
}

const TRACE_KEY: &str = "logging.googleapis.com/trace";
const SPAN_KEY: &str = "logging.googleapis.com/spanId";
const SAMPLED_KEY: &str = "logging.googleapis.com/trace_sampled";

/// Installs the global subscriber. `RUST_LOG` wins over `default_filter`. Colours only on a
/// terminal: a log captured to a file or by a test reads as plain text.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(CloudLogging)
                    .with_writer(std::io::stdout),
            )
            .try_init(),
    };
    if result.is_err() {
        tracing::debug!("a global subscriber is already installed");
    }
}

/// Formats events as Cloud Logging structured JSON.
pub struct CloudLogging;

impl<S, N> FormatEvent<S, N> for CloudLogging
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        line.insert(
            "severity".into(),
            Value::from(severity(*event.metadata().level())),
        );
        line.insert(
            "time".into(),
            Value::from(jiff::Timestamp::now().to_string()),
        );
        line.insert("target".into(), Value::from(event.metadata().target()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(fields) {
                        line.extend(map);
                    }
                }
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        lift(&mut line, "trace", TRACE_KEY);
        lift(&mut line, "span_id", SPAN_KEY);
        lift(&mut line, "trace_sampled", SAMPLED_KEY);
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

fn lift(line: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(value) = line.remove(from) {
        line.insert(to.to_owned(), value);
    }
}

fn severity(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
}

/// A request's trace, from `X-Cloud-Trace-Context` or W3C `traceparent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: Option<String>,
    pub sampled: bool,
}

impl TraceContext {
    /// `X-Cloud-Trace-Context: TRACE/SPAN;o=1` first, then `traceparent: 00-TRACE-SPAN-01`.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(value) = header("x-cloud-trace-context") {
            let (ids, options) = value.split_once(';').unwrap_or((value, ""));
            let (trace, span) = ids
                .split_once('/')
                .map_or((ids, None), |(t, s)| (t, Some(s)));
            if is_hex(trace, 32) {
                return Some(Self {
                    trace_id: trace.to_ascii_lowercase(),
                    span_id: span
                        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
                        .map(str::to_owned),
                    sampled: options.trim() == "o=1",
                });
            }
        }
        let parts: Vec<&str> = header("traceparent")?.split('-').collect();
        match parts.as_slice() {
            [version, trace, span, flags]
                if is_hex(version, 2)
                    && is_hex(trace, 32)
                    && is_hex(span, 16)
                    && is_hex(flags, 2) =>
            {
                Some(Self {
                    trace_id: trace.to_ascii_lowercase(),
                    span_id: Some((*span).to_owned()),
                    sampled: u8::from_str_radix(flags, 16).is_ok_and(|f| f & 1 == 1),
                })
            }
            _ => None,
        }
    }

    /// The value of `logging.googleapis.com/trace`.
    pub fn resource(&self, project: &str) -> String {
        format!("projects/{project}/traces/{}", self.trace_id)
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::sync::{Arc, Mutex};

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn cloud_trace_header() {
        let t = TraceContext::from_headers(&headers(
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/1;o=1",
        ))
        .unwrap();
        assert_eq!(
            t.resource("p"),
            "projects/p/traces/105445aa7843bc8bf206b12000100000"
        );
        assert_eq!(t.span_id.as_deref(), Some("1"));
        assert!(t.sampled);
    }

    #[test]
    fn w3c_traceparent() {
        let t = TraceContext::from_headers(&headers(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(t.sampled);
        assert!(TraceContext::from_headers(&headers("traceparent", "garbage")).is_none());
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_severity_message_and_trace() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonFields::new())
                .event_format(CloudLogging)
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span =
                tracing::info_span!("push", trace = "projects/p/traces/abc", message_id = "42");
            let _guard = span.enter();
            tracing::warn!(instance = "i-1", "launching");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["severity"], "WARNING");
        assert_eq!(line["message"], "launching");
        assert_eq!(line[TRACE_KEY], "projects/p/traces/abc");
        assert_eq!(line["message_id"], "42");
        assert_eq!(line["instance"], "i-1");
    }
}
