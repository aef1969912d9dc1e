//! The part of Redis's wire protocol (RESP2) that the invalidation feed speaks
//! (crate::redis_tracking): commands as arrays of bulk strings, and the replies a subscribed
//! connection gets. Pure: bytes in, frames out; the caller owns the socket and the buffer.
//! The pooled connections use the redis crate; this connection keeps its own buffer so a
//! read timeout (its heartbeat) can never cut a reply in half.

use std::fmt;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$3\r\nabc`
    Bulk(Vec<u8>),
    /// `*2\r\n...`
    Array(Vec<Value>),
    /// `$-1` or `*-1`
    Nil,
}

/// Bytes that are no RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespError {
    /// A frame that begins with a byte no reply type begins with.
    UnknownType(u8),
    /// A length or integer that is not a decimal number, or a negative length other than -1.
    BadNumber(String),
    /// A bulk string not followed by `\r\n`.
    MissingTerminator,
    /// A frame longer than [`MAX_FRAME`] or nested deeper than [`MAX_DEPTH`].
    TooLarge,
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespError::UnknownType(b) => write!(f, "unknown RESP type byte 0x{b:02x}"),
            RespError::BadNumber(s) => write!(f, "bad RESP number {s:?}"),
            RespError::MissingTerminator => write!(f, "bulk string without its CRLF"),
            RespError::TooLarge => write!(f, "RESP frame too large or too deep"),
        }
    }
}

impl std::error::Error for RespError {}

/// The largest frame accepted (a batch of invalidated keys is far smaller).
pub const MAX_FRAME: usize = 16 << 20;
/// The deepest nesting accepted (pub/sub messages are two deep).
pub const MAX_DEPTH: usize = 8;

/// A command as RESP2 sends it: an array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The first whole reply in `buf` and the bytes it took, or `None` when `buf` holds only
/// part of one.
pub fn parse(buf: &[u8]) -> Result<Option<(Value, usize)>, RespError> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Value, usize)>, RespError> {
    if depth > MAX_DEPTH {
        return Err(RespError::TooLarge);
    }
    let Some((line, body)) = line_at(buf, at)? else {
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(&line[1..]).into_owned();
    let value = match line[0] {
        b'+' => Value::Simple(text()),
        b'-' => Value::Error(text()),
        b':' => Value::Integer(number(&line[1..])?),
        b'$' => {
            let Some(len) = length(&line[1..])? else {
                return Ok(Some((Value::Nil, body)));
            };
            let end = body + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(RespError::MissingTerminator);
            }
            return Ok(Some((Value::Bulk(buf[body..end].to_vec()), end + 2)));
        }
        b'*' => {
            let Some(count) = length(&line[1..])? else {
                return Ok(Some((Value::Nil, body)));
            };
            let mut items = Vec::with_capacity(count.min(64));
            let mut next = body;
            for _ in 0..count {
                let Some((item, after)) = parse_at(buf, next, depth + 1)? else {
                    return Ok(None);
                };
                items.push(item);
                next = after;
            }
            return Ok(Some((Value::Array(items), next)));
        }
        other => return Err(RespError::UnknownType(other)),
    };
    Ok(Some((value, body)))
}

/// The line starting at `at` (without its CRLF) and the offset after it.
fn line_at(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, RespError> {
    let rest = buf.get(at..).unwrap_or_default();
    match rest.windows(2).position(|w| w == b"\r\n") {
        Some(0) => Err(RespError::UnknownType(b'\r')),
        Some(end) => Ok(Some((&rest[..end], at + end + 2))),
        None if rest.len() > MAX_FRAME => Err(RespError::TooLarge),
        None => Ok(None),
    }
}

fn number(digits: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| RespError::BadNumber(String::from_utf8_lossy(digits).into_owned()))
}

/// A bulk or array length: `None` for -1 (nil).
fn length(digits: &[u8]) -> Result<Option<usize>, RespError> {
    match number(digits)? {
        -1 => Ok(None),
        n if n < 0 => Err(RespError::BadNumber(n.to_string())),
        n if n as u64 > MAX_FRAME as u64 => Err(RespError::TooLarge),
        n => Ok(Some(n as usize)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(bytes: &[u8]) -> Value {
        let (value, used) = parse(bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len(), "{bytes:?}");
        value
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            encode_command(&[b"CLIENT", b"ID"]),
            b"*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n"
        );
        assert_eq!(encode_command(&[b"PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(
            encode_command(&[b"ECHO", b""]),
            b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
        );
        // Binary-safe: CRLF inside an argument is counted, not interpreted.
        assert_eq!(encode_command(&[b"a\r\nb"]), b"*1\r\n$4\r\na\r\nb\r\n");
    }

    #[test]
    fn each_reply_type_parses() {
        assert_eq!(whole(b"+OK\r\n"), Value::Simple("OK".into()));
        assert_eq!(whole(b"-NOPERM no\r\n"), Value::Error("NOPERM no".into()));
        assert_eq!(whole(b":-42\r\n"), Value::Integer(-42));
        assert_eq!(whole(b"$3\r\na\r\n\r\n"), Value::Bulk(b"a\r\n".to_vec()));
        assert_eq!(whole(b"$0\r\n\r\n"), Value::Bulk(vec![]));
        assert_eq!(whole(b"$-1\r\n"), Value::Nil);
        assert_eq!(whole(b"*-1\r\n"), Value::Nil);
        assert_eq!(whole(b"*0\r\n"), Value::Array(vec![]));
    }

    /// What a subscribed connection gets when two tracked keys change, then a PONG.
    #[test]
    fn an_invalidation_message_and_a_pong_parse_one_after_the_other() {
        let bytes: &[u8] = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n\
*2\r\n$4\r\nk.u1\r\n$4\r\nk.u2\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n";
        let (first, used) = parse(bytes).unwrap().unwrap();
        assert_eq!(
            first,
            Value::Array(vec![
                Value::Bulk(b"message".to_vec()),
                Value::Bulk(b"__redis__:invalidate".to_vec()),
                Value::Array(vec![
                    Value::Bulk(b"k.u1".to_vec()),
                    Value::Bulk(b"k.u2".to_vec())
                ]),
            ])
        );
        assert_eq!(
            whole(&bytes[used..]),
            Value::Array(vec![Value::Bulk(b"pong".to_vec()), Value::Bulk(vec![])])
        );
    }

    #[test]
    fn every_cut_of_a_reply_waits_for_the_rest() {
        let bytes: &[u8] = b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n*1\r\n:7\r\n";
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(parse(bytes).unwrap().is_some());
    }

    #[test]
    fn garbage_is_an_error_not_a_wait() {
        assert_eq!(parse(b"?x\r\n"), Err(RespError::UnknownType(b'?')));
        assert_eq!(parse(b"\r\n"), Err(RespError::UnknownType(b'\r')));
        assert_eq!(parse(b":1x\r\n"), Err(RespError::BadNumber("1x".into())));
        assert_eq!(parse(b"$-2\r\n"), Err(RespError::BadNumber("-2".into())));
        assert_eq!(parse(b"$1\r\nab\r\n"), Err(RespError::MissingTerminator));
        assert_eq!(parse(b"$99999999999\r\n"), Err(RespError::TooLarge));
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert_eq!(parse(deep.as_bytes()), Err(RespError::TooLarge));
        let endless = vec![b'+'; MAX_FRAME + 1];
        assert_eq!(parse(&endless), Err(RespError::TooLarge));
    }
}
