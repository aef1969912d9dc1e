//! The event loop: one thread, one mio `Poll`, every client socket.
//!
//! Each turn handles socket events, then the work other threads finished (nonce lookups,
//! messages from NATS; both wake the loop through one `Waker`), then writes out everything
//! queued during the turn, so a message for 1,000 members costs one copy per member and
//! one `write` per member per turn, not per message.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use shared::framing::{FrameError, LineBuffer};
use shared::nats::{Msg, Subscription};
use shared::redis_conn::{RedisError, RedisPool};

use crate::channels::{channels_of, family_subject, public_subject, Membership};
use crate::codec::{
    chat_line, chat_message, clean_text, relayable, ChatKind, ClientFrame, ServerFrame, MAX_FRAME,
};
use crate::conn::{Conn, Held, Phase};
use crate::keys::player_rate_key;
use crate::login::{valid_gn, Identity, LoginError};
use crate::metrics::EdgeMetrics;
use crate::options::Options;
use crate::rate::Verdict;
use crate::redeemer::{Outcome, Redeemer, Ticket, Work};
use crate::NatsLinks;
use shared::contract::{ChatEvent, CHAT_EVENTS_SUBJECT};

pub const LISTENER: Token = Token(usize::MAX - 1);
pub const WAKER: Token = Token(usize::MAX - 2);

/// One `read` call's worth; the buffer is shared by all connections.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes read from one connection per turn, so one fast sender cannot starve the rest.
const READ_BUDGET: usize = 4 * READ_CHUNK;
/// Messages taken from one subscription per turn, for the same reason.
const NATS_BUDGET: usize = 1024;
/// How long a closing connection may take to read our last frame and hang up.
const LINGER: Duration = Duration::from_secs(2);
/// How often timeouts are checked (and failed subscriptions retried).
const SWEEP_INTERVAL: Duration = Duration::from_millis(250);
/// How long shutdown waits for the farewell frames to be written.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// After Redis failed to answer an allowance, frames pass on the per-connection limit
/// alone this long, so a Redis outage costs chat one failed round trip, not one per frame.
const ALLOWANCE_BACKOFF: Duration = Duration::from_secs(1);
/// The answer to a chat frame whose text holds a control character (the connection stays).
pub const CONTROL_REASON: &str = "control character in text";
/// The answer to a family frame from a player without a family (the connection stays).
pub const NO_FAMILY: &str = "no family";
/// Chat events taken per turn, so a flood of them cannot starve the clients.
const EVENTS_BUDGET: usize = 1024;

/// The channel a chat frame of `kind` goes to; `None`: a family frame without a family.
fn chat_subject(id: &Identity, kind: ChatKind) -> Option<String> {
    match (kind, &id.fid) {
        (ChatKind::Public, _) => Some(public_subject(&id.world)),
        (ChatKind::Family, Some(fid)) => Some(family_subject(&id.world, fid)),
        (ChatKind::Family, None) => None,
    }
}

pub struct Server {
    poll: Poll,
    listener: Option<TcpListener>,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    cfg: Options,
    nats: NatsLinks,
    redeemer: Redeemer,
    metrics: EdgeMetrics,
    conns: Vec<Option<Conn>>,
    free_slots: Vec<usize>,
    open: usize,
    next_serial: u64,
    membership: Membership,
    subscriptions: HashMap<String, Subscription>,
    /// The worker's chat events ([`CHAT_EVENTS_SUBJECT`]); `None` until subscribing
    /// succeeded (the sweep retries).
    events: Option<Subscription>,
    read_buf: Vec<u8>,
    /// Connections with output queued this turn.
    dirty: Vec<usize>,
    /// Connections whose socket may still hold bytes (read budget spent, or paused).
    unread: Vec<usize>,
    /// A subscription had more messages than one turn takes.
    nats_backlog: bool,
    /// Accepting failed (out of file descriptors): try again at the next sweep.
    accept_retry: bool,
    last_sweep: Instant,
    /// Until then the per-player allowance is not asked (Redis failed just before).
    allowance_off_until: Option<Instant>,
}

/// Subscribes to the worker's chat events on the public link (long queue); `None` (logged)
/// when NATS refused, retried by the sweep.
fn subscribe_events(nats: &NatsLinks, waker: &Arc<Waker>) -> Option<Subscription> {
    match nats
        .public
        .subscribe_with_waker(CHAT_EVENTS_SUBJECT, None, waker.clone())
    {
        Ok(sub) => Some(sub),
        Err(e) => {
            shared::warn!("subscribe failed", subject = CHAT_EVENTS_SUBJECT, error = e);
            None
        }
    }
}

fn conn_mut(conns: &mut [Option<Conn>], slot: usize) -> Option<&mut Conn> {
    conns.get_mut(slot).and_then(Option::as_mut)
}

fn mark_dirty(conn: &mut Conn, dirty: &mut Vec<usize>, slot: usize) {
    if !conn.dirty {
        conn.dirty = true;
        dirty.push(slot);
    }
}

enum Room {
    Enough,
    /// The socket takes nothing and the queue is at its limit.
    TooSlow,
    /// Writing failed: the peer is gone.
    Broken,
}

/// Makes room for `len` more bytes in the connection's queue, writing to the socket first
/// if the queue is full: only a client whose socket takes nothing more is too slow.
fn make_room(conn: &mut Conn, len: usize, limit: usize) -> Room {
    if conn.output.pending() + len <= limit {
        return Room::Enough;
    }
    if conn.output.write_to(&mut conn.stream).is_err() {
        return Room::Broken;
    }
    if conn.output.pending() + len <= limit {
        Room::Enough
    } else {
        Room::TooSlow
    }
}

impl Server {
    /// Registers the listener, creates the loop's waker and starts the login helpers.
    pub fn new(
        cfg: Options,
        mut listener: TcpListener,
        redis: Arc<RedisPool>,
        nats: NatsLinks,
        metrics: EdgeMetrics,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Server> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let redeemer = Redeemer::start(redis, cfg.login_threads, waker.clone())?;
        let events = subscribe_events(&nats, &waker);
        // The SUB has reached NATS once this returns, so an event published after the edge
        // started is not missed.
        let _ = nats.public.flush(Duration::from_secs(2));
        Ok(Server {
            poll,
            listener: Some(listener),
            waker,
            stop,
            cfg,
            nats,
            redeemer,
            metrics,
            conns: Vec::new(),
            free_slots: Vec::new(),
            open: 0,
            next_serial: 0,
            membership: Membership::new(),
            subscriptions: HashMap::new(),
            events,
            read_buf: vec![0; READ_CHUNK],
            dirty: Vec::new(),
            unread: Vec::new(),
            nats_backlog: false,
            accept_retry: false,
            last_sweep: Instant::now(),
            allowance_off_until: None,
        })
    }

    /// Wakes the loop from another thread (to make it see the stop flag).
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Runs until the stop flag is set, then says goodbye to every client.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let busy = !self.unread.is_empty() || self.nats_backlog;
            let timeout = if busy { Duration::ZERO } else { SWEEP_INTERVAL };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                shared::error!("poll failed", error = e);
                break;
            }
            let now = Instant::now();
            let mut woken = self.nats_backlog;
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now),
                    WAKER => woken = true,
                    Token(slot) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read(slot, now);
                        }
                        if event.is_writable() {
                            if let Some(conn) = conn_mut(&mut self.conns, slot) {
                                mark_dirty(conn, &mut self.dirty, slot);
                            }
                        }
                    }
                }
            }
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            if woken {
                self.take_answers(now);
                self.relay_from_nats(now);
            }
            self.read_unread(now);
            self.flush_dirty();
            if now.duration_since(self.last_sweep) >= SWEEP_INTERVAL {
                self.last_sweep = now;
                self.sweep(now);
            }
        }
        self.shutdown();
    }

    fn accept(&mut self, now: Instant) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            let (mut stream, _peer) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors, most likely: the backlog keeps the client waiting.
                    shared::warn!("accept failed", error = e);
                    self.accept_retry = true;
                    return;
                }
            };
            if self.open >= self.cfg.max_connections {
                self.metrics.refused_full.inc();
                let _ = stream.write(&ServerFrame::error("server full").encode());
                continue;
            }
            let _ = stream.set_nodelay(true);
            let slot = self.free_slots.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            let registered = self.poll.registry().register(
                &mut stream,
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            );
            if let Err(e) = registered {
                shared::warn!("register failed", error = e);
                self.free_slots.push(slot);
                continue;
            }
            self.next_serial += 1;
            self.conns[slot] = Some(Conn::new(
                stream,
                self.next_serial,
                self.cfg.rate_limit,
                now,
            ));
            self.open += 1;
            self.metrics.accepted.inc();
            self.metrics.connections.set(self.open as i64);
        }
    }

    fn read(&mut self, slot: usize, now: Instant) {
        let mut budget = READ_BUDGET;
        loop {
            let Some(conn) = conn_mut(&mut self.conns, slot) else {
                return;
            };
            if conn.phase == Phase::Waiting {
                // Resumed when the answer comes.
                conn.unread = true;
                return;
            }
            if budget == 0 {
                conn.unread = true;
                self.unread.push(slot);
                return;
            }
            match conn.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    // The peer hung up; send what is queued if the socket still takes it.
                    let _ = conn.output.write_to(&mut conn.stream);
                    self.remove(slot);
                    return;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    if conn.is_closing() {
                        continue; // discarded: we are only waiting for the peer to hang up
                    }
                    conn.input.extend(&self.read_buf[..n]);
                    self.process_input(slot, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.unread = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.remove(slot);
                    return;
                }
            }
        }
    }

    fn read_unread(&mut self, now: Instant) {
        for slot in std::mem::take(&mut self.unread) {
            let pending = conn_mut(&mut self.conns, slot)
                .is_some_and(|c| c.unread && c.phase != Phase::Waiting);
            if pending {
                self.read(slot, now);
            }
        }
    }

    /// Handles every complete frame buffered for `slot`, until it pauses or closes.
    fn process_input(&mut self, slot: usize, now: Instant) {
        loop {
            let Some(conn) = conn_mut(&mut self.conns, slot) else {
                return;
            };
            if conn.phase != Phase::Open {
                return;
            }
            let parsed = match conn.input.next_line() {
                Ok(None) => break,
                Ok(Some(line)) => ClientFrame::parse(line),
                Err(FrameError::TooLong { .. }) => {
                    let reason = format!("frame longer than {MAX_FRAME} bytes");
                    self.refuse(slot, &reason, now);
                    return;
                }
                Err(FrameError::NotUtf8) => {
                    self.refuse(slot, "frame is not UTF-8", now);
                    return;
                }
            };
            conn.last_activity = now;
            self.metrics.frames_in.inc();
            match parsed {
                Ok(frame) => self.handle_frame(slot, frame, now),
                Err(e) => {
                    self.refuse(slot, &e.to_string(), now);
                    return;
                }
            }
        }
        if let Some(conn) = conn_mut(&mut self.conns, slot) {
            conn.release_input();
        }
    }

    fn handle_frame(&mut self, slot: usize, frame: ClientFrame, now: Instant) {
        let Some(conn) = conn_mut(&mut self.conns, slot) else {
            return;
        };
        if frame != ClientFrame::Exit {
            match conn.bucket.take(self.cfg.rate_limit, now) {
                Verdict::Allowed => {}
                Verdict::DroppedWithNotice => {
                    self.metrics.rate_limited.inc();
                    self.send(slot, &ServerFrame::error("rate limit").encode());
                    return;
                }
                Verdict::Dropped => {
                    self.metrics.rate_limited.inc();
                    return;
                }
            }
        }
        match frame {
            ClientFrame::Exit => self.begin_close(slot, now),
            ClientFrame::Register { nonce } => {
                conn.phase = Phase::Waiting;
                let ticket = Ticket {
                    slot,
                    serial: conn.serial,
                };
                self.redeemer.submit(ticket, Work::Redeem { nonce });
            }
            ClientFrame::Public { text } => self.chat(slot, ChatKind::Public, &text, now),
            ClientFrame::Family { text } => self.chat(slot, ChatKind::Family, &text, now),
        }
    }

    /// A chat frame that passed the connection's bucket: checked, then published at once
    /// or held while the player's shared allowance is asked.
    fn chat(&mut self, slot: usize, kind: ChatKind, text: &str, now: Instant) {
        let Some(conn) = conn_mut(&mut self.conns, slot) else {
            return;
        };
        let Some(id) = &conn.identity else {
            return self.refuse(slot, "register first", now);
        };
        let Some(subject) = chat_subject(id, kind) else {
            return self.send(slot, &ServerFrame::error(NO_FAMILY).encode());
        };
        if !clean_text(text) {
            // Refused whole rather than cleaned: the sender learns why, nobody reads an
            // altered text, and the connection stays.
            self.metrics.control_refused.inc();
            return self.send(slot, &ServerFrame::error(CONTROL_REASON).encode());
        }
        let rate = self.cfg.player_rate_limit;
        let allowance_off = self.allowance_off_until.is_some_and(|until| now < until);
        if rate == 0 || allowance_off {
            let payload = chat_message(&id.gn, text);
            return self.publish(slot, kind, &subject, &payload);
        }
        let key = player_rate_key(&id.world, &id.player());
        conn.phase = Phase::Waiting;
        conn.held = Some(Held {
            kind,
            text: text.to_string(),
        });
        let ticket = Ticket {
            slot,
            serial: conn.serial,
        };
        self.redeemer.submit(ticket, Work::Spend { key, rate });
    }

    fn publish(&mut self, slot: usize, kind: ChatKind, subject: &str, payload: &[u8]) {
        match self.nats.link(kind).publish(subject, payload) {
            Ok(()) => self.metrics.published.inc(),
            Err(e) => {
                self.metrics.publish_failures.inc();
                shared::warn!("publish failed", subject = subject, error = e);
                self.send(slot, &ServerFrame::error("chat unavailable").encode());
            }
        }
    }

    /// Queues a frame for `slot`; a client already too far behind is dropped instead.
    fn send(&mut self, slot: usize, frame: &[u8]) {
        let Some(conn) = conn_mut(&mut self.conns, slot) else {
            return;
        };
        match make_room(conn, frame.len(), self.cfg.max_output_bytes) {
            Room::Enough => {}
            Room::TooSlow => return self.drop_slow(slot),
            Room::Broken => return self.remove(slot),
        }
        conn.output.push(frame);
        self.metrics.frames_out.inc();
        mark_dirty(conn, &mut self.dirty, slot);
    }

    /// A protocol error: tell the client why and close.
    fn refuse(&mut self, slot: usize, reason: &str, now: Instant) {
        self.metrics.protocol_errors.inc();
        shared::debug!("closing connection", slot = slot, reason = reason);
        self.send(slot, &ServerFrame::error(reason).encode());
        self.begin_close(slot, now);
    }

    /// Leaves every channel, flushes what is queued, then shuts the write side.
    fn begin_close(&mut self, slot: usize, now: Instant) {
        let Some(conn) = conn_mut(&mut self.conns, slot) else {
            return;
        };
        if conn.is_closing() {
            return;
        }
        conn.phase = Phase::Closing {
            until: now + LINGER,
        };
        conn.input = LineBuffer::new(MAX_FRAME);
        let identity = conn.identity.take();
        mark_dirty(conn, &mut self.dirty, slot);
        self.switch_channels(slot, identity.as_ref(), None);
    }

    fn drop_slow(&mut self, slot: usize) {
        self.metrics.slow_dropped.inc();
        shared::warn!(
            "dropping slow client",
            slot = slot,
            limit = self.cfg.max_output_bytes
        );
        self.remove(slot);
    }

    /// Closes the socket at once and forgets the connection.
    fn remove(&mut self, slot: usize) {
        let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.switch_channels(slot, conn.identity.as_ref(), None);
        self.free_slots.push(slot);
        self.open -= 1;
        self.metrics.connections.set(self.open as i64);
    }

    /// Moves `slot` from the channels of `old` to those of `new`, subscribing to channels
    /// that gain their first local member and unsubscribing from those that lose their last.
    fn switch_channels(&mut self, slot: usize, old: Option<&Identity>, new: Option<&Identity>) {
        let old = old.map(channels_of).unwrap_or_default();
        let new = new.map(channels_of).unwrap_or_default();
        for (subject, _) in &old {
            let kept = new.iter().any(|(s, _)| s == subject);
            if !kept && self.membership.leave(subject, slot) {
                if let Some(sub) = self.subscriptions.remove(subject) {
                    sub.unsubscribe();
                }
            }
        }
        for (subject, kind) in &new {
            if self.membership.join(subject, *kind, slot) {
                self.subscribe(subject, *kind);
            }
        }
        self.metrics.channels.set(self.membership.len() as i64);
    }

    fn subscribe(&mut self, subject: &str, kind: ChatKind) {
        match self
            .nats
            .link(kind)
            .subscribe_with_waker(subject, None, self.waker.clone())
        {
            Ok(sub) => {
                self.subscriptions.insert(subject.to_string(), sub);
            }
            // Retried by the sweep while the channel still has members.
            Err(e) => shared::warn!("subscribe failed", subject = subject, error = e),
        }
    }

    fn take_answers(&mut self, now: Instant) {
        while let Some(answer) = self.redeemer.try_answer() {
            let Ticket { slot, serial } = answer.ticket;
            let Some(conn) = conn_mut(&mut self.conns, slot) else {
                continue;
            };
            if conn.serial != serial || conn.phase != Phase::Waiting {
                continue; // the connection it was for is gone
            }
            let result = match answer.outcome {
                Outcome::Login(result) => result,
                Outcome::Allowance(allowed) => {
                    conn.phase = Phase::Open;
                    let held = conn.held.take();
                    self.settle_held(slot, held, allowed, now);
                    self.resume(slot, now);
                    continue;
                }
            };
            match result {
                Ok(identity) => {
                    conn.phase = Phase::Open;
                    let old = conn.identity.take();
                    self.metrics.logins.inc();
                    shared::debug!(
                        "registered",
                        slot = slot,
                        world = identity.world,
                        gn = identity.gn,
                        fid = identity.fid.as_deref().unwrap_or("")
                    );
                    self.switch_channels(slot, old.as_ref(), Some(&identity));
                    let Some(conn) = conn_mut(&mut self.conns, slot) else {
                        continue;
                    };
                    conn.identity = Some(identity);
                    self.send(slot, &ServerFrame::Registered.encode());
                    // Frames sent right behind REGISTER now run as the new identity.
                    self.resume(slot, now);
                }
                Err(e) => {
                    self.metrics.login_failures.inc();
                    if let LoginError::Unavailable(why) = &e {
                        shared::warn!("nonce lookup failed", error = why);
                    }
                    conn.phase = Phase::Open;
                    self.send(slot, &ServerFrame::error(e.to_string()).encode());
                    self.begin_close(slot, now);
                }
            }
        }
    }

    /// Publishes or drops a frame held for the player's allowance. Redis failing is not the
    /// client's fault: the frame passes (it already passed the connection's bucket) and
    /// the allowance is not asked for [`ALLOWANCE_BACKOFF`].
    fn settle_held(
        &mut self,
        slot: usize,
        held: Option<Held>,
        allowed: Result<bool, RedisError>,
        now: Instant,
    ) {
        let Some(held) = held else { return };
        let allowed = allowed.unwrap_or_else(|e| {
            self.metrics.allowance_failures.inc();
            shared::warn!("player allowance unavailable", error = e);
            self.allowance_off_until = Some(now + ALLOWANCE_BACKOFF);
            true
        });
        let Some(conn) = conn_mut(&mut self.conns, slot) else {
            return;
        };
        if allowed {
            // Channel and name as they are now: an event may have changed them meanwhile.
            let Some(id) = &conn.identity else { return };
            let Some(subject) = chat_subject(id, held.kind) else {
                return self.send(slot, &ServerFrame::error(NO_FAMILY).encode());
            };
            let payload = chat_message(&id.gn, &held.text);
            return self.publish(slot, held.kind, &subject, &payload);
        }
        self.metrics.player_limited.inc();
        if conn.bucket.dropped(now) == Verdict::DroppedWithNotice {
            self.send(slot, &ServerFrame::error("rate limit").encode());
        }
    }

    /// Goes on with the frames a connection sent while it waited for Redis.
    fn resume(&mut self, slot: usize, now: Instant) {
        self.process_input(slot, now);
        if conn_mut(&mut self.conns, slot).is_some_and(|c| c.unread) {
            self.unread.push(slot);
        }
    }

    fn relay_from_nats(&mut self, now: Instant) {
        self.nats_backlog = false;
        // Events first: a member removed in this turn hears none of the frames behind it.
        let mut events = Vec::new();
        if let Some(sub) = &self.events {
            while events.len() < EVENTS_BUDGET {
                match sub.try_recv() {
                    Ok(Some(msg)) => events.push(msg),
                    Ok(None) | Err(_) => break,
                }
            }
            if events.len() == EVENTS_BUDGET {
                self.nats_backlog = true;
            }
        }
        for msg in events {
            self.apply_event(&msg.payload);
        }
        let mut batch: Vec<Msg> = Vec::new();
        for sub in self.subscriptions.values() {
            let mut taken = 0;
            while taken < NATS_BUDGET {
                match sub.try_recv() {
                    Ok(Some(msg)) => batch.push(msg),
                    Ok(None) | Err(_) => break,
                }
                taken += 1;
            }
            if taken == NATS_BUDGET {
                self.nats_backlog = true;
            }
        }
        for msg in batch {
            self.deliver(&msg.subject, &msg.payload, now);
        }
    }

    /// Queues one message from NATS to every local member of its channel.
    fn deliver(&mut self, subject: &str, payload: &[u8], now: Instant) {
        self.metrics.nats_received.inc();
        if !relayable(payload) {
            self.metrics.nats_rejected.inc();
            return;
        }
        let Some((kind, members)) = self.membership.members(subject) else {
            return;
        };
        let line = chat_line(kind, payload);
        let mut too_slow = Vec::new();
        let mut broken = Vec::new();
        let mut delivered = 0;
        for slot in members {
            let Some(conn) = conn_mut(&mut self.conns, slot) else {
                continue;
            };
            match make_room(conn, line.len(), self.cfg.max_output_bytes) {
                Room::Enough => {}
                Room::TooSlow => {
                    too_slow.push(slot);
                    continue;
                }
                Room::Broken => {
                    broken.push(slot);
                    continue;
                }
            }
            conn.output.push(&line);
            conn.last_activity = now;
            delivered += 1;
            mark_dirty(conn, &mut self.dirty, slot);
        }
        self.metrics.frames_out.add(delivered);
        for slot in too_slow {
            self.drop_slow(slot);
        }
        for slot in broken {
            self.remove(slot);
        }
    }

    /// Applies one chat event from the worker to the local connections it names: a player
    /// out of a family (left, removed, family gone) leaves that family's channel and gets
    /// `no family` for family frames from then on; a renamed player speaks under the new
    /// name from the next frame. The connection stays open and is not told (the protocol
    /// has no frame for it). Events are rare (a player's own action), so a scan of the
    /// connections is cheap enough; a disband uses the channel's member list.
    fn apply_event(&mut self, payload: &[u8]) {
        let event = match ChatEvent::parse(payload) {
            Ok(event) => event,
            Err(e) => {
                self.metrics.chat_events_rejected.inc();
                shared::warn!("chat event skipped", error = e);
                return;
            }
        };
        let (world, fid, pid) = match &event {
            ChatEvent::Left { world, pid, fid } => (world, Some(fid), Some(pid)),
            ChatEvent::Disbanded { world, fid } => (world, Some(fid), None),
            ChatEvent::Renamed { world, pid, gn } => {
                if !valid_gn(gn) {
                    self.metrics.chat_events_rejected.inc();
                    shared::warn!("chat event skipped", error = "unsafe name");
                    return;
                }
                (world, None, Some(pid))
            }
        };
        self.metrics.chat_events.inc();
        let slots: Vec<usize> = match (&event, fid) {
            (ChatEvent::Disbanded { .. }, Some(fid)) => self
                .membership
                .members(&family_subject(world, fid))
                .map(|(_, members)| members.collect())
                .unwrap_or_default(),
            _ => (0..self.conns.len()).collect(),
        };
        for slot in slots {
            let Some(conn) = conn_mut(&mut self.conns, slot) else {
                continue;
            };
            let Some(id) = &conn.identity else { continue };
            let named = pid.is_none_or(|pid| id.pid.as_ref() == Some(pid));
            if &id.world != world || !named {
                continue;
            }
            match &event {
                ChatEvent::Renamed { gn, .. } => {
                    if let Some(id) = conn.identity.as_mut() {
                        id.gn = gn.clone();
                    }
                }
                ChatEvent::Left { .. } | ChatEvent::Disbanded { .. } => {
                    if id.fid.as_ref() != fid {
                        continue; // already in another family (or none): nothing to leave
                    }
                    let old = id.clone();
                    let new = Identity {
                        fid: None,
                        ..old.clone()
                    };
                    self.switch_channels(slot, Some(&old), Some(&new));
                    if let Some(conn) = conn_mut(&mut self.conns, slot) {
                        conn.identity = Some(new);
                    }
                }
            }
        }
    }

    fn flush_dirty(&mut self) {
        for slot in std::mem::take(&mut self.dirty) {
            let Some(conn) = conn_mut(&mut self.conns, slot) else {
                continue;
            };
            conn.dirty = false;
            match conn.output.write_to(&mut conn.stream) {
                Ok(true) => {
                    if conn.is_closing() && !conn.write_shut {
                        conn.write_shut = true;
                        let _ = conn.stream.shutdown(Shutdown::Write);
                    }
                }
                Ok(false) => {} // the next writable event continues
                Err(_) => self.remove(slot),
            }
        }
    }

    /// Timeouts, lingering closes, and subscriptions that failed earlier.
    fn sweep(&mut self, now: Instant) {
        let mut expired = Vec::new();
        let mut timed_out = Vec::new();
        for (slot, conn) in self.conns.iter().enumerate() {
            let Some(conn) = conn else { continue };
            match conn.phase {
                Phase::Closing { until } if now >= until => expired.push(slot),
                Phase::Closing { .. } => {}
                _ if conn.identity.is_none()
                    && now.duration_since(conn.opened) >= self.cfg.login_timeout =>
                {
                    timed_out.push((slot, "login timeout"));
                }
                _ if self
                    .cfg
                    .idle_timeout
                    .is_some_and(|t| now.duration_since(conn.last_activity) >= t) =>
                {
                    timed_out.push((slot, "idle timeout"));
                }
                _ => {}
            }
        }
        for slot in expired {
            self.remove(slot);
        }
        for (slot, reason) in timed_out {
            self.metrics.timeouts.inc();
            self.send(slot, &ServerFrame::error(reason).encode());
            self.begin_close(slot, now);
        }
        let missing: Vec<(String, ChatKind)> = self
            .membership
            .channels()
            .filter(|(s, _)| !self.subscriptions.contains_key(*s))
            .map(|(s, kind)| (s.to_string(), kind))
            .collect();
        for (subject, kind) in missing {
            self.subscribe(&subject, kind);
        }
        if self.events.is_none() {
            self.events = subscribe_events(&self.nats, &self.waker);
        }
        if self.accept_retry {
            self.accept_retry = false;
            self.accept(now);
        }
        self.flush_dirty();
    }

    /// Stops accepting, tells every client, gives the farewells a moment to go out,
    /// closes every socket and leaves every channel.
    fn shutdown(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let farewell = ServerFrame::error("server shutting down").encode();
        let now = Instant::now();
        for slot in 0..self.conns.len() {
            let closing = match conn_mut(&mut self.conns, slot) {
                Some(conn) => conn.is_closing(),
                None => continue,
            };
            if !closing {
                if let Some(conn) = conn_mut(&mut self.conns, slot) {
                    // Unbounded here: the farewell goes out even to a client near its limit.
                    conn.output.push(&farewell);
                    mark_dirty(conn, &mut self.dirty, slot);
                }
                self.begin_close(slot, now);
            }
        }
        self.flush_dirty();
        let deadline = now + SHUTDOWN_GRACE;
        let mut events = Events::with_capacity(1024);
        while self.has_output() && Instant::now() < deadline {
            let _ = self.poll.poll(&mut events, Some(Duration::from_millis(20)));
            for event in events.iter().filter(|e| e.is_writable()) {
                let slot = event.token().0;
                if let Some(conn) = conn_mut(&mut self.conns, slot) {
                    mark_dirty(conn, &mut self.dirty, slot);
                }
            }
            self.flush_dirty();
        }
        for slot in 0..self.conns.len() {
            if let Some(conn) = conn_mut(&mut self.conns, slot) {
                // Read what the client sent meanwhile, so closing does not reset the
                // connection and destroy the farewell in its receive buffer.
                while let Ok(n) = conn.stream.read(&mut self.read_buf) {
                    if n == 0 {
                        break;
                    }
                }
            }
            self.remove(slot);
        }
        for (_, sub) in self.subscriptions.drain() {
            sub.unsubscribe();
        }
        if let Some(sub) = self.events.take() {
            sub.unsubscribe();
        }
        self.metrics.channels.set(0);
        let _ = self.nats.public.flush(Duration::from_secs(1));
        let _ = self.nats.family.flush(Duration::from_secs(1));
        shared::info!("edge stopped");
    }

    fn has_output(&self) -> bool {
        self.conns.iter().flatten().any(|c| c.output.pending() > 0)
    }
}
