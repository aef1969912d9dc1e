//! The return path: finds the gate that owns a job and writes `<jid>~<response>\r\n` to it,
//! and the taken notice `+<jid>\r\n` when a job thread starts a job that names its gate.
//!
//! A job names its gate (`g=`); a seed-contract job's gate is read from `gate.job.<jid>`.
//! `GET gates.id.<gid>` gives the gate's `ip:port` (cached per gid). Each gate gets one
//! persistent TCP connection shared by every job thread, written by one thread at a time:
//! a thread appends its line to the gate's outbox and, if nobody is writing, becomes the
//! writer and writes everything the outbox holds until it is empty (lines that arrive
//! meanwhile go out in the same or the next write). Under load many answers share a
//! `write`; alone, a thread writes its own line at once, with no hand-off.
//!
//! A failed write drops the connection and the cached address, looks the gate up again and
//! retries once. A gate that still fails is skipped for a moment (answers fail fast) unless
//! it registers a new address: otherwise every answer would wait out connect timeouts on a
//! dead gate while jobs for live gates queue behind them. Every answer that does not reach
//! its gate is counted in `undelivered`.
//!
//! With a link secret, a new connection first answers the gate's challenge with its proof
//! (shared::contract); the answer lines follow on the same connection.
//!
//! Link jobs (shared::contract, "Link jobs"): when the worker takes jobs from links
//! ([`GateLink::with_intake`]) and the gate's latest NATS job said `l=1`, a new connection
//! offers `jobs <window>` right after its opening and is handed to the intake
//! (crate::intake), whose job threads read the job lines the gate sends down it and run
//! them. A line naming another gate is refused: a link carries its own gate's jobs only.
//! The reading end owns the connection's end of stream: a gate that closes the link is
//! seen there, not by peeking before a write.
//!
//! Threads: none of its own (writers are the job threads). Stop order
//! ([`GateLink::stop_taking`]): `jobs 0` to every gate whose link offered, then the job
//! threads and the stopping thread read each link until the gate shuts its sending side
//! (every job it sent is then in hand), bounded by a wait; the connections stay open for
//! the answers of those jobs.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shared::contract::{self, JobId, LinkSecret};
use shared::metrics::Counter;
use shared::redis_conn::{RedisError, RedisPool};
use shared::sock::{self, Peek};

use crate::intake::LinkSources;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a gate that failed twice in a row is skipped at the same address.
const DOWN_BACKOFF: Duration = Duration::from_secs(1);
/// Most bytes waiting for one gate; past it answers are refused (a gate that stopped
/// reading must not make the worker hold every answer in memory).
const MAX_OUTBOX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub enum LinkError {
    /// `gate.job.<jid>` is gone: the gate gave up on the job (timed out) or never made it.
    JobExpired,
    /// `gates.id.<gid>` is gone: the gate shut down or lost its registration.
    GateGone(u32),
    /// The gate failed moments ago at the address it still has registered.
    GateDown(u32),
    /// More than `MAX_OUTBOX_BYTES` wait for the gate already.
    Backlog(u32),
    BadAddress {
        gid: u32,
        addr: String,
    },
    Redis(RedisError),
    Io {
        gid: u32,
        error: io::Error,
    },
    /// The gate's challenge was missing or unreadable (a gate without a secret, or a
    /// listener that is not a gate).
    Challenge {
        gid: u32,
        reason: String,
    },
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::JobExpired => write!(f, "job key expired: no gate waits for it"),
            LinkError::GateGone(gid) => write!(f, "gate {gid} is not registered"),
            LinkError::GateDown(gid) => write!(f, "gate {gid} failed moments ago, skipped"),
            LinkError::Backlog(gid) => write!(f, "gate {gid} has too many answers waiting"),
            LinkError::BadAddress { gid, addr } => {
                write!(f, "gate {gid} registered an unusable address {addr:?}")
            }
            LinkError::Redis(e) => write!(f, "redis: {e}"),
            LinkError::Io { gid, error } => write!(f, "writing to gate {gid}: {error}"),
            LinkError::Challenge { gid, reason } => {
                write!(f, "gate {gid} link challenge: {reason}")
            }
        }
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LinkError::Redis(e) => Some(e),
            LinkError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Where the jobs read from gate links go, and how many one link offers to take.
pub struct LinkIntake {
    pub window: u32,
    /// The job threads' poller, which reads the links that offered.
    pub links: Arc<LinkSources>,
}

/// What the job threads reading a link (through the poller) and its writers share.
#[derive(Default)]
pub struct LinkState {
    /// The gate closed the link (or it broke): answers need a new connection.
    pub closed: AtomicBool,
    /// `jobs 0` was sent: the gate's end of stream means "no more jobs", not a close.
    pub finishing: AtomicBool,
    /// The link's end was read (or it broke): every job it carried is in hand.
    pub done: AtomicBool,
}

/// The connection to one gate and its address; locked only by the thread writing.
#[derive(Default)]
struct GateSlot {
    addr: Option<SocketAddr>,
    stream: Option<TcpStream>,
    /// Set when the connection offered to take jobs: the job threads read it.
    taking: Option<Arc<LinkState>>,
    /// The address that failed and until when it is skipped.
    down: Option<(SocketAddr, Instant)>,
}

impl GateSlot {
    /// Drops the connection. One that takes jobs is shut down, both ways: the job threads'
    /// poller holds a copy of the socket, and the gate must see the close to answer its
    /// jobs -2.
    fn disconnect(&mut self) {
        if let Some(stream) = self.stream.take() {
            if self.taking.take().is_some() {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// Whether the connection can still carry answers (see [`still_open`]).
    fn usable(&self) -> bool {
        match (&self.stream, &self.taking) {
            (None, _) => false,
            (Some(_), Some(state)) => !state.closed.load(Ordering::Acquire),
            (Some(stream), None) => still_open(stream),
        }
    }
}

/// Lines waiting for one gate.
#[derive(Default)]
struct Outbox {
    bytes: Vec<u8>,
    /// How many of the lines in `bytes` are answers (the rest are notices).
    answers: u64,
    /// A thread is writing: the others only append.
    writing: bool,
}

#[derive(Default)]
struct Gate {
    outbox: Mutex<Outbox>,
    slot: Mutex<GateSlot>,
    /// The gate's latest NATS job said `l=1`: it sends jobs down links that offer.
    offers: AtomicBool,
}

pub struct GateLink {
    redis: Arc<RedisPool>,
    gates: Mutex<HashMap<u32, Arc<Gate>>>,
    undelivered: Arc<Counter>,
    secret: Option<LinkSecret>,
    intake: Option<LinkIntake>,
    /// No new connection offers to take jobs.
    stopping: AtomicBool,
}

/// One gate of a [`GateLink`], looked up once per job.
pub struct GateRef<'a> {
    link: &'a GateLink,
    gid: u32,
    gate: Arc<Gate>,
}

impl GateRef<'_> {
    /// Notes whether the gate's NATS job said `l=1`; a new connection offers to take
    /// jobs only when it did.
    pub fn offers_link_jobs(&self, offers: bool) {
        if self.gate.offers.load(Ordering::Relaxed) != offers {
            self.gate.offers.store(offers, Ordering::Relaxed);
        }
    }

    /// Tells the gate that this worker took `jid` (the contract's taken notice), so the
    /// gate answers -2 at once if this worker's link closes before the answer.
    pub fn taken(&self, jid: JobId) {
        let posted = self.link.post(self.gid, &self.gate, false, |out| {
            contract::encode_taken(out, jid)
        });
        if let Err(e) = posted {
            shared::debug!("taken notice not sent", gid = self.gid, error = e);
        }
    }

    /// Sends the answer of `jid`. An error is what this call saw; an answer written by
    /// another thread and lost is only counted.
    pub fn answer(&self, jid: JobId, response_json: &str) -> Result<(), LinkError> {
        self.link.post(self.gid, &self.gate, true, |out| {
            contract::encode_answer(out, jid, response_json)
        })
    }
}

/// Locks `m`, also after a holder panicked (used by crate::intake too).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl GateLink {
    /// `undelivered` counts every answer that did not reach its gate.
    pub fn new(redis: Arc<RedisPool>, undelivered: Arc<Counter>) -> GateLink {
        GateLink {
            redis,
            gates: Mutex::new(HashMap::new()),
            undelivered,
            secret: None,
            intake: None,
            stopping: AtomicBool::new(false),
        }
    }

    /// Takes jobs from gate links that offer them (`None`: answers only, as a
    /// seed-contract worker).
    pub fn with_intake(mut self, intake: Option<LinkIntake>) -> GateLink {
        self.intake = intake;
        self
    }

    /// Gate `gid`, for the taken notice and the answer of one job.
    pub fn gate(&self, gid: u32) -> GateRef<'_> {
        GateRef {
            link: self,
            gid,
            gate: self.gate_arc(gid),
        }
    }

    /// Stops taking link jobs: `jobs 0` to every gate whose link offered, then waits (at
    /// most `wait`) until each has sent its last job; a gate that does not finish in time
    /// has its link shut (it answers that link's jobs -2). Links stay open for answers.
    pub fn stop_taking(&self, wait: Duration) {
        self.stopping.store(true, Ordering::Release);
        let Some(intake) = &self.intake else {
            return;
        };
        let links = intake.links.open();
        for link in &links {
            link.state().finishing.store(true, Ordering::Release);
            if link.state().closed.load(Ordering::Acquire)
                || link.state().done.load(Ordering::Acquire)
            {
                continue;
            }
            let gate = self.gate_arc(link.gid());
            let posted = self.post(link.gid(), &gate, false, |out| {
                contract::encode_link_jobs(out, 0)
            });
            if let Err(e) = posted {
                shared::debug!("jobs 0 not sent", gid = link.gid(), error = e);
            }
        }
        let deadline = Instant::now() + wait;
        for link in links {
            let done = || link.state().done.load(Ordering::Acquire);
            while !done() && Instant::now() < deadline {
                // The job threads may all be busy: read the links' last jobs into the
                // queue from here, so they are in hand when the links end.
                intake.links.queue_ready();
                std::thread::sleep(Duration::from_millis(5));
            }
            if !done() {
                shared::warn!(
                    "gate sent no end of its link jobs in time",
                    gid = link.gid()
                );
                link.shut();
            }
        }
    }

    /// Proves `secret` to every gate at connect (`None`: no proof).
    pub fn with_secret(mut self, secret: Option<LinkSecret>) -> GateLink {
        self.secret = secret;
        self
    }

    /// Sends one response to the gate waiting for `jid` (read from `gate.job.<jid>`).
    pub fn send(&self, jid: JobId, response_json: &str) -> Result<(), LinkError> {
        self.send_looked_up(jid, None, response_json)
    }

    /// Like [`GateLink::send`]; `looked_up` is the job's gate when the caller knows it
    /// (`Some(None)`: its key was read and is gone; `None`: read it now). An error is what
    /// this call saw; an answer written by another thread and lost is only counted.
    pub fn send_looked_up(
        &self,
        jid: JobId,
        looked_up: Option<Option<u32>>,
        response_json: &str,
    ) -> Result<(), LinkError> {
        let gid = match looked_up {
            Some(gid) => gid.ok_or(LinkError::JobExpired),
            None => self.gate_of_job(jid),
        };
        let gid = gid.inspect_err(|_| self.undelivered.inc())?;
        self.gate(gid).answer(jid, response_json)
    }

    /// Appends a line to the gate's outbox and writes the outbox unless another thread is
    /// writing it already.
    fn post(
        &self,
        gid: u32,
        gate: &Gate,
        answer: bool,
        encode: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), LinkError> {
        {
            let mut outbox = lock(&gate.outbox);
            if outbox.bytes.len() >= MAX_OUTBOX_BYTES {
                if answer {
                    self.undelivered.inc();
                }
                return Err(LinkError::Backlog(gid));
            }
            encode(&mut outbox.bytes);
            outbox.answers += u64::from(answer);
            if outbox.writing {
                return Ok(());
            }
            outbox.writing = true;
        }
        let mut result = Ok(());
        let mut batch = Vec::new();
        loop {
            let answers = {
                let mut outbox = lock(&gate.outbox);
                if outbox.bytes.is_empty() {
                    outbox.writing = false;
                    break;
                }
                std::mem::swap(&mut outbox.bytes, &mut batch);
                std::mem::take(&mut outbox.answers)
            };
            // Notices alone are held by the kernel until the next answer's write (one
            // segment, one wake-up of the gate) or the socket's close: a killed worker's
            // notices still reach the gate, with its end of stream right after them.
            let send = if answers == 0 { Send::Hold } else { Send::Push };
            if let Err(e) = self.write_batch(gid, gate, &mut lock(&gate.slot), &batch, send) {
                self.undelivered.add(answers);
                result = Err(e);
            }
            batch.clear();
        }
        result
    }

    fn write_batch(
        &self,
        gid: u32,
        gate: &Gate,
        slot: &mut GateSlot,
        batch: &[u8],
        send: Send,
    ) -> Result<(), LinkError> {
        if let Some((failed, until)) = slot.down {
            if Instant::now() < until && self.lookup_gate(gid)? == failed {
                return Err(LinkError::GateDown(gid));
            }
            slot.down = None;
        }
        match self.write(gid, gate, slot, batch, send) {
            Ok(()) => Ok(()),
            Err(first) => {
                shared::debug!("gate write failed, retrying", gid = gid, error = first);
                // The gate may have restarted elsewhere under the same id: look again.
                slot.disconnect();
                *slot = GateSlot::default();
                let second = self.write(gid, gate, slot, batch, send);
                if let Err(LinkError::Io { .. }) = &second {
                    if let Ok(addr) = self.lookup_gate(gid) {
                        slot.down = Some((addr, Instant::now() + DOWN_BACKOFF));
                    }
                }
                second
            }
        }
    }

    fn gate_of_job(&self, jid: JobId) -> Result<u32, LinkError> {
        let key = contract::job_key(jid);
        let gid: Option<u32> = self
            .redis
            .run(|c| redis::cmd("GET").arg(&key).query(c))
            .map_err(LinkError::Redis)?;
        gid.ok_or(LinkError::JobExpired)
    }

    fn gate_arc(&self, gid: u32) -> Arc<Gate> {
        let mut gates = lock(&self.gates);
        gates.entry(gid).or_default().clone()
    }

    fn write(
        &self,
        gid: u32,
        gate: &Gate,
        slot: &mut GateSlot,
        bytes: &[u8],
        send: Send,
    ) -> Result<(), LinkError> {
        if slot.stream.is_some() && !slot.usable() {
            slot.disconnect();
        }
        if slot.stream.is_none() {
            let addr = match slot.addr {
                Some(a) => a,
                None => self.lookup_gate(gid)?,
            };
            slot.addr = Some(addr);
            let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|error| {
                slot.addr = None;
                LinkError::Io { gid, error }
            })?;
            let _ = stream.set_nodelay(true);
            let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
            if let Some(secret) = &self.secret {
                prove(&stream, secret).map_err(|reason| {
                    slot.addr = None;
                    LinkError::Challenge { gid, reason }
                })?;
            }
            slot.taking = self.offer_jobs(gid, gate, &stream).map_err(|error| {
                slot.addr = None;
                LinkError::Io { gid, error }
            })?;
            slot.stream = Some(stream);
        }
        let stream = slot.stream.as_mut().expect("connected above");
        let written = match send {
            Send::Push => stream.write_all(bytes),
            Send::Hold => sock::send_all_more(stream.as_fd(), bytes),
        };
        written.map_err(|error| {
            slot.disconnect();
            slot.addr = None;
            LinkError::Io { gid, error }
        })
    }

    /// On a new connection: offers to take jobs when this worker takes link jobs and the
    /// gate sends them, and hands a copy of the connection to the job threads' poller
    /// (intake::LinkSources), which reads its jobs.
    fn offer_jobs(
        &self,
        gid: u32,
        gate: &Gate,
        stream: &TcpStream,
    ) -> io::Result<Option<Arc<LinkState>>> {
        let Some(intake) = &self.intake else {
            return Ok(None);
        };
        if !gate.offers.load(Ordering::Relaxed) || self.stopping.load(Ordering::Acquire) {
            return Ok(None);
        }
        let mut offer = Vec::with_capacity(16);
        contract::encode_link_jobs(&mut offer, intake.window);
        (&mut &*stream).write_all(&offer)?;
        let state = Arc::new(LinkState::default());
        intake.links.add(stream.try_clone()?, gid, state.clone())?;
        Ok(Some(state))
    }

    fn lookup_gate(&self, gid: u32) -> Result<SocketAddr, LinkError> {
        let key = contract::gate_key(gid);
        let addr: Option<String> = self
            .redis
            .run(|c| redis::cmd("GET").arg(&key).query(c))
            .map_err(LinkError::Redis)?;
        let addr = addr.ok_or(LinkError::GateGone(gid))?;
        addr.to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or(LinkError::BadAddress { gid, addr })
    }
}

/// How a batch leaves: pushed to the gate now, or held by the kernel for the next push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Send {
    Push,
    Hold,
}

/// Reads the gate's challenge line and sends the proof. The gate sends nothing else, so
/// reading in chunks takes nothing that belongs to later.
fn prove(mut stream: &TcpStream, secret: &LinkSecret) -> Result<(), String> {
    stream
        .set_read_timeout(Some(CONNECT_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut line = Vec::with_capacity(contract::LINK_LINE_MAX);
    let mut chunk = [0u8; contract::LINK_LINE_MAX];
    while !line.ends_with(b"\n") {
        if line.len() > contract::LINK_LINE_MAX {
            return Err("challenge line too long".into());
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("closed before a challenge".into()),
            Ok(n) => line.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "no challenge within {CONNECT_TIMEOUT:?} (does the gate have --link-secret?)"
                ))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let text = std::str::from_utf8(&line).map_err(|_| "challenge is not UTF-8".to_string())?;
    let nonce = contract::parse_link_challenge(text.trim_end_matches(['\r', '\n']))
        .map_err(|e| e.to_string())?;
    let mut proof = Vec::with_capacity(contract::LINK_LINE_MAX);
    contract::encode_link_proof(&mut proof, secret, &nonce);
    stream.write_all(&proof).map_err(|e| e.to_string())?;
    stream.set_read_timeout(None).map_err(|e| e.to_string())
}

/// On a connection that did not offer to take jobs, gates send nothing after its opening,
/// so a readable end-of-stream means the gate closed it. Checking first avoids writing an answer into a socket the
/// peer already closed, where the first write would "succeed" and the answer vanish.
/// Unexpected bytes are a challenge this worker did not answer (it has no link secret):
/// the gate closes such a link, so it is dropped here too, and said why.
fn still_open(stream: &TcpStream) -> bool {
    match sock::peek_idle(stream.as_fd()) {
        Peek::Nothing => true,
        Peek::Closed => false,
        Peek::Unexpected => {
            shared::warn!(
                "gate sent bytes on the answer link: a challenge? (set --link-secret as on the gates)"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;

    fn set(redis: &RedisPool, key: &str, value: &str) {
        redis
            .run(|c| redis::cmd("SET").arg(key).arg(value).query::<()>(c))
            .unwrap();
    }

    #[test]
    fn a_link_is_open_until_the_gate_closes_it_or_sends_bytes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut theirs, _) = listener.accept().unwrap();
        assert!(still_open(&ours));
        let wait_closed = || {
            let deadline = Instant::now() + Duration::from_secs(5);
            while still_open(&ours) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            still_open(&ours)
        };
        theirs.write_all(b"x").unwrap();
        assert!(!wait_closed(), "bytes from the gate");
        let mut byte = [0u8; 1];
        (&ours).read_exact(&mut byte).unwrap();
        assert!(still_open(&ours));
        drop(theirs);
        assert!(!wait_closed(), "closed by the gate");
    }

    /// A listener registered as gate `gid`'s worker port.
    fn registered_gate(redis: &RedisPool, gid: u32) -> TcpListener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        set(redis, &contract::gate_key(gid), &addr);
        listener
    }

    /// A job id whose hex ends in `n`.
    fn jid(n: u8) -> JobId {
        JobId::parse(&format!("{n:032x}")).unwrap()
    }

    fn job_key(n: u8) -> String {
        contract::job_key(jid(n))
    }

    /// The answer line for job `n`, as text.
    fn line_of(n: u8, response: &str) -> String {
        format!("{}~{response}\r\n", jid(n))
    }

    #[test]
    fn sends_over_one_connection_and_follows_a_moved_gate() {
        let server = testkit::Redis::start();
        let redis = Arc::new(RedisPool::new(&server.url(), 4).unwrap());
        let link = GateLink::new(redis.clone(), Arc::new(Counter::default()));

        let first = registered_gate(&redis, 3);
        set(&redis, &job_key(1), "3");
        set(&redis, &job_key(2), "3");
        link.send(jid(1), "{\"a\":1}").unwrap();
        link.send(jid(2), "{\"a\":2}").unwrap();
        let (conn, _) = first.accept().unwrap();
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, line_of(1, "{\"a\":1}"));
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, line_of(2, "{\"a\":2}"), "same connection");

        // The gate restarts on another port under the same id.
        drop(reader);
        drop(first);
        let second = registered_gate(&redis, 3);
        set(&redis, &job_key(3), "3");
        std::thread::sleep(Duration::from_millis(50));
        link.send(jid(3), "{}").unwrap();
        let (conn, _) = second.accept().unwrap();
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).unwrap();
        assert_eq!(line, line_of(3, "{}"));
    }

    #[test]
    fn a_gate_id_read_earlier_is_used_without_asking_again() {
        let server = testkit::Redis::start();
        let redis = Arc::new(RedisPool::new(&server.url(), 4).unwrap());
        let link = GateLink::new(redis.clone(), Arc::new(Counter::default()));
        let gate = registered_gate(&redis, 5);
        // No job key in Redis: only the id handed in can lead to the gate.
        link.send_looked_up(jid(11), Some(Some(5)), "{}").unwrap();
        let (conn, _) = gate.accept().unwrap();
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).unwrap();
        assert_eq!(line, line_of(11, "{}"));
        assert!(matches!(
            link.send_looked_up(jid(11), Some(None), "{}"),
            Err(LinkError::JobExpired)
        ));
    }

    #[test]
    fn expired_jobs_and_gone_gates_are_errors() {
        let server = testkit::Redis::start();
        let redis = Arc::new(RedisPool::new(&server.url(), 4).unwrap());
        let link = GateLink::new(redis.clone(), Arc::new(Counter::default()));
        assert!(matches!(
            link.send(jid(14), "{}"),
            Err(LinkError::JobExpired)
        ));
        set(&redis, &job_key(10), "9");
        assert!(matches!(
            link.send(jid(10), "{}"),
            Err(LinkError::GateGone(_))
        ));
        set(&redis, &contract::gate_key(9), "not an address");
        assert!(matches!(
            link.send(jid(10), "{}"),
            Err(LinkError::BadAddress { .. })
        ));
        let closed = testkit::free_port();
        set(
            &redis,
            &contract::gate_key(9),
            &format!("127.0.0.1:{closed}"),
        );
        assert!(matches!(
            link.send(jid(10), "{}"),
            Err(LinkError::Io { .. })
        ));
        assert!(
            matches!(link.send(jid(10), "{}"), Err(LinkError::GateDown(_))),
            "a gate that just failed at the same address is skipped"
        );
        // Registered anew at another address: tried at once.
        let live = registered_gate(&redis, 9);
        link.send(jid(10), "{\"late\":1}").unwrap();
        let (conn, _) = live.accept().unwrap();
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).unwrap();
        assert_eq!(line, line_of(10, "{\"late\":1}"));
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_and_once_over_one_connection() {
        let server = testkit::Redis::start();
        let redis = Arc::new(RedisPool::new(&server.url(), 4).unwrap());
        let undelivered = Arc::new(Counter::default());
        let link = GateLink::new(redis.clone(), undelivered.clone());
        let gate = registered_gate(&redis, 7);
        const THREADS: u32 = 16;
        const EACH: u32 = 200;
        let reader = std::thread::spawn(move || {
            let (conn, _) = gate.accept().unwrap();
            let mut lines = Vec::new();
            for line in BufReader::new(conn).lines() {
                let line = line.unwrap();
                lines.push(line);
                if lines.len() == (THREADS * EACH * 2) as usize {
                    break;
                }
            }
            lines
        });
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let link = &link;
                scope.spawn(move || {
                    for i in 0..EACH {
                        let jid = JobId::parse(&format!("{:016x}{:016x}", t, i)).unwrap();
                        link.gate(7).taken(jid);
                        link.send_looked_up(
                            jid,
                            Some(Some(7)),
                            &format!("{{\"t\":{t},\"i\":{i}}}"),
                        )
                        .unwrap();
                    }
                });
            }
        });
        let lines = reader.join().unwrap();
        let mut answers = std::collections::HashSet::new();
        let mut taken = std::collections::HashSet::new();
        for line in &lines {
            match contract::parse_worker_line(line).unwrap() {
                contract::WorkerLine::Taken(jid) => {
                    assert!(!answers.contains(&jid), "a notice after its answer");
                    assert!(taken.insert(jid), "a notice twice");
                }
                contract::WorkerLine::Answer(jid, json) => {
                    assert!(taken.contains(&jid), "an answer before its notice");
                    let v: serde_json::Value = serde_json::from_str(json).unwrap();
                    let expected = JobId::parse(&format!(
                        "{:016x}{:016x}",
                        v["t"].as_u64().unwrap(),
                        v["i"].as_u64().unwrap()
                    ))
                    .unwrap();
                    assert_eq!(jid, expected, "the answer belongs to its job");
                    assert!(answers.insert(jid), "an answer twice");
                }
                contract::WorkerLine::Jobs(_) => panic!("no offer without an intake"),
            }
        }
        assert_eq!(answers.len(), (THREADS * EACH) as usize);
        assert_eq!(undelivered.get(), 0);
    }

    #[test]
    fn a_notice_held_by_the_kernel_reaches_the_gate_when_the_link_closes() {
        let server = testkit::Redis::start();
        let redis = Arc::new(RedisPool::new(&server.url(), 4).unwrap());
        let link = GateLink::new(redis.clone(), Arc::new(Counter::default()));
        let gate = registered_gate(&redis, 8);
        link.gate(8).taken(jid(21));
        let (conn, _) = gate.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        // The worker dies with the notice only in its socket's queue: closing the socket
        // (as the kernel does for a killed process) sends it, then the end of stream.
        drop(link);
        let mut all = String::new();
        BufReader::new(conn).read_to_string(&mut all).unwrap();
        assert_eq!(all, format!("+{}\r\n", jid(21)));
    }
}
