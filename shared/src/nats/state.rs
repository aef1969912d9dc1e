//! The client's shared state: what the calling threads, the writer thread and the reader
//! thread share (see the module docs of `nats` for the threads), and the steps on it that
//! more than one of them takes.

use std::collections::{HashMap, VecDeque};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::handshake::Established;
use super::proto;
use super::queue::QueueSender;
use super::servers::ServerAddr;
use super::Options;

pub(super) struct Inner {
    pub options: Options,
    pub servers: Vec<ServerAddr>,
    pub out: Mutex<Output>,
    /// Signalled when the writer has something to do.
    pub writer_wake: Condvar,
    /// Signalled on flush progress, connection changes and close.
    pub state_changed: Condvar,
    /// Lock order: `out` before `subs`.
    pub subs: Mutex<HashMap<u64, SubEntry>>,
    pub next_sid: AtomicU64,
    pub max_payload: AtomicUsize,
    pub reconnects: AtomicU64,
    pub dropped: AtomicU64,
    /// SUBs and PUBs the server refused under this user's permissions.
    pub violations: AtomicU64,
    pub threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Everything the writer needs, under one mutex.
pub(super) struct Output {
    /// Encoded frames not yet handed to the socket.
    pub buf: Vec<u8>,
    /// The live connection; `None` while disconnected.
    pub stream: Option<Arc<TcpStream>>,
    pub closed: bool,
    /// The writer has sent what it could after `closed` and ended.
    pub writer_done: bool,
    /// The writer is sending a batch outside the lock; nobody else may write meanwhile.
    pub writer_busy: bool,
    /// A PING should follow the next batch (flush or keep-alive).
    pub ping_wanted: bool,
    /// Flush tickets: the newest requested, and the newest confirmed by a PONG.
    pub flush_requested: u64,
    pub flush_done: u64,
    /// For each PING on the wire, the newest flush ticket its PONG confirms.
    pub pings_in_flight: VecDeque<u64>,
}

impl Output {
    /// Sends the buffer from the calling thread when the writer is idle and the socket
    /// takes it without waiting: waking the writer costs two context switches per publish.
    /// What the socket does not take stays for the writer. True if everything went out.
    fn send_without_writer(&mut self) -> bool {
        if self.writer_busy || self.ping_wanted || self.closed {
            return false;
        }
        let Some(stream) = &self.stream else {
            return false;
        };
        // The socket itself stays blocking for the writer.
        match crate::sock::send_nonblocking(stream.as_fd(), &self.buf) {
            Ok(sent) => {
                self.buf.drain(..sent);
                self.buf.is_empty()
            }
            // The writer tries again and deals with a broken connection.
            Err(_) => false,
        }
    }
}

pub(super) struct SubEntry {
    pub subject: String,
    pub queue: Option<String>,
    pub sender: QueueSender,
    pub waker: Option<Arc<mio::Waker>>,
    pub dropped: Arc<AtomicU64>,
    /// Set (before the entry goes) when the server refused this SUB.
    pub refused: Arc<OnceLock<String>>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the connection down with it.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    pub fn new(options: Options, servers: Vec<ServerAddr>, max_payload: usize) -> Inner {
        Inner {
            options,
            servers,
            out: Mutex::new(Output {
                buf: Vec::with_capacity(64 * 1024),
                stream: None,
                closed: false,
                writer_done: false,
                writer_busy: false,
                ping_wanted: false,
                flush_requested: 0,
                flush_done: 0,
                pings_in_flight: VecDeque::new(),
            }),
            writer_wake: Condvar::new(),
            state_changed: Condvar::new(),
            subs: Mutex::new(HashMap::new()),
            next_sid: AtomicU64::new(1),
            max_payload: AtomicUsize::new(max_payload),
            reconnects: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// After frames were queued into `out` (empty before them: `was_empty`), wakes the
    /// writer, unless it was woken already (bytes were waiting) or, with `send_now`, this
    /// thread sent everything itself. The lock is released before the wake-up.
    pub fn frames_queued(&self, mut out: MutexGuard<'_, Output>, was_empty: bool, send_now: bool) {
        if !was_empty || out.buf.is_empty() {
            return;
        }
        if send_now && out.send_without_writer() {
            return;
        }
        drop(out);
        self.writer_wake.notify_one();
    }

    /// Makes `conn` the live connection: every live SUB goes out first, then what was
    /// buffered while disconnected. False if the client was closed meanwhile.
    pub fn install(&self, conn: &Established) -> bool {
        let mut out = lock(&self.out);
        if out.closed {
            return false;
        }
        let subs = lock(&self.subs);
        let mut sids: Vec<&u64> = subs.keys().collect();
        sids.sort();
        let mut head = Vec::with_capacity(out.buf.len() + 64 * sids.len());
        for sid in sids {
            let entry = &subs[sid];
            proto::push_sub(&mut head, &entry.subject, entry.queue.as_deref(), *sid);
        }
        drop(subs);
        head.extend_from_slice(&out.buf);
        out.buf = head;
        out.stream = Some(conn.stream.clone());
        self.max_payload
            .store(conn.max_payload(), Ordering::Relaxed);
        drop(out);
        self.writer_wake.notify_one();
        self.state_changed.notify_all();
        true
    }

    /// Forgets `stream` as the live connection. Flushes whose PING was on it are asked
    /// again on the next connection. Returns true if the client is closed.
    pub fn mark_disconnected(&self, stream: &Arc<TcpStream>) -> bool {
        let mut out = lock(&self.out);
        if out.stream.as_ref().is_some_and(|s| Arc::ptr_eq(s, stream)) {
            out.stream = None;
        }
        let newest_unconfirmed = out.pings_in_flight.iter().copied().max().unwrap_or(0);
        if newest_unconfirmed > out.flush_done {
            out.ping_wanted = true;
        }
        out.pings_in_flight.clear();
        let closed = out.closed;
        drop(out);
        let _ = stream.shutdown(Shutdown::Both);
        self.state_changed.notify_all();
        closed
    }

    /// Waits up to `delay`; true if the client was closed meanwhile.
    pub fn sleep_unless_closed(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        let mut out = lock(&self.out);
        loop {
            if out.closed {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            out = self
                .state_changed
                .wait_timeout(out, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.out).closed
    }

    pub fn close(&self) {
        {
            let mut out = lock(&self.out);
            if out.closed {
                return;
            }
            out.closed = true;
        }
        self.writer_wake.notify_all();
        self.state_changed.notify_all();
        // Dropping the senders lets every subscription see the end.
        lock(&self.subs).clear();
        // Give the writer a moment to send what is buffered, then end our side of the
        // connection; the server closes its side once it has read everything. A writer
        // stuck on a server that stopped reading is cut off instead.
        let deadline = Instant::now() + self.options.connect_timeout;
        let mut out = lock(&self.out);
        while !out.writer_done {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            out = self
                .state_changed
                .wait_timeout(out, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if let Some(stream) = out.stream.take() {
            let how = if out.writer_done {
                Shutdown::Write
            } else {
                Shutdown::Both
            };
            let _ = stream.shutdown(how);
        }
        drop(out);
        let handles: Vec<JoinHandle<()>> = lock(&self.threads).drain(..).collect();
        let me = std::thread::current().id();
        for handle in handles {
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
    }
}
