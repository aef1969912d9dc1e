//! One client connection: its input lines, its ordered answers and its output buffer.
//!
//! The event loop decides what a line becomes; this type keeps the per-connection rules:
//! when to stop reading (backpressure), what to write, and when the connection is done.

use std::io;
use std::time::Instant;

use mio::net::TcpStream;
use shared::framing::{LineBuffer, GATE_MAX_LINE};
use shared::outbuf::{OutBuf, Retention};

use crate::answer_queue::{Answer, AnswerQueue};
use crate::job_id::JobId;

/// Unwritten answer bytes above which the gate stops reading requests from a client.
pub const OUT_SOFT_LIMIT: usize = 256 * 1024;
/// Unwritten answer bytes above which a client counts as not reading and is closed.
pub const OUT_HARD_LIMIT: usize = 32 * 1024 * 1024;
/// A burst of big answers must not keep its peak allocation for the connection's life.
const OUT_RETENTION: Retention = Retention {
    max_kept: 1024 * 1024,
    shrink_to: 64 * 1024,
};

pub struct ClientConn {
    pub stream: TcpStream,
    pub lines: LineBuffer,
    pub answers: AnswerQueue<JobId>,
    out: OutBuf,
    pub last_active: Instant,
    /// Since when an unfinished request line has been waiting for its end; `None` when the
    /// buffer holds no partial line. Bytes trickling in keep a connection active, so the
    /// idle timeout alone would never close a client that sends one byte a second.
    pub line_started: Option<Instant>,
    /// The client shut its sending side: answer what it asked, then close.
    pub peer_closed: bool,
    pub requests_taken: u64,
    /// Reading stopped because of a limit; resume when the limit clears.
    pub paused: bool,
    /// The client's address, carried in its jobs.
    pub peer_ip: Option<std::net::IpAddr>,
    /// Queued in the loop's list of connections to flush this iteration.
    pub dirty: bool,
    /// Since when unwritten output has been waiting without the buffer once emptying;
    /// `None` while everything staged is written. A client that does not drain its
    /// backlog within the write-stall limit is closed.
    pub backlog_since: Option<Instant>,
    /// Bytes this connection counts in the gate's answer budget (see [`ClientConn::buffered`]).
    pub accounted: usize,
}

impl ClientConn {
    pub fn new(stream: TcpStream, now: Instant) -> ClientConn {
        ClientConn {
            stream,
            lines: LineBuffer::new(GATE_MAX_LINE),
            answers: AnswerQueue::new(),
            out: OutBuf::new(OUT_RETENTION),
            last_active: now,
            line_started: None,
            peer_closed: false,
            requests_taken: 0,
            paused: false,
            peer_ip: None,
            dirty: false,
            backlog_since: None,
            accounted: 0,
        }
    }

    pub fn unwritten(&self) -> usize {
        self.out.pending()
    }

    /// Answer bytes this connection holds: arrived and waiting for their turn, or staged
    /// and not yet taken by the socket.
    pub fn buffered(&self) -> usize {
        self.answers.filled_bytes() + self.unwritten()
    }

    /// Brings `total` (the gate's sum of [`ClientConn::buffered`]) up to date with this
    /// connection after its buffers changed.
    pub fn settle(&mut self, total: &mut usize) {
        let now = self.buffered();
        *total = *total - self.accounted + now;
        self.accounted = now;
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
        let before = self.out.pending();
        let all_written = self.out.write_to(&mut self.stream);
        if self.out.pending() < before {
            self.last_active = now;
        }
        if all_written? {
            self.backlog_since = None;
            return Ok(true);
        }
        self.backlog_since.get_or_insert(now);
        if self.unwritten() > OUT_HARD_LIMIT {
            return Err(io::Error::other("client does not read its answers"));
        }
        Ok(false)
    }

    /// Starts or ends the clock of an unfinished line after the buffer changed; a line
    /// taken (`line_taken`) restarts it, so a busy pipelining client is never slow.
    pub fn note_partial_line(&mut self, line_taken: bool, now: Instant) {
        if self.lines.pending() == 0 || line_taken {
            self.line_started = None;
        }
        if self.lines.pending() > 0 && self.line_started.is_none() {
            self.line_started = Some(now);
        }
    }

    /// An unfinished line has waited longer than `limit` while the gate was reading.
    pub fn line_too_slow(&self, limit: std::time::Duration, now: Instant) -> bool {
        !self.paused
            && self
                .line_started
                .is_some_and(|started| now.duration_since(started) >= limit)
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

fn push_answer(out: &mut OutBuf, answer: &Answer) {
    out.push(answer.as_bytes());
    out.push(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A connected pair: our side as the gate holds it, the peer as a plain std stream.
    fn pair() -> (ClientConn, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (ours, _) = listener.accept().unwrap();
        ours.set_nonblocking(true).unwrap();
        (
            ClientConn::new(TcpStream::from_std(ours), Instant::now()),
            peer,
        )
    }

    fn jid(n: u128) -> JobId {
        JobId::parse(&format!("{n:032x}")).unwrap()
    }

    #[test]
    fn an_unfinished_line_is_slow_only_without_progress() {
        let (mut conn, _peer) = pair();
        let start = Instant::now();
        let limit = std::time::Duration::from_secs(60);
        conn.lines.extend(b"{\"world\"");
        conn.note_partial_line(false, start);
        assert!(!conn.line_too_slow(limit, start + limit / 2));
        // More bytes of the same line do not restart the clock.
        conn.lines.extend(b":\"s0\"");
        conn.note_partial_line(false, start + limit / 2);
        assert!(conn.line_too_slow(limit, start + limit));
        // A pipelining client that keeps finishing lines is never slow, even when every
        // read ends in the middle of the next line.
        conn.lines.extend(b"}\r\n{\"next");
        assert!(conn.lines.next_line().unwrap().is_some());
        conn.note_partial_line(true, start + limit);
        assert!(!conn.line_too_slow(limit, start + limit + limit / 2));
        // No partial line, no clock; a paused connection is never blamed.
        conn.lines.extend(b"\"}\r\n");
        assert!(conn.lines.next_line().unwrap().is_some());
        conn.note_partial_line(true, start + limit * 3);
        assert_eq!(conn.line_started, None);
        conn.lines.extend(b"{");
        conn.note_partial_line(false, start);
        conn.paused = true;
        assert!(!conn.line_too_slow(limit, start + limit * 10));
    }

    #[test]
    fn in_flight_and_one_shot_limits_stop_taking_requests() {
        let (mut conn, _peer) = pair();
        assert!(conn.takes_requests(2, false));
        conn.answers.push(jid(1));
        conn.answers.push(jid(2));
        assert!(!conn.takes_requests(2, false), "two in flight is the limit");
        assert!(conn.takes_requests(3, false));

        let (mut conn, _peer) = pair();
        conn.answers.push(jid(1));
        conn.requests_taken = 1;
        assert!(
            !conn.takes_requests(1024, true),
            "one-shot takes one request"
        );
    }

    #[test]
    fn answers_are_written_in_order_and_then_the_connection_is_done() {
        let (mut conn, mut peer) = pair();
        let a = conn.answers.push(jid(1));
        let b = conn.answers.push(jid(2));
        conn.requests_taken = 2;
        conn.answers.fill(b, "second".into()).unwrap();
        conn.stage_ready_answers();
        assert!(
            conn.write_out(Instant::now()).unwrap(),
            "nothing staged yet"
        );
        assert!(!conn.is_finished(false, true), "an answer is still missing");
        conn.answers.fill(a, "first".into()).unwrap();
        conn.stage_ready_answers();
        assert!(conn.write_out(Instant::now()).unwrap());
        let mut got = [0u8; 15];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"first\r\nsecond\r\n");
        assert!(conn.is_drained());
        assert!(!conn.is_finished(false, false), "keep-alive stays open");
        assert!(conn.is_finished(false, true), "closes when stopping");
        assert!(conn.is_finished(true, false), "closes in one-shot mode");
        conn.peer_closed = true;
        assert!(
            conn.is_finished(false, false),
            "closes when the client is done"
        );
    }

    #[test]
    fn unwritten_output_over_the_soft_limit_stops_taking_requests() {
        let (mut conn, _peer) = pair();
        let chunk = "x".repeat(64 * 1024);
        // The peer never reads: once the kernel buffers are full, output stays with us.
        for n in 0..2000 {
            assert!(conn.takes_requests(1024, false), "limit hit too early");
            let seq = conn.answers.push(jid(n));
            conn.answers.fill(seq, chunk.clone().into()).unwrap();
            conn.stage_ready_answers();
            conn.write_out(Instant::now()).unwrap();
            if conn.unwritten() >= OUT_SOFT_LIMIT {
                break;
            }
        }
        assert!(
            conn.unwritten() >= OUT_SOFT_LIMIT,
            "the kernel took 128 MB unread"
        );
        assert!(!conn.takes_requests(1024, false));
    }

    #[test]
    fn a_client_that_never_reads_is_cut_off_at_the_hard_limit() {
        let (mut conn, _peer) = pair();
        let chunk = "x".repeat(1024 * 1024);
        let mut outcome = Ok(false);
        for n in 0..200 {
            let seq = conn.answers.push(jid(n));
            conn.answers.fill(seq, chunk.clone().into()).unwrap();
            conn.stage_ready_answers();
            outcome = conn.write_out(Instant::now());
            if outcome.is_err() {
                break;
            }
        }
        let error = outcome.expect_err("200 MB unread must hit the hard limit");
        assert!(error.to_string().contains("does not read"), "{error}");
    }
}
