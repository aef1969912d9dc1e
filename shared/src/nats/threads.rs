//! The two I/O threads of a client: the writer batches the output buffer into few
//! syscalls; the reader parses, delivers, keeps the connection alive and reconnects.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::handshake::{effective_max_payload, establish, Established};
use super::proto::{self, MsgFrame, ServerOp};
use super::queue::PushError;
use super::state::{lock, Inner};
use super::Msg;

/// Above this the writer's spare buffer is shrunk again after a burst.
const KEEP_BUFFER_CAPACITY: usize = 1024 * 1024;
const READ_CHUNK: usize = 64 * 1024;

pub(super) fn writer_main(inner: &Inner) {
    write_until_closed(inner);
    lock(&inner.out).writer_done = true;
    inner.state_changed.notify_all();
}

fn write_until_closed(inner: &Inner) {
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let stream = {
            let mut out = lock(&inner.out);
            out.writer_busy = false;
            loop {
                let has_work = !out.buf.is_empty() || out.ping_wanted;
                if out.closed && (out.stream.is_none() || out.buf.is_empty()) {
                    return;
                }
                if out.stream.is_some() && has_work {
                    break;
                }
                out = inner
                    .writer_wake
                    .wait(out)
                    .unwrap_or_else(|p| p.into_inner());
            }
            std::mem::swap(&mut out.buf, &mut batch);
            out.writer_busy = true;
            if out.ping_wanted && !out.closed {
                out.ping_wanted = false;
                batch.extend_from_slice(proto::PING);
                let ticket = out.flush_requested;
                out.pings_in_flight.push_back(ticket);
            }
            out.stream.clone().expect("checked above")
        };
        if let Err(e) = (&*stream).write_all(&batch) {
            // The reader sees the shutdown and runs the reconnect.
            crate::warn!("nats write failed", error = e);
            let _ = stream.shutdown(Shutdown::Both);
        }
        batch.clear();
        if batch.capacity() > KEEP_BUFFER_CAPACITY {
            batch.shrink_to(KEEP_BUFFER_CAPACITY);
        }
    }
}

pub(super) fn reader_main(inner: &Inner, mut conn: Established, mut server_index: usize) {
    loop {
        let reason = read_until_broken(inner, &mut conn);
        if inner.mark_disconnected(&conn.stream) {
            return;
        }
        crate::warn!("nats disconnected", server = conn.server, reason = reason);
        match reconnect(inner, &mut server_index) {
            Some(next) => conn = next,
            None => return,
        }
    }
}

/// Tries the servers round-robin with doubling delays until one answers or the client
/// is closed (then `None`).
fn reconnect(inner: &Inner, server_index: &mut usize) -> Option<Established> {
    let options = &inner.options;
    let mut delay = options.reconnect_delay_min;
    let mut attempts: u64 = 0;
    loop {
        if inner.sleep_unless_closed(delay) {
            return None;
        }
        attempts += 1;
        *server_index = (*server_index + 1) % inner.servers.len();
        let server = &inner.servers[*server_index];
        match establish(server, options) {
            Ok(conn) => {
                if !inner.install(&conn) {
                    let _ = conn.stream.shutdown(Shutdown::Both);
                    return None;
                }
                inner.reconnects.fetch_add(1, Ordering::Relaxed);
                crate::info!(
                    "nats reconnected",
                    server = conn.server,
                    attempts = attempts
                );
                return Some(conn);
            }
            Err(e) => {
                // The first failure and then every 30th, to keep an outage from flooding the log.
                if attempts % 30 == 1 {
                    crate::warn!(
                        "nats reconnect failed",
                        server = server,
                        attempts = attempts,
                        error = e
                    );
                }
                delay = (delay * 2).min(options.reconnect_delay_max);
            }
        }
    }
}

/// Serves one connection until it breaks or the client closes; returns why it ended.
fn read_until_broken(inner: &Inner, conn: &mut Established) -> String {
    let options = &inner.options;
    let tick = (options.ping_interval / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let write_limit = options
        .connect_timeout
        .max(options.ping_interval * (options.max_pings_outstanding + 1));
    if let Err(e) = conn
        .stream
        .set_read_timeout(Some(tick))
        .and_then(|_| conn.stream.set_write_timeout(Some(write_limit)))
    {
        return format!("socket setup failed: {e}");
    }
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut batch: Vec<MsgFrame> = Vec::new();
    let mut last_ping = Instant::now();
    let mut pings_outstanding: u32 = 0;
    // After close we read on until the server closes its side: closing a socket with
    // unread input resets it, which can discard our last frames before the server has them.
    let mut drain_until: Option<Instant> = None;
    loop {
        if drain_until.is_none() && inner.is_closed() {
            drain_until = Some(Instant::now() + options.connect_timeout);
        }
        if drain_until.is_some_and(|deadline| Instant::now() >= deadline) {
            return "closed".to_string();
        }
        match (&*conn.stream).read(&mut chunk) {
            Ok(0) => return "connection closed by server".to_string(),
            Ok(n) => {
                conn.parser.feed(&chunk[..n]);
                loop {
                    match conn.parser.next_op() {
                        Ok(Some(op)) => {
                            if matches!(op, ServerOp::Pong) {
                                pings_outstanding = 0;
                            }
                            handle_op(inner, conn, op, &mut batch);
                        }
                        Ok(None) => break,
                        Err(e) => return format!("protocol error: {e}"),
                    }
                }
                deliver(inner, &mut batch);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return format!("read failed: {e}"),
        }
        if last_ping.elapsed() >= options.ping_interval {
            if pings_outstanding >= options.max_pings_outstanding {
                return format!("{pings_outstanding} PINGs unanswered");
            }
            pings_outstanding += 1;
            last_ping = Instant::now();
            request_ping(inner);
        }
    }
}

fn handle_op(inner: &Inner, conn: &mut Established, op: ServerOp, batch: &mut Vec<MsgFrame>) {
    match op {
        ServerOp::Msg(msg) => batch.push(msg),
        ServerOp::Ping => queue_control(inner, proto::PONG),
        // Messages the server sent before its PONG are queued before a flush returns.
        ServerOp::Pong => {
            deliver(inner, batch);
            confirm_ping(inner);
        }
        ServerOp::Ok => {}
        ServerOp::Info(info) => {
            let max = effective_max_payload(&info);
            conn.parser.set_max_payload(max);
            inner.max_payload.store(max, Ordering::Relaxed);
        }
        // Fatal errors are followed by the server closing the connection; the others
        // (a permissions violation, say) leave it usable.
        ServerOp::Err(text) => match proto::parse_permission_violation(&text) {
            Some(violation) => refuse(inner, violation, text),
            None => crate::warn!("nats server error", error = text),
        },
    }
}

/// The server refused a SUB or PUB under this user's permissions. A refused SUB ends
/// its subscriptions (their receivers see `PermissionDenied` instead of waiting forever)
/// and is not sent again on reconnect; a refused PUB can only be counted and logged.
fn refuse(inner: &Inner, violation: proto::Violation, text: String) {
    inner.violations.fetch_add(1, Ordering::Relaxed);
    crate::warn!("nats permission denied", error = text);
    let proto::Violation::Subscribe { subject, queue } = violation else {
        return;
    };
    let mut wakers: Vec<Arc<mio::Waker>> = Vec::new();
    lock(&inner.subs).retain(|_, entry| {
        if entry.subject != subject || entry.queue != queue {
            return true;
        }
        let _ = entry.refused.set(text.clone());
        wakers.extend(entry.waker.clone());
        // Dropping the entry drops its sender: the queue ends.
        false
    });
    for waker in wakers {
        let _ = waker.wake();
    }
}

fn queue_control(inner: &Inner, frame: &[u8]) {
    let mut out = lock(&inner.out);
    out.buf.extend_from_slice(frame);
    drop(out);
    inner.writer_wake.notify_one();
}

fn request_ping(inner: &Inner) {
    lock(&inner.out).ping_wanted = true;
    inner.writer_wake.notify_one();
}

fn confirm_ping(inner: &Inner) {
    let mut out = lock(&inner.out);
    if let Some(ticket) = out.pings_in_flight.pop_front() {
        if ticket > out.flush_done {
            out.flush_done = ticket;
            drop(out);
            inner.state_changed.notify_all();
        }
    }
}

/// Hands a read batch to the subscriptions; full queues drop the message and count it.
fn deliver(inner: &Inner, batch: &mut Vec<MsgFrame>) {
    if batch.is_empty() {
        return;
    }
    let mut wakers: Vec<Arc<mio::Waker>> = Vec::new();
    let received = std::time::Instant::now();
    {
        let subs = lock(&inner.subs);
        for frame in batch.drain(..) {
            // Unknown sid: unsubscribed while the message was on its way.
            let Some(entry) = subs.get(&frame.sid) else {
                continue;
            };
            let msg = Msg {
                subject: frame.subject,
                reply: frame.reply,
                payload: frame.payload,
                sid: frame.sid,
                received,
            };
            match entry.sender.try_push(msg) {
                Ok(()) => {
                    if let Some(waker) = &entry.waker {
                        if !wakers.iter().any(|w| Arc::ptr_eq(w, waker)) {
                            wakers.push(waker.clone());
                        }
                    }
                }
                Err(PushError::Full) => {
                    inner.dropped.fetch_add(1, Ordering::Relaxed);
                    if entry.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                        crate::warn!(
                            "nats slow consumer, dropping messages",
                            subject = entry.subject,
                            sid = frame.sid
                        );
                    }
                }
                // The Subscription is being dropped; its UNSUB is on the way.
                Err(PushError::Abandoned) => {}
            }
        }
    }
    for waker in wakers {
        if let Err(e) = waker.wake() {
            crate::warn!("nats waker failed", error = e);
        }
    }
}
