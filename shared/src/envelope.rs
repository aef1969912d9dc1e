//! The JSON response envelope of the contract and its fixed status codes.
//!
//! `{"status":<int>,"message":"<text>","data":{...}}`, `data` always an object; status 0
//! is success. Modules answer the statuses of the original's module documents (0–6 for
//! success variants, 86–99 for errors); the framework's are below.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The statuses the contract fixes (and 16, 20, 21, project additions); modules add their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    ProgrammingError,
    TimedOut,
    UnknownFunction,
    InvalidToken,
    TokenMissing,
    Malformed,
    UnknownWorld,
    PermissionDenied,
    /// A backend (MySQL, Redis, another service) failed mid-request; nothing half-done was
    /// kept, so the request may be retried. A project addition (docs/PROTOCOL.md).
    Unavailable,
    /// A retry (same request id, `rid`) of a request that is still running on another
    /// worker thread: nothing ran for this one; retry later with the same `rid`.
    StillRunning,
    /// A retry of a request that already ran, whose answer was too large to keep: it is
    /// not run again; read the state. Both are project additions (docs/PROTOCOL.md).
    AnswerNotKept,
}

impl Status {
    pub fn code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::ProgrammingError => -1,
            Status::TimedOut => -2,
            Status::UnknownFunction => 10,
            Status::InvalidToken => 11,
            Status::TokenMissing => 12,
            Status::Malformed => 13,
            Status::UnknownWorld => 14,
            Status::PermissionDenied => 15,
            Status::Unavailable => 16,
            Status::StillRunning => 20,
            Status::AnswerNotKept => 21,
        }
    }

    /// The contract's message, word for word.
    pub fn message(self) -> &'static str {
        match self {
            Status::Ok => "success",
            Status::ProgrammingError => "programming error, this should not happen",
            Status::TimedOut => "request timed out",
            Status::UnknownFunction => "function is not in function list",
            Status::InvalidToken => "invalid token",
            Status::TokenMissing => "token not present",
            Status::Malformed => "malformed request",
            Status::UnknownWorld => "world does not exist",
            Status::PermissionDenied => "permission denied",
            Status::Unavailable => "service temporarily unavailable, try again",
            Status::StillRunning => "request still running: retry with the same rid",
            Status::AnswerNotKept => "request already done: its answer was too large to keep",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub status: i32,
    pub message: String,
    /// Always an object, `{}` when empty: the original's clients read `data` on every
    /// answer, errors included.
    #[serde(default)]
    pub data: Map<String, Value>,
}

impl Response {
    pub fn of(status: Status) -> Response {
        Response {
            status: status.code(),
            message: status.message().to_string(),
            data: Map::new(),
        }
    }

    pub fn ok(data: Map<String, Value>) -> Response {
        Response {
            data,
            ..Response::of(Status::Ok)
        }
    }

    /// A module status with its own message.
    pub fn error(code: i32, message: impl Into<String>) -> Response {
        Response {
            status: code,
            message: message.into(),
            data: Map::new(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a Response always serialises")
    }
}

/// The timeout answer, pre-rendered: the gate sends it often under faults.
pub fn timeout_json() -> &'static str {
    r#"{"status":-2,"message":"request timed out","data":{}}"#
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_statuses_match_the_contract() {
        let all = [
            (
                Status::ProgrammingError,
                -1,
                "programming error, this should not happen",
            ),
            (Status::TimedOut, -2, "request timed out"),
            (
                Status::UnknownFunction,
                10,
                "function is not in function list",
            ),
            (Status::InvalidToken, 11, "invalid token"),
            (Status::TokenMissing, 12, "token not present"),
            (Status::Malformed, 13, "malformed request"),
            (Status::UnknownWorld, 14, "world does not exist"),
            (Status::PermissionDenied, 15, "permission denied"),
            (
                Status::StillRunning,
                20,
                "request still running: retry with the same rid",
            ),
            (
                Status::AnswerNotKept,
                21,
                "request already done: its answer was too large to keep",
            ),
        ];
        for (s, code, msg) in all {
            assert_eq!((s.code(), s.message()), (code, msg));
        }
    }

    #[test]
    fn timeout_json_is_the_serialised_status() {
        assert_eq!(Response::of(Status::TimedOut).to_json(), timeout_json());
    }

    #[test]
    fn data_round_trips() {
        let mut data = Map::new();
        data.insert("token".into(), Value::from("abc"));
        let json = Response::ok(data).to_json();
        assert_eq!(
            json,
            r#"{"status":0,"message":"success","data":{"token":"abc"}}"#
        );
        let back: Response = serde_json::from_str(&json).unwrap();
        assert_eq!(back.data["token"], "abc");
    }
}
