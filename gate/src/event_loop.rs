//! The socket loop: one mio thread for client and worker connections.
//!
//! Per iteration it reads what arrived, turns complete request lines into jobs, routes
//! worker answers into their clients' ordered queues, answers expired jobs with -2, writes
//! each touched connection once, and sends the iteration's new jobs: down the proven
//! worker links that offered to take jobs and have room (least held first, up to each
//! link's window: shared::contract, "Link jobs"), the rest to the dispatcher in one NATS
//! batch. Nothing in here waits for Redis, NATS or a worker.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use shared::contract::{encode_link_job, parse_worker_line, LineError, LinkSecret, WorkerLine};
use shared::framing::{FrameError, LineBuffer};

use crate::answer_queue::Answer;
use crate::client_conn::ClientConn;
use crate::dispatch::{NewJob, Publisher};
use crate::fair_share::{write_stalled, AnswerBudget, IpLimits, IpTable};
use crate::gate_metrics::GateMetrics;
use crate::job_id::{JobId, JobIdSource};
use crate::timer_queue::TimerQueue;
use crate::worker_link::{Opening, OpeningError};

pub const CLIENT_LISTENER: Token = Token(0);
pub const WORKER_LISTENER: Token = Token(1);
pub const WAKER: Token = Token(2);
const FIRST_CONNECTION: usize = 3;

/// Longest worker answer line; answers are bigger than requests (mail lists, inventories).
pub const WORKER_MAX_LINE: usize = 16 * 1024 * 1024;
/// How often idle connections are looked for.
const SWEEP_INTERVAL: Duration = Duration::from_millis(500);
/// Extra time after the job timeout that a graceful stop waits for the last writes.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
const READ_CHUNK: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub job_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_in_flight: usize,
    pub max_connections_per_ip: usize,
    pub ip_requests_per_sec: u32,
    pub write_stall: Duration,
    pub answer_budget_bytes: usize,
    pub one_shot: bool,
}

/// Why a connection was closed; logged at debug level.
#[derive(Debug)]
enum CloseReason {
    Finished,
    Idle,
    /// Answers were left unwritten longer than the write-stall limit.
    WriteStall,
    /// A request line did not arrive completely within the idle timeout.
    SlowLine,
    Frame(FrameError),
    WorkerLine(LineError),
    WorkerLink(OpeningError),
    PeerClosed,
    Io(io::Error),
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::Finished => write!(f, "finished"),
            CloseReason::Idle => write!(f, "idle timeout"),
            CloseReason::WriteStall => write!(f, "answers not read within the write-stall limit"),
            CloseReason::SlowLine => write!(f, "request line not finished within the idle timeout"),
            CloseReason::Frame(e) => write!(f, "{e}"),
            CloseReason::WorkerLine(e) => write!(f, "{e}"),
            CloseReason::WorkerLink(e) => write!(f, "{e}"),
            CloseReason::PeerClosed => write!(f, "closed by peer"),
            CloseReason::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

/// How far to read a socket after a readiness event.
#[derive(Clone, Copy, Debug)]
enum ReadUntil {
    /// Until the read would block (or end of stream).
    WouldBlock,
    /// Until a read returns less than asked: the socket was empty at that moment, and data
    /// arriving later raises a new edge. Saves one `read` per request.
    ShortRead,
}

impl ReadUntil {
    /// A peer that closed may have sent its last bytes and FIN together: without a later
    /// edge to come, such sockets are read to the end.
    fn from_event(event: &mio::event::Event) -> ReadUntil {
        if event.is_read_closed() || event.is_error() {
            ReadUntil::WouldBlock
        } else {
            ReadUntil::ShortRead
        }
    }

    fn done_after(self, read: usize, asked: usize) -> bool {
        matches!(self, ReadUntil::ShortRead) && read < asked
    }
}

struct PendingJob {
    client: usize,
    seq: u64,
    started: Instant,
    /// The worker link that holds the job (sent down it, or its taken notice), if one does.
    holder: Option<usize>,
}

/// Jobs waiting for answers, their deadlines, and the ones to dispatch this iteration.
struct Jobs {
    pending: HashMap<JobId, PendingJob>,
    /// How many of `pending` a worker link holds (took, by its notice).
    held: usize,
    /// The same per link: what counts against a link's window.
    held_per_link: HashMap<usize, u32>,
    timers: TimerQueue<JobId>,
    new: Vec<NewJob>,
    ids: JobIdSource,
}

impl Jobs {
    /// Files a new job of client `client` (its answer's place `seq`): waiting for its
    /// answer until its deadline, and dispatched at the end of this iteration.
    fn add(&mut self, client: usize, seq: u64, job: NewJob) {
        self.pending.insert(
            job.jid,
            PendingJob {
                client,
                seq,
                started: job.created,
                holder: None,
            },
        );
        self.timers.push(job.deadline, job.jid);
        self.new.push(job);
    }

    /// Takes `jid` out of the pending jobs (answered, timed out, or its client gone).
    fn remove(&mut self, jid: &JobId) -> Option<PendingJob> {
        let job = self.pending.remove(jid)?;
        if let Some(link) = job.holder {
            self.held -= 1;
            self.release(link);
        }
        Some(job)
    }

    fn release(&mut self, link: usize) {
        if let Some(n) = self.held_per_link.get_mut(&link) {
            *n = n.saturating_sub(1);
        }
    }

    /// How many jobs worker link `link` holds.
    fn held_by_link(&self, link: usize) -> u32 {
        self.held_per_link.get(&link).copied().unwrap_or(0)
    }

    /// A worker link took `jid`. A job the gate no longer waits for (answered or timed
    /// out already) has nothing to hold; a job taken again (NATS redelivered it to another
    /// worker) is held by the latest link.
    fn hold(&mut self, jid: JobId, link: usize) {
        let Some(job) = self.pending.get_mut(&jid) else {
            return;
        };
        match job.holder.replace(link) {
            None => self.held += 1,
            Some(before) if before == link => return,
            Some(before) => self.release(before),
        }
        *self.held_per_link.entry(link).or_default() += 1;
    }

    /// The jobs worker link `link` took and has not answered.
    fn held_by(&self, link: usize) -> Vec<JobId> {
        self.pending
            .iter()
            .filter(|(_, job)| job.holder == Some(link))
            .map(|(jid, _)| *jid)
            .collect()
    }
}

/// The client connections, and the ones to write at the end of this iteration.
struct Clients {
    map: HashMap<usize, ClientConn>,
    /// Each connection to flush once: a token is in here while its `dirty` flag is set.
    dirty: Vec<usize>,
}

impl Clients {
    fn mark_dirty(&mut self, token: usize) {
        if let Some(conn) = self.map.get_mut(&token) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(token);
            }
        }
    }
}

/// What the clients share: each address's allowance and the answer memory budget.
struct Fairness {
    ips: IpTable,
    budget: AnswerBudget,
    /// Sum of every client connection's [`ClientConn::buffered`] bytes.
    buffered: usize,
    /// Client connections open, for the average share.
    connections: usize,
}

impl Fairness {
    /// Whether `conn` holds most of the answer bytes while the gate is over its budget;
    /// checked before the connection's own limits, so the metric names the budget.
    fn over_budget(&self, conn: &ClientConn, metrics: &GateMetrics) -> bool {
        let heavy = self
            .budget
            .is_heavy(conn.buffered(), self.buffered, self.connections);
        if heavy {
            metrics.budget_paused.inc();
        }
        heavy
    }

    /// Takes one request from `conn`'s address's allowance; give it back with
    /// [`Fairness::refund`] if no line came.
    fn take(&mut self, conn: &ClientConn, metrics: &GateMetrics, now: Instant) -> bool {
        match conn.peer_ip {
            Some(ip) if !self.ips.take_request(ip, now) => {
                metrics.ip_rate_paused.inc();
                false
            }
            _ => true,
        }
    }

    fn refund(&mut self, conn: &ClientConn) {
        if let Some(ip) = conn.peer_ip {
            self.ips.refund(ip);
        }
    }
}

struct WorkerConn {
    stream: TcpStream,
    lines: LineBuffer,
    opening: Opening,
    link: LinkJobs,
}

/// A worker link's side of link jobs.
#[derive(Default)]
struct LinkJobs {
    /// Jobs the link takes at once (its latest `jobs <n>`); 0: none.
    window: u32,
    /// It said `jobs 0`: nothing more goes down it, and its sending side shuts once `out`
    /// is written, so the worker's end of stream says it has every job.
    finished: bool,
    shut: bool,
    /// Job lines not yet written, from `written` on.
    out: Vec<u8>,
    written: usize,
}

impl LinkJobs {
    fn has_room(&self, held: u32) -> bool {
        !self.finished && held < self.window
    }
}

/// What the gate's handle gives the loop.
pub struct LoopParts {
    pub poll: Poll,
    pub client_listener: TcpListener,
    pub worker_listener: TcpListener,
    pub limits: Limits,
    pub metrics: GateMetrics,
    pub stop: Arc<AtomicBool>,
    pub publisher: Publisher,
    /// Workers prove it before their answers are read (`None`: anyone's lines are).
    pub link_secret: Option<LinkSecret>,
}

/// What taking a request and routing an answer touch besides the connections: the job
/// table, what the clients share, the read buffer and the loop's settings. Kept apart from
/// the connection maps so a step can hold one connection and this at once.
struct Core {
    jobs: Jobs,
    fairness: Fairness,
    scratch: Vec<u8>,
    limits: Limits,
    metrics: GateMetrics,
}

pub struct EventLoop {
    poll: Poll,
    client_listener: Option<TcpListener>,
    worker_listener: TcpListener,
    clients: Clients,
    workers: HashMap<usize, WorkerConn>,
    next_token: usize,
    core: Core,
    stop: Arc<AtomicBool>,
    publisher: Publisher,
    drain_deadline: Option<Instant>,
    next_sweep: Instant,
    link_secret: Option<LinkSecret>,
}

impl EventLoop {
    pub fn new(parts: LoopParts) -> io::Result<EventLoop> {
        let LoopParts {
            poll,
            mut client_listener,
            mut worker_listener,
            limits,
            metrics,
            stop,
            publisher,
            link_secret,
        } = parts;
        poll.registry()
            .register(&mut client_listener, CLIENT_LISTENER, Interest::READABLE)?;
        poll.registry()
            .register(&mut worker_listener, WORKER_LISTENER, Interest::READABLE)?;
        Ok(EventLoop {
            poll,
            client_listener: Some(client_listener),
            worker_listener,
            clients: Clients {
                map: HashMap::new(),
                dirty: Vec::new(),
            },
            workers: HashMap::new(),
            next_token: FIRST_CONNECTION,
            core: Core {
                jobs: Jobs {
                    pending: HashMap::new(),
                    held: 0,
                    held_per_link: HashMap::new(),
                    timers: TimerQueue::new(),
                    new: Vec::new(),
                    ids: JobIdSource::new(),
                },
                fairness: Fairness {
                    ips: IpTable::new(IpLimits {
                        max_connections: limits.max_connections_per_ip,
                        requests_per_sec: limits.ip_requests_per_sec,
                    }),
                    budget: AnswerBudget {
                        limit_bytes: limits.answer_budget_bytes,
                    },
                    buffered: 0,
                    connections: 0,
                },
                scratch: vec![0; READ_CHUNK],
                limits,
                metrics,
            },
            stop,
            publisher,
            drain_deadline: None,
            next_sweep: Instant::now() + SWEEP_INTERVAL,
            link_secret,
        })
    }

    /// Serves until a stop was asked for and every in-flight request is answered (or its
    /// time is up).
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    CLIENT_LISTENER => self.accept_clients(now),
                    WORKER_LISTENER => self.accept_workers(now),
                    WAKER => {}
                    Token(t) if self.clients.map.contains_key(&t) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read_client(t, ReadUntil::from_event(event), now);
                        }
                        self.clients.mark_dirty(t);
                    }
                    Token(t) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read_worker(t, ReadUntil::from_event(event), now);
                        }
                        if event.is_writable() {
                            self.flush_link(t);
                        }
                    }
                }
            }
            self.expire_jobs(now);
            if self.drain_deadline.is_none() && self.stop.load(Ordering::Acquire) {
                self.begin_drain(now);
            }
            // Jobs go out before the answers are written: those writes take a while, and
            // the dispatcher's publishing can run meanwhile.
            self.send_new_jobs();
            self.flush_dirty(now);
            // Connections that resumed reading while flushing may have made new jobs.
            self.send_new_jobs();
            if now >= self.next_sweep {
                self.close_idle(now);
                self.next_sweep = now + SWEEP_INTERVAL;
            }
            self.core
                .metrics
                .in_flight
                .set(self.core.jobs.pending.len() as i64);
            self.core.metrics.jobs_held.set(self.core.jobs.held as i64);
            self.core
                .metrics
                .answer_buffer_bytes
                .set(i64::try_from(self.core.fairness.buffered).unwrap_or(i64::MAX));
            if let Some(deadline) = self.drain_deadline {
                if self.clients.map.is_empty() || now >= deadline {
                    shared::info!("drained", unfinished_connections = self.clients.map.len());
                    return Ok(());
                }
            }
        }
    }

    fn poll_timeout(&self, now: Instant) -> Duration {
        let mut wake = self.next_sweep;
        if let Some(deadline) = self.core.jobs.timers.next_deadline() {
            wake = wake.min(deadline);
        }
        if let Some(deadline) = self.drain_deadline {
            wake = wake.min(deadline);
        }
        wake.saturating_duration_since(now)
    }

    fn take_token(&mut self) -> usize {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    fn accept_clients(&mut self, now: Instant) {
        while let Some((mut stream, peer)) = self
            .client_listener
            .as_ref()
            .and_then(|listener| accept_next(listener, "client"))
        {
            if self.clients.map.len() >= self.core.limits.max_connections {
                // Accept and close at once: the client learns now, not after a timeout.
                self.core.metrics.connections_refused.inc();
                drop(stream);
                continue;
            }
            if !self.core.fairness.ips.open(peer.ip(), now) {
                // Same as the global limit: closed at once, so the client learns now.
                self.core.metrics.ip_connections_refused.inc();
                drop(stream);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let token = self.take_token();
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                Token(token),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                shared::warn!("client registration failed", error = e);
                self.core.fairness.ips.close(peer.ip());
                continue;
            }
            let mut conn = ClientConn::new(stream, now);
            conn.peer_ip = Some(peer.ip());
            self.clients.map.insert(token, conn);
            self.core.fairness.connections = self.clients.map.len();
            self.core.metrics.connections_accepted.inc();
            self.core.metrics.client_connections.add(1);
        }
    }

    fn accept_workers(&mut self, now: Instant) {
        while let Some((mut stream, peer)) = accept_next(&self.worker_listener, "worker") {
            let (opening, challenge) = Opening::start(self.link_secret.as_ref(), now);
            // A fresh socket's send buffer takes the whole short line at once;
            // a peer for which it does not is not worth waiting for.
            if !challenge.is_empty()
                && !matches!(stream.write(&challenge), Ok(n) if n == challenge.len())
            {
                self.core.metrics.worker_links_refused.inc();
                continue;
            }
            let token = self.take_token();
            // Writable too: link jobs that did not fit the socket go when it drains.
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                Token(token),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                shared::warn!("worker registration failed", error = e);
                continue;
            }
            shared::debug!("worker connected", peer = peer);
            self.workers.insert(
                token,
                WorkerConn {
                    stream,
                    lines: LineBuffer::new(WORKER_MAX_LINE),
                    opening,
                    link: LinkJobs::default(),
                },
            );
            self.core.metrics.worker_connections.add(1);
        }
    }

    fn read_client(&mut self, token: usize, until: ReadUntil, now: Instant) {
        let Some(conn) = self.clients.map.get_mut(&token) else {
            return;
        };
        if self.drain_deadline.is_some() {
            // Stopping: no new requests; what arrives stays unread until the close.
            conn.note_partial_line(false, now);
            return;
        }
        if let Err(reason) = self.core.take_requests(conn, token, until, now) {
            if let CloseReason::Frame(_) = reason {
                self.core.metrics.client_protocol_errors.inc();
            }
            self.close_client(token, reason);
        }
    }

    fn read_worker(&mut self, token: usize, until: ReadUntil, now: Instant) {
        let Some(worker) = self.workers.get_mut(&token) else {
            return;
        };
        let result = loop {
            let read = match worker.stream.read(&mut self.core.scratch) {
                Ok(0) => Err(CloseReason::PeerClosed),
                Ok(n) => {
                    worker.lines.extend(&self.core.scratch[..n]);
                    Ok(until.done_after(n, self.core.scratch.len()))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(CloseReason::Io(e)),
            };
            // Nothing but the proof is read until the link is open.
            match worker
                .opening
                .advance(self.link_secret.as_ref(), &mut worker.lines)
            {
                Ok(true) => {}
                Ok(false) => match read {
                    Ok(true) => break Ok(()),
                    Ok(false) => continue,
                    Err(reason) => break Err(reason),
                },
                Err(e) => {
                    self.core.metrics.worker_links_refused.inc();
                    break Err(CloseReason::WorkerLink(e));
                }
            }
            // Route every complete line, even from a connection about to close. Offers to
            // take jobs count only from a link that proved the secret.
            let proved = self.link_secret.is_some();
            if let Some(reason) = self.core.route_worker_lines(
                token,
                &mut worker.lines,
                (&mut worker.link, proved),
                &mut self.clients,
                now,
            ) {
                self.core.metrics.worker_protocol_errors.inc();
                break Err(reason);
            }
            match read {
                Ok(true) => break Ok(()),
                Ok(false) => {}
                Err(reason) => break Err(reason),
            }
        };
        if let Err(reason) = result {
            self.close_worker(token, reason);
            return;
        }
        if self
            .workers
            .get(&token)
            .is_some_and(|w| w.link.finished && !w.link.shut)
        {
            self.flush_link(token);
        }
    }

    /// Writes what waits in a worker link's `out`; a link that said `jobs 0` has its
    /// sending side shut once all of it is written. A broken link is closed (its held
    /// jobs are answered -2).
    fn flush_link(&mut self, token: usize) {
        let Some(worker) = self.workers.get_mut(&token) else {
            return;
        };
        let link = &mut worker.link;
        while link.written < link.out.len() {
            match worker.stream.write(&link.out[link.written..]) {
                Ok(0) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    self.close_worker(token, CloseReason::Io(e));
                    return;
                }
                Ok(n) => link.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.close_worker(token, CloseReason::Io(e));
                    return;
                }
            }
        }
        link.out.clear();
        link.written = 0;
        if link.finished && !link.shut {
            link.shut = true;
            let _ = worker.stream.shutdown(std::net::Shutdown::Write);
        }
    }

    /// The proven link with room that holds the fewest jobs.
    fn link_with_room(&self) -> Option<usize> {
        self.workers
            .iter()
            .filter_map(|(t, w)| {
                let held = self.core.jobs.held_by_link(*t);
                w.link.has_room(held).then_some((held, *t))
            })
            .min()
            .map(|(_, t)| t)
    }

    fn close_worker(&mut self, token: usize, reason: CloseReason) {
        if let Some(mut worker) = self.workers.remove(&token) {
            let _ = self.poll.registry().deregister(&mut worker.stream);
            self.core.metrics.worker_connections.add(-1);
            match reason {
                CloseReason::PeerClosed => shared::debug!("worker disconnected"),
                reason => shared::warn!("worker connection closed", reason = reason),
            }
            self.answer_held_jobs(token);
            self.core.jobs.held_per_link.remove(&token);
        }
    }

    /// A worker link closed: the jobs its worker took can no longer be answered on it (a
    /// killed worker), so their clients get -2 now instead of at the job timeout. A worker
    /// that stops gracefully answers everything before it closes, leaving none held.
    fn answer_held_jobs(&mut self, link: usize) {
        let held = self.core.jobs.held_by(link);
        if !held.is_empty() {
            shared::warn!("worker link lost with jobs in hand", jobs = held.len());
            self.core.metrics.held_jobs_lost.add(held.len() as u64);
        }
        for jid in held {
            self.answer_timeout(jid);
        }
    }

    fn close_client(&mut self, token: usize, reason: CloseReason) {
        let Some(mut conn) = self.clients.map.remove(&token) else {
            return;
        };
        // Answers that come later for this connection have nowhere to go.
        for jid in conn.answers.unanswered_keys() {
            self.core.jobs.remove(jid);
        }
        self.core.fairness.buffered -= conn.accounted;
        if let Some(ip) = conn.peer_ip {
            self.core.fairness.ips.close(ip);
        }
        self.core.fairness.connections = self.clients.map.len();
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.core.metrics.client_connections.add(-1);
        shared::debug!("client connection closed", reason = reason);
    }

    fn expire_jobs(&mut self, now: Instant) {
        while let Some(jid) = self.core.jobs.timers.pop_expired(now) {
            self.answer_timeout(jid);
        }
    }

    fn answer_timeout(&mut self, jid: JobId) {
        let Some(job) = self.core.jobs.remove(&jid) else {
            return; // answered already
        };
        if let Some(conn) = self.clients.map.get_mut(&job.client) {
            let timeout = Answer::Borrowed(shared::envelope::timeout_json());
            if conn.answers.fill(job.seq, timeout).is_ok() {
                conn.settle(&mut self.core.fairness.buffered);
                self.core.metrics.timeouts.inc();
                self.clients.mark_dirty(job.client);
            }
        }
    }

    /// Stops taking clients and requests; connections close once their answers are out.
    fn begin_drain(&mut self, now: Instant) {
        shared::info!(
            "stopping: answering in-flight requests",
            in_flight = self.core.jobs.pending.len(),
            connections = self.clients.map.len()
        );
        self.drain_deadline = Some(now + self.core.limits.job_timeout + DRAIN_GRACE);
        if let Some(mut listener) = self.client_listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let tokens: Vec<usize> = self.clients.map.keys().copied().collect();
        for t in tokens {
            self.clients.mark_dirty(t);
        }
    }

    fn flush_dirty(&mut self, now: Instant) {
        let stopping = self.drain_deadline.is_some();
        let mut dirty = std::mem::take(&mut self.clients.dirty);
        for token in dirty.drain(..) {
            let Some(conn) = self.clients.map.get_mut(&token) else {
                continue;
            };
            conn.dirty = false;
            conn.stage_ready_answers();
            let written = conn.write_out(now);
            conn.settle(&mut self.core.fairness.buffered);
            if let Err(e) = written {
                self.close_client(token, CloseReason::Io(e));
                continue;
            }
            let resume = !stopping
                && conn.paused
                && conn.takes_requests(self.core.limits.max_in_flight, self.core.limits.one_shot);
            if resume {
                conn.paused = false;
                if let Err(reason) =
                    self.core
                        .take_requests(conn, token, ReadUntil::WouldBlock, now)
                {
                    self.close_client(token, reason);
                    continue;
                }
            }
            let Some(conn) = self.clients.map.get(&token) else {
                continue;
            };
            if conn.is_finished(self.core.limits.one_shot, stopping) {
                self.close_client(token, CloseReason::Finished);
            }
        }
        // Keep the allocation; entries marked while flushing wait for the next iteration.
        dirty.append(&mut self.clients.dirty);
        self.clients.dirty = dirty;
    }

    fn send_new_jobs(&mut self) {
        if self.core.jobs.new.is_empty() {
            return;
        }
        let mut new = std::mem::take(&mut self.core.jobs.new);
        if self.publisher.link_jobs {
            self.send_down_links(&mut new);
        }
        let failed = self.publisher.publish(&new);
        new.clear();
        // Keep the allocation; nothing adds jobs while sending.
        self.core.jobs.new = new;
        for jid in failed {
            self.answer_timeout(jid);
        }
    }

    /// Moves the jobs that fit into the windows of worker links out of `new` and writes
    /// them down those links; the rest stay for NATS. The link holds each job it is sent,
    /// so its close answers the job -2 at once.
    fn send_down_links(&mut self, new: &mut Vec<NewJob>) {
        let Some(gid) = self.publisher.gid.get() else {
            return; // Unregistered: the jobs cannot name their gate; NATS refuses them too.
        };
        let now = Instant::now();
        let mut touched = Vec::new();
        let mut rest = 0;
        for i in 0..new.len() {
            let Some(token) = self.link_with_room() else {
                new.swap(rest, i);
                rest += 1;
                continue;
            };
            let job = &new[i];
            let worker = self.workers.get_mut(&token).expect("picked from workers");
            let header = job.header(gid, now, true);
            encode_link_job(&mut worker.link.out, job.jid, &header, &job.line);
            self.core.jobs.hold(job.jid, token);
            self.core.metrics.link_jobs.inc();
            if !touched.contains(&token) {
                touched.push(token);
            }
        }
        new.truncate(rest);
        for token in touched {
            self.flush_link(token);
        }
    }

    /// Closes clients idle past the idle timeout, clients whose unfinished request line
    /// has taken longer than that to arrive (a slowloris trickling bytes is never idle),
    /// and clients that left answers unread past the write-stall limit (a client that never
    /// reads is never idle either, and pins memory). Paused connections are looked at
    /// again: an address's allowance refills and the budget frees with time, not events.
    fn close_idle(&mut self, now: Instant) {
        let limit = self.core.limits.idle_timeout;
        let stall = self.core.limits.write_stall;
        let idle: Vec<(usize, CloseReason)> = self
            .clients
            .map
            .iter()
            .filter_map(|(t, c)| {
                if c.is_drained() && now.duration_since(c.last_active) >= limit {
                    Some((*t, CloseReason::Idle))
                } else if c.line_too_slow(limit, now) {
                    Some((*t, CloseReason::SlowLine))
                } else if write_stalled(c.backlog_since, stall, now) {
                    Some((*t, CloseReason::WriteStall))
                } else {
                    None
                }
            })
            .collect();
        for (token, reason) in idle {
            match reason {
                CloseReason::WriteStall => self.core.metrics.write_stall_closed.inc(),
                _ => self.core.metrics.idle_closed.inc(),
            }
            self.close_client(token, reason);
        }
        let paused: Vec<usize> = self
            .clients
            .map
            .iter()
            .filter(|(_, c)| c.paused)
            .map(|(t, _)| *t)
            .collect();
        for token in paused {
            self.clients.mark_dirty(token);
        }
        self.core.fairness.ips.sweep(now);
        let late: Vec<usize> = self
            .workers
            .iter()
            .filter(|(_, w)| w.opening.expired(now))
            .map(|(t, _)| *t)
            .collect();
        for token in late {
            self.core.metrics.worker_links_refused.inc();
            self.close_worker(token, CloseReason::WorkerLink(OpeningError::Late));
        }
    }
}

/// The next connection waiting on `listener` (`name` says which in the log); `None` once
/// it would block, or after an error (out of file descriptors and the like): the next
/// event tries again.
fn accept_next(listener: &TcpListener, name: &str) -> Option<(TcpStream, SocketAddr)> {
    loop {
        match listener.accept() {
            Ok(accepted) => return Some(accepted),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                shared::warn!("accept failed", listener = name, error = e);
                return None;
            }
        }
    }
}

impl Core {
    /// Turns buffered request lines into jobs and reads more, until the socket has nothing
    /// more, a limit stops it (backpressure: the connection is marked paused) or the client
    /// broke the protocol.
    fn take_requests(
        &mut self,
        conn: &mut ClientConn,
        token: usize,
        until: ReadUntil,
        now: Instant,
    ) -> Result<(), CloseReason> {
        let Core {
            jobs,
            fairness,
            scratch,
            limits,
            metrics,
        } = self;
        let mut read_done = false;
        loop {
            let mut line_taken = false;
            // Stopped by the address's allowance or the memory budget rather than by the
            // connection's own limits.
            let mut held_back = false;
            // Budget first, then the connection's own limits, so the metric names the budget.
            loop {
                if fairness.over_budget(conn, metrics) {
                    held_back = true;
                    break;
                }
                if !conn.takes_requests(limits.max_in_flight, limits.one_shot) {
                    break;
                }
                if !fairness.take(conn, metrics, now) {
                    held_back = true;
                    break;
                }
                let deadline = now + limits.job_timeout;
                let job = match conn.lines.next_line() {
                    Ok(Some(line)) => NewJob {
                        jid: jobs.ids.next_id(),
                        line: line.to_owned(),
                        client: conn.peer_ip,
                        created: now,
                        deadline,
                    },
                    Ok(None) => {
                        fairness.refund(conn);
                        break;
                    }
                    Err(e) => return Err(CloseReason::Frame(e)),
                };
                let seq = conn.answers.push(job.jid);
                conn.requests_taken += 1;
                jobs.add(token, seq, job);
                metrics.requests.inc();
                line_taken = true;
            }
            conn.note_partial_line(line_taken, now);
            if conn.peer_closed {
                return Ok(());
            }
            if held_back || !conn.takes_requests(limits.max_in_flight, limits.one_shot) {
                conn.paused = true;
                return Ok(());
            }
            if read_done {
                return Ok(());
            }
            match conn.stream.read(scratch) {
                Ok(0) => {
                    conn.peer_closed = true;
                    return Ok(());
                }
                Ok(n) => {
                    conn.lines.extend(&scratch[..n]);
                    conn.last_active = now;
                    read_done = until.done_after(n, scratch.len());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CloseReason::Io(e)),
            }
        }
    }

    /// Routes the complete lines in a worker's buffer and notes its offers to take jobs
    /// (`link_jobs`: its state, and whether it proved the secret); the reason to close it
    /// if a line is broken.
    fn route_worker_lines(
        &mut self,
        link: usize,
        lines: &mut LineBuffer,
        link_jobs: (&mut LinkJobs, bool),
        clients: &mut Clients,
        now: Instant,
    ) -> Option<CloseReason> {
        let (offer, proved) = link_jobs;
        loop {
            match lines.next_line() {
                Ok(Some(line)) => match parse_worker_line(line) {
                    Ok(WorkerLine::Taken(jid)) => {
                        // Unknown (answered or timed out already): nothing to hold.
                        self.jobs.hold(jid, link);
                    }
                    Ok(WorkerLine::Answer(jid, response)) => {
                        self.route_answer(clients, jid, Answer::Owned(response.to_owned()), now)
                    }
                    // An unproven peer would read the clients' requests: never sent any.
                    Ok(WorkerLine::Jobs(_)) if !proved => self.metrics.link_offers_ignored.inc(),
                    Ok(WorkerLine::Jobs(0)) => {
                        offer.window = 0;
                        offer.finished = true;
                    }
                    Ok(WorkerLine::Jobs(window)) if !offer.finished => offer.window = window,
                    Ok(WorkerLine::Jobs(_)) => {}
                    Err(e) => return Some(CloseReason::WorkerLine(e)),
                },
                Ok(None) => return None,
                Err(e) => return Some(CloseReason::Frame(e)),
            }
        }
    }

    fn route_answer(&mut self, clients: &mut Clients, jid: JobId, answer: Answer, now: Instant) {
        let metrics = &self.metrics;
        let Some(job) = self.jobs.remove(&jid) else {
            metrics.worker_lines_dropped.inc();
            return;
        };
        let Some(conn) = clients.map.get_mut(&job.client) else {
            metrics.worker_lines_dropped.inc();
            return;
        };
        if conn.answers.fill(job.seq, answer).is_err() {
            metrics.worker_lines_dropped.inc();
            return;
        }
        conn.settle(&mut self.fairness.buffered);
        metrics.answers.inc();
        metrics
            .round_trip
            .observe(now.saturating_duration_since(job.started).as_secs_f64());
        clients.mark_dirty(job.client);
    }
}
