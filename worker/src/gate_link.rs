//! The return path: finds the gate that owns a job and writes `<jid>~<response>\r\n` to it.
//!
//! `GET gate.job.<jid>` gives the gate id, `GET gates.id.<gid>` its `ip:port` (cached per
//! gid). Each gate gets one persistent TCP connection shared by every worker thread; a
//! failed write drops the connection and the cached address, looks the gate up again and
//! retries once. A gate that still fails is skipped for a moment (answers fail fast) unless
//! it registers a new address: otherwise every thread would wait out connect timeouts on a
//! dead gate's lock while jobs for live gates queue behind them.
//!
//! With a link secret, a new connection first answers the gate's challenge with its proof
//! (shared::contract); the answer lines follow on the same connection.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::contract::{self, JobId, LinkSecret};
use shared::redis_conn::RedisPool;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a gate that failed twice in a row is skipped at the same address.
const DOWN_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub enum LinkError {
    /// `gate.job.<jid>` is gone: the gate gave up on the job (timed out) or never made it.
    JobExpired,
    /// `gates.id.<gid>` is gone: the gate shut down or lost its registration.
    GateGone(u32),
    /// The gate failed moments ago at the address it still has registered.
    GateDown(u32),
    BadAddress {
        gid: u32,
        addr: String,
    },
    Redis(String),
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

impl std::error::Error for LinkError {}

/// The line a gate expects (the contract's answer line).
pub fn answer_line(jid: JobId, response_json: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(contract::JOB_ID_LEN + response_json.len() + 3);
    contract::encode_answer(&mut line, jid, response_json);
    line
}

/// One gate: its address and the connection to it, behind one lock so a line is written
/// whole before the next thread writes.
#[derive(Default)]
struct GateSlot {
    addr: Option<SocketAddr>,
    stream: Option<TcpStream>,
    /// The address that failed and until when it is skipped.
    down: Option<(SocketAddr, Instant)>,
}

pub struct GateLink {
    redis: Arc<RedisPool>,
    gates: Mutex<HashMap<u32, Arc<Mutex<GateSlot>>>>,
    secret: Option<LinkSecret>,
}

impl GateLink {
    pub fn new(redis: Arc<RedisPool>) -> GateLink {
        GateLink {
            redis,
            gates: Mutex::new(HashMap::new()),
            secret: None,
        }
    }

    /// Proves `secret` to every gate at connect (`None`: no proof).
    pub fn with_secret(mut self, secret: Option<LinkSecret>) -> GateLink {
        self.secret = secret;
        self
    }

    /// Sends one response to the gate waiting for `jid`.
    pub fn send(&self, jid: JobId, response_json: &str) -> Result<(), LinkError> {
        self.send_looked_up(jid, None, response_json)
    }

    /// Like [`GateLink::send`]; `looked_up` is what the job's key
    /// ([`contract::job_key`]) held when the caller already read it (`None`: read it now).
    pub fn send_looked_up(
        &self,
        jid: JobId,
        looked_up: Option<Option<u32>>,
        response_json: &str,
    ) -> Result<(), LinkError> {
        let gid = match looked_up {
            Some(gid) => gid.ok_or(LinkError::JobExpired)?,
            None => self.gate_of_job(jid)?,
        };
        let line = answer_line(jid, response_json);
        let slot = self.slot(gid);
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((failed, until)) = slot.down {
            if Instant::now() < until && self.lookup_gate(gid)? == failed {
                return Err(LinkError::GateDown(gid));
            }
            slot.down = None;
        }
        match self.write(gid, &mut slot, &line) {
            Ok(()) => Ok(()),
            Err(first) => {
                shared::debug!("gate write failed, retrying", gid = gid, error = first);
                // The gate may have restarted elsewhere under the same id: look again.
                *slot = GateSlot::default();
                let second = self.write(gid, &mut slot, &line);
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
            .map_err(|e| LinkError::Redis(e.to_string()))?;
        gid.ok_or(LinkError::JobExpired)
    }

    fn slot(&self, gid: u32) -> Arc<Mutex<GateSlot>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates.entry(gid).or_default().clone()
    }

    fn write(&self, gid: u32, slot: &mut GateSlot, line: &[u8]) -> Result<(), LinkError> {
        if slot.stream.as_ref().is_some_and(|s| !still_open(s)) {
            slot.stream = None;
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
            slot.stream = Some(stream);
        }
        let stream = slot.stream.as_mut().expect("connected above");
        stream.write_all(line).map_err(|error| {
            slot.stream = None;
            slot.addr = None;
            LinkError::Io { gid, error }
        })
    }

    fn lookup_gate(&self, gid: u32) -> Result<SocketAddr, LinkError> {
        let key = contract::gate_key(gid);
        let addr: Option<String> = self
            .redis
            .run(|c| redis::cmd("GET").arg(&key).query(c))
            .map_err(|e| LinkError::Redis(e.to_string()))?;
        let addr = addr.ok_or(LinkError::GateGone(gid))?;
        addr.to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or(LinkError::BadAddress { gid, addr })
    }
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

/// Gates never send on this connection after its opening, so a readable end-of-stream
/// means the gate closed it. Checking first avoids writing an answer into a socket the
/// peer already closed, where the first write would "succeed" and the answer vanish.
/// Unexpected bytes are a challenge this worker did not answer (it has no link secret):
/// the gate closes such a link, so it is dropped here too, and said why.
fn still_open(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    match peek_idle(stream.as_raw_fd()) {
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

/// What an idle connection holds, seen without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peek {
    /// Nothing to read: the usual state of a healthy idle connection.
    Nothing,
    /// Bytes wait that nobody asked for.
    Unexpected,
    /// The peer closed or reset the connection.
    Closed,
}

/// One non-blocking `recv(MSG_PEEK)`: no bytes are consumed and the socket's blocking mode
/// is left alone (toggling it costs two more syscalls per answer).
pub(crate) fn peek_idle(fd: std::os::fd::RawFd) -> Peek {
    let mut probe = [0u8; 1];
    // SAFETY: the buffer is a live local of the given length; `fd` is borrowed open.
    let got = unsafe {
        libc::recv(
            fd,
            probe.as_mut_ptr().cast(),
            probe.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match got {
        0 => Peek::Closed,
        n if n > 0 => Peek::Unexpected,
        _ => match io::Error::last_os_error().kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Peek::Nothing,
            _ => Peek::Closed,
        },
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
    fn peeking_tells_idle_unexpected_and_closed_connections_apart() {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut theirs, _) = listener.accept().unwrap();
        assert_eq!(peek_idle(ours.as_raw_fd()), Peek::Nothing);
        theirs.write_all(b"x").unwrap();
        let wait_for = |want: Peek| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while peek_idle(ours.as_raw_fd()) != want && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            peek_idle(ours.as_raw_fd())
        };
        assert_eq!(wait_for(Peek::Unexpected), Peek::Unexpected);
        assert_eq!(
            peek_idle(ours.as_raw_fd()),
            Peek::Unexpected,
            "peeking consumes nothing"
        );
        let mut byte = [0u8; 1];
        (&ours).read_exact(&mut byte).unwrap();
        assert_eq!(peek_idle(ours.as_raw_fd()), Peek::Nothing);
        drop(theirs);
        assert_eq!(wait_for(Peek::Closed), Peek::Closed);
        assert!(!still_open(&ours));
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
    fn answer_lines_follow_the_contract() {
        assert_eq!(
            answer_line(jid(0xab), r#"{"status":0}"#),
            format!("{}ab~{{\"status\":0}}\r\n", "0".repeat(30)).as_bytes()
        );
    }

    #[test]
    fn sends_over_one_connection_and_follows_a_moved_gate() {
        let server = testkit::Redis::start();
        let redis = Arc::new(RedisPool::new(&server.url(), 4).unwrap());
        let link = GateLink::new(redis.clone());

        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        set(
            &redis,
            &contract::gate_key(3),
            &first.local_addr().unwrap().to_string(),
        );
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
        let second = TcpListener::bind("127.0.0.1:0").unwrap();
        set(
            &redis,
            &contract::gate_key(3),
            &second.local_addr().unwrap().to_string(),
        );
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
        let link = GateLink::new(redis.clone());
        let gate = TcpListener::bind("127.0.0.1:0").unwrap();
        set(
            &redis,
            &contract::gate_key(5),
            &gate.local_addr().unwrap().to_string(),
        );
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
        let link = GateLink::new(redis.clone());
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
        let live = TcpListener::bind("127.0.0.1:0").unwrap();
        set(
            &redis,
            &contract::gate_key(9),
            &live.local_addr().unwrap().to_string(),
        );
        link.send(jid(10), "{\"late\":1}").unwrap();
        let (conn, _) = live.accept().unwrap();
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).unwrap();
        assert_eq!(line, line_of(10, "{\"late\":1}"));
    }
}
