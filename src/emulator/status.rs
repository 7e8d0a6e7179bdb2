//! `google.rpc.Status` and the canonical error codes, in the two shapes Google serves them.
//!
//! A synchronous error travels as `{"error":{"code":<HTTP status>,"message","status":<code name>}}`
//! while a failed long-running operation carries `{"code":<rpc code number>,"message"}` in
//! `Operation.error`. Clients parse both, so the emulator builds both from one value.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The canonical codes of `google/rpc/code.proto` (all but `OK`, which is never an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

/// (code, rpc number, name, HTTP status) as fixed by the HTTP mapping in `code.proto`.
const TABLE: [(Code, i32, &str, u16); 16] = [
    (Code::Cancelled, 1, "CANCELLED", 499),
    (Code::Unknown, 2, "UNKNOWN", 500),
    (Code::InvalidArgument, 3, "INVALID_ARGUMENT", 400),
    (Code::DeadlineExceeded, 4, "DEADLINE_EXCEEDED", 504),
    (Code::NotFound, 5, "NOT_FOUND", 404),
    (Code::AlreadyExists, 6, "ALREADY_EXISTS", 409),
    (Code::PermissionDenied, 7, "PERMISSION_DENIED", 403),
    (Code::ResourceExhausted, 8, "RESOURCE_EXHAUSTED", 429),
    (Code::FailedPrecondition, 9, "FAILED_PRECONDITION", 400),
    (Code::Aborted, 10, "ABORTED", 409),
    (Code::OutOfRange, 11, "OUT_OF_RANGE", 400),
    (Code::Unimplemented, 12, "UNIMPLEMENTED", 501),
    (Code::Internal, 13, "INTERNAL", 500),
    (Code::Unavailable, 14, "UNAVAILABLE", 503),
    (Code::DataLoss, 15, "DATA_LOSS", 500),
    (Code::Unauthenticated, 16, "UNAUTHENTICATED", 401),
];

impl Code {
    fn row(self) -> (Code, i32, &'static str, u16) {
        TABLE
            .into_iter()
            .find(|row| row.0 == self)
            .expect("every code has a row in TABLE")
    }

    /// The number clients see in `Operation.error.code`.
    pub fn number(self) -> i32 {
        self.row().1
    }

    /// The name clients see in `error.status`, and the spelling `--operation-failure-status` takes.
    pub fn name(self) -> &'static str {
        self.row().2
    }

    pub fn http_status(self) -> StatusCode {
        StatusCode::from_u16(self.row().3).expect("TABLE holds valid HTTP statuses")
    }

    /// Reads a canonical code name (`RESOURCE_EXHAUSTED`), case-insensitively.
    ///
    /// # Errors
    /// A message listing the accepted names, ready for a flag's error output.
    pub fn parse(name: &str) -> Result<Code, String> {
        TABLE
            .into_iter()
            .find(|row| row.2.eq_ignore_ascii_case(name.trim()))
            .map(|row| row.0)
            .ok_or_else(|| {
                let names: Vec<&str> = TABLE.iter().map(|row| row.2).collect();
                format!(
                    "`{name}` is not a canonical status code (one of {})",
                    names.join(", ")
                )
            })
    }
}

/// An error answer: a canonical code, Google's message text and optional typed details.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    http: StatusCode,
    pub code: Code,
    pub message: String,
    details: Vec<Value>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            http: code.http_status(),
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A path exists but not with this HTTP method. Google has no canonical code for it, so the
    /// HTTP status is 405 and the status name `UNIMPLEMENTED` tells clients it will never work.
    pub fn method_not_allowed(method: &str, allowed: &str) -> Self {
        Self {
            http: StatusCode::METHOD_NOT_ALLOWED,
            ..Self::new(
                Code::Unimplemented,
                format!("HTTP method {method} is not allowed here (allowed: {allowed})."),
            )
        }
    }

    /// Adds a `google.rpc.BadRequest` detail naming the offending field, as Google's JSON
    /// parser and validators do, so clients can point at the exact field.
    pub fn with_field_violation(mut self, field: &str, description: &str) -> Self {
        self.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": description}],
        }));
        self
    }

    /// The HTTP status this error is served with.
    pub fn http_status(&self) -> StatusCode {
        self.http
    }

    /// The `google.rpc.Status` form, for `Operation.error`.
    pub fn to_rpc_status(&self) -> Value {
        let mut status = json!({"code": self.code.number(), "message": self.message});
        if !self.details.is_empty() {
            status["details"] = Value::Array(self.details.clone());
        }
        status
    }

    /// The body of a synchronous error answer.
    pub fn to_body(&self) -> Value {
        let mut error = json!({
            "code": self.http.as_u16(),
            "message": self.message,
            "status": self.code.name(),
        });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.http, axum::Json(self.to_body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_map_to_google_http_statuses() {
        for (code, number, name, http) in TABLE {
            assert_eq!(Code::parse(name), Ok(code));
            assert_eq!(Code::parse(&name.to_lowercase()), Ok(code));
            assert_eq!(code.number(), number);
            assert_eq!(code.http_status().as_u16(), http);
        }
        assert!(
            Code::parse("QUOTA")
                .unwrap_err()
                .contains("RESOURCE_EXHAUSTED")
        );
    }

    #[test]
    fn bodies_have_google_shape() {
        let error = ApiError::new(Code::AlreadyExists, "exists")
            .with_field_violation("instance_id", "taken");
        let body = error.to_body();
        assert_eq!(body["error"]["code"], 409);
        assert_eq!(body["error"]["status"], "ALREADY_EXISTS");
        assert_eq!(
            body["error"]["details"][0]["fieldViolations"][0]["field"],
            "instance_id"
        );
        assert_eq!(error.to_rpc_status()["code"], 6);
        let not_allowed = ApiError::method_not_allowed("PUT", "GET");
        assert_eq!(not_allowed.to_body()["error"]["code"], 405);
    }
}
