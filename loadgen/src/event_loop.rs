//! The measuring phase on mio event loops: all connections of a share of the players on one
//! thread, so the client costs a few µs per request instead of a thread (closed loop) or
//! two (open loop) per connection waking for every answer (issue 17).
//!
//! Each loop pass reads every ready connection until it has no more (the answers of one
//! read are matched to the oldest requests in flight: the gate answers a connection in
//! order), queues the requests that are due (open loop: the [`Schedule`]; closed loop:
//! whatever tops each connection's pipeline up again), and then writes each connection's
//! queued requests in one `write`. Latency counts from the due time (open loop), from the
//! start of the write that sent the request (closed loop, keep-alive), or from the start
//! of its connect (one request per connection, closed loop); a request not answered within the
//! timeout counts lost and its connection is replaced, as a broken one is (its requests
//! count cut). With one request per connection each request gets a fresh non-blocking
//! connect: connect, send, read the answer, close.
//!
//! Threads: `run::run` starts `--loop-threads` of these loops (default 1), each owning its
//! players, connections, schedule and [`Stats`]; they share only the progress counters
//! (atomics). A loop ends by itself once the window is over and every request it queued
//! was answered, lost or cut; `run::run` joins the loops and merges their stats. Nothing
//! stops a loop from outside.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::answer::{status_of, Lines as AnswerLines};
use crate::calls::Lines;
use crate::flight::InFlight;
use crate::mix::{Mix, Rng};
use crate::schedule::Schedule;
use crate::stats::{count_unanswered, record, Progress, Stats, Window};

/// Wait before connecting again after a connect failed (the gate restarting, say).
const RETRY: Duration = Duration::from_millis(100);
/// How often the connections are checked for requests past the timeout.
const SWEEP: Duration = Duration::from_millis(100);
/// One read's buffer, shared by all connections of a loop.
const READ_CHUNK: usize = 64 * 1024;
/// Output a connection may hold ahead of its socket before further requests wait as a
/// count (open loop against a gate that stopped reading: memory stays bounded).
const OUT_CAP: usize = 1 << 20;
/// Held-back requests written per round once the socket takes more.
const OUT_BATCH: usize = 1024;
/// An unfinished answer line longer than this breaks its connection (a gate never sends one).
const MAX_ANSWER: usize = 16 << 20;

/// What every loop of a run shares.
pub struct Settings {
    pub window: Window,
    /// Closed loop: requests in flight per player (per player's connections with one
    /// request per connection). Unused in open loop.
    pub pipeline: usize,
    /// Connect, send one request, read its answer, close; instead of keep-alive.
    pub one_per_connection: bool,
    pub timeout: Duration,
    pub mix: Mix,
}

/// One loop's part of the run.
pub struct Shard {
    pub players: Vec<LoopPlayer>,
    /// Open loop: this loop's requests/s (all its players together); `None`: closed loop.
    pub rate: Option<f64>,
    /// Open loop: when this loop's first request is due.
    pub first_due: Instant,
    /// Seeds the picks from the mix.
    pub seed: u64,
}

/// A logged-in player as a loop takes it over.
pub struct LoopPlayer {
    pub addr: SocketAddr,
    /// The connection the player logged in on, blocking; keep-alive runs send on it.
    pub stream: Option<std::net::TcpStream>,
    pub lines: Lines,
}

#[derive(Debug)]
pub enum LoopError {
    /// The epoll instance could not be made or waited on.
    Poll(io::Error),
}

impl fmt::Display for LoopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopError::Poll(e) => write!(f, "event loop: {e}"),
        }
    }
}

impl std::error::Error for LoopError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoopError::Poll(e) => Some(e),
        }
    }
}

/// Runs one loop over `shard` until its window is over and nothing is in flight.
pub fn run(shard: Shard, settings: &Settings, progress: &Progress) -> Result<Stats, LoopError> {
    let poll = Poll::new().map_err(LoopError::Poll)?;
    let now = Instant::now();
    let closed = shard.rate.is_none();
    let mut lp = Loop {
        poll,
        settings,
        progress,
        rng: Rng::new(shard.seed),
        closed,
        conns: Vec::new(),
        free: Vec::new(),
        freed: Vec::new(),
        players: Vec::with_capacity(shard.players.len()),
        dirty: Vec::new(),
        refill: Vec::new(),
        down: 0,
        in_flight: 0,
        stats: Stats::default(),
        scratch: vec![0; READ_CHUNK].into_boxed_slice(),
    };
    for (i, player) in shard.players.into_iter().enumerate() {
        lp.players.push(PlayerState {
            addr: player.addr,
            lines: player.lines,
            conn: None,
            retry_at: None,
            open: 0,
            queued: false,
        });
        if settings.one_per_connection {
            continue;
        }
        // Keep-alive: go on on the login connection; connect anew if it cannot be taken over.
        let adopted = player.stream.and_then(|s| {
            s.set_nonblocking(true).ok()?;
            Some(TcpStream::from_std(s))
        });
        match adopted {
            Some(stream) => {
                if let Some(c) = lp.add_conn(stream, i, true, false) {
                    lp.players[i].conn = Some(c);
                }
            }
            None => lp.set_retry(i, now),
        }
    }
    let schedule = shard.rate.map(|rate| {
        let players = lp.players.len();
        Schedule::new(shard.first_due, settings.window.end, rate, players)
    });
    lp.run(schedule)
}

struct Conn {
    stream: TcpStream,
    player: usize,
    connected: bool,
    /// Ever connected: a connection that broke after connecting is replaced at once, one
    /// that never connected only after [`RETRY`].
    was_connected: bool,
    one_shot: bool,
    /// Requests queued and not yet taken by the socket: `out[written..]`.
    out: Vec<u8>,
    written: usize,
    /// Requests in flight whose lines are not in `out` yet (it was full): written later,
    /// in order, so answers still match the oldest request.
    unwritten: usize,
    /// Closed loop, keep-alive: requests queued since the last write, whose latency
    /// counts from when that write starts.
    unstamped: usize,
    /// The unfinished answer line, when a read ended inside one.
    input: Vec<u8>,
    flight: InFlight,
    dirty: bool,
}

struct PlayerState {
    addr: SocketAddr,
    lines: Lines,
    /// Keep-alive: the player's connection (`None` while it is being replaced).
    conn: Option<usize>,
    /// Set while the player waits to connect again (keep-alive) or to open its next
    /// connection (one request per connection, closed loop).
    retry_at: Option<Instant>,
    /// One request per connection: its connections open.
    open: usize,
    /// In the refill list.
    queued: bool,
}

/// What reading answers did to a connection.
enum Outcome {
    /// Still usable; this many answers were counted.
    Answered(usize),
    /// One request per connection: its answer came, the connection is done.
    Finished,
    /// Closed by the gate, a read error, or a line that is not an answer (or one nobody
    /// waited for).
    Broken,
}

struct Loop<'a> {
    poll: Poll,
    settings: &'a Settings,
    progress: &'a Progress,
    rng: Rng,
    closed: bool,
    /// Connections by token; a slot freed in a pass is reused from the next pass on, so a
    /// stale event of the same pass never reaches a new connection.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    freed: Vec<usize>,
    players: Vec<PlayerState>,
    /// Connections with requests to write this pass.
    dirty: Vec<usize>,
    /// Closed loop: players whose pipeline has room.
    refill: Vec<usize>,
    /// Players with `retry_at` set.
    down: usize,
    /// Requests queued and not yet answered, lost or cut, over all connections.
    in_flight: usize,
    stats: Stats,
    scratch: Box<[u8]>,
}

impl Loop<'_> {
    fn run(mut self, mut schedule: Option<Schedule>) -> Result<Stats, LoopError> {
        let window = self.settings.window;
        let mut events = Events::with_capacity(1024);
        let mut next_sweep = Instant::now() + SWEEP;
        if self.closed {
            for p in 0..self.players.len() {
                self.want_refill(p);
            }
        }
        loop {
            for event in events.iter() {
                self.on_event(event);
            }
            let now = Instant::now();
            if let Some(schedule) = &mut schedule {
                while let Some((player, due)) = schedule.pop_due(now) {
                    self.send_due(player, due, now);
                }
            }
            if self.down > 0 {
                self.retries(now);
            }
            while let Some(p) = self.refill.pop() {
                self.players[p].queued = false;
                self.top_up(p, now);
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + SWEEP;
            }
            while let Some(c) = self.dirty.pop() {
                self.flush(c);
            }
            self.free.append(&mut self.freed);
            if now >= window.end && self.in_flight == 0 {
                return Ok(self.stats);
            }
            // Sleep until the next request is due (to the microsecond), or until the next
            // retry, sweep or the window's end (to the millisecond), or an event.
            let mut until = next_sweep;
            if now < window.end {
                until = until.min(window.end);
            }
            if self.down > 0 {
                for p in &self.players {
                    until = p.retry_at.map_or(until, |r| until.min(r));
                }
            }
            match schedule.as_ref().and_then(Schedule::next_due) {
                Some(due) if due < until => self.wait_precisely(&mut events, due)?,
                _ => self.wait(&mut events, until.saturating_duration_since(now))?,
            }
        }
    }

    fn wait(&mut self, events: &mut Events, timeout: Duration) -> Result<(), LoopError> {
        match self.poll.poll(events, Some(timeout)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                events.clear();
                Ok(())
            }
            Err(e) => Err(LoopError::Poll(e)),
        }
    }

    /// Epoll's timeout counts whole milliseconds, which would send open-loop requests up to
    /// 1 ms late (and count that as latency): `ppoll` on the epoll descriptor waits with
    /// nanoseconds, then a zero-timeout poll collects what is ready.
    fn wait_precisely(&mut self, events: &mut Events, due: Instant) -> Result<(), LoopError> {
        let timeout = due.saturating_duration_since(Instant::now());
        if !timeout.is_zero() {
            wait_readable(self.poll.as_raw_fd(), timeout).map_err(LoopError::Poll)?;
        }
        self.wait(events, Duration::ZERO)
    }

    fn on_event(&mut self, event: &Event) {
        let c = event.token().0;
        let Some(conn) = self.conns.get_mut(c).and_then(Option::as_mut) else {
            return;
        };
        if !conn.connected {
            match connect_outcome(&conn.stream) {
                Ok(true) => {
                    conn.connected = true;
                    conn.was_connected = true;
                    self.mark_dirty(c);
                }
                Ok(false) => return,
                Err(_) => {
                    self.broken(c, false);
                    return;
                }
            }
        }
        let closing = event.is_read_closed() || event.is_error();
        if event.is_readable() || closing {
            match self.read(c, closing) {
                Outcome::Answered(n) => {
                    if n > 0 && self.closed {
                        let p = self.conn(c).player;
                        self.want_refill(p);
                    }
                }
                Outcome::Finished => {
                    self.close(c);
                    return;
                }
                Outcome::Broken => {
                    self.broken(c, false);
                    return;
                }
            }
        }
        if event.is_writable() {
            self.mark_dirty(c);
        }
    }

    fn conn(&mut self, c: usize) -> &mut Conn {
        self.conns[c].as_mut().expect("a live connection")
    }

    /// Reads until the socket has nothing more, counting every complete answer. `closing`:
    /// the event said the gate closed (or the socket failed), so read on to the end, past
    /// a short read, since no further edge will announce it.
    fn read(&mut self, c: usize, closing: bool) -> Outcome {
        let mut answered = 0;
        loop {
            let conn = self.conns[c].as_mut().expect("a live connection");
            let n = match conn.stream.read(&mut self.scratch) {
                Ok(0) => return Outcome::Broken,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Outcome::Answered(answered)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Outcome::Broken,
            };
            let now = Instant::now();
            match self.take_answers(c, n, now) {
                Outcome::Answered(k) => answered += k,
                other => return other,
            }
            // A short read emptied the socket; the next arrival is a new edge.
            if n < self.scratch.len() && !closing {
                return Outcome::Answered(answered);
            }
        }
    }

    /// Counts the answers in the `n` bytes just read (after what an earlier read left).
    fn take_answers(&mut self, c: usize, n: usize, now: Instant) -> Outcome {
        let Loop {
            conns,
            scratch,
            stats,
            progress,
            settings,
            in_flight,
            ..
        } = self;
        let conn = conns[c].as_mut().expect("a live connection");
        let from_scratch = conn.input.is_empty();
        if !from_scratch {
            conn.input.extend_from_slice(&scratch[..n]);
        }
        let data: &[u8] = if from_scratch {
            &scratch[..n]
        } else {
            &conn.input
        };
        let mut lines = AnswerLines::new(data);
        let mut outcome = Outcome::Answered(0);
        let mut answered = 0;
        for line in lines.by_ref() {
            let Ok(status) = status_of(line) else {
                outcome = Outcome::Broken;
                break;
            };
            let Some(due) = conn.flight.answer() else {
                outcome = Outcome::Broken;
                break;
            };
            *in_flight -= 1;
            answered += 1;
            if settings.window.measured(due) {
                record(stats, progress, status, now.saturating_duration_since(due));
            }
            if conn.one_shot {
                outcome = Outcome::Finished;
                break;
            }
        }
        if let Outcome::Answered(_) = outcome {
            outcome = Outcome::Answered(answered);
            let consumed = lines.consumed();
            if from_scratch {
                conn.input.extend_from_slice(&scratch[consumed..n]);
            } else {
                conn.input.drain(..consumed);
            }
            if conn.input.len() > MAX_ANSWER {
                outcome = Outcome::Broken;
            }
        }
        outcome
    }

    /// Writes what the connection has queued, as far as the socket takes it.
    fn flush(&mut self, c: usize) {
        let Some(mut conn) = self.conns.get_mut(c).and_then(Option::as_mut) else {
            return;
        };
        conn.dirty = false;
        if !conn.connected {
            return;
        }
        if conn.unstamped > 0 {
            conn.flight.restamp_newest(conn.unstamped, Instant::now());
            conn.unstamped = 0;
        }
        loop {
            while conn.written < conn.out.len() {
                match conn.stream.write(&conn.out[conn.written..]) {
                    Ok(0) => return self.broken(c, false),
                    Ok(n) => {
                        conn.written += n;
                        if conn.written < conn.out.len() {
                            // The socket is full; its writable edge brings us back.
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return self.broken(c, false),
                }
            }
            conn.out.clear();
            conn.written = 0;
            // Lines held back while the output was full (see `queue`), a capful at a time.
            if conn.unwritten == 0 {
                return;
            }
            let batch = conn.unwritten.min(OUT_BATCH);
            conn.unwritten -= batch;
            self.serialize(c, batch);
            conn = self.conns[c].as_mut().expect("a live connection");
        }
    }

    fn mark_dirty(&mut self, c: usize) {
        let conn = self.conn(c);
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(c);
        }
    }

    fn want_refill(&mut self, p: usize) {
        let player = &mut self.players[p];
        if !player.queued {
            player.queued = true;
            self.refill.push(p);
        }
    }

    /// Queues a request on connection `c`: its line goes into the output unless that is
    /// already [`OUT_CAP`] ahead of the socket (a gate that stopped reading); then only
    /// the count grows, and [`Loop::flush`] writes the line once the socket takes more.
    /// The due time goes in flight either way: latency and the timeout count from it.
    fn queue(&mut self, c: usize, due: Instant) {
        let conn = self.conns[c].as_mut().expect("a live connection");
        conn.flight.push(due);
        self.in_flight += 1;
        if conn.out.len() - conn.written >= OUT_CAP {
            conn.unwritten += 1;
            return;
        }
        self.serialize(c, 1);
        if self.conn(c).connected {
            self.mark_dirty(c);
        }
    }

    /// Appends `n` request lines of the connection's player to its output.
    fn serialize(&mut self, c: usize, n: usize) {
        let Loop {
            conns,
            players,
            rng,
            settings,
            ..
        } = self;
        let conn = conns[c].as_mut().expect("a live connection");
        for _ in 0..n {
            let line = players[conn.player]
                .lines
                .pick(&settings.mix, rng.next_u64());
            conn.out.extend_from_slice(line.as_bytes());
            conn.out.extend_from_slice(b"\r\n");
        }
    }

    /// Open loop: the request of player `p` due at `due`.
    fn send_due(&mut self, p: usize, due: Instant, now: Instant) {
        if self.settings.one_per_connection {
            self.open_one_shot(p, due, now);
            return;
        }
        match self.players[p].conn {
            Some(c) => self.queue(c, due),
            // The connection is being replaced: the client knows it cannot send.
            None => self.unanswered(u64::from(self.settings.window.measured(due)), false),
        }
    }

    /// Closed loop: fills player `p`'s pipeline up again (until the window ends).
    fn top_up(&mut self, p: usize, now: Instant) {
        if now >= self.settings.window.end || self.players[p].retry_at.is_some() {
            return;
        }
        let depth = self.settings.pipeline;
        if self.settings.one_per_connection {
            while self.players[p].open < depth && self.open_one_shot(p, now, now) {}
            return;
        }
        if let Some(c) = self.players[p].conn {
            let room = self.conn(c).flight.room(depth);
            for _ in 0..room {
                self.queue(c, now);
            }
            self.conn(c).unstamped += room;
        }
    }

    /// A new connection carrying one request due at `due`; false if the connect failed
    /// at once (the request counts cut).
    fn open_one_shot(&mut self, p: usize, due: Instant, now: Instant) -> bool {
        let stream = match TcpStream::connect(self.players[p].addr) {
            Ok(s) => s,
            Err(_) => return self.one_shot_failed(p, due, now),
        };
        let Some(c) = self.add_conn(stream, p, false, true) else {
            return self.one_shot_failed(p, due, now);
        };
        self.players[p].open += 1;
        self.queue(c, due);
        true
    }

    fn one_shot_failed(&mut self, p: usize, due: Instant, now: Instant) -> bool {
        self.unanswered(u64::from(self.settings.window.measured(due)), false);
        if self.closed {
            self.set_retry(p, now + RETRY);
        }
        false
    }

    /// Registers a connection for player `p`; `None` if epoll refuses it.
    fn add_conn(
        &mut self,
        mut stream: TcpStream,
        p: usize,
        connected: bool,
        one_shot: bool,
    ) -> Option<usize> {
        let c = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        // Answers go out at once; requests are batched by the loop, not by Nagle.
        let _ = stream.set_nodelay(true);
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            Token(c),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            shared::warn!("cannot watch a connection", error = e);
            self.freed.push(c);
            return None;
        }
        self.conns[c] = Some(Conn {
            stream,
            player: p,
            connected,
            was_connected: connected,
            one_shot,
            out: Vec::new(),
            written: 0,
            unwritten: 0,
            unstamped: 0,
            input: Vec::new(),
            flight: InFlight::default(),
            dirty: false,
        });
        Some(c)
    }

    /// Keep-alive: a new connection for player `p`.
    fn reconnect(&mut self, p: usize, now: Instant) {
        let added = TcpStream::connect(self.players[p].addr)
            .ok()
            .and_then(|s| self.add_conn(s, p, false, false));
        match added {
            Some(c) => {
                self.players[p].conn = Some(c);
                if self.closed {
                    self.want_refill(p);
                }
            }
            None => self.set_retry(p, now + RETRY),
        }
    }

    fn set_retry(&mut self, p: usize, at: Instant) {
        let player = &mut self.players[p];
        if player.retry_at.is_none() {
            self.down += 1;
        }
        player.retry_at = Some(at);
    }

    /// Players whose wait is over connect again (or, one request per connection, go on).
    fn retries(&mut self, now: Instant) {
        for p in 0..self.players.len() {
            match self.players[p].retry_at {
                Some(at) if at <= now => {
                    self.players[p].retry_at = None;
                    self.down -= 1;
                    if now >= self.settings.window.end {
                        continue;
                    }
                    if self.settings.one_per_connection {
                        self.want_refill(p);
                    } else {
                        self.reconnect(p, now);
                    }
                }
                _ => {}
            }
        }
    }

    /// Connections whose oldest request waited past the timeout: lost, and replaced.
    fn sweep(&mut self, now: Instant) {
        let timeout = self.settings.timeout;
        for c in 0..self.conns.len() {
            if self.conns[c]
                .as_ref()
                .is_some_and(|conn| conn.flight.overdue(now, timeout))
            {
                self.broken(c, true);
            }
        }
    }

    fn unanswered(&mut self, n: u64, timed_out: bool) {
        if n > 0 {
            count_unanswered(&mut self.stats, self.progress, n, timed_out);
        }
    }

    /// Gives up on a connection: what it had in flight is lost (`timed_out`) or cut. A
    /// keep-alive player connects again, at once if this connection had worked.
    fn broken(&mut self, c: usize, timed_out: bool) {
        let Some(mut conn) = self.conns[c].take() else {
            return;
        };
        self.freed.push(c);
        self.in_flight -= conn.flight.len();
        let n = conn.flight.give_up(&self.settings.window);
        self.unanswered(n, timed_out);
        let now = Instant::now();
        let again = if conn.was_connected { now } else { now + RETRY };
        let p = conn.player;
        if conn.one_shot {
            self.players[p].open -= 1;
            if self.closed {
                self.set_retry(p, again);
            }
        } else {
            self.players[p].conn = None;
            self.set_retry(p, again);
        }
    }

    /// One request per connection: its answer came; the next one (closed loop) goes on a
    /// new connection.
    fn close(&mut self, c: usize) {
        let Some(conn) = self.conns[c].take() else {
            return;
        };
        self.freed.push(c);
        self.in_flight -= conn.flight.len();
        let p = conn.player;
        self.players[p].open -= 1;
        if self.closed {
            self.want_refill(p);
        }
    }
}

/// Whether a non-blocking connect has finished: `Ok(false)` while it is still under way.
fn connect_outcome(stream: &TcpStream) -> io::Result<bool> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// Waits until `fd` (the epoll descriptor) is readable, i.e. has events, or `timeout`
/// passed, to the nanosecond. A signal ends the wait early, which is harmless.
fn wait_readable(fd: RawFd, timeout: Duration) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: one valid pollfd and a timespec, both alive across the call; no signal mask.
    let r = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The loop's accounting against a local line server (the answers are the contract's
    //! envelope; what is tested is how the client counts them): lost after the timeout,
    //! cut when the connection breaks, one connection per request, and the schedule's count.
    //! The whole system is in tests/against_stack.rs.

    use super::*;
    use crate::calls::Caller;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// How the server treats connection number `n` (0, 1, ...): answer this many of its
    /// requests (`None`: all), then keep silent (`false`) or close it (`true`).
    type Behaviour = fn(usize) -> (Option<usize>, bool);

    /// A server answering `{"status":0,...}` per request line; counts its connections.
    fn server(behaviour: Behaviour) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let (answers, then_close) = behaviour(n);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    let mut answered = 0;
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        line.clear();
                        if answers.is_some_and(|a| answered >= a) {
                            if then_close {
                                return;
                            }
                            // Silent; the connection stays open until the client drops it.
                            continue;
                        }
                        answered += 1;
                        let answer = b"{\"status\":0,\"message\":\"success\",\"data\":{}}\r\n";
                        if stream.write_all(answer).is_err() {
                            return;
                        }
                        if answers == Some(answered) && then_close {
                            return;
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    fn player(addr: SocketAddr, keep_alive: bool) -> LoopPlayer {
        let caller = Caller {
            gn: "g".into(),
            tag: "t".into(),
            peers: std::sync::Arc::from(Vec::new()),
        };
        let mix = Mix::parse("get_info_player").unwrap();
        LoopPlayer {
            addr,
            stream: keep_alive.then(|| std::net::TcpStream::connect(addr).unwrap()),
            lines: Lines::new(&mix, "s0", "A", "S", caller),
        }
    }

    fn settings(run: Duration, timeout: Duration, pipeline: usize, one: bool) -> Settings {
        let start = Instant::now();
        Settings {
            window: Window {
                start,
                measure_from: start,
                end: start + run,
            },
            pipeline,
            one_per_connection: one,
            timeout,
            mix: Mix::parse("get_info_player").unwrap(),
        }
    }

    fn closed(players: Vec<LoopPlayer>) -> Shard {
        Shard {
            players,
            rate: None,
            first_due: Instant::now(),
            seed: 1,
        }
    }

    #[test]
    fn requests_unanswered_within_the_timeout_count_lost() {
        // The first connection answers 3 requests, then nothing.
        let (addr, _) = server(|_| (Some(3), false));
        let s = settings(
            Duration::from_millis(500),
            Duration::from_millis(700),
            2,
            false,
        );
        let progress = Progress::default();
        let stats = run(closed(vec![player(addr, true)]), &s, &progress).unwrap();
        // Pipeline 2: after the 3rd answer 2 are in flight and never answered.
        assert_eq!((stats.ok(), stats.lost, stats.cut), (3, 2, 0));
        assert_eq!(progress.lost.load(Ordering::Relaxed), 2);
        assert_eq!(progress.answered.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_connection_closed_under_requests_counts_them_cut_and_the_player_reconnects() {
        // The first connection answers 3 requests and closes; later ones answer everything.
        let (addr, accepted) = server(|n| {
            if n == 0 {
                (Some(3), true)
            } else {
                (None, false)
            }
        });
        let s = settings(Duration::from_millis(400), Duration::from_secs(5), 2, false);
        let stats = run(closed(vec![player(addr, true)]), &s, &Progress::default()).unwrap();
        assert!((1..=2).contains(&stats.cut), "cut {}", stats.cut);
        assert_eq!(stats.lost, 0);
        assert!(stats.ok() > 3, "only {} answers", stats.ok());
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn one_request_per_connection_opens_a_connection_for_each_request() {
        let (addr, accepted) = server(|_| (None, false));
        let s = settings(Duration::from_millis(300), Duration::from_secs(5), 2, true);
        let players = vec![player(addr, false), player(addr, false)];
        let stats = run(closed(players), &s, &Progress::default()).unwrap();
        assert_eq!((stats.lost, stats.cut), (0, 0));
        assert!(stats.ok() > 10, "only {} answers", stats.ok());
        // Each request had its own connection; none is reused.
        assert_eq!(accepted.load(Ordering::SeqCst) as u64, stats.ok());
    }

    #[test]
    fn the_open_loop_sends_what_the_schedule_says_on_both_kinds_of_connection() {
        for one in [false, true] {
            let (addr, accepted) = server(|_| (None, false));
            let s = settings(Duration::from_millis(500), Duration::from_secs(5), 1, one);
            let shard = Shard {
                players: vec![player(addr, !one), player(addr, !one), player(addr, !one)],
                rate: Some(400.0),
                first_due: s.window.start,
                seed: 1,
            };
            let stats = run(shard, &s, &Progress::default()).unwrap();
            // 400/s for 0.5 s: exactly the 200 due times before the end.
            assert_eq!(
                (stats.ok(), stats.lost, stats.cut),
                (200, 0, 0),
                "one {one}"
            );
            let connections = if one { 200 } else { 3 };
            assert_eq!(accepted.load(Ordering::SeqCst), connections, "one {one}");
        }
    }

    #[test]
    fn requests_held_back_while_the_gate_does_not_read_go_out_later_in_full() {
        // The server reads nothing for 1.5 s; by then the open loop has queued ~8 MB of
        // requests, far past what the sockets and OUT_CAP hold, the rest as a count.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            let mut out = Vec::new();
            while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                line.clear();
                out.extend_from_slice(b"{\"status\":0}\r\n");
                if reader.buffer().is_empty() {
                    if writer.write_all(&out).is_err() {
                        return;
                    }
                    out.clear();
                }
            }
        });
        let s = settings(
            Duration::from_millis(500),
            Duration::from_secs(20),
            1,
            false,
        );
        let shard = Shard {
            players: vec![player(addr, true)],
            rate: Some(200_000.0),
            first_due: s.window.start,
            seed: 1,
        };
        let stats = run(shard, &s, &Progress::default()).unwrap();
        assert_eq!((stats.ok(), stats.lost, stats.cut), (100_000, 0, 0));
        // Latency counts from the due time: nothing was answered before the server read.
        assert!(stats.latency.min() >= 900_000, "{}", stats.latency.min());
    }

    #[test]
    fn a_gate_that_refuses_connections_makes_cut_requests_not_lost_ones() {
        // A port with nothing listening: every connect is refused.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let s = settings(Duration::from_millis(300), Duration::from_secs(5), 1, true);
        let shard = Shard {
            players: vec![player(addr, false)],
            rate: Some(100.0),
            first_due: s.window.start,
            seed: 1,
        };
        let stats = run(shard, &s, &Progress::default()).unwrap();
        assert_eq!((stats.answered(), stats.lost, stats.cut), (0, 0, 30));
    }
}
