//! The public client: shared state, the calls services make, and closing.

use std::collections::{HashMap, VecDeque};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::handshake::{establish, Established};
use super::proto::{self, valid_publish_subject, valid_queue_group, valid_subject};
use super::queue::{Queue, QueueSender};
use super::servers::{parse_servers, ServerAddr};
use super::subscription::Subscription;
use super::{threads, BatchError, NatsError, Options};

// Services hand clients to worker threads and share subscriptions between threads.
const _: () = {
    fn shared_across_threads<T: Send + Sync>() {}
    let _ = shared_across_threads::<Client>;
    let _ = shared_across_threads::<Subscription>;
};

/// A NATS connection shared by all clones; see the module docs.
#[derive(Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

/// Closes the connection when the last `Client` clone goes. The I/O threads hold only
/// `Inner`, so they do not keep the connection alive by themselves.
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.close();
    }
}

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
    next_sid: AtomicU64,
    pub max_payload: AtomicUsize,
    pub reconnects: AtomicU64,
    pub dropped: AtomicU64,
    /// SUBs and PUBs the server refused under this user's permissions.
    pub violations: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
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

impl Client {
    /// Connects to the first server of `urls` that completes the handshake (INFO,
    /// CONNECT, PING/PONG) and starts the I/O threads.
    pub fn connect(urls: &str, options: Options) -> Result<Client, NatsError> {
        let servers = parse_servers(urls)?;
        let mut last_error = None;
        for (index, server) in servers.iter().enumerate() {
            match establish(server, &options) {
                Ok(conn) => return Ok(Client::start(servers.clone(), index, conn, options)),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or(NatsError::Closed))
    }

    fn start(
        servers: Vec<ServerAddr>,
        index: usize,
        conn: Established,
        options: Options,
    ) -> Client {
        let inner = Arc::new(Inner {
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
            max_payload: AtomicUsize::new(conn.max_payload()),
            reconnects: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
        });
        inner.install(&conn);
        let writer = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("nats-writer".into())
                .spawn(move || threads::writer_main(&inner))
                .expect("spawn the nats writer thread")
        };
        let reader = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("nats-reader".into())
                .spawn(move || threads::reader_main(&inner, conn, index))
                .expect("spawn the nats reader thread")
        };
        lock(&inner.threads).extend([writer, reader]);
        Client {
            handle: Arc::new(Handle { inner }),
        }
    }

    fn inner(&self) -> &Inner {
        &self.handle.inner
    }

    /// Queues `payload` for `subject`; never waits for the network.
    pub fn publish(&self, subject: &str, payload: &[u8]) -> Result<(), NatsError> {
        self.publish_frame(subject, None, payload)
    }

    /// Like [`Client::publish`], with a reply subject for the receiver.
    pub fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        payload: &[u8],
    ) -> Result<(), NatsError> {
        self.publish_frame(subject, Some(reply), payload)
    }

    /// Queues `count` messages for `subject` under one lock and one wake-up of the writer
    /// (or one send from this thread): `fill(i, payload)` writes the `i`-th payload into
    /// the emptied buffer it is handed. Stops at the first message that cannot be queued;
    /// the error says how many went before it.
    pub fn publish_batch(
        &self,
        subject: &str,
        count: usize,
        mut fill: impl FnMut(usize, &mut Vec<u8>),
    ) -> Result<(), BatchError> {
        let fail = |published: usize, error: NatsError| BatchError { published, error };
        if !valid_publish_subject(subject) {
            return Err(fail(0, NatsError::InvalidSubject(subject.to_string())));
        }
        let inner = self.inner();
        let max = inner.max_payload.load(Ordering::Relaxed);
        let mut payload = Vec::new();
        let mut out = lock(&inner.out);
        let was_empty = out.buf.is_empty();
        let mut result = Ok(());
        for i in 0..count {
            payload.clear();
            fill(i, &mut payload);
            if out.closed {
                result = Err(fail(i, NatsError::Closed));
                break;
            }
            if payload.len() > max {
                let size = payload.len();
                result = Err(fail(i, NatsError::PayloadTooLarge { size, max }));
                break;
            }
            let limit = if out.stream.is_some() {
                inner.options.max_pending_bytes
            } else {
                inner.options.reconnect_buffer_bytes
            };
            if out.buf.len() + proto::pub_frame_len(subject, None, payload.len()) > limit {
                result = Err(fail(i, NatsError::BufferFull));
                break;
            }
            proto::push_pub(&mut out.buf, subject, None, &payload);
        }
        inner.frames_queued(out, was_empty, true);
        result
    }

    fn publish_frame(
        &self,
        subject: &str,
        reply: Option<&str>,
        payload: &[u8],
    ) -> Result<(), NatsError> {
        if !valid_publish_subject(subject) {
            return Err(NatsError::InvalidSubject(subject.to_string()));
        }
        if let Some(reply) = reply.filter(|r| !valid_publish_subject(r)) {
            return Err(NatsError::InvalidSubject(reply.to_string()));
        }
        let inner = self.inner();
        let max = inner.max_payload.load(Ordering::Relaxed);
        if payload.len() > max {
            return Err(NatsError::PayloadTooLarge {
                size: payload.len(),
                max,
            });
        }
        let frame_len = proto::pub_frame_len(subject, reply, payload.len());
        let mut out = lock(&inner.out);
        if out.closed {
            return Err(NatsError::Closed);
        }
        let limit = if out.stream.is_some() {
            inner.options.max_pending_bytes
        } else {
            inner.options.reconnect_buffer_bytes
        };
        if out.buf.len() + frame_len > limit {
            return Err(NatsError::BufferFull);
        }
        let was_empty = out.buf.is_empty();
        proto::push_pub(&mut out.buf, subject, reply, payload);
        inner.frames_queued(out, was_empty, true);
        Ok(())
    }

    /// Subscribes to `subject` (wildcards allowed), optionally in a queue group.
    pub fn subscribe(&self, subject: &str, queue: Option<&str>) -> Result<Subscription, NatsError> {
        self.subscribe_inner(subject, queue, None)
    }

    /// Like [`Client::subscribe`], and wakes `waker` after queueing messages, so a mio
    /// loop can drain the subscription with `try_recv` when the waker's token fires.
    pub fn subscribe_with_waker(
        &self,
        subject: &str,
        queue: Option<&str>,
        waker: Arc<mio::Waker>,
    ) -> Result<Subscription, NatsError> {
        self.subscribe_inner(subject, queue, Some(waker))
    }

    fn subscribe_inner(
        &self,
        subject: &str,
        queue: Option<&str>,
        waker: Option<Arc<mio::Waker>>,
    ) -> Result<Subscription, NatsError> {
        if !valid_subject(subject) {
            return Err(NatsError::InvalidSubject(subject.to_string()));
        }
        if let Some(queue) = queue.filter(|q| !valid_queue_group(q)) {
            return Err(NatsError::InvalidQueueGroup(queue.to_string()));
        }
        let inner = self.inner();
        let sid = inner.next_sid.fetch_add(1, Ordering::Relaxed);
        let (sender, messages) = Queue::new(
            inner.options.subscription_capacity,
            inner.options.subscription_capacity_bytes,
        );
        let dropped = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(OnceLock::new());
        let mut out = lock(&inner.out);
        if out.closed {
            return Err(NatsError::Closed);
        }
        let entry = SubEntry {
            subject: subject.to_string(),
            queue: queue.map(str::to_string),
            sender,
            waker,
            dropped: dropped.clone(),
            refused: refused.clone(),
        };
        lock(&inner.subs).insert(sid, entry);
        // While disconnected the reconnect sends every live SUB; sending it here as well
        // would only duplicate it.
        if out.stream.is_some() {
            let was_empty = out.buf.is_empty();
            proto::push_sub(&mut out.buf, subject, queue, sid);
            inner.frames_queued(out, was_empty, false);
        }
        Ok(Subscription::new(
            self.clone(),
            sid,
            messages,
            dropped,
            refused,
        ))
    }

    /// Ends subscription `sid`: no more deliveries, and its queue sees `Closed` once drained.
    pub(super) fn unsubscribe(&self, sid: u64) {
        let inner = self.inner();
        let mut out = lock(&inner.out);
        let removed = lock(&inner.subs).remove(&sid);
        if removed.is_some() && !out.closed {
            // Sent even while disconnected: a SUB for this sid may still be in the buffer.
            let was_empty = out.buf.is_empty();
            proto::push_unsub(&mut out.buf, sid, None);
            inner.frames_queued(out, was_empty, false);
        }
    }

    /// Ends subscription `sid` without dropping what the server already sent it: the UNSUB
    /// goes out while the subscription still takes deliveries, a PING/PONG round trip
    /// makes sure every message the server sent before it has been queued, then the
    /// subscription closes. What is queued can still be received.
    pub(super) fn drain(&self, sid: u64, timeout: Duration) {
        let inner = self.inner();
        let mut out = lock(&inner.out);
        if !out.closed && lock(&inner.subs).contains_key(&sid) {
            let was_empty = out.buf.is_empty();
            proto::push_unsub(&mut out.buf, sid, None);
            inner.frames_queued(out, was_empty, false);
            // The reader queues messages in the order they arrive, so after the PONG
            // nothing sent before the UNSUB is still on its way.
            let _ = self.flush(timeout);
        } else {
            drop(out);
        }
        lock(&inner.subs).remove(&sid);
    }

    /// Returns once the server has processed everything published before this call
    /// (a PING/PONG round trip after the buffered frames). Waits through a reconnect
    /// within `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), NatsError> {
        let inner = self.inner();
        let deadline = Instant::now() + timeout;
        let mut out = lock(&inner.out);
        if out.closed {
            return Err(NatsError::Closed);
        }
        out.flush_requested += 1;
        let ticket = out.flush_requested;
        out.ping_wanted = true;
        inner.writer_wake.notify_one();
        loop {
            if out.flush_done >= ticket {
                return Ok(());
            }
            if out.closed {
                return Err(NatsError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(NatsError::Timeout);
            }
            out = inner
                .state_changed
                .wait_timeout(out, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    pub fn is_connected(&self) -> bool {
        lock(&self.inner().out).stream.is_some()
    }

    /// The largest payload the server accepts (from its INFO).
    pub fn max_payload(&self) -> usize {
        self.inner().max_payload.load(Ordering::Relaxed)
    }

    /// Successful reconnects since `connect`.
    pub fn reconnects(&self) -> u64 {
        self.inner().reconnects.load(Ordering::Relaxed)
    }

    /// Messages dropped because a subscription's queue was full (all subscriptions).
    pub fn dropped_messages(&self) -> u64 {
        self.inner().dropped.load(Ordering::Relaxed)
    }

    /// SUBs and PUBs the server refused under this connection's permissions. A refused
    /// publish is otherwise silent (publishing never waits for the server).
    pub fn permission_violations(&self) -> u64 {
        self.inner().violations.load(Ordering::Relaxed)
    }

    /// Sends what is buffered (best effort), closes the socket and ends the I/O threads.
    /// Every clone and subscription sees `Closed` afterwards. Idempotent.
    pub fn close(&self) {
        self.inner().close();
    }
}

impl Inner {
    /// After frames were queued into `out` (empty before them: `was_empty`), wakes the
    /// writer, unless it was woken already (bytes were waiting) or, with `send_now`, this
    /// thread sent everything itself. The lock is released before the wake-up.
    fn frames_queued(&self, mut out: MutexGuard<'_, Output>, was_empty: bool, send_now: bool) {
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

    fn close(&self) {
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
