//! A small blocking SMTP client (RFC 5321) for plain SMTP inside a cluster or to a local
//! relay: no TLS, no authentication, one message to one recipient per connection.
//!
//! The protocol part is pure and tested byte for byte: [`Address`] (checked so a value can
//! never inject a command or a header), [`ReplyParser`] (multi-line replies), [`Command`]
//! encoding, [`build_message`] (RFC 5322 + MIME, base64 body, RFC 2047 subject) and
//! [`dot_stuff`]. [`send`] is the thin I/O part: connect, greeting, EHLO (HELO when EHLO is
//! refused), MAIL FROM, RCPT TO, DATA, QUIT, every step with a timeout.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::framing::{push_line, FrameError, LineBuffer};

/// The longest reply line (without CRLF) we accept. RFC 5321 allows 512 bytes with CRLF;
/// real servers stay well below this.
pub const MAX_REPLY_LINE: usize = 4096;
/// The most lines one multi-line reply may have (EHLO lists one extension a line).
pub const MAX_REPLY_LINES: usize = 128;
/// RFC 5321 section 4.5.3.1: local part at most 64 octets, a whole path at most 256 with
/// its angle brackets.
const MAX_LOCAL_PART: usize = 64;
const MAX_ADDRESS: usize = 254;
/// RFC 2047: a line holding encoded words is at most 76 characters.
const MAX_ENCODED_LINE: usize = 76;
/// `=?utf-8?B?` and `?=` around the base64 text of one encoded word.
const ENCODED_WORD_OVERHEAD: usize = 12;
/// RFC 5322's recommended line length; longer plain header lines are encoded instead.
const SOFT_LINE: usize = 78;
/// Base64 body lines (RFC 2045).
const BODY_LINE: usize = 76;

/// Why a message was not delivered.
#[derive(Debug)]
pub enum SmtpError {
    /// The address is not a plain `local@domain` this client will put on the wire.
    BadAddress {
        address: String,
        reason: &'static str,
    },
    /// The name for EHLO/HELO is not a domain name.
    BadHeloName(String),
    /// No connection: the name did not resolve, or every address refused or timed out.
    Connect { server: String, source: io::Error },
    /// Reading or writing failed or timed out during a step of the dialog.
    Io {
        during: &'static str,
        source: io::Error,
    },
    /// The server closed the connection before it answered.
    Closed { during: &'static str },
    /// The server's bytes are not SMTP replies.
    Protocol(String),
    /// The server answered a step with an unexpected code.
    Rejected { during: &'static str, reply: Reply },
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmtpError::BadAddress { address, reason } => {
                write!(f, "refused address {:?}: {reason}", clip(address))
            }
            SmtpError::BadHeloName(name) => {
                write!(f, "refused EHLO name {:?}: not a domain name", clip(name))
            }
            SmtpError::Connect { server, source } => {
                write!(f, "cannot connect to SMTP server {server}: {source}")
            }
            SmtpError::Io { during, source } => {
                let what = match source.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out",
                    _ => "failed",
                };
                write!(f, "SMTP {during} {what}: {source}")
            }
            SmtpError::Closed { during } => {
                write!(f, "SMTP server closed the connection during {during}")
            }
            SmtpError::Protocol(why) => write!(f, "SMTP protocol error: {why}"),
            SmtpError::Rejected { during, reply } => {
                write!(f, "SMTP server refused {during}: {reply}")
            }
        }
    }
}

impl std::error::Error for SmtpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SmtpError::Connect { source, .. } | SmtpError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// At most 200 characters of a peer's or caller's text, for error messages.
fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

// ---------------------------------------------------------------- addresses

/// A mailbox address checked to be a plain RFC 5322 `dot-atom@dot-atom` in ASCII: no
/// whitespace, control characters, angle brackets, quotes, comments or domain literals, so
/// it can go into `MAIL FROM:<..>`, `RCPT TO:<..>` and the `From`/`To` headers unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    pub fn parse(text: &str) -> Result<Address, SmtpError> {
        let refuse = |reason| {
            Err(SmtpError::BadAddress {
                address: text.to_string(),
                reason,
            })
        };
        if text.contains(['\r', '\n']) {
            return refuse("contains a line break");
        }
        if text.contains(['<', '>']) {
            return refuse("contains '<' or '>'");
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return refuse("contains whitespace or a control character");
        }
        if !text.is_ascii() {
            return refuse("not ASCII (SMTPUTF8 is not supported)");
        }
        if text.len() > MAX_ADDRESS {
            return refuse("longer than 254 characters");
        }
        let Some((local, domain)) = text.rsplit_once('@') else {
            return refuse("not of the form local@domain");
        };
        if local.is_empty() || domain.is_empty() {
            return refuse("not of the form local@domain");
        }
        if local.len() > MAX_LOCAL_PART {
            return refuse("local part longer than 64 characters");
        }
        if !is_dot_atom(local) {
            return refuse("local part is not a dot-atom (letters, digits, !#$%&'*+-/=?^_`{|}~ and single inner dots)");
        }
        if !is_domain(domain) {
            return refuse("domain is not a host name");
        }
        Ok(Address(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 5322 `dot-atom-text`: atext runs separated by single dots.
fn is_dot_atom(text: &str) -> bool {
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    text.split('.')
        .all(|run| !run.is_empty() && run.bytes().all(atext))
}

/// Dot-separated labels of letters, digits and inner hyphens (RFC 1035 preferred syntax,
/// digits allowed first), each at most 63 characters.
pub fn is_domain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

// ---------------------------------------------------------------- replies

/// One complete server reply: its code and the text of each line (after the code and
/// the `-` or space).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx: the command succeeded.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 5xx: the command failed and will fail again.
    pub fn is_permanent_failure(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, clip(&self.lines.join(" / ")))
    }
}

/// One reply line: the code, whether it is the last line of its reply, and the text.
/// `250-text` continues, `250 text` and a bare `250` end the reply.
pub fn parse_reply_line(line: &str) -> Result<(u16, bool, &str), SmtpError> {
    let bad = || SmtpError::Protocol(format!("not a reply line: {:?}", clip(line)));
    let bytes = line.as_bytes();
    if bytes.len() < 3
        || !bytes[..3].iter().all(u8::is_ascii_digit)
        || !(b'2'..=b'5').contains(&bytes[0])
    {
        return Err(bad());
    }
    let code = u16::from(bytes[0] - b'0') * 100
        + u16::from(bytes[1] - b'0') * 10
        + u16::from(bytes[2] - b'0');
    match bytes.get(3) {
        None => Ok((code, true, "")),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(bad()),
    }
}

/// Incremental reply parser: [`ReplyParser::feed`] what the socket returned, then call
/// [`ReplyParser::next_reply`] until it returns `Ok(None)` (more bytes needed).
#[derive(Debug)]
pub struct ReplyParser {
    lines: LineBuffer,
    /// The lines of a multi-line reply read so far.
    partial: Option<Reply>,
}

impl Default for ReplyParser {
    fn default() -> ReplyParser {
        ReplyParser::new()
    }
}

impl ReplyParser {
    pub fn new() -> ReplyParser {
        ReplyParser {
            lines: LineBuffer::new(MAX_REPLY_LINE),
            partial: None,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.lines.extend(bytes);
    }

    /// Bytes received that are not part of a complete reply yet.
    pub fn pending(&self) -> bool {
        self.partial.is_some() || self.lines.pending() > 0
    }

    /// The next complete reply. After an error the connection is out of sync.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, SmtpError> {
        loop {
            let line = match self.lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => return Ok(None),
                Err(FrameError::TooLong { limit }) => {
                    return Err(SmtpError::Protocol(format!(
                        "reply line longer than {limit} bytes"
                    )))
                }
                Err(FrameError::NotUtf8) => {
                    return Err(SmtpError::Protocol("reply line is not UTF-8".into()))
                }
            };
            let (code, last, text) = parse_reply_line(line)?;
            let reply = self.partial.get_or_insert_with(|| Reply {
                code,
                lines: Vec::new(),
            });
            if reply.code != code {
                return Err(SmtpError::Protocol(format!(
                    "reply line {:?} continues a {} reply",
                    clip(line),
                    reply.code
                )));
            }
            if reply.lines.len() >= MAX_REPLY_LINES {
                return Err(SmtpError::Protocol(format!(
                    "reply of more than {MAX_REPLY_LINES} lines"
                )));
            }
            reply.lines.push(text.to_string());
            if last {
                return Ok(self.partial.take());
            }
        }
    }
}

// ---------------------------------------------------------------- commands

/// A command this client sends. Arguments are checked types, so encoding cannot fail or
/// inject a second command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// The name must satisfy [`is_domain`] ([`send`] checks it).
    Ehlo(&'a str),
    Helo(&'a str),
    MailFrom(&'a Address),
    RcptTo(&'a Address),
    Data,
    Rset,
    Quit,
}

impl Command<'_> {
    /// The command's name, for error messages.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::MailFrom(_) => "MAIL FROM",
            Command::RcptTo(_) => "RCPT TO",
            Command::Data => "DATA",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
        }
    }

    /// The command line with its CRLF.
    pub fn encode(&self) -> Vec<u8> {
        let line = match self {
            Command::Ehlo(name) => format!("EHLO {name}"),
            Command::Helo(name) => format!("HELO {name}"),
            Command::MailFrom(address) => format!("MAIL FROM:<{address}>"),
            Command::RcptTo(address) => format!("RCPT TO:<{address}>"),
            Command::Data => "DATA".to_string(),
            Command::Rset => "RSET".to_string(),
            Command::Quit => "QUIT".to_string(),
        };
        let mut out = Vec::with_capacity(line.len() + 2);
        push_line(&mut out, &line);
        out
    }
}

/// The DATA payload: `message` with every line ending made CRLF (a bare CR or LF could end
/// the data early on a lenient server: SMTP smuggling), a `.` doubled at the start of every
/// line that has one, a final CRLF if missing, then the terminating `.` line.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    let mut i = 0;
    while i < message.len() {
        let b = message[i];
        match b {
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                // CRLF is one line ending; CR alone or LF alone is one as well.
                if b == b'\r' && message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
            }
            _ => {
                if at_line_start && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
                at_line_start = false;
            }
        }
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

// ---------------------------------------------------------------- messages

/// One text mail to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub from: Address,
    pub to: Address,
    pub subject: String,
    /// Plain text; line breaks become CRLF before the base64 encoding.
    pub body: String,
}

/// The message as RFC 5322 + MIME bytes, every line CRLF-terminated:
/// `Date`, `From`, `To`, `Subject`, `Message-ID`, `MIME-Version`, `Content-Type:
/// text/plain; charset=utf-8`, `Content-Transfer-Encoding: base64`, then the body in base64
/// lines of 76 characters. `message_id` is written as given (with its angle brackets).
pub fn build_message(message: &Message, unix_secs: u64, message_id: &str) -> Vec<u8> {
    let mut out = String::with_capacity(512 + message.body.len() * 4 / 3);
    out.push_str(&format!("Date: {}\r\n", rfc5322_date(unix_secs)));
    out.push_str(&format!("From: {}\r\n", message.from));
    out.push_str(&format!("To: {}\r\n", message.to));
    out.push_str(&unstructured_header("Subject", &message.subject));
    out.push_str(&format!("Message-ID: {message_id}\r\n"));
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    out.push_str("Content-Transfer-Encoding: base64\r\n");
    out.push_str("\r\n");
    let body = STANDARD.encode(crlf_lines(&message.body));
    // Base64 is ASCII, so byte offsets are character boundaries.
    for start in (0..body.len()).step_by(BODY_LINE) {
        out.push_str(&body[start..(start + BODY_LINE).min(body.len())]);
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// `<unix secs>.<16 random hex digits>@<domain>` in angle brackets.
pub fn message_id(unix_secs: u64, domain: &str) -> String {
    format!("<{unix_secs}.{}@{domain}>", crate::ids::random_hex(8))
}

/// Text with every line ending (CRLF, CR or LF) made CRLF: canonical form for text/plain.
fn crlf_lines(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

/// `Name: text` with its CRLF. Printable ASCII that fits on one line goes as it is; anything
/// else (non-ASCII, control characters such as CR or LF, something that looks like an
/// encoded word, a long line) becomes RFC 2047 `=?utf-8?B?..?=` words, each whole UTF-8
/// characters, folded so no line exceeds 76 characters.
pub fn unstructured_header(name: &str, text: &str) -> String {
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !text.contains("=?")
        && name.len() + 2 + text.len() <= SOFT_LINE;
    if plain {
        return format!("{name}: {text}\r\n");
    }
    let mut out = format!("{name}:");
    let mut line_len = out.len();
    let mut rest = text;
    loop {
        // One space before every word: after the colon, or starting a continuation line.
        let room = MAX_ENCODED_LINE.saturating_sub(line_len + 1 + ENCODED_WORD_OVERHEAD);
        let max_bytes = (room / 4 * 3).max(4);
        let mut take = rest.len().min(max_bytes);
        while !rest.is_char_boundary(take) {
            take -= 1;
        }
        let (chunk, tail) = rest.split_at(take);
        let word = format!("=?utf-8?B?{}?=", STANDARD.encode(chunk));
        out.push(' ');
        out.push_str(&word);
        rest = tail;
        if rest.is_empty() {
            break;
        }
        out.push_str("\r\n");
        line_len = 0;
    }
    out.push_str("\r\n");
    out
}

/// `Fri, 27 Nov 2026 11:49:05 +0000` (RFC 5322 section 3.3), always in UTC.
pub fn rfc5322_date(unix_secs: u64) -> String {
    // 1970-01-01 was a Thursday.
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (year, month, day) = crate::civil::civil_from_days(days as i64);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// ---------------------------------------------------------------- the dialog

/// Where a delivery stands: which reply is awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Greeting,
    Ehlo,
    Helo,
    MailFrom,
    RcptTo,
    Data,
    Message,
    Done,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Greeting => "greeting",
            Step::Ehlo => "EHLO",
            Step::Helo => "HELO",
            Step::MailFrom => "MAIL FROM",
            Step::RcptTo => "RCPT TO",
            Step::Data => "DATA",
            Step::Message => "message data",
            Step::Done => "QUIT",
        }
    }
}

/// What to do after a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Write these bytes, then read the next reply.
    Send(Vec<u8>),
    /// The server accepted the message: only QUIT is left.
    Delivered,
}

/// The client's side of one delivery, without I/O: each server reply in, the bytes to send
/// next out. Greeting 220, EHLO 250 (HELO 250 when EHLO gets a 5xx: RFC 5321 section
/// 3.2), MAIL FROM 250, RCPT TO 250/251, DATA 354, the dot-stuffed message 250.
#[derive(Debug)]
pub struct Dialog<'a> {
    step: Step,
    helo_name: &'a str,
    message: &'a Message,
    /// The DATA payload from [`dot_stuff`].
    data: &'a [u8],
}

impl<'a> Dialog<'a> {
    /// `helo_name` must satisfy [`is_domain`]; `data` is `message` built and dot-stuffed.
    pub fn new(helo_name: &'a str, message: &'a Message, data: &'a [u8]) -> Dialog<'a> {
        Dialog {
            step: Step::Greeting,
            helo_name,
            message,
            data,
        }
    }

    /// The step whose reply is awaited, for error messages.
    pub fn during(&self) -> &'static str {
        self.step.name()
    }

    pub fn on_reply(&mut self, reply: Reply) -> Result<Next, SmtpError> {
        let during = self.step.name();
        let expect = |codes: &[u16]| {
            if codes.contains(&reply.code) {
                Ok(())
            } else {
                Err(SmtpError::Rejected {
                    during,
                    reply: reply.clone(),
                })
            }
        };
        let (next_step, send) = match self.step {
            Step::Greeting => {
                expect(&[220])?;
                (Step::Ehlo, Command::Ehlo(self.helo_name).encode())
            }
            Step::Ehlo if reply.is_permanent_failure() => {
                (Step::Helo, Command::Helo(self.helo_name).encode())
            }
            Step::Ehlo | Step::Helo => {
                expect(&[250])?;
                (
                    Step::MailFrom,
                    Command::MailFrom(&self.message.from).encode(),
                )
            }
            Step::MailFrom => {
                expect(&[250])?;
                (Step::RcptTo, Command::RcptTo(&self.message.to).encode())
            }
            Step::RcptTo => {
                expect(&[250, 251])?;
                (Step::Data, Command::Data.encode())
            }
            Step::Data => {
                expect(&[354])?;
                (Step::Message, self.data.to_vec())
            }
            Step::Message => {
                expect(&[250])?;
                self.step = Step::Done;
                return Ok(Next::Delivered);
            }
            Step::Done => {
                return Err(SmtpError::Protocol(format!(
                    "reply after the delivery: {reply}"
                )))
            }
        };
        self.step = next_step;
        Ok(Next::Send(send))
    }
}

// ---------------------------------------------------------------- I/O

/// Timeouts and the name this client gives in EHLO.
#[derive(Clone, Debug)]
pub struct Options {
    /// For each address the server name resolves to.
    pub connect_timeout: Duration,
    /// For each step: one whole reply must arrive, one command must be written, within this.
    pub io_timeout: Duration,
    /// The EHLO/HELO name; empty = the sender's domain.
    pub helo_name: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(10),
            helo_name: String::new(),
        }
    }
}

/// Delivers `message` through the SMTP server at `server` (`host:port`).
///
/// Returns once the server accepted the data (its 250 after the final `.`); a failing QUIT
/// after that does not make the delivery fail.
pub fn send(server: &str, options: &Options, message: &Message) -> Result<(), SmtpError> {
    let helo_name = if options.helo_name.is_empty() {
        message.from.domain()
    } else {
        options.helo_name.as_str()
    };
    if !is_domain(helo_name) {
        return Err(SmtpError::BadHeloName(helo_name.to_string()));
    }
    let unix_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = message_id(unix_secs, message.from.domain());
    let data = dot_stuff(&build_message(message, unix_secs, &id));
    let mut dialog = Dialog::new(helo_name, message, &data);
    let mut session = Session::connect(server, options)?;
    let result = session.run(&mut dialog);
    if matches!(result, Ok(()) | Err(SmtpError::Rejected { .. })) {
        // Polite either way; the outcome is already decided.
        let _ = session
            .write(&Command::Quit.encode(), "QUIT")
            .and_then(|()| session.read_reply("QUIT"));
    }
    result
}

/// One connection: the socket and the replies read from it.
struct Session {
    stream: TcpStream,
    parser: ReplyParser,
    io_timeout: Duration,
}

impl Session {
    fn connect(server: &str, options: &Options) -> Result<Session, SmtpError> {
        let failed = |source| SmtpError::Connect {
            server: server.to_string(),
            source,
        };
        let io_timeout = options.io_timeout.max(Duration::from_millis(1));
        let connect_timeout = options.connect_timeout.max(Duration::from_millis(1));
        let addrs = server.to_socket_addrs().map_err(failed)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "name resolved to no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, connect_timeout) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    stream.set_write_timeout(Some(io_timeout)).map_err(failed)?;
                    return Ok(Session {
                        stream,
                        parser: ReplyParser::new(),
                        io_timeout,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(failed(last))
    }

    fn run(&mut self, dialog: &mut Dialog<'_>) -> Result<(), SmtpError> {
        loop {
            let during = dialog.during();
            let reply = self.read_reply(during)?;
            if self.parser.pending() {
                // We never pipeline: more after a reply is a confused server.
                return Err(SmtpError::Protocol(format!(
                    "unrequested bytes after the {during} reply"
                )));
            }
            match dialog.on_reply(reply)? {
                Next::Send(bytes) => self.write(&bytes, dialog.during())?,
                Next::Delivered => return Ok(()),
            }
        }
    }

    fn write(&mut self, bytes: &[u8], during: &'static str) -> Result<(), SmtpError> {
        self.stream
            .write_all(bytes)
            .map_err(|source| SmtpError::Io { during, source })
    }

    /// One whole reply within the I/O timeout, however slowly its bytes trickle in.
    fn read_reply(&mut self, during: &'static str) -> Result<Reply, SmtpError> {
        let deadline = Instant::now() + self.io_timeout;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(reply) = self.parser.next_reply()? {
                return Ok(reply);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SmtpError::Io {
                    during,
                    source: io::Error::new(io::ErrorKind::TimedOut, "no complete reply in time"),
                });
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|source| SmtpError::Io { during, source })?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(SmtpError::Closed { during }),
                Ok(n) => self.parser.feed(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(SmtpError::Io { during, source }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn addr(text: &str) -> Address {
        Address::parse(text).unwrap()
    }

    fn replies(parser: &mut ReplyParser) -> Result<Vec<Reply>, SmtpError> {
        let mut out = Vec::new();
        while let Some(reply) = parser.next_reply()? {
            out.push(reply);
        }
        Ok(out)
    }

    fn reply(code: u16, lines: &[&str]) -> Reply {
        Reply {
            code,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn plain_addresses_pass() {
        for ok in [
            "a@b",
            "player.one+tag@mail.example.com",
            "x!#$%&'*+-/=?^_`{|}~@ex-ample.org",
            "noreply@lukseun.invalid",
            "1@2.3",
        ] {
            assert_eq!(addr(ok).as_str(), ok);
        }
        assert_eq!(addr("a.b@c.d").domain(), "c.d");
    }

    #[test]
    fn injecting_or_odd_addresses_are_refused_with_the_reason() {
        for (bad, reason) in [
            ("a@b\r\nRCPT TO:<x@y>", "line break"),
            ("a@b\n", "line break"),
            ("a@b\rx", "line break"),
            ("a@b>\r\nDATA", "line break"),
            ("a@b> SIZE=1", "'<' or '>'"),
            ("<a@b>", "'<' or '>'"),
            ("a b@c", "whitespace"),
            ("a@b\tc", "whitespace"),
            ("a\0@b", "control"),
            ("ü@b.de", "ASCII"),
            ("ab", "local@domain"),
            ("@b", "local@domain"),
            ("a@", "local@domain"),
            ("", "local@domain"),
            ("a@b@c", "dot-atom"),
            ("\"a\"@b", "dot-atom"),
            (".a@b", "dot-atom"),
            ("a..b@c", "dot-atom"),
            ("a.@b", "dot-atom"),
            ("a,b@c", "dot-atom"),
            ("a@[127.0.0.1]", "host name"),
            ("a@b..c", "host name"),
            ("a@-b.c", "host name"),
            ("a@b_c", "host name"),
            ("a@b,c@d", "dot-atom"),
        ] {
            let e = Address::parse(bad).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(reason), "{bad:?}: {text}");
            assert!(!text.contains('\n') && !text.contains('\r'), "{text}");
            assert!(matches!(e, SmtpError::BadAddress { .. }));
        }
        let long_local = format!("{}@b", "a".repeat(65));
        assert!(Address::parse(&long_local).is_err());
        let long = format!("a@{}.com", "b.".repeat(130));
        assert!(Address::parse(&long).is_err());
    }

    #[test]
    fn single_and_multi_line_replies() {
        let mut p = ReplyParser::new();
        p.feed(b"220 mx.example ESMTP ready\r\n250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n354\r\n");
        assert_eq!(
            replies(&mut p).unwrap(),
            [
                reply(220, &["mx.example ESMTP ready"]),
                reply(250, &["mx.example", "PIPELINING", "SIZE 1000", "8BITMIME"]),
                reply(354, &[""]),
            ]
        );
        assert!(!p.pending());
    }

    #[test]
    fn replies_split_anywhere_come_out_whole() {
        let bytes = b"250-first\r\n250-second\r\n250 last\r\n221 bye\r\n";
        for split in 0..bytes.len() {
            let mut p = ReplyParser::new();
            p.feed(&bytes[..split]);
            let mut got = replies(&mut p).unwrap();
            p.feed(&bytes[split..]);
            got.extend(replies(&mut p).unwrap());
            assert_eq!(
                got,
                [
                    reply(250, &["first", "second", "last"]),
                    reply(221, &["bye"])
                ],
                "split at {split}"
            );
        }
        let mut p = ReplyParser::new();
        p.feed(b"250-first\r\n");
        assert_eq!(p.next_reply().unwrap(), None);
        assert!(p.pending());
    }

    #[test]
    fn malformed_replies_are_protocol_errors() {
        for bad in [
            &b"hello\r\n"[..],
            b"25 ok\r\n",
            b"2500 ok\r\n",
            b"250x\r\n",
            b"150 ok\r\n",
            b"650 ok\r\n",
            b"-250 ok\r\n",
            b"250-a\r\n251 b\r\n",
            b"\xff\xfe\r\n",
        ] {
            let mut p = ReplyParser::new();
            p.feed(bad);
            let e = replies(&mut p).unwrap_err();
            assert!(matches!(e, SmtpError::Protocol(_)), "{bad:?}: {e}");
        }
        let mut p = ReplyParser::new();
        p.feed(&vec![b'2'; MAX_REPLY_LINE + 2]);
        assert!(p.next_reply().is_err());
        let mut p = ReplyParser::new();
        p.feed("250-x\r\n".repeat(MAX_REPLY_LINES + 1).as_bytes());
        assert!(p.next_reply().is_err());
    }

    #[test]
    fn reply_lines_parse_to_code_end_and_text() {
        assert_eq!(parse_reply_line("250 OK").unwrap(), (250, true, "OK"));
        assert_eq!(parse_reply_line("250-SIZE").unwrap(), (250, false, "SIZE"));
        assert_eq!(parse_reply_line("221").unwrap(), (221, true, ""));
        assert_eq!(parse_reply_line("554 ").unwrap(), (554, true, ""));
    }

    #[test]
    fn commands_encode_byte_for_byte() {
        let from = addr("noreply@lukseun.invalid");
        let to = addr("player@example.com");
        assert_eq!(
            Command::Ehlo("lukseun.invalid").encode(),
            b"EHLO lukseun.invalid\r\n"
        );
        assert_eq!(Command::Helo("host").encode(), b"HELO host\r\n");
        assert_eq!(
            Command::MailFrom(&from).encode(),
            b"MAIL FROM:<noreply@lukseun.invalid>\r\n"
        );
        assert_eq!(
            Command::RcptTo(&to).encode(),
            b"RCPT TO:<player@example.com>\r\n"
        );
        assert_eq!(Command::Data.encode(), b"DATA\r\n");
        assert_eq!(Command::Rset.encode(), b"RSET\r\n");
        assert_eq!(Command::Quit.encode(), b"QUIT\r\n");
        assert_eq!(Command::RcptTo(&to).verb(), "RCPT TO");
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_terminates() {
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b"a\r\n"), b"a\r\n.\r\n");
        assert_eq!(dot_stuff(b"a"), b"a\r\n.\r\n");
        assert_eq!(
            dot_stuff(b".\r\n..x\r\na.b\r\n.end"),
            b"..\r\n...x\r\na.b\r\n..end\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b".first"), b"..first\r\n.\r\n");
    }

    #[test]
    fn bare_cr_and_lf_become_crlf_so_data_cannot_end_early() {
        // "\n.\n" ends DATA on lenient servers (SMTP smuggling); here it is a stuffed line.
        assert_eq!(
            dot_stuff(b"a\n.\nMAIL FROM:<x@y>\n"),
            b"a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b"a\r.\rb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\r\n\r\nb"), b"a\r\n\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\n\r.x"), b"a\r\n\r\n..x\r\n.\r\n");
    }

    #[test]
    fn dates_follow_rfc5322_in_utc() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_795_780_145),
            "Fri, 27 Nov 2026 11:49:05 +0000"
        );
        assert_eq!(
            rfc5322_date(4_102_444_799),
            "Thu, 31 Dec 2099 23:59:59 +0000"
        );
    }

    #[test]
    fn ascii_subjects_stay_plain() {
        assert_eq!(
            unstructured_header("Subject", "Your code: 123456"),
            "Subject: Your code: 123456\r\n"
        );
    }

    #[test]
    fn other_subjects_become_encoded_words() {
        assert_eq!(
            unstructured_header("Subject", "验证码 123456"),
            "Subject: =?utf-8?B?6aqM6K+B56CBIDEyMzQ1Ng==?=\r\n"
        );
        // A header injection attempt is just text inside an encoded word.
        assert_eq!(
            unstructured_header("Subject", "x\r\nBcc: a@b"),
            "Subject: =?utf-8?B?eA0KQmNjOiBhQGI=?=\r\n"
        );
        assert_eq!(
            unstructured_header("Subject", "=?utf-8?B?eA==?="),
            "Subject: =?utf-8?B?PT91dGYtOD9CP2VBPT0/PQ==?=\r\n"
        );
    }

    #[test]
    fn long_encoded_subjects_fold_on_whole_characters() {
        let subject = "äöü€😀".repeat(12);
        let header = unstructured_header("Subject", &subject);
        assert!(header.ends_with("\r\n"));
        let lines: Vec<&str> = header.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(lines.len() > 2, "{header}");
        let mut decoded = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            assert!(line.len() <= MAX_ENCODED_LINE, "{line}");
            let word = if i == 0 {
                line.strip_prefix("Subject: ").unwrap()
            } else {
                line.strip_prefix(' ').unwrap()
            };
            let b64 = word
                .strip_prefix("=?utf-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap();
            let bytes = STANDARD.decode(b64).unwrap();
            // Each word is whole characters on its own (RFC 2047 section 5).
            assert!(std::str::from_utf8(&bytes).is_ok());
            decoded.extend(bytes);
        }
        assert_eq!(String::from_utf8(decoded).unwrap(), subject);
        let long_ascii = "a".repeat(100);
        assert!(unstructured_header("Subject", &long_ascii).starts_with("Subject: =?utf-8?B?"));
    }

    #[test]
    fn messages_build_byte_for_byte() {
        let message = Message {
            from: addr("noreply@lukseun.invalid"),
            to: addr("player@example.com"),
            subject: "Code 123456".into(),
            body: "Your code is 123456.\nIt expires in 10 minutes.".into(),
        };
        let built = build_message(&message, 1_795_780_145, "<1.abc@lukseun.invalid>");
        let expected = "Date: Fri, 27 Nov 2026 11:49:05 +0000\r\n\
            From: noreply@lukseun.invalid\r\n\
            To: player@example.com\r\n\
            Subject: Code 123456\r\n\
            Message-ID: <1.abc@lukseun.invalid>\r\n\
            MIME-Version: 1.0\r\n\
            Content-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: base64\r\n\
            \r\n\
            WW91ciBjb2RlIGlzIDEyMzQ1Ni4NCkl0IGV4cGlyZXMgaW4gMTAgbWludXRlcy4=\r\n";
        assert_eq!(String::from_utf8(built).unwrap(), expected);
    }

    #[test]
    fn long_bodies_wrap_at_76_and_decode_back() {
        let body = "ß.\n".repeat(100);
        let message = Message {
            from: addr("a@b"),
            to: addr("c@d"),
            subject: String::new(),
            body: body.clone(),
        };
        let built = String::from_utf8(build_message(&message, 0, "<x@b>")).unwrap();
        let (_, encoded) = built.split_once("\r\n\r\n").unwrap();
        let lines: Vec<&str> = encoded.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(lines.iter().all(|l| l.len() <= 76));
        assert!(lines[..lines.len() - 1].iter().all(|l| l.len() == 76));
        let decoded = STANDARD.decode(lines.concat()).unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            body.replace('\n', "\r\n")
        );
    }

    #[test]
    fn message_ids_are_unique_and_bracketed() {
        let a = message_id(5, "lukseun.invalid");
        let b = message_id(5, "lukseun.invalid");
        assert_ne!(a, b);
        assert!(
            a.starts_with("<5.") && a.ends_with("@lukseun.invalid>"),
            "{a}"
        );
    }

    fn test_message() -> Message {
        Message {
            from: addr("noreply@lukseun.invalid"),
            to: addr("player@example.com"),
            subject: "hi".into(),
            body: ".".into(),
        }
    }

    fn sent(next: Next) -> String {
        match next {
            Next::Send(bytes) => String::from_utf8(bytes).unwrap(),
            Next::Delivered => panic!("delivered too early"),
        }
    }

    #[test]
    fn the_dialog_sends_each_command_after_its_reply() {
        let message = test_message();
        let data = b"DATA PAYLOAD\r\n.\r\n";
        let mut d = Dialog::new("lukseun.invalid", &message, data);
        assert_eq!(d.during(), "greeting");
        let next = d.on_reply(reply(220, &["mx ESMTP"])).unwrap();
        assert_eq!(sent(next), "EHLO lukseun.invalid\r\n");
        let next = d
            .on_reply(reply(250, &["mx", "PIPELINING", "8BITMIME"]))
            .unwrap();
        assert_eq!(sent(next), "MAIL FROM:<noreply@lukseun.invalid>\r\n");
        let next = d.on_reply(reply(250, &["ok"])).unwrap();
        assert_eq!(sent(next), "RCPT TO:<player@example.com>\r\n");
        let next = d.on_reply(reply(251, &["will forward"])).unwrap();
        assert_eq!(sent(next), "DATA\r\n");
        let next = d.on_reply(reply(354, &["go ahead"])).unwrap();
        assert_eq!(sent(next), "DATA PAYLOAD\r\n.\r\n");
        assert_eq!(d.during(), "message data");
        assert_eq!(
            d.on_reply(reply(250, &["queued"])).unwrap(),
            Next::Delivered
        );
        assert!(matches!(
            d.on_reply(reply(250, &["again"])),
            Err(SmtpError::Protocol(_))
        ));
    }

    #[test]
    fn the_dialog_falls_back_to_helo_when_ehlo_is_refused() {
        let message = test_message();
        let mut d = Dialog::new("host.example", &message, b".\r\n");
        d.on_reply(reply(220, &["old"])).unwrap();
        let next = d
            .on_reply(reply(502, &["command not implemented"]))
            .unwrap();
        assert_eq!(sent(next), "HELO host.example\r\n");
        let next = d.on_reply(reply(250, &["hello"])).unwrap();
        assert_eq!(sent(next), "MAIL FROM:<noreply@lukseun.invalid>\r\n");
        // A refused HELO is final.
        let mut d = Dialog::new("host.example", &message, b".\r\n");
        d.on_reply(reply(220, &[""])).unwrap();
        d.on_reply(reply(500, &[""])).unwrap();
        let e = d.on_reply(reply(501, &["no"])).unwrap_err();
        assert_eq!(e.to_string(), "SMTP server refused HELO: 501 no");
    }

    #[test]
    fn unexpected_codes_are_refusals_naming_the_step() {
        let message = test_message();
        for (step, code) in [(0, 554), (1, 421), (2, 550), (3, 550), (4, 503), (5, 552)] {
            let mut d = Dialog::new("h", &message, b".\r\n");
            let good = [220, 250, 250, 250, 354];
            for &c in &good[..step] {
                d.on_reply(reply(c, &["ok"])).unwrap();
            }
            let during = d.during();
            match d.on_reply(reply(code, &["no", "really"])).unwrap_err() {
                SmtpError::Rejected { during: d2, reply } => {
                    assert_eq!((d2, reply.code), (during, code));
                }
                e => panic!("{e}"),
            }
        }
        let mut d = Dialog::new("h", &message, b".\r\n");
        d.on_reply(reply(220, &[""])).unwrap();
        d.on_reply(reply(250, &[""])).unwrap();
        d.on_reply(reply(250, &[""])).unwrap();
        let e = d.on_reply(reply(550, &["5.1.1 no such user"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SMTP server refused RCPT TO: 550 5.1.1 no such user"
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap().to_string();
        let options = Options {
            io_timeout: Duration::from_millis(200),
            ..Options::default()
        };
        let started = Instant::now();
        let e = send(&server, &options, &test_message()).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(e.to_string().contains("greeting timed out"), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        drop(listener);
    }

    #[test]
    fn nobody_listening_is_a_connect_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = send(
            &format!("127.0.0.1:{port}"),
            &Options::default(),
            &test_message(),
        )
        .unwrap_err();
        assert!(matches!(e, SmtpError::Connect { .. }), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn a_bad_helo_name_is_refused_before_connecting() {
        let options = Options {
            helo_name: "x\r\nRSET".into(),
            ..Options::default()
        };
        let e = send("127.0.0.1:1", &options, &test_message()).unwrap_err();
        assert!(matches!(e, SmtpError::BadHeloName(_)), "{e}");
    }
}
