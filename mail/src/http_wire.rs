//! HTTP/1.1 request heads and responses as bytes: the pure part of the API server.
//!
//! Only what the mail API needs: `POST` with a `Content-Length` body, keep-alive,
//! `Expect: 100-continue`. Chunked bodies are refused (411): every client we have sends a
//! length, and a declared length lets us refuse an oversized body before reading it.

use std::fmt;

/// Request heads above this are refused (431).
pub const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

#[derive(Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The path, query string removed.
    pub path: String,
    pub content_length: usize,
    /// The client asked to close after this answer (or speaks HTTP/1.0 without keep-alive).
    pub close: bool,
    pub expect_continue: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Not a request line / header line we understand.
    Malformed(&'static str),
    TooLarge,
    /// A body without `Content-Length` (chunked).
    LengthRequired,
    UnsupportedVersion,
    UnsupportedExpect,
}

impl HeadError {
    pub fn http_status(&self) -> u16 {
        match self {
            HeadError::Malformed(_) => 400,
            HeadError::TooLarge => 431,
            HeadError::LengthRequired => 411,
            HeadError::UnsupportedVersion => 505,
            HeadError::UnsupportedExpect => 417,
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::Malformed(what) => write!(f, "malformed HTTP request: {what}"),
            HeadError::TooLarge => write!(f, "request head over {MAX_HEAD} bytes"),
            HeadError::LengthRequired => {
                write!(
                    f,
                    "send the body with Content-Length (chunked is not supported)"
                )
            }
            HeadError::UnsupportedVersion => write!(f, "only HTTP/1.0 and HTTP/1.1"),
            HeadError::UnsupportedExpect => write!(f, "only Expect: 100-continue"),
        }
    }
}

impl std::error::Error for HeadError {}

/// Where the head ends (index just past the blank line), if it is complete in `buf`.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a complete head (request line and headers, ending with the blank line).
pub fn parse_head(head: &[u8]) -> Result<RequestHead, HeadError> {
    if head.len() > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let text = std::str::from_utf8(head).map_err(|_| HeadError::Malformed("not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HeadError::Malformed("method"));
    }
    if !target.starts_with('/') {
        return Err(HeadError::Malformed("request target"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ if version.starts_with("HTTP/") => return Err(HeadError::UnsupportedVersion),
        _ => return Err(HeadError::Malformed("version")),
    };

    let mut content_length: Option<usize> = None;
    let mut close = http10;
    let mut expect_continue = false;
    let mut count = 0;
    for line in lines.take_while(|l| !l.is_empty()) {
        count += 1;
        if count > MAX_HEADERS {
            return Err(HeadError::TooLarge);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(HeadError::Malformed("header line"))?;
        if name.is_empty() || name.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(HeadError::Malformed("header name"));
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse::<usize>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(HeadError::Malformed("Content-Length"))?;
            // Two different lengths is a request-smuggling shape: refuse it.
            if content_length.is_some_and(|old| old != n) {
                return Err(HeadError::Malformed("conflicting Content-Length"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HeadError::LengthRequired);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !value.eq_ignore_ascii_case("100-continue") {
                return Err(HeadError::UnsupportedExpect);
            }
            expect_continue = true;
        }
    }
    Ok(RequestHead {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or(target).to_string(),
        content_length: content_length.unwrap_or(0),
        close,
        expect_continue,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A complete response with a JSON body.
pub fn render_response(status: u16, json: &str, close: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        reason(status),
        json.len(),
        if close { "close" } else { "keep-alive" }
    )
    .into_bytes();
    out.extend_from_slice(json.as_bytes());
    out
}

pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<RequestHead, HeadError> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn parses_a_post_with_length() {
        let h = head("POST /send?x=1 HTTP/1.1\r\nHost: a\r\ncontent-length: 12\r\n\r\n").unwrap();
        assert_eq!(
            h,
            RequestHead {
                method: "POST".into(),
                path: "/send".into(),
                content_length: 12,
                close: false,
                expect_continue: false,
            }
        );
    }

    #[test]
    fn connection_and_expect_headers() {
        let h =
            head("POST / HTTP/1.1\r\nConnection: close\r\nExpect: 100-continue\r\n\r\n").unwrap();
        assert!(h.close && h.expect_continue);
        assert!(head("GET / HTTP/1.0\r\n\r\n").unwrap().close);
        assert!(
            !head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .close
        );
        assert_eq!(head("GET / HTTP/1.1\r\n\r\n").unwrap().content_length, 0);
    }

    #[test]
    fn refusals_carry_their_http_status() {
        let cases = [
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                400,
            ),
            ("POST / HTTP/2.0\r\n\r\n", 505),
            ("POST / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417),
            ("POST /\r\n\r\n", 400),
            ("POST  / HTTP/1.1\r\n\r\n", 400),
            ("post / HTTP/1.1\r\n\r\n", 400),
            ("POST x HTTP/1.1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        ];
        for (text, status) in cases {
            let err = head(text).unwrap_err();
            assert_eq!(err.http_status(), status, "{text:?}: {err}");
        }
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(head(&many).unwrap_err(), HeadError::TooLarge);
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(MAX_HEAD));
        assert_eq!(head(&huge).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn finds_the_end_of_the_head() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn renders_responses_with_length_and_connection() {
        let r = String::from_utf8(render_response(413, "{}", true)).unwrap();
        assert_eq!(
            r,
            "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        );
        assert!(String::from_utf8(render_response(200, "", false))
            .unwrap()
            .contains("Connection: keep-alive\r\n"));
    }
}
