//! `shared::framing::LineBuffer` fed arbitrary bytes in arbitrary chunk sizes.
//!
//! Input layout: byte 0 picks the line limit, byte 1 the chunking (low 5 bits: chunk
//! size pattern; high 3 bits: how many times the stream is fed, so a short input can
//! still push the buffer past its compaction threshold), the rest is the stream.
//! Every answer of `next_line` is checked against a model: the stream split on `\r\n`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::framing::{FrameError, LineBuffer};

fuzz_target!(|data: &[u8]| {
    let [limit_byte, chunking, stream @ ..] = data else {
        return;
    };
    // Small limits make TooLong reachable; 255 maps to the gate's real limit.
    let limit = match *limit_byte {
        255 => shared::framing::GATE_MAX_LINE,
        n => usize::from(n) * 3,
    };
    let step = usize::from(chunking & 0x1f);
    let repeats = 1 + usize::from(chunking >> 5);

    let mut buffer = LineBuffer::new(limit);
    let mut fed: Vec<u8> = Vec::new();
    let mut consumed = 0;
    let mut chunk_index = 0;
    for _ in 0..repeats {
        let mut rest = stream;
        while !rest.is_empty() {
            let size = (1 + (step * chunk_index) % 37).min(rest.len());
            chunk_index += 1;
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            buffer.extend(chunk);
            fed.extend_from_slice(chunk);
            if !drain(&mut buffer, &fed, &mut consumed, limit) {
                return;
            }
        }
    }
});

/// Takes every complete line; false once the buffer reported an error (it is then dropped,
/// as a connection would be).
fn drain(buffer: &mut LineBuffer, fed: &[u8], consumed: &mut usize, limit: usize) -> bool {
    loop {
        let unread = &fed[*consumed..];
        let terminator = find_crlf(unread);
        match buffer.next_line() {
            Ok(Some(line)) => {
                let end = terminator.expect("a line was returned without a \\r\\n in the input");
                assert_eq!(
                    line.as_bytes(),
                    &unread[..end],
                    "line differs from the input"
                );
                assert!(
                    line.len() <= limit,
                    "line of {} bytes over limit {limit}",
                    line.len()
                );
                *consumed += end + 2;
            }
            Ok(None) => {
                assert_eq!(terminator, None, "a complete line was not returned");
                assert_eq!(buffer.pending(), unread.len(), "pending bytes miscounted");
                assert!(
                    buffer.pending() <= limit + 1,
                    "buffer holds more than the limit"
                );
                return true;
            }
            Err(FrameError::TooLong { limit: reported }) => {
                assert_eq!(reported, limit);
                match terminator {
                    Some(end) => assert!(end > limit, "line of {end} bytes refused as too long"),
                    None => assert!(unread.len() > limit + 1, "partial line refused too early"),
                }
                return false;
            }
            Err(FrameError::NotUtf8) => {
                let end = terminator.expect("NotUtf8 before the line was complete");
                assert!(
                    end <= limit,
                    "an over-long line must be reported as TooLong"
                );
                assert!(
                    std::str::from_utf8(&unread[..end]).is_err(),
                    "valid UTF-8 refused"
                );
                return false;
            }
        }
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}
