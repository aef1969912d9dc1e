//! A small, bounded HTTP/1.1 server for every service's HTTP API and the admin port.
//!
//! Our own rather than tiny_http: tiny_http 0.12 allocates the whole unread remainder of a
//! declared `Content-Length` when it drops a request (a single request claiming a huge
//! body, then closing, aborted the process) and puts no limit on header size. Here a body
//! over [`Options::max_body`] is refused from its declared length and never read, and a
//! head over [`Options::max_head`] is refused with 431.
//!
//! - [`wire`]: request heads and response heads as bytes (pure, unit-tested).
//! - [`server`]: the accept thread, one light thread per connection, a fixed handler pool.
//!
//! A service supplies one [`Handler`]: a [`Request`] in, a [`Response`] out.

pub mod server;
pub mod wire;

use std::sync::Arc;

pub use server::{HttpServer, Options};

/// One complete request, body included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target up to the first `?`; never percent-decoded.
    pub path: String,
    /// What followed the first `?` (empty if nothing did); never decoded.
    pub query: String,
    /// Header lines in order; names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer. The server adds `Content-Length` and `Connection`; for `HEAD` requests and
/// 304 answers it sends the head only, with the length of `body` (so a 304 may carry the
/// representation it stands for, and an empty body means no `Content-Length` at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<&'static str>,
    /// Further headers such as `ETag` or `Allow`. Names and values with control
    /// characters are never written (no response splitting).
    pub headers: Vec<(&'static str, String)>,
    /// Shared so a service can serve the same cached bytes to every request unchanged.
    pub body: Arc<[u8]>,
}

impl Response {
    pub fn new(
        status: u16,
        content_type: Option<&'static str>,
        body: impl Into<Arc<[u8]>>,
    ) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A JSON body, `Content-Type: application/json`.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(
            status,
            Some("application/json"),
            value.to_string().into_bytes(),
        )
    }

    /// A plain text body, `Content-Type: text/plain; charset=utf-8`.
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response::new(
            status,
            Some("text/plain; charset=utf-8"),
            text.into().into_bytes(),
        )
    }

    /// No body and no type, e.g. `Response::empty(304)`.
    pub fn empty(status: u16) -> Response {
        Response::new(status, None, Vec::new())
    }

    /// Adds a header line (builder style).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The first value of extra header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a service runs for each request, on one of the server's handler threads.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// The answer the server itself gives to requests it refuses (400, 408, 411, 413, 431,
/// 503, ...): the contract envelope `{"status":-1,"message":...}` as JSON. Services with
/// another error shape set [`Options::refusal`].
pub fn envelope_refusal(status: u16, message: &str) -> Response {
    // Written by hand so `status` comes first, as in every other answer of the contract.
    let message = serde_json::Value::from(message);
    let body = format!("{{\"status\":-1,\"message\":{message}}}");
    Response::new(status, Some("application/json"), body.into_bytes())
}

/// A plain-text refusal, for servers whose answers are text (the admin port).
pub fn text_refusal(status: u16, message: &str) -> Response {
    Response::text(status, format!("{message}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_in_any_case() {
        let request = Request {
            method: "GET".into(),
            path: "/".into(),
            query: String::new(),
            headers: vec![("if-none-match".into(), "\"x\"".into())],
            body: Vec::new(),
        };
        assert_eq!(request.header("If-None-Match"), Some("\"x\""));
        assert_eq!(request.header("etag"), None);
        let response = Response::empty(304).with_header("ETag", "\"x\"");
        assert_eq!(response.header("etag"), Some("\"x\""));
        assert_eq!(response.content_type, None);
        assert!(response.body.is_empty());
    }

    #[test]
    fn helpers_set_type_and_body() {
        let json = Response::json(201, &serde_json::json!({"a": 1}));
        assert_eq!(json.status, 201);
        assert_eq!(json.content_type, Some("application/json"));
        assert_eq!(&json.body[..], br#"{"a":1}"#);
        let text = Response::text(503, "down");
        assert_eq!(text.content_type, Some("text/plain; charset=utf-8"));
        assert_eq!(&text.body[..], b"down");
        let refused = envelope_refusal(413, "too big");
        assert_eq!(&refused.body[..], br#"{"status":-1,"message":"too big"}"#);
        let quoted = envelope_refusal(400, "a \"quote\"\n");
        assert_eq!(
            &quoted.body[..],
            br#"{"status":-1,"message":"a \"quote\"\n"}"#
        );
    }
}
