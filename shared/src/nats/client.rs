//! The public client: connecting, the calls services make, and closing when the last clone
//! goes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::handshake::{establish, Established};
use super::proto::{self, valid_publish_subject, valid_queue_group, valid_subject};
use super::queue::Queue;
use super::servers::{parse_servers, ServerAddr};
use super::state::{lock, Inner, SubEntry};
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
        let inner = Arc::new(Inner::new(options, servers, conn.max_payload()));
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
