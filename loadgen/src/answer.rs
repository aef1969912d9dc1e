//! The gate's answers as they come off a socket: whole lines out of the bytes read so far,
//! and the status of each line. Pure, so the event loop's parsing is tested byte for byte.
//!
//! The status is read from the envelope's first field when the line starts the way every
//! gate answer does (`{"status":<integer>,`): the load generator counts statuses and needs
//! nothing else from an answer, and a full JSON parse of a large answer would cost more than
//! the gate spends on it. Any other line goes through the full parse
//! ([`shared::gate_client::parse_answer`]), so a differently ordered or spaced envelope is
//! still counted right and a line that is not an answer is refused. (Whether the rest of an
//! answer is valid JSON is the compatibility suite's business, not a load test's.)

use std::fmt;

/// A line that is not an answer of the contract: no integer `status`, not UTF-8, not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAnswer(pub String);

impl fmt::Display for BadAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an answer of the contract: {:?}", self.0)
    }
}

impl std::error::Error for BadAnswer {}

const PREFIX: &[u8] = br#"{"status":"#;

/// The status of one answer line (its line end already cut off).
pub fn status_of(line: &[u8]) -> Result<i64, BadAnswer> {
    if let Some(status) = quick_status(line) {
        return Ok(status);
    }
    let text = std::str::from_utf8(line).map_err(|_| bad(line))?;
    shared::gate_client::parse_answer(text)
        .map(|a| a.status)
        .map_err(|_| bad(line))
}

fn bad(line: &[u8]) -> BadAnswer {
    const SHOWN: usize = 200;
    BadAnswer(String::from_utf8_lossy(&line[..line.len().min(SHOWN)]).into_owned())
}

/// `{"status":-2,...` → -2 when the status is a plain JSON integer followed by `,` or `}`;
/// `None` sends the line to the full parse.
fn quick_status(line: &[u8]) -> Option<i64> {
    let rest = line.strip_prefix(PREFIX)?;
    let (negative, digits) = match rest.first()? {
        b'-' => (true, &rest[1..]),
        _ => (false, rest),
    };
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    // JSON has no leading zeros; 18 digits always fit an i64.
    if end == 0 || end > 18 || (digits[0] == b'0' && end > 1) {
        return None;
    }
    if !matches!(digits[end], b',' | b'}') {
        return None;
    }
    let value = digits[..end]
        .iter()
        .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    Some(if negative { -value } else { value })
}

/// The complete lines at the start of `input`, each without its `\n` (and the `\r` before
/// it); [`Lines::consumed`] is where the unfinished rest starts.
pub struct Lines<'a> {
    input: &'a [u8],
    consumed: usize,
}

impl<'a> Lines<'a> {
    pub fn new(input: &'a [u8]) -> Lines<'a> {
        Lines { input, consumed: 0 }
    }

    /// Bytes taken by the lines returned so far.
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = &self.input[self.consumed..];
        let end = rest.iter().position(|&b| b == b'\n')?;
        self.consumed += end + 1;
        let line = &rest[..end];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_status_is_read_from_the_first_field() {
        for (line, status) in [
            (&br#"{"status":0,"message":"success","data":{}}"#[..], 0),
            (
                br#"{"status":-2,"message":"request timed out","data":{}}"#,
                -2,
            ),
            (
                br#"{"status":10,"message":"function is not in function list"}"#,
                10,
            ),
            (br#"{"status":99}"#, 99),
            (br#"{"status":-1,"data":{"status":5}}"#, -1),
            (br#"{"status":-0,"data":{}}"#, 0),
        ] {
            assert_eq!(quick_status(line), Some(status), "{line:?}");
            assert_eq!(status_of(line), Ok(status));
        }
    }

    #[test]
    fn other_shapes_go_through_the_full_parse_and_agree_with_it() {
        for (line, status) in [
            (&br#"{ "status": 0, "data": {}}"#[..], 0),
            (br#"{"message":"x","status":13,"data":{"status":0}}"#, 13),
            (br#"{"status":7 ,"data":{}}"#, 7),
        ] {
            assert_eq!(quick_status(line), None, "{line:?}");
            assert_eq!(status_of(line), Ok(status), "{line:?}");
        }
    }

    #[test]
    fn lines_that_are_not_answers_are_refused() {
        for line in [
            &b""[..],
            b"nope",
            br#"{"status":"0"}"#,
            br#"{"status":01,"data":{}}"#,
            br#"{"status":-,"data":{}}"#,
            br#"{"status":1e3,"data":{}}"#,
            br#"{"status":99999999999999999999,"data":{}}"#,
            br#"{"data":{"status":0}}"#,
            b"{\"status\":\xff",
            br#"{"status":12"#,
        ] {
            assert!(status_of(line).is_err(), "{line:?}");
        }
        // The largest quick status and one past it (the full parse takes over).
        assert_eq!(
            status_of(br#"{"status":999999999999999999}"#),
            Ok(999_999_999_999_999_999)
        );
        assert_eq!(
            status_of(br#"{"status":-9223372036854775808}"#),
            Ok(i64::MIN)
        );
    }

    #[test]
    fn complete_lines_are_cut_and_the_unfinished_rest_stays() {
        let input = b"{\"status\":0}\r\n{\"status\":1}\n\r\n{\"status\":2";
        let mut lines = Lines::new(input);
        assert_eq!(lines.next(), Some(&b"{\"status\":0}"[..]));
        assert_eq!(lines.consumed(), 14);
        assert_eq!(lines.next(), Some(&b"{\"status\":1}"[..]));
        assert_eq!(lines.next(), Some(&b""[..]));
        assert_eq!(lines.next(), None);
        assert_eq!(lines.consumed(), 29);
        assert_eq!(&input[lines.consumed()..], b"{\"status\":2");
        // A bare `\r` inside a line is the line's.
        let mut lines = Lines::new(b"a\rb\r\n");
        assert_eq!(lines.next(), Some(&b"a\rb"[..]));
        assert_eq!(Lines::new(b"").next(), None);
    }
}
