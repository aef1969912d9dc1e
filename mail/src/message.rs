//! The on-disk message format: pure ASCII RFC 5322 + MIME, written and read back here.
//!
//! ```text
//! Date: Fri, 27 Nov 2026 11:49:05 +0000
//! From: =?utf-8?b?5byg5LiJ?= <game@lukseun.invalid>
//! Subject: =?utf-8?b?...?=
//! Message-ID: <1795866545.M123456P42Q7.host@lukseun.invalid>
//! MIME-Version: 1.0
//! Content-Type: text/plain; charset=utf-8
//! Content-Transfer-Encoding: base64
//! X-Lukseun-Type: 1
//! X-Lukseun-Items: 1:2:3,4:5:6
//!
//! <UTF-8 body, base64, 76 characters a line>
//! ```
//!
//! Non-ASCII or awkward header text becomes RFC 2047 encoded words (`=?utf-8?b?..?=`, at
//! most 75 characters each, folded onto continuation lines). The game sender's name is the
//! display name of a fixed address in the reserved `.invalid` domain, and the message key is
//! the left part of `Message-ID`: both so the headers are valid RFC 5322 for any mail tool.
//!
//! `X-Lukseun-Type` holds the mail type's number ([`MailType::code`]). Files written before
//! the numbers hold its name (`gift`, `family_invite`, ...): they read back as the number
//! [`MailType::from_name`] gives, and a missing header reads as simple (0).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
pub use shared::mail_type::MailType;

/// The address every `From` carries; only its display name (the game sender) matters.
pub const FROM_ADDRESS: &str = "game@lukseun.invalid";
/// The right part of every `Message-ID`.
pub const ID_DOMAIN: &str = "lukseun.invalid";

/// RFC 2047: a line holding encoded words is at most 76 characters.
const MAX_ENCODED_LINE: usize = 76;
/// `=?utf-8?b?` and `?=` around the base64 text of one encoded word.
const ENCODED_WORD_OVERHEAD: usize = 12;
/// RFC 5322's recommended line length, used when folding plain headers.
const SOFT_LINE: usize = 78;
/// Base64 body lines (RFC 2045).
const BODY_LINE: usize = 76;

/// What the game puts in a mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// Stored as its number in `X-Lukseun-Type`.
    pub kind: MailType,
    /// The game sender's name.
    pub from: String,
    pub subject: String,
    pub body: String,
    /// `"<group>:<item id>:<qty>"` strings.
    pub items: Vec<String>,
}

/// A mail as stored: its key and date beside the content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub key: String,
    /// The `Date` header as written (RFC 5322).
    pub date: String,
    pub mail: Mail,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    NotAscii,
    NoBody,
    BadHeaderLine(String),
    MissingHeader(&'static str),
    BadEncodedWord(String),
    UnsupportedCharset(String),
    UnsupportedEncoding(String),
    BadBase64,
    NotUtf8(&'static str),
    BadMessageId(String),
    /// `X-Lukseun-Type` is neither a number 0..=3 nor one of the names used before.
    BadType(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NotAscii => write!(f, "message is not pure ASCII"),
            ParseError::NoBody => write!(f, "no blank line between header and body"),
            ParseError::BadHeaderLine(l) => write!(f, "malformed header line {l:?}"),
            ParseError::MissingHeader(h) => write!(f, "missing header {h}"),
            ParseError::BadEncodedWord(w) => write!(f, "malformed encoded word {w:?}"),
            ParseError::UnsupportedCharset(c) => write!(f, "unsupported charset {c:?}"),
            ParseError::UnsupportedEncoding(e) => {
                write!(f, "unsupported transfer encoding {e:?}")
            }
            ParseError::BadBase64 => write!(f, "body is not valid base64"),
            ParseError::NotUtf8(what) => write!(f, "{what} is not valid UTF-8"),
            ParseError::BadMessageId(id) => write!(f, "malformed Message-ID {id:?}"),
            ParseError::BadType(t) => write!(f, "unknown X-Lukseun-Type {t:?}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Who sent a mail, for the mailbox limit: player mail and system mail (admin and game)
/// each fill a mailbox up to the limit on their own, so players cannot crowd out the
/// system's mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailClass {
    Player,
    /// Written as the header [`SYSTEM_CLASS_HEADER`]; a file without it is player mail.
    System,
}

/// The header line that marks system mail.
pub const SYSTEM_CLASS_HEADER: &str = "X-Lukseun-Class: system";

/// Whether the stored file `raw` is system mail: its header section holds
/// [`SYSTEM_CLASS_HEADER`] (LF or CRLF line ends).
pub fn is_system(raw: &[u8]) -> bool {
    let end = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .or_else(|| raw.windows(4).position(|w| w == b"\r\n\r\n"))
        .unwrap_or(raw.len());
    raw[..end]
        .split(|&b| b == b'\n')
        .any(|line| line.strip_suffix(b"\r").unwrap_or(line) == SYSTEM_CLASS_HEADER.as_bytes())
}

/// Renders the complete message file for `mail` stored under `key` at `unix_secs`.
pub fn render(key: &str, unix_secs: u64, mail: &Mail) -> String {
    render_as(key, unix_secs, mail, MailClass::Player)
}

/// [`render`] for a mail of `class`.
pub fn render_as(key: &str, unix_secs: u64, mail: &Mail, class: MailClass) -> String {
    let mut out = String::with_capacity(512 + mail.body.len() * 4 / 3);
    out.push_str("Date: ");
    out.push_str(&rfc5322_date(unix_secs));
    out.push('\n');
    push_from(&mut out, &mail.from);
    push_unstructured(&mut out, "Subject", &mail.subject);
    out.push_str(&format!("Message-ID: <{key}@{ID_DOMAIN}>\n"));
    out.push_str("MIME-Version: 1.0\n");
    out.push_str("Content-Type: text/plain; charset=utf-8\n");
    out.push_str("Content-Transfer-Encoding: base64\n");
    out.push_str(&format!("X-Lukseun-Type: {}\n", mail.kind.code()));
    if !mail.items.is_empty() {
        push_list(&mut out, "X-Lukseun-Items", &mail.items);
    }
    if class == MailClass::System {
        out.push_str(SYSTEM_CLASS_HEADER);
        out.push('\n');
    }
    out.push('\n');
    push_base64_lines(&mut out, mail.body.as_bytes());
    out
}

/// Reads a message file back. Accepts LF or CRLF line ends.
pub fn parse(raw: &[u8]) -> Result<Message, ParseError> {
    if !raw.is_ascii() {
        return Err(ParseError::NotAscii);
    }
    let text = std::str::from_utf8(raw).map_err(|_| ParseError::NotAscii)?;
    let (head, body) = split_head_body(text).ok_or(ParseError::NoBody)?;
    let headers = unfold(head)?;
    let find = |name: &'static str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let need = |name: &'static str| find(name).ok_or(ParseError::MissingHeader(name));

    let date = need("Date")?.trim().to_string();
    let from = decode_from(need("From")?)?;
    let subject = decode_words(need("Subject")?.trim())?;
    let key = key_of_message_id(need("Message-ID")?)?;
    let kind = match find("X-Lukseun-Type") {
        Some(v) => mail_type(&decode_words(v.trim())?)?,
        None => MailType::Simple,
    };
    let items = find("X-Lukseun-Items")
        .map(|v| {
            v.split(',')
                .map(|i| i.trim().to_string())
                .filter(|i| !i.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let encoding = find("Content-Transfer-Encoding")
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let body_bytes = match encoding.as_str() {
        "base64" => {
            let compact: Vec<u8> = body.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            STANDARD
                .decode(compact)
                .map_err(|_| ParseError::BadBase64)?
        }
        "7bit" | "8bit" => body.replace("\r\n", "\n").into_bytes(),
        other => return Err(ParseError::UnsupportedEncoding(other.to_string())),
    };
    let body = String::from_utf8(body_bytes).map_err(|_| ParseError::NotUtf8("body"))?;
    Ok(Message {
        key,
        date,
        mail: Mail {
            kind,
            from,
            subject,
            body,
            items,
        },
    })
}

/// The type in `X-Lukseun-Type`: its number (1-3 ASCII digits), or the name a file written
/// before the numbers holds.
fn mail_type(value: &str) -> Result<MailType, ParseError> {
    let number = !value.is_empty() && value.len() <= 3 && value.bytes().all(|b| b.is_ascii_digit());
    let kind = if number {
        value.parse().ok().and_then(MailType::from_code)
    } else {
        MailType::from_name(value)
    };
    kind.ok_or_else(|| ParseError::BadType(value.to_string()))
}

/// `Fri, 27 Nov 2026 11:49:05 +0000` (RFC 5322 section 3.3), always in UTC.
pub fn rfc5322_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs_of_day = unix_secs % 86_400;
    let (year, month, day) = shared::civil::civil_from_days(days as i64);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60
    )
}

/// Printable ASCII words separated by single spaces, safe to write as they are.
fn is_plain_text(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !text.contains("=?")
        && !text.starts_with(' ')
        && !text.ends_with(' ')
        && !text.contains("  ")
}

/// RFC 5322 `atext` plus space: a display name that needs neither quotes nor encoding.
fn is_plain_phrase(text: &str) -> bool {
    is_plain_text(text)
        && text
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
}

fn push_from(out: &mut String, name: &str) {
    let start = out.len();
    out.push_str("From: ");
    if is_plain_phrase(name) {
        out.push_str(name);
    } else {
        push_encoded_words(out, "From", name);
    }
    let last_line = out[start..].rsplit('\n').next().unwrap_or("");
    let sep = if last_line.len() + 2 + FROM_ADDRESS.len() + 1 > SOFT_LINE {
        "\n "
    } else {
        " "
    };
    out.push_str(&format!("{sep}<{FROM_ADDRESS}>\n"));
}

fn push_unstructured(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(':');
    if value.is_empty() {
        // An empty unstructured value is legal; nothing follows the colon.
    } else if is_plain_text(value) && name.len() + 2 + value.len() <= SOFT_LINE {
        out.push(' ');
        out.push_str(value);
    } else {
        out.push(' ');
        push_encoded_words(out, name, value);
    }
    out.push('\n');
}

/// Comma-separated ASCII tokens, folded after a comma when a line would grow long.
fn push_list(out: &mut String, name: &str, values: &[String]) {
    out.push_str(name);
    out.push(':');
    let mut line_len = name.len() + 1;
    for (i, value) in values.iter().enumerate() {
        let piece = if i + 1 < values.len() {
            format!("{value},")
        } else {
            value.clone()
        };
        if i > 0 && line_len + 1 + piece.len() > SOFT_LINE {
            out.push('\n');
            line_len = 0;
        }
        out.push(' ');
        out.push_str(&piece);
        line_len += 1 + piece.len();
    }
    out.push('\n');
}

/// Writes `text` as encoded words, the first sharing the line with `Name: `, the rest on
/// continuation lines. Words never split a UTF-8 character (RFC 2047 section 5).
fn push_encoded_words(out: &mut String, header: &str, text: &str) {
    let first_budget = MAX_ENCODED_LINE - (header.len() + 2) - ENCODED_WORD_OVERHEAD;
    let next_budget = MAX_ENCODED_LINE - 1 - ENCODED_WORD_OVERHEAD;
    let mut budget = first_budget;
    let mut chunk_start = 0;
    let mut chunk_bytes = 0;
    let mut first = true;
    let emit = |out: &mut String, chunk: &str, first: &mut bool| {
        if !*first {
            out.push_str("\n ");
        }
        *first = false;
        out.push_str("=?utf-8?b?");
        out.push_str(&STANDARD.encode(chunk));
        out.push_str("?=");
    };
    for (index, ch) in text.char_indices() {
        let max_bytes = budget / 4 * 3;
        if chunk_bytes + ch.len_utf8() > max_bytes && chunk_bytes > 0 {
            emit(out, &text[chunk_start..index], &mut first);
            budget = next_budget;
            chunk_start = index;
            chunk_bytes = 0;
        }
        chunk_bytes += ch.len_utf8();
    }
    if chunk_bytes > 0 {
        emit(out, &text[chunk_start..], &mut first);
    }
}

fn push_base64_lines(out: &mut String, bytes: &[u8]) {
    let encoded = STANDARD.encode(bytes);
    for line in encoded.as_bytes().chunks(BODY_LINE) {
        // Base64 output is ASCII, so any byte boundary is a character boundary.
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
}

fn split_head_body(text: &str) -> Option<(&str, &str)> {
    if let Some(rest) = text.strip_prefix('\n') {
        return Some(("", rest));
    }
    let lf = text.find("\n\n").map(|i| (i, 2));
    let crlf = text.find("\r\n\r\n").map(|i| (i, 4));
    let (at, sep) = match (lf, crlf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some((&text[..at], &text[at + sep..]))
}

/// Header lines to (name, value) pairs, continuation lines joined (RFC 5322 unfolding).
fn unfold(head: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with(' ') || line.starts_with('\t') {
            match headers.last_mut() {
                Some((_, value)) => value.push_str(line),
                None => return Err(ParseError::BadHeaderLine(line.to_string())),
            }
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ParseError::BadHeaderLine(line.to_string()))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::BadHeaderLine(line.to_string()));
        }
        headers.push((name.to_string(), value.to_string()));
    }
    Ok(headers)
}

/// The display name of a `From` value: `name <addr>`, `"quoted" <addr>` or a bare name.
fn decode_from(value: &str) -> Result<String, ParseError> {
    let value = value.trim();
    let phrase = match (value.ends_with('>'), value.rfind('<')) {
        (true, Some(open)) => value[..open].trim(),
        _ => value,
    };
    match phrase.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
        Some(quoted) => Ok(unquote(quoted)),
        None => decode_words(phrase),
    }
}

fn unquote(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut escaped = false;
    for ch in quoted.chars() {
        if escaped || ch != '\\' {
            out.push(ch);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (B and Q, UTF-8 or US-ASCII); whitespace between two
/// adjacent encoded words is dropped, other text is kept as it is.
pub fn decode_words(value: &str) -> Result<String, ParseError> {
    let mut out = String::with_capacity(value.len());
    // Bytes of consecutive encoded words, joined before UTF-8 decoding.
    let mut pending: Vec<u8> = Vec::new();
    let mut gap = String::new();
    let mut rest = value;
    while !rest.is_empty() {
        let word_end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let token = &rest[..word_end];
        if let Some(bytes) = decode_encoded_word(token)? {
            pending.extend(bytes);
            gap.clear();
        } else {
            flush_words(&mut out, &mut pending)?;
            out.push_str(&gap);
            gap.clear();
            out.push_str(token);
        }
        let after = &rest[word_end..];
        let space_len = after.len() - after.trim_start_matches([' ', '\t']).len();
        if pending.is_empty() {
            out.push_str(&after[..space_len]);
        } else {
            gap.push_str(&after[..space_len]);
        }
        rest = &after[space_len..];
    }
    flush_words(&mut out, &mut pending)?;
    out.push_str(&gap);
    Ok(out)
}

fn flush_words(out: &mut String, pending: &mut Vec<u8>) -> Result<(), ParseError> {
    if !pending.is_empty() {
        let text = std::str::from_utf8(pending).map_err(|_| ParseError::NotUtf8("header"))?;
        out.push_str(text);
        pending.clear();
    }
    Ok(())
}

/// `Ok(None)` when `token` is not shaped like an encoded word at all.
fn decode_encoded_word(token: &str) -> Result<Option<Vec<u8>>, ParseError> {
    let Some(inner) = token.strip_prefix("=?").and_then(|t| t.strip_suffix("?=")) else {
        return Ok(None);
    };
    let mut parts = inner.splitn(3, '?');
    let (Some(charset), Some(encoding), Some(text)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    // RFC 2231 language suffix: `utf-8*en`.
    let charset = charset.split('*').next().unwrap_or("");
    if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("us-ascii") {
        return Err(ParseError::UnsupportedCharset(charset.to_string()));
    }
    let bad = || ParseError::BadEncodedWord(token.to_string());
    match encoding {
        "b" | "B" => STANDARD.decode(text).map(Some).map_err(|_| bad()),
        "q" | "Q" => decode_q(text).map(Some).ok_or_else(bad),
        _ => Err(bad()),
    }
}

fn decode_q(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// `<key@domain>` or `<key>` to `key`.
fn key_of_message_id(value: &str) -> Result<String, ParseError> {
    let bad = || ParseError::BadMessageId(value.to_string());
    let id = value
        .trim()
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .ok_or_else(bad)?;
    let key = id.split_once('@').map(|(left, _)| left).unwrap_or(id);
    if key.is_empty() {
        return Err(bad());
    }
    Ok(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_mail_carries_its_class_header_and_player_mail_none() {
        let mail = Mail {
            kind: MailType::Gift,
            from: "system".into(),
            subject: "s".into(),
            body: "X-Lukseun-Class: system".into(),
            items: vec![],
        };
        let system = render_as("1.M2P3Q4.h", 0, &mail, MailClass::System);
        assert!(system.contains("\nX-Lukseun-Class: system\n\n"), "{system}");
        assert!(is_system(system.as_bytes()));
        assert!(is_system(system.replace('\n', "\r\n").as_bytes()));
        assert_eq!(
            parse(system.as_bytes()).unwrap().mail,
            mail,
            "parses as before"
        );
        // The body never counts, even when it spells the header (it is base64 anyway).
        let player = render("1.M2P3Q4.h", 0, &mail);
        assert!(!is_system(player.as_bytes()));
        assert!(!is_system(b"Subject: a\n\nX-Lukseun-Class: system\n"));
    }

    const KEY: &str = "1795866545.M123456P42Q7.host";

    fn mail(from: &str, subject: &str, body: &str) -> Mail {
        Mail {
            kind: MailType::Gift,
            from: from.into(),
            subject: subject.into(),
            body: body.into(),
            items: vec!["1:2:3".into(), "weapon:7:1".into()],
        }
    }

    fn round_trip(m: &Mail) -> Message {
        let text = render(KEY, 1_795_866_545, m);
        assert!(text.is_ascii(), "{text}");
        let back = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&back.mail, m, "\n{text}");
        assert_eq!(back.key, KEY);
        back
    }

    #[test]
    fn ascii_mail_is_written_plainly_and_round_trips() {
        let m = mail("Alice", "Hello there", "line one\nline two\n");
        let text = render(KEY, 1_795_866_545, &m);
        assert!(
            text.contains("\nFrom: Alice <game@lukseun.invalid>\n"),
            "{text}"
        );
        assert!(text.contains("\nSubject: Hello there\n"), "{text}");
        assert!(text.contains(&format!("\nMessage-ID: <{KEY}@lukseun.invalid>\n")));
        assert!(text.contains("\nX-Lukseun-Type: 1\n"), "{text}");
        assert!(
            text.contains("\nX-Lukseun-Items: 1:2:3, weapon:7:1\n"),
            "{text}"
        );
        assert!(text.contains("\nContent-Transfer-Encoding: base64\n"));
        assert!(text.starts_with("Date: Sat, 28 Nov 2026 "), "{text}");
        round_trip(&m);
    }

    #[test]
    fn chinese_and_emoji_become_encoded_words_and_round_trip() {
        let m = mail("张三🐉", "礼物 🎁 for you", "你好，世界 👋\n第二行");
        let text = render(KEY, 1_795_866_545, &m);
        assert!(text.contains("From: =?utf-8?b?"), "{text}");
        assert!(text.contains("Subject: =?utf-8?b?"), "{text}");
        round_trip(&m);
    }

    #[test]
    fn long_non_ascii_subject_folds_into_short_encoded_words() {
        let subject = "很长的标题🎉".repeat(30);
        let m = mail(&"名".repeat(64), &subject, "x");
        let text = render(KEY, 0, &m);
        let head = text.split("\n\n").next().unwrap();
        for line in head.lines() {
            assert!(
                line.len() <= MAX_ENCODED_LINE,
                "{} > 76: {line}",
                line.len()
            );
            for word in line.split(' ').filter(|w| w.starts_with("=?")) {
                assert!(word.len() <= 75, "{word}");
            }
        }
        assert!(head.lines().filter(|l| l.starts_with(' ')).count() > 10);
        round_trip(&m);
    }

    #[test]
    fn awkward_ascii_is_encoded_so_it_survives() {
        for text in [
            "  padded  ",
            "looks =?like?= a word",
            "tab\there",
            "quote \" and <angle> , comma",
        ] {
            round_trip(&mail(text, text, text));
        }
        let long_ascii = "word ".repeat(40).trim_end().to_string();
        round_trip(&mail("a", &long_ascii, ""));
        round_trip(&mail("a", "", ""));
    }

    #[test]
    fn body_is_base64_in_76_character_lines() {
        let body = "数据".repeat(200);
        let text = render(KEY, 0, &mail("a", "b", &body));
        let body_part = text.split("\n\n").nth(1).unwrap();
        let lines: Vec<&str> = body_part.lines().collect();
        assert!(lines.len() > 1);
        assert!(lines[..lines.len() - 1].iter().all(|l| l.len() == 76));
        assert!(lines.last().unwrap().len() <= 76);
    }

    #[test]
    fn items_header_is_absent_without_items_and_folds_when_long() {
        let mut m = mail("a", "b", "c");
        m.items.clear();
        assert!(!render(KEY, 0, &m).contains("X-Lukseun-Items"));
        round_trip(&m);
        m.items = (0..60).map(|i| format!("group{i}:{i}:100")).collect();
        let text = render(KEY, 0, &m);
        assert!(text.lines().all(|l| l.len() <= SOFT_LINE), "{text}");
        round_trip(&m);
    }

    #[test]
    fn dates_follow_rfc5322() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_795_866_545),
            "Sat, 28 Nov 2026 11:49:05 +0000"
        );
        assert_eq!(
            rfc5322_date(4_102_444_799),
            "Thu, 31 Dec 2099 23:59:59 +0000"
        );
    }

    #[test]
    fn parses_headers_other_writers_produce() {
        let raw = "Date: x\r\nFrom: \"Bob \\\"B\\\"\" <bob@example.com>\r\n\
                   Subject: =?UTF-8?Q?caf=C3=A9_au?= =?utf-8?B?IGxhaXQ=?= ok\r\n\
                   Message-ID: <abc>\r\n\r\nplain body\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.mail.from, "Bob \"B\"");
        assert_eq!(m.mail.subject, "café au lait ok");
        assert_eq!(m.key, "abc");
        assert_eq!(m.mail.kind, MailType::Simple);
        assert_eq!(m.mail.body, "plain body\n");
    }

    #[test]
    fn every_type_is_stored_as_its_number() {
        for kind in MailType::ALL {
            let mut m = mail("a", "b", "c");
            m.kind = kind;
            let text = render(KEY, 0, &m);
            assert!(
                text.contains(&format!("\nX-Lukseun-Type: {}\n", kind.code())),
                "{text}"
            );
            round_trip(&m);
        }
    }

    #[test]
    fn legacy_type_names_read_back_as_their_numbers() {
        let good = render(KEY, 0, &mail("a", "b", "c"));
        for (name, kind) in [
            ("simple", MailType::Simple),
            ("gift", MailType::Gift),
            ("friend_request", MailType::FriendRequest),
            ("family_request", MailType::FamilyRequest),
            ("family_invite", MailType::FamilyRequest),
        ] {
            let old = good.replace("X-Lukseun-Type: 1", &format!("X-Lukseun-Type: {name}"));
            let back = parse(old.as_bytes()).unwrap();
            assert_eq!(back.mail.kind, kind, "{name}");
            // Written again, it holds the number.
            assert!(render(KEY, 0, &back.mail)
                .contains(&format!("\nX-Lukseun-Type: {}\n", kind.code())));
        }
        for bad in ["4", "-1", "0003", "banana", "Gift", ""] {
            let text = good.replace("X-Lukseun-Type: 1", &format!("X-Lukseun-Type: {bad}"));
            assert_eq!(
                parse(text.as_bytes()),
                Err(ParseError::BadType(bad.to_string())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn broken_messages_get_clear_errors() {
        let good = render(KEY, 0, &mail("a", "b", "c"));
        assert_eq!(parse("Date: x\n".as_bytes()), Err(ParseError::NoBody));
        assert_eq!(
            parse(good.replace("Subject: b\n", "").as_bytes()),
            Err(ParseError::MissingHeader("Subject"))
        );
        assert_eq!(parse("Date: é\n\n".as_bytes()), Err(ParseError::NotAscii));
        assert!(matches!(
            parse(good.replace("Subject: b", "no colon here").as_bytes()),
            Err(ParseError::BadHeaderLine(_))
        ));
        assert_eq!(
            parse(format!("{good}!!!\n").as_bytes()),
            Err(ParseError::BadBase64)
        );
        assert!(matches!(
            parse(
                good.replace("Subject: b", "Subject: =?latin1?b?YQ==?=")
                    .as_bytes()
            ),
            Err(ParseError::UnsupportedCharset(_))
        ));
        assert!(matches!(
            parse(
                good.replace(&format!("<{KEY}@{ID_DOMAIN}>"), "nobrackets")
                    .as_bytes()
            ),
            Err(ParseError::BadMessageId(_))
        ));
        let not_utf8 = good.replace("Subject: b", "Subject: =?utf-8?b?/w==?=");
        assert_eq!(
            parse(not_utf8.as_bytes()),
            Err(ParseError::NotUtf8("header"))
        );
    }
}
