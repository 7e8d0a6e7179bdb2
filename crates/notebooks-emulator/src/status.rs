//! `google.rpc.Status` and the canonical error codes, in the two shapes Google serves them.
//!
//! A synchronous error travels as `{"error":{"code":<HTTP status>,"message","status":<code name>}}`
//! while a failed long-running operation carries `{"code":<rpc code number>,"message"}` in
//! `Operation.error`. Clients parse both, so the emulator builds both from one value.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use notebooks_wire::Code;

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
