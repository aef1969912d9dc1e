//! The state the loop keeps per client connection, kept small: 10k idle connections must
//! fit in well under 10 KB each, so input and output buffers own memory only while bytes
//! are pending.

use std::time::Instant;

use mio::net::TcpStream;
use shared::framing::LineBuffer;
use shared::outbuf::{OutBuf, Retention};

use crate::codec::{ChatKind, MAX_FRAME};
use crate::login::Identity;
use crate::rate::TokenBucket;

/// A drained output buffer keeps a small allocation and frees a burst's, so idle
/// connections own (almost) no output memory.
const OUTPUT_RETENTION: Retention = Retention {
    max_kept: 512,
    shrink_to: 0,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connected; reading frames (the first must be REGISTER).
    Open,
    /// A Redis answer is awaited: a nonce being redeemed, or the player's chat allowance
    /// for the frame in [`Conn::held`]. Frames stay unread until the answer, so nothing the
    /// client sent after REGISTER runs under the wrong identity and frames keep their order.
    Waiting,
    /// Being closed: the last frames are flushed, then the write side is shut and input is
    /// discarded until the peer closes or `until`, so the client reads our last words
    /// instead of a reset.
    Closing { until: Instant },
}

/// A chat frame waiting for the player's allowance (text already checked). Its channel and
/// name are taken when it is published, so a chat event that arrived meanwhile (removed
/// from the family, renamed) applies to it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub kind: ChatKind,
    pub text: String,
}

pub struct Conn {
    pub stream: TcpStream,
    /// Unique over the process's life; slots are reused, serials are not.
    pub serial: u64,
    pub phase: Phase,
    pub identity: Option<Identity>,
    pub input: LineBuffer,
    pub output: OutBuf,
    pub bucket: TokenBucket,
    /// The frame whose allowance is being asked for (phase `Waiting`).
    pub held: Option<Held>,
    pub opened: Instant,
    /// The last frame in either direction, for the idle timeout.
    pub last_activity: Instant,
    /// Queued for a flush at the end of this loop turn.
    pub dirty: bool,
    /// The socket may hold unread bytes (reading stopped early or was paused).
    pub unread: bool,
    /// The write side was shut down (Closing, after the last bytes went out).
    pub write_shut: bool,
}

impl Conn {
    pub fn new(stream: TcpStream, serial: u64, rate: u32, now: Instant) -> Conn {
        Conn {
            stream,
            serial,
            phase: Phase::Open,
            identity: None,
            input: LineBuffer::new(MAX_FRAME),
            output: OutBuf::new(OUTPUT_RETENTION),
            bucket: TokenBucket::new(rate, now),
            held: None,
            opened: now,
            last_activity: now,
            dirty: false,
            unread: false,
            write_shut: false,
        }
    }

    pub fn is_closing(&self) -> bool {
        matches!(self.phase, Phase::Closing { .. })
    }

    /// Drops the input buffer's memory once it holds no partial frame.
    pub fn release_input(&mut self) {
        if self.input.pending() == 0 {
            self.input = LineBuffer::new(MAX_FRAME);
        }
    }
}
