//! One client connection: its input lines, its ordered answers and its output buffer.
//!
//! The event loop decides what a line becomes; this type keeps the per-connection rules:
//! when to stop reading (backpressure), what to write, and when the connection is done.

use std::io::{self, Write};
use std::time::Instant;

use mio::net::TcpStream;
use shared::framing::{LineBuffer, GATE_MAX_LINE};

use crate::answer_queue::{Answer, AnswerQueue};
use crate::job_id::JobId;

/// Unwritten answer bytes above which the gate stops reading requests from a client.
pub const OUT_SOFT_LIMIT: usize = 256 * 1024;
/// Unwritten answer bytes above which a client counts as not reading and is closed.
pub const OUT_HARD_LIMIT: usize = 32 * 1024 * 1024;

pub struct ClientConn {
    pub stream: TcpStream,
    pub lines: LineBuffer,
    pub answers: AnswerQueue<JobId>,
    out: Vec<u8>,
    written: usize,
    pub last_active: Instant,
    /// The client shut its sending side: answer what it asked, then close.
    pub peer_closed: bool,
    pub requests_taken: u64,
    /// Reading stopped because of a limit; resume when the limit clears.
    pub paused: bool,
    /// Queued in the loop's list of connections to flush this iteration.
    pub dirty: bool,
}

impl ClientConn {
    pub fn new(stream: TcpStream, now: Instant) -> ClientConn {
        ClientConn {
            stream,
            lines: LineBuffer::new(GATE_MAX_LINE),
            answers: AnswerQueue::new(),
            out: Vec::new(),
            written: 0,
            last_active: now,
            peer_closed: false,
            requests_taken: 0,
            paused: false,
            dirty: false,
        }
    }

    pub fn unwritten(&self) -> usize {
        self.out.len() - self.written
    }

    /// Whether another request line may become a job now.
    pub fn takes_requests(&self, max_in_flight: usize, one_shot: bool) -> bool {
        !(one_shot && self.requests_taken > 0)
            && self.answers.len() < max_in_flight
            && self.unwritten() < OUT_SOFT_LIMIT
    }

    /// Moves the answers that are next in order into the output buffer.
    pub fn stage_ready_answers(&mut self) {
        while let Some((_, answer)) = self.answers.pop_ready() {
            push_answer(&mut self.out, &answer);
        }
    }

    /// Writes as much output as the socket takes. `Ok(true)` when nothing is left.
    pub fn write_out(&mut self, now: Instant) -> io::Result<bool> {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    self.last_active = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
            return Ok(true);
        }
        if self.written > 64 * 1024 && self.written * 2 > self.out.len() {
            self.out.drain(..self.written);
            self.written = 0;
        }
        if self.unwritten() > OUT_HARD_LIMIT {
            return Err(io::Error::other("client does not read its answers"));
        }
        Ok(false)
    }

    /// Nothing asked is left unanswered or unwritten.
    pub fn is_drained(&self) -> bool {
        self.answers.is_empty() && self.unwritten() == 0
    }

    /// The connection has nothing more to do and can be closed.
    pub fn is_finished(&self, one_shot: bool, stopping: bool) -> bool {
        self.is_drained() && (self.peer_closed || stopping || (one_shot && self.requests_taken > 0))
    }
}

fn push_answer(out: &mut Vec<u8>, answer: &Answer) {
    out.extend_from_slice(answer.as_bytes());
    out.extend_from_slice(b"\r\n");
}
