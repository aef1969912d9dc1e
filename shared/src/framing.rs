//! `\r\n` line framing with a size limit, for the gate, the worker link and the edge.
//!
//! [`LineBuffer`] is fed whatever a socket read returned and hands back complete lines.
//! It never holds more than the limit plus one read, whatever a peer sends.

use std::fmt;

/// The gate's limit for one request line (the contract's 64 KiB).
pub const GATE_MAX_LINE: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A line (without its `\r\n`) is longer than the limit.
    TooLong { limit: usize },
    /// A line is not valid UTF-8.
    NotUtf8,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { limit } => write!(f, "line longer than {limit} bytes"),
            FrameError::NotUtf8 => write!(f, "line is not valid UTF-8"),
        }
    }
}

impl std::error::Error for FrameError {}

#[derive(Debug)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// Bytes before `start` were already handed out; compacted lazily.
    start: usize,
    /// Where the search for `\r\n` resumes, so a line arriving byte by byte stays linear.
    scanned: usize,
    limit: usize,
}

impl LineBuffer {
    pub fn new(limit: usize) -> LineBuffer {
        LineBuffer {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            limit,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held that do not form a complete line yet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends what a read returned.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.scanned -= self.start;
            self.start = 0;
        } else if self.start > 4096 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line without its `\r\n`, `Ok(None)` if none is complete yet.
    /// After an error the connection is broken and the buffer should be dropped.
    pub fn next_line(&mut self) -> Result<Option<&str>, FrameError> {
        let from = self.scanned.max(self.start);
        let found = self.buf[from..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p);
        match found {
            Some(end) => {
                if end - self.start > self.limit {
                    return Err(FrameError::TooLong { limit: self.limit });
                }
                let line_start = self.start;
                self.start = end + 2;
                self.scanned = self.start;
                std::str::from_utf8(&self.buf[line_start..end])
                    .map(Some)
                    .map_err(|_| FrameError::NotUtf8)
            }
            None => {
                // Keep the last byte unscanned: it may be the `\r` of a split `\r\n`.
                self.scanned = self.buf.len().saturating_sub(1).max(self.start);
                if self.pending() > self.limit + 1 {
                    return Err(FrameError::TooLong { limit: self.limit });
                }
                Ok(None)
            }
        }
    }
}

/// Appends `line` and `\r\n` to `out`.
pub fn push_line(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(buf: &mut LineBuffer) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(l) = buf.next_line().unwrap() {
            out.push(l.to_string());
        }
        out
    }

    #[test]
    fn splits_pipelined_lines() {
        let mut b = LineBuffer::new(100);
        b.extend(b"one\r\ntwo\r\nthr");
        assert_eq!(lines(&mut b), ["one", "two"]);
        b.extend(b"ee\r\n");
        assert_eq!(lines(&mut b), ["three"]);
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn a_crlf_split_across_reads_is_found() {
        let mut b = LineBuffer::new(100);
        b.extend(b"abc\r");
        assert_eq!(b.next_line().unwrap(), None);
        b.extend(b"\n");
        assert_eq!(lines(&mut b), ["abc"]);
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut b = LineBuffer::new(100);
        let mut got = Vec::new();
        for byte in b"hello world\r\nx\r\n" {
            b.extend(&[*byte]);
            got.extend(lines(&mut b));
        }
        assert_eq!(got, ["hello world", "x"]);
    }

    #[test]
    fn a_line_at_the_limit_passes_one_over_fails() {
        let mut b = LineBuffer::new(8);
        b.extend(b"12345678\r\n");
        assert_eq!(lines(&mut b), ["12345678"]);
        b.extend(b"123456789\r\n");
        assert_eq!(b.next_line(), Err(FrameError::TooLong { limit: 8 }));
    }

    #[test]
    fn an_endless_line_fails_without_waiting_for_crlf() {
        let mut b = LineBuffer::new(8);
        b.extend(b"123456789");
        assert_eq!(b.next_line(), Ok(None));
        b.extend(b"0");
        assert_eq!(b.next_line(), Err(FrameError::TooLong { limit: 8 }));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut b = LineBuffer::new(8);
        b.extend(b"\xff\xfe\r\n");
        assert_eq!(b.next_line(), Err(FrameError::NotUtf8));
    }

    #[test]
    fn bare_newlines_are_part_of_a_line() {
        let mut b = LineBuffer::new(100);
        b.extend(b"a\nb\r\n");
        assert_eq!(lines(&mut b), ["a\nb"]);
    }

    #[test]
    fn compaction_keeps_partial_lines() {
        let mut b = LineBuffer::new(10_000);
        for i in 0..5000 {
            b.extend(format!("line{i}\r\npart").as_bytes());
            assert_eq!(b.next_line().unwrap().unwrap(), format!("line{i}"));
            assert_eq!(b.next_line().unwrap(), None);
            b.extend(b"ial\r\n");
            assert_eq!(b.next_line().unwrap().unwrap(), "partial");
        }
        assert_eq!(b.pending(), 0);
    }
}
