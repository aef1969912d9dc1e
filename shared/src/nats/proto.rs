//! The NATS core text protocol, without any I/O: an incremental parser for what the
//! server sends, encoders for what the client sends, and subject validation.
//!
//! Everything here is pure so it can be tested byte for byte; the client feeds the parser
//! whatever the socket returned and writes whatever the encoders produced.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest control line (everything before `\r\n`) we accept from a server. The
/// server's own limit for client lines is 4 KiB; INFO with many cluster URLs can be longer.
pub const MAX_CONTROL_LINE: usize = 64 * 1024;

/// The payload limit assumed until the server's INFO says otherwise (the server default).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";

/// The fields of the server's INFO we use; unknown fields are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub max_payload: usize,
    pub proto: i64,
    pub headers: bool,
    pub auth_required: bool,
    pub tls_required: bool,
    pub connect_urls: Vec<String>,
}

/// A message as delivered by the server (`MSG`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsgFrame {
    pub subject: String,
    pub sid: u64,
    pub reply: Option<String>,
    pub payload: Vec<u8>,
}

/// One operation sent by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerOp {
    Info(ServerInfo),
    Msg(MsgFrame),
    Ping,
    Pong,
    Ok,
    /// `-ERR 'text'`, with the quotes removed.
    Err(String),
}

/// Why the server's byte stream could not be parsed. The connection cannot continue after
/// any of these: the stream is no longer in sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtoError {
    ControlLineTooLong {
        limit: usize,
    },
    NotUtf8,
    UnknownOp(String),
    /// The arguments of an operation do not have the expected shape.
    BadArguments {
        op: &'static str,
        line: String,
    },
    PayloadTooLarge {
        size: usize,
        max: usize,
    },
    /// The bytes after a MSG payload were not `\r\n`.
    MissingPayloadEnd,
    BadInfo(String),
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::ControlLineTooLong { limit } => {
                write!(f, "control line longer than {limit} bytes")
            }
            ProtoError::NotUtf8 => write!(f, "control line is not UTF-8"),
            ProtoError::UnknownOp(op) => write!(f, "unknown operation {op:?}"),
            ProtoError::BadArguments { op, line } => write!(f, "bad {op} arguments: {line:?}"),
            ProtoError::PayloadTooLarge { size, max } => {
                write!(f, "payload of {size} bytes exceeds max_payload {max}")
            }
            ProtoError::MissingPayloadEnd => write!(f, "payload not followed by CRLF"),
            ProtoError::BadInfo(e) => write!(f, "INFO is not valid JSON: {e}"),
        }
    }
}

impl std::error::Error for ProtoError {}

/// The header of a MSG whose payload has not fully arrived yet.
#[derive(Debug)]
struct PendingMsg {
    subject: String,
    sid: u64,
    reply: Option<String>,
    size: usize,
}

/// Incremental parser: [`Parser::feed`] bytes as they arrive, then call [`Parser::next_op`]
/// until it returns `Ok(None)` (more bytes needed).
#[derive(Debug)]
pub struct Parser {
    buf: Vec<u8>,
    /// Start of the unparsed bytes in `buf`; consumed bytes are dropped lazily.
    start: usize,
    max_payload: usize,
    pending: Option<PendingMsg>,
}

impl Parser {
    pub fn new(max_payload: usize) -> Parser {
        Parser {
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            max_payload,
            pending: None,
        }
    }

    /// Applies the limit from the server's INFO.
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        // Compact only when the consumed part dominates, so the copy is amortised.
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete operation, `Ok(None)` if more bytes are needed.
    pub fn next_op(&mut self) -> Result<Option<ServerOp>, ProtoError> {
        if let Some(pending) = self.pending.take() {
            return self.take_payload(pending);
        }
        let unparsed = &self.buf[self.start..];
        let Some(end) = find_crlf(unparsed) else {
            if unparsed.len() > MAX_CONTROL_LINE {
                return Err(ProtoError::ControlLineTooLong {
                    limit: MAX_CONTROL_LINE,
                });
            }
            return Ok(None);
        };
        if end > MAX_CONTROL_LINE {
            return Err(ProtoError::ControlLineTooLong {
                limit: MAX_CONTROL_LINE,
            });
        }
        let line = std::str::from_utf8(&unparsed[..end]).map_err(|_| ProtoError::NotUtf8)?;
        let op = parse_control_line(line, self.max_payload)?;
        self.start += end + 2;
        match op {
            ControlLine::Op(op) => Ok(Some(op)),
            ControlLine::MsgHeader(pending) => self.take_payload(pending),
        }
    }

    fn take_payload(&mut self, pending: PendingMsg) -> Result<Option<ServerOp>, ProtoError> {
        let unparsed = &self.buf[self.start..];
        if unparsed.len() < pending.size + 2 {
            self.pending = Some(pending);
            return Ok(None);
        }
        if &unparsed[pending.size..pending.size + 2] != b"\r\n" {
            return Err(ProtoError::MissingPayloadEnd);
        }
        let payload = unparsed[..pending.size].to_vec();
        self.start += pending.size + 2;
        Ok(Some(ServerOp::Msg(MsgFrame {
            subject: pending.subject,
            sid: pending.sid,
            reply: pending.reply,
            payload,
        })))
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

enum ControlLine {
    Op(ServerOp),
    MsgHeader(PendingMsg),
}

fn parse_control_line(line: &str, max_payload: usize) -> Result<ControlLine, ProtoError> {
    let (name, rest) = match line.find([' ', '\t']) {
        Some(i) => (&line[..i], line[i..].trim_start_matches([' ', '\t'])),
        None => (line, ""),
    };
    let op = if name.eq_ignore_ascii_case("MSG") {
        return parse_msg_args(line, rest, max_payload).map(ControlLine::MsgHeader);
    } else if name.eq_ignore_ascii_case("PING") && rest.is_empty() {
        ServerOp::Ping
    } else if name.eq_ignore_ascii_case("PONG") && rest.is_empty() {
        ServerOp::Pong
    } else if name.eq_ignore_ascii_case("+OK") && rest.is_empty() {
        ServerOp::Ok
    } else if name.eq_ignore_ascii_case("-ERR") {
        ServerOp::Err(unquote(rest.trim_end()).to_string())
    } else if name.eq_ignore_ascii_case("INFO") {
        let info: ServerInfo =
            serde_json::from_str(rest).map_err(|e| ProtoError::BadInfo(e.to_string()))?;
        ServerOp::Info(info)
    } else {
        return Err(ProtoError::UnknownOp(line.chars().take(64).collect()));
    };
    Ok(ControlLine::Op(op))
}

fn unquote(text: &str) -> &str {
    text.strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or(text)
}

fn parse_msg_args(line: &str, rest: &str, max_payload: usize) -> Result<PendingMsg, ProtoError> {
    let bad = || ProtoError::BadArguments {
        op: "MSG",
        line: line.chars().take(200).collect(),
    };
    let args: Vec<&str> = rest.split([' ', '\t']).filter(|a| !a.is_empty()).collect();
    let (subject, sid, reply, size) = match args.as_slice() {
        [subject, sid, size] => (subject, sid, None, size),
        [subject, sid, reply, size] => (subject, sid, Some(reply.to_string()), size),
        _ => return Err(bad()),
    };
    let sid = parse_decimal(sid).ok_or_else(bad)?;
    let size = parse_decimal(size).ok_or_else(bad)? as usize;
    if size > max_payload {
        return Err(ProtoError::PayloadTooLarge {
            size,
            max: max_payload,
        });
    }
    Ok(PendingMsg {
        subject: subject.to_string(),
        sid,
        reply,
        size,
    })
}

/// Digits only (no sign, no spaces), as the protocol writes numbers.
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The CONNECT options this client sends. `verbose` and `pedantic` are always off: we
/// never wait for `+OK`, and subjects are validated on our side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Connect<'a> {
    pub verbose: bool,
    pub pedantic: bool,
    pub name: &'a str,
    pub lang: &'a str,
    pub version: &'a str,
    pub protocol: u8,
    pub headers: bool,
    /// The server's user and password (from the URL); left out when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<&'a str>,
}

impl<'a> Connect<'a> {
    pub fn new(name: &'a str) -> Connect<'a> {
        Connect {
            verbose: false,
            pedantic: false,
            name,
            lang: "rust-lukseun",
            version: env!("CARGO_PKG_VERSION"),
            protocol: 1,
            headers: false,
            user: None,
            pass: None,
        }
    }
}

/// What a `-ERR 'Permissions Violation ...'` refused. The server keeps the connection
/// open after these: only the one SUB or PUB was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    Publish {
        subject: String,
    },
    Subscribe {
        subject: String,
        queue: Option<String>,
    },
}

/// Reads the server's permission errors (nats-server 2.x wording); `None` for any other
/// error text. The reply-subject variant counts as a publish refusal.
pub fn parse_permission_violation(text: &str) -> Option<Violation> {
    let quoted = |t: &str| -> Option<(String, String)> {
        let t = t.strip_prefix('"')?;
        let (value, rest) = t.split_once('"')?;
        Some((value.to_string(), rest.to_string()))
    };
    let rest = text.strip_prefix("Permissions Violation for ")?;
    if let Some(rest) = rest
        .strip_prefix("Publish to ")
        .or_else(|| rest.strip_prefix("Publish with Reply of "))
    {
        let (subject, tail) = quoted(rest)?;
        return tail.is_empty().then_some(Violation::Publish { subject });
    }
    let (subject, tail) = quoted(rest.strip_prefix("Subscription to ")?)?;
    let queue = match tail.as_str() {
        "" => None,
        t => Some(
            quoted(t.strip_prefix(" using queue ")?)
                .filter(|(_, r)| r.is_empty())?
                .0,
        ),
    };
    Some(Violation::Subscribe { subject, queue })
}

pub fn push_connect(out: &mut Vec<u8>, connect: &Connect<'_>) {
    out.extend_from_slice(b"CONNECT ");
    // Serialising a struct of strings and bools into a Vec cannot fail.
    serde_json::to_writer(&mut *out, connect).expect("CONNECT serialises");
    out.extend_from_slice(b"\r\n");
}

/// `PUB <subject> [reply] <#bytes>\r\n<payload>\r\n`. The subjects must have been checked
/// with [`valid_publish_subject`].
pub fn push_pub(out: &mut Vec<u8>, subject: &str, reply: Option<&str>, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject.as_bytes());
    if let Some(reply) = reply {
        out.push(b' ');
        out.extend_from_slice(reply.as_bytes());
    }
    out.push(b' ');
    push_decimal(out, payload.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// The size of the frame [`push_pub`] writes, for buffer accounting before encoding.
pub fn pub_frame_len(subject: &str, reply: Option<&str>, payload_len: usize) -> usize {
    let reply_len = reply.map_or(0, |r| r.len() + 1);
    4 + subject.len() + reply_len + 1 + decimal_len(payload_len as u64) + 2 + payload_len + 2
}

/// `SUB <subject> [queue group] <sid>\r\n`.
pub fn push_sub(out: &mut Vec<u8>, subject: &str, queue: Option<&str>, sid: u64) {
    out.extend_from_slice(b"SUB ");
    out.extend_from_slice(subject.as_bytes());
    if let Some(queue) = queue {
        out.push(b' ');
        out.extend_from_slice(queue.as_bytes());
    }
    out.push(b' ');
    push_decimal(out, sid);
    out.extend_from_slice(b"\r\n");
}

/// `UNSUB <sid> [max_msgs]\r\n`.
pub fn push_unsub(out: &mut Vec<u8>, sid: u64, max: Option<u64>) {
    out.extend_from_slice(b"UNSUB ");
    push_decimal(out, sid);
    if let Some(max) = max {
        out.push(b' ');
        push_decimal(out, max);
    }
    out.extend_from_slice(b"\r\n");
}

fn push_decimal(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = value;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn decimal_len(value: u64) -> usize {
    let mut len = 1;
    let mut v = value / 10;
    while v > 0 {
        len += 1;
        v /= 10;
    }
    len
}

/// A subject a client may subscribe to: dot-separated non-empty tokens, `*` and `>` only as
/// whole tokens, `>` only last, no whitespace or control characters.
pub fn valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(token) = tokens.next() {
        if token.is_empty() || token.chars().any(forbidden_char) {
            return false;
        }
        let has_wildcard = token.contains(['*', '>']);
        if has_wildcard && token != "*" && token != ">" {
            return false;
        }
        if token == ">" && tokens.peek().is_some() {
            return false;
        }
    }
    true
}

/// A subject a client may publish to: a [`valid_subject`] without any wildcard, so a
/// value spliced into it (a family id, a world name) can never widen its reach.
pub fn valid_publish_subject(subject: &str) -> bool {
    valid_subject(subject) && !subject.contains(['*', '>'])
}

/// A queue group name: one non-empty token without whitespace, control characters or
/// wildcards.
pub fn valid_queue_group(queue: &str) -> bool {
    !queue.is_empty()
        && !queue
            .chars()
            .any(|c| forbidden_char(c) || c == '*' || c == '>')
}

fn forbidden_char(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(parser: &mut Parser) -> Result<Vec<ServerOp>, ProtoError> {
        let mut ops = Vec::new();
        while let Some(op) = parser.next_op()? {
            ops.push(op);
        }
        Ok(ops)
    }

    fn parse(bytes: &[u8]) -> Result<Vec<ServerOp>, ProtoError> {
        let mut parser = Parser::new(DEFAULT_MAX_PAYLOAD);
        parser.feed(bytes);
        parse_all(&mut parser)
    }

    fn msg(subject: &str, sid: u64, reply: Option<&str>, payload: &[u8]) -> ServerOp {
        ServerOp::Msg(MsgFrame {
            subject: subject.into(),
            sid,
            reply: reply.map(String::from),
            payload: payload.to_vec(),
        })
    }

    #[test]
    fn parses_info_with_max_payload_and_ignores_unknown_fields() {
        let ops = parse(
            b"INFO {\"server_id\":\"N1\",\"version\":\"2.9.10\",\"max_payload\":1048576,\
              \"proto\":1,\"headers\":true,\"go\":\"go1.19\",\"client_id\":5}\r\n",
        )
        .unwrap();
        let [ServerOp::Info(info)] = ops.as_slice() else {
            panic!("expected one INFO, got {ops:?}");
        };
        assert_eq!(info.server_id, "N1");
        assert_eq!(info.max_payload, 1_048_576);
        assert!(info.headers);
        assert!(!info.tls_required);
    }

    #[test]
    fn parses_simple_ops_case_insensitively() {
        let ops =
            parse(b"PING\r\npong\r\n+ok\r\n-ERR 'Unknown Protocol Operation'\r\nPiNg\r\n").unwrap();
        assert_eq!(
            ops,
            vec![
                ServerOp::Ping,
                ServerOp::Pong,
                ServerOp::Ok,
                ServerOp::Err("Unknown Protocol Operation".into()),
                ServerOp::Ping
            ]
        );
    }

    #[test]
    fn parses_msg_with_and_without_reply() {
        let ops =
            parse(b"MSG chat.s0.public 7 5\r\nhello\r\nmsg jobs 12 _INBOX.x 0\r\n\r\n").unwrap();
        assert_eq!(
            ops,
            vec![
                msg("chat.s0.public", 7, None, b"hello"),
                msg("jobs", 12, Some("_INBOX.x"), b"")
            ]
        );
    }

    #[test]
    fn msg_payload_may_contain_crlf_and_binary() {
        let ops = parse(b"MSG a 1 6\r\n\r\n\x00\xff\r\n\r\n").unwrap();
        assert_eq!(ops, vec![msg("a", 1, None, b"\r\n\x00\xff\r\n")]);
    }

    #[test]
    fn tabs_and_repeated_spaces_separate_arguments() {
        let ops = parse(b"MSG\ta  \t9 3\r\nabc\r\n").unwrap();
        assert_eq!(ops, vec![msg("a", 9, None, b"abc")]);
    }

    #[test]
    fn input_split_at_every_byte_gives_the_same_ops() {
        let stream: &[u8] =
            b"INFO {\"max_payload\":100}\r\nMSG a.b 1 r 4\r\nw\r\nx\r\nPING\r\nMSG c 2 0\r\n\r\n";
        let whole = parse(stream).unwrap();
        assert_eq!(whole.len(), 4);
        let mut parser = Parser::new(DEFAULT_MAX_PAYLOAD);
        let mut ops = Vec::new();
        for byte in stream {
            parser.feed(std::slice::from_ref(byte));
            ops.extend(parse_all(&mut parser).unwrap());
        }
        assert_eq!(ops, whole);
    }

    #[test]
    fn many_messages_survive_buffer_compaction() {
        let mut parser = Parser::new(DEFAULT_MAX_PAYLOAD);
        let mut got = 0;
        for i in 0..1000u64 {
            let frame = format!("MSG s {i} 3\r\n{:03}\r\n", i % 1000);
            // Feed in two uneven halves to keep partial data around across compactions.
            let (a, b) = frame.as_bytes().split_at(frame.len() / 3);
            parser.feed(a);
            got += parse_all(&mut parser).unwrap().len();
            parser.feed(b);
            for op in parse_all(&mut parser).unwrap() {
                assert_eq!(op, msg("s", i, None, format!("{:03}", i % 1000).as_bytes()));
                got += 1;
            }
        }
        assert_eq!(got, 1000);
    }

    #[test]
    fn payload_over_max_is_an_error() {
        let mut parser = Parser::new(10);
        parser.feed(b"MSG a 1 11\r\n");
        assert_eq!(
            parser.next_op(),
            Err(ProtoError::PayloadTooLarge { size: 11, max: 10 })
        );
        let mut parser = Parser::new(10);
        parser.feed(b"MSG a 1 10\r\n0123456789\r\n");
        assert!(matches!(parser.next_op(), Ok(Some(ServerOp::Msg(_)))));
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            b"HELLO\r\n",
            b"\r\n",
            b"MSG a 1\r\n",
            b"MSG a b c d e\r\n",
            b"MSG a x 1\r\nx\r\n",
            b"MSG a 1 -1\r\n",
            b"MSG a 1 +1\r\nx\r\n",
            b"MSG a 1 99999999999999999999999\r\n",
            b"MSG a 1 2\r\nabcd",
            b"INFO {not json}\r\n",
            b"INFO\r\n",
            b"PING extra\r\n",
            b"HMSG a 1 10 12\r\n",
            b"\xff\xfe\r\n",
        ];
        for case in cases {
            assert!(
                parse(case).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn random_garbage_never_panics() {
        // Fragments of real frames glued at random, fed in random chunk sizes.
        const PIECES: &[&[u8]] = &[
            b"MSG ",
            b"msg",
            b"a.b ",
            b"7 ",
            b"12",
            b"\r\n",
            b"\r",
            b"\n",
            b" ",
            b"\t",
            b"PING",
            b"PONG",
            b"+OK",
            b"-ERR 'x'",
            b"INFO {",
            b"}",
            b"\"max_payload\":",
            b"9",
            b"\xff",
            b"-",
            b"HMSG",
            b"0",
            b"99999999999999999999",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let mut stream = Vec::new();
            for _ in 0..(next() % 40) {
                stream.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            let mut parser = Parser::new((next() % 64) as usize);
            let mut rest = stream.as_slice();
            'feed: while !rest.is_empty() {
                let take = (1 + next() % 16).min(rest.len() as u64) as usize;
                parser.feed(&rest[..take]);
                rest = &rest[take..];
                loop {
                    match parser.next_op() {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
            }
        }
    }

    #[test]
    fn control_line_without_end_is_limited() {
        let mut parser = Parser::new(DEFAULT_MAX_PAYLOAD);
        parser.feed(&vec![b'A'; MAX_CONTROL_LINE]);
        assert_eq!(parser.next_op(), Ok(None));
        parser.feed(b"AA");
        assert_eq!(
            parser.next_op(),
            Err(ProtoError::ControlLineTooLong {
                limit: MAX_CONTROL_LINE
            })
        );
    }

    #[test]
    fn max_payload_can_be_raised_by_info() {
        let mut parser = Parser::new(4);
        parser.set_max_payload(8);
        parser.feed(b"MSG a 1 8\r\n12345678\r\n");
        assert_eq!(parser.next_op(), Ok(Some(msg("a", 1, None, b"12345678"))));
    }

    #[test]
    fn encodes_connect_as_single_line_json() {
        let mut out = Vec::new();
        push_connect(&mut out, &Connect::new("edge-1"));
        let text = String::from_utf8(out).unwrap();
        let json = text
            .strip_prefix("CONNECT ")
            .and_then(|t| t.strip_suffix("\r\n"))
            .unwrap();
        assert!(!json.contains(['\r', '\n']));
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(value["verbose"], false);
        assert_eq!(value["pedantic"], false);
        assert_eq!(value["name"], "edge-1");
        assert_eq!(value["lang"], "rust-lukseun");
        assert_eq!(value["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(value["protocol"], 1);
        assert_eq!(value["headers"], false);
    }

    #[test]
    fn connect_carries_user_and_pass_only_when_given() {
        let mut out = Vec::new();
        let mut connect = Connect::new("gate");
        connect.user = Some("gate");
        connect.pass = Some("s3cret");
        push_connect(&mut out, &connect);
        let expected = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":\"gate\",\"lang\":\"rust-lukseun\",\
             \"version\":\"{}\",\"protocol\":1,\"headers\":false,\"user\":\"gate\",\"pass\":\"s3cret\"}}\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        let mut out = Vec::new();
        push_connect(&mut out, &Connect::new("gate"));
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("user") && !text.contains("pass"), "{text}");
    }

    #[test]
    fn permission_violations_are_read_from_the_server_wording() {
        assert_eq!(
            parse_permission_violation("Permissions Violation for Subscription to \"jobs\""),
            Some(Violation::Subscribe {
                subject: "jobs".into(),
                queue: None
            })
        );
        assert_eq!(
            parse_permission_violation(
                "Permissions Violation for Subscription to \"jobs\" using queue \"workers\""
            ),
            Some(Violation::Subscribe {
                subject: "jobs".into(),
                queue: Some("workers".into())
            })
        );
        assert_eq!(
            parse_permission_violation("Permissions Violation for Publish to \"chat.events\""),
            Some(Violation::Publish {
                subject: "chat.events".into()
            })
        );
        assert_eq!(
            parse_permission_violation("Permissions Violation for Publish with Reply of \"_R.x\""),
            Some(Violation::Publish {
                subject: "_R.x".into()
            })
        );
        for other in [
            "Authorization Violation",
            "Unknown Protocol Operation",
            "Permissions Violation for Subscription to jobs",
            "Permissions Violation for Subscription to \"jobs\" using queue workers",
            "Permissions Violation for Publish to \"a\" and more",
            "Permissions Violation for Sleeping",
            "",
        ] {
            assert_eq!(parse_permission_violation(other), None, "{other:?}");
        }
    }

    #[test]
    fn encodes_pub_sub_unsub() {
        let mut out = Vec::new();
        push_pub(&mut out, "jobs", None, b"abc~{}");
        push_pub(&mut out, "a.b", Some("_INBOX.1"), b"");
        push_sub(&mut out, "jobs", Some("workers"), 1);
        push_sub(&mut out, "chat.*.public", None, 1234567890);
        push_unsub(&mut out, 1, None);
        push_unsub(&mut out, 0, Some(10));
        out.extend_from_slice(PING);
        out.extend_from_slice(PONG);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PUB jobs 6\r\nabc~{}\r\nPUB a.b _INBOX.1 0\r\n\r\n\
             SUB jobs workers 1\r\nSUB chat.*.public 1234567890\r\n\
             UNSUB 1\r\nUNSUB 0 10\r\nPING\r\nPONG\r\n"
        );
    }

    #[test]
    fn pub_frame_len_matches_the_encoding() {
        for (subject, reply, len) in [
            ("a", None, 0),
            ("jobs", Some("r.1"), 9),
            ("x.y.z", None, 10),
            ("s", None, 123_456),
        ] {
            let mut out = Vec::new();
            push_pub(&mut out, subject, reply, &vec![b'p'; len]);
            assert_eq!(out.len(), pub_frame_len(subject, reply, len));
        }
    }

    #[test]
    fn encoded_frames_parse_back_as_server_msgs() {
        // The server relays a PUB as MSG with the same subject, reply and payload bytes.
        let mut out = Vec::new();
        push_pub(&mut out, "a.b", Some("r"), b"x\r\ny");
        let text = out.strip_prefix(b"PUB ").unwrap();
        let mut relayed = b"MSG ".to_vec();
        let line_end = text.windows(2).position(|w| w == b"\r\n").unwrap();
        let args = std::str::from_utf8(&text[..line_end]).unwrap();
        let (head, size) = args.rsplit_once(' ').unwrap();
        let (subject, reply) = head.split_once(' ').unwrap();
        relayed.extend_from_slice(format!("{subject} 3 {reply} {size}").as_bytes());
        relayed.extend_from_slice(&text[line_end..]);
        assert_eq!(
            parse(&relayed).unwrap(),
            vec![msg("a.b", 3, Some("r"), b"x\r\ny")]
        );
    }

    #[test]
    fn subscribe_subjects() {
        for ok in [
            "jobs",
            "chat.s0.public",
            "chat.*.public",
            "chat.>",
            ">",
            "*",
            "a.*.>",
            "_INBOX.abc",
            "ünïcode.ok",
        ] {
            assert!(valid_subject(ok), "{ok:?} should be valid");
        }
        for bad in [
            "", ".", "a.", ".a", "a..b", "a b", "a\tb", "a\r\nb", "a\0b", "a\x7fb", "a*", "*a",
            "a.b>", ">.a", "a.>.b", "a.**",
        ] {
            assert!(!valid_subject(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn publish_subjects_have_no_wildcards() {
        assert!(valid_publish_subject("chat.s0.family.f00d"));
        for bad in [
            "chat.s0.family.*",
            "chat.>",
            "*",
            ">",
            "a b",
            "",
            "chat.s0.family.",
        ] {
            assert!(!valid_publish_subject(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn queue_groups() {
        assert!(valid_queue_group("workers"));
        assert!(valid_queue_group("w.1"));
        for bad in ["", "a b", "w*", ">", "a\n"] {
            assert!(!valid_queue_group(bad), "{bad:?} should be invalid");
        }
    }
}
