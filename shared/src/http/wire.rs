//! HTTP/1.1 request heads and response heads as bytes: the pure part of the server.
//!
//! Only what our services need: `GET`/`HEAD`/`POST` with a `Content-Length` body,
//! keep-alive, `Expect: 100-continue`. Chunked bodies are refused (411): every client we
//! have sends a length, and a declared length lets us refuse an oversized body before
//! reading it.

use std::fmt;

use super::Response;

/// Most header lines in one request; more is refused like an oversized head (431).
pub const MAX_HEADERS: usize = 64;

/// A parsed request line and headers.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The path, query string removed.
    pub path: String,
    /// What followed the first `?` of the target (empty if nothing did).
    pub query: String,
    /// Header lines in order, names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    pub content_length: usize,
    /// The client asked to close after this answer (or speaks HTTP/1.0 without keep-alive).
    pub close: bool,
    pub expect_continue: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Not a request line / header line we understand.
    Malformed(&'static str),
    /// Over `limit` bytes, or over [`MAX_HEADERS`] header lines.
    TooLarge {
        limit: usize,
    },
    /// A body without `Content-Length` (chunked).
    LengthRequired,
    UnsupportedVersion,
    UnsupportedExpect,
}

impl HeadError {
    pub fn http_status(&self) -> u16 {
        match self {
            HeadError::Malformed(_) => 400,
            HeadError::TooLarge { .. } => 431,
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
            HeadError::TooLarge { limit } => write!(
                f,
                "request head over {limit} bytes or {MAX_HEADERS} header lines"
            ),
            HeadError::LengthRequired => write!(
                f,
                "send the body with Content-Length (chunked is not supported)"
            ),
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

/// Parses a complete head (request line and headers, ending with the blank line) of at
/// most `limit` bytes.
pub fn parse_head(head: &[u8], limit: usize) -> Result<RequestHead, HeadError> {
    if head.len() > limit {
        return Err(HeadError::TooLarge { limit });
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
    if !target.starts_with('/') || target.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(HeadError::Malformed("request target"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ if version.starts_with("HTTP/") => return Err(HeadError::UnsupportedVersion),
        _ => return Err(HeadError::Malformed("version")),
    };

    let mut headers = Vec::new();
    let mut content_length: Option<usize> = None;
    let mut close = http10;
    let mut expect_continue = false;
    for line in lines.take_while(|l| !l.is_empty()) {
        if headers.len() == MAX_HEADERS {
            return Err(HeadError::TooLarge { limit });
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(HeadError::Malformed("header line"))?;
        // Also refuses obsolete line folding (a line starting with a space).
        if name.is_empty() || name.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(HeadError::Malformed("header name"));
        }
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(HeadError::Malformed("header value"));
        }
        let value = value.trim_matches([' ', '\t']);
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "content-length" => {
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
            }
            "transfer-encoding" => return Err(HeadError::LengthRequired),
            "connection" => {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        close = false;
                    }
                }
            }
            "expect" => {
                if !value.eq_ignore_ascii_case("100-continue") {
                    return Err(HeadError::UnsupportedExpect);
                }
                expect_continue = true;
            }
            _ => {}
        }
        headers.push((name, value.to_string()));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(RequestHead {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        content_length: content_length.unwrap_or(0),
        close,
        expect_continue,
    })
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A header name is a token; a value has no control characters but tab. Anything else
/// could split the response (header injection), so it is never written.
pub fn valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && value.bytes().all(|b| !b.is_ascii_control() || b == b'\t')
}

/// What the response head says about the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// `Content-Length: n`.
    Length(usize),
    /// No `Content-Length` line (a 304 that does not describe its representation).
    Omitted,
}

/// A response head: status line, `Content-Type`, the extra headers, `Content-Length`,
/// `Connection`, blank line. Headers failing [`valid_header`] are left out.
pub fn render_head(
    status: u16,
    content_type: Option<&str>,
    headers: &[(&str, String)],
    length: BodyLength,
    close: bool,
) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    if let Some(content_type) = content_type.filter(|t| valid_header("Content-Type", t)) {
        out.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in headers.iter().filter(|(n, v)| valid_header(n, v)) {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if let BodyLength::Length(n) = length {
        out.push_str(&format!("Content-Length: {n}\r\n"));
    }
    out.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    out.into_bytes()
}

/// The bytes of a whole answer. `head_only` (a `HEAD` request) and 304/204 answers send
/// no body; a 304 states the length of the body it was given, if any (the representation
/// it stands for), a 204 none.
pub fn render_response(response: &Response, head_only: bool, close: bool) -> Vec<u8> {
    let status = response.status;
    let length = match status {
        204 => BodyLength::Omitted,
        304 if response.body.is_empty() => BodyLength::Omitted,
        _ => BodyLength::Length(response.body.len()),
    };
    let mut out = render_head(
        status,
        response.content_type,
        &response.headers,
        length,
        close,
    );
    if !head_only && status != 204 && status != 304 {
        out.extend_from_slice(&response.body);
    }
    out
}

pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 16 * 1024;

    fn head(text: &str) -> Result<RequestHead, HeadError> {
        parse_head(text.as_bytes(), LIMIT)
    }

    #[test]
    fn parses_a_post_with_length_query_and_headers() {
        let h = head(
            "POST /send?x=1&y HTTP/1.1\r\nHost: a\r\ncontent-length: 12\r\nX-Tag:  \"v\"\t\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            h,
            RequestHead {
                method: "POST".into(),
                path: "/send".into(),
                query: "x=1&y".into(),
                headers: vec![
                    ("host".into(), "a".into()),
                    ("content-length".into(), "12".into()),
                    ("x-tag".into(), "\"v\"".into()),
                ],
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
        let plain = head("GET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!((plain.content_length, plain.query.as_str()), (0, ""));
        assert!(!plain.close);
    }

    #[test]
    fn refusals_carry_their_http_status() {
        let cases = [
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400),
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
            ("GET http://a/ HTTP/1.1\r\n\r\n", 400),
            ("GET /\u{e9} HTTP/1.1\r\n\r\n", 400),
            ("GET / FTP/1.1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nno colon\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nBad Name: b\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nA: b\0c\r\n\r\n", 400),
        ];
        for (text, status) in cases {
            let err = head(text).unwrap_err();
            assert_eq!(err.http_status(), status, "{text:?}: {err}");
        }
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\nA: \xff\r\n\r\n", LIMIT),
            Err(HeadError::Malformed("not UTF-8"))
        );
    }

    #[test]
    fn oversized_heads_are_431() {
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(
            head(&many).unwrap_err(),
            HeadError::TooLarge { limit: LIMIT }
        );
        let exactly = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(MAX_HEADERS));
        assert_eq!(head(&exactly).unwrap().headers.len(), MAX_HEADERS);
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(LIMIT));
        let err = head(&huge).unwrap_err();
        assert_eq!(err.http_status(), 431);
        assert!(err.to_string().contains("16384 bytes"), "{err}");
    }

    #[test]
    fn random_heads_never_panic() {
        // A fixed xorshift sequence: reproducible, no dependency.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces: [&[u8]; 12] = [
            b"GET ",
            b"POST ",
            b"/",
            b"?",
            b" HTTP/1.1",
            b"\r\n",
            b":",
            b" ",
            b"Content-Length",
            b"Expect",
            b"\xff",
            b"9",
        ];
        for _ in 0..20_000 {
            let mut head = Vec::new();
            for _ in 0..next() % 24 {
                head.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            head.extend_from_slice(b"\r\n\r\n");
            if let Ok(parsed) = parse_head(&head, 256) {
                assert!(parsed.path.starts_with('/'));
            }
        }
    }

    #[test]
    fn finds_the_end_of_the_head() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn renders_heads_with_type_headers_length_and_connection() {
        let r = render_head(
            413,
            Some("application/json"),
            &[],
            BodyLength::Length(2),
            true,
        );
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n"
        );
        let r = render_head(
            304,
            None,
            &[("ETag", "\"abc\"".into())],
            BodyLength::Omitted,
            false,
        );
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    fn rendered(response: &Response, head_only: bool) -> String {
        String::from_utf8(render_response(response, head_only, false)).unwrap()
    }

    #[test]
    fn head_requests_and_304_get_the_length_without_the_body() {
        let ok = Response::text(200, "hello");
        assert!(rendered(&ok, false)
            .ends_with("Content-Length: 5\r\nConnection: keep-alive\r\n\r\nhello"));
        assert!(
            rendered(&ok, true).ends_with("Content-Length: 5\r\nConnection: keep-alive\r\n\r\n")
        );
        let cached = Response::new(304, None, b"{\"a\":1}".to_vec()).with_header("ETag", "\"t\"");
        assert_eq!(
            rendered(&cached, false),
            "HTTP/1.1 304 Not Modified\r\nETag: \"t\"\r\nContent-Length: 7\r\n\
             Connection: keep-alive\r\n\r\n"
        );
        assert!(!rendered(&Response::empty(304), false).contains("Content-Length"));
        let none = Response::new(204, None, b"ignored".to_vec());
        assert_eq!(
            rendered(&none, false),
            "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"
        );
        let closing =
            String::from_utf8(render_response(&Response::empty(200), false, true)).unwrap();
        assert!(closing.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"));
    }

    #[test]
    fn header_injection_is_never_written() {
        let evil = [
            ("X-Evil", "a\r\nSet-Cookie: x=1".to_string()),
            ("X:Evil", "a".to_string()),
            ("", "a".to_string()),
            ("X-Fine", "tab\tok".to_string()),
        ];
        let r = String::from_utf8(render_head(
            200,
            Some("text/plain\r\nX: y"),
            &evil,
            BodyLength::Length(0),
            false,
        ))
        .unwrap();
        assert_eq!(
            r,
            "HTTP/1.1 200 OK\r\nX-Fine: tab\tok\r\nContent-Length: 0\r\n\
             Connection: keep-alive\r\n\r\n"
        );
    }
}
