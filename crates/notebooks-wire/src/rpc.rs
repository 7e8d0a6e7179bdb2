//! `google.rpc.Code`: the canonical error codes shared by the client and the emulator.
//!
//! Google's HTTP errors name a code (`"status": "ALREADY_EXISTS"`), failed operations carry
//! its number (`"code": 6`), and each maps to one HTTP status. The service decides retries by
//! code ([`Code::is_transient`]) and the emulator answers with them, so both read them from
//! this one table.

use axum::http::StatusCode;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok,
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

/// (code, rpc number, name, HTTP status) as fixed by the HTTP mapping in `google/rpc/code.proto`.
const TABLE: [(Code, i32, &str, u16); 17] = [
    (Code::Ok, 0, "OK", 200),
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

    /// The number in `Operation.error.code`; unknown numbers read as `UNKNOWN`.
    pub fn from_number(number: i32) -> Code {
        TABLE
            .into_iter()
            .find(|row| row.1 == number)
            .map_or(Code::Unknown, |row| row.0)
    }

    /// The exact name in an error body's `status`.
    pub fn from_name(name: &str) -> Option<Code> {
        TABLE.into_iter().find(|row| row.2 == name).map(|row| row.0)
    }

    /// A name typed by a person (a flag): case-insensitive, with a helpful error.
    ///
    /// # Errors
    /// A message listing the accepted names.
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

    /// The code an HTTP status implies when a body carries none, as Google's clients read it.
    pub fn from_http(status: u16) -> Code {
        match status {
            400 => Code::InvalidArgument,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            409 => Code::Aborted,
            429 => Code::ResourceExhausted,
            499 => Code::Cancelled,
            501 => Code::Unimplemented,
            503 => Code::Unavailable,
            504 => Code::DeadlineExceeded,
            500..=599 => Code::Internal,
            _ => Code::Unknown,
        }
    }

    pub fn number(self) -> i32 {
        self.row().1
    }

    pub fn name(self) -> &'static str {
        self.row().2
    }

    pub fn http_status(self) -> StatusCode {
        StatusCode::from_u16(self.row().3).expect("TABLE holds valid HTTP statuses")
    }

    /// Whether another attempt can succeed without anyone changing anything: the service
    /// answers these with 503 so that Pub/Sub redelivers, and keeps polling through them.
    pub fn is_transient(self) -> bool {
        match self {
            Code::Unavailable
            | Code::ResourceExhausted
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::Internal
            | Code::Unknown
            | Code::DataLoss => true,
            Code::Ok
            | Code::Cancelled
            | Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::Unauthenticated => false,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_maps_to_its_http_status() {
        for (code, number, name, http) in TABLE {
            assert_eq!(Code::from_number(number), code);
            assert_eq!(Code::from_name(name), Some(code));
            assert_eq!(Code::parse(&name.to_lowercase()), Ok(code));
            assert_eq!(code.http_status().as_u16(), http);
            let shared = TABLE.iter().filter(|row| row.3 == http).count() > 1;
            if !shared && code != Code::Ok {
                assert_eq!(
                    Code::from_http(http),
                    code,
                    "{name}: HTTP {http} belongs to it alone"
                );
            }
        }
        assert!(
            Code::parse("QUOTA")
                .unwrap_err()
                .contains("RESOURCE_EXHAUSTED")
        );
    }

    /// The README's answer contract: these are refused for good (422) …
    #[test]
    fn refusals_are_permanent_and_outages_transient_as_documented() {
        for code in [
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::NotFound,
            Code::FailedPrecondition,
            Code::Unauthenticated,
            Code::AlreadyExists,
        ] {
            assert!(!code.is_transient(), "{code} is permanent → 422");
        }
        // … and these are worth another delivery (503).
        for code in [
            Code::Unavailable,
            Code::ResourceExhausted,
            Code::DeadlineExceeded,
            Code::Internal,
            Code::Aborted,
        ] {
            assert!(code.is_transient(), "{code} is transient → 503");
        }
    }
}
