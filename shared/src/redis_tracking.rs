//! A process-local copy of Redis keys under one prefix, kept honest by Redis itself
//! (server-assisted client-side caching, Redis 6+): one connection asks for
//! `CLIENT TRACKING on REDIRECT <itself> BCAST PREFIX <prefix>` and subscribes to
//! [`INVALIDATE_CHANNEL`], so every write, expiry, eviction or flush of a key under the
//! prefix, by any client, sends that key's name here and drops it from the copy.
//!
//! Staleness bound: the copy answers only while the feed is known to be current, i.e. it
//! has received the answer to a PING that was sent at most [`STALE_AFTER`] ago, and had
//! read every message Redis sent before that. Redis writes a connection's frames in
//! order, but in BCAST mode it sends the invalidations of one event-loop pass after that
//! pass's replies, so a PONG proves the invalidations of writes made before the *previous*
//! PING was sent (pings go out one at a time, each after the last PONG). A value is
//! therefore never used later than [`STALE_AFTER`] after the write that changed it;
//! usually the message arrives within a millisecond. When the connection breaks, stalls
//! or has not yet caught up, [`KeyCache::confirm`] misses and callers read Redis. The copy
//! only ever confirms what a caller expects: whether a different value is older or newer
//! than Redis's, only Redis knows.
//!
//! A filled value can race a write: a reader takes a [`Ticket`] before its `GET`, and
//! [`KeyCache::fill`] keeps the value only if no invalidation (or reconnect) came in
//! between.
//!
//! Threads: one, the feed's ([`Tracker::start`]); it reconnects with a growing pause.
//! Stop: [`Tracker::stop`] sets a flag the thread reads at least every [`PING_EVERY`],
//! then joins it; the copy stops answering.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis::IntoConnectionInfo;

use crate::metrics::Counter;
use crate::resp::{self, RespError, Value};

/// The channel Redis publishes invalidations on for RESP2 clients.
pub const INVALIDATE_CHANNEL: &str = "__redis__:invalidate";
/// The feed's heartbeat: one PING at a time, the next this long after the last PONG.
pub const PING_EVERY: Duration = Duration::from_millis(100);
/// The longest a value is used after the write that changed it.
pub const STALE_AFTER: Duration = Duration::from_millis(500);
/// A PING unanswered this long means a dead connection: reconnect.
const DEAD_AFTER: Duration = Duration::from_secs(2);
/// More keys than this and the copy starts over (each is a valid signed token's
/// (uid, kind): bounded by accounts, but a process must not grow without bound).
pub const MAX_ENTRIES: usize = 65_536;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The state of the copy when a reader looked: a fill with it is kept only if nothing
/// was invalidated since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// Keys under one prefix and their values as last read, while the feed is current.
pub struct KeyCache {
    prefix: String,
    state: Mutex<State>,
    origin: Instant,
    /// Nanoseconds after `origin` until which the copy may answer; 0: not at all.
    fresh_until: AtomicU64,
    hits: Arc<Counter>,
    misses: Arc<Counter>,
}

struct State {
    /// Bumped by every invalidation, reconnect and outage.
    epoch: u64,
    entries: HashMap<String, String>,
}

impl KeyCache {
    pub fn new(prefix: &str) -> Arc<KeyCache> {
        Self::counted(prefix, Arc::default(), Arc::default())
    }

    /// A copy that counts its confirmed and missed checks in these (a service's metrics).
    pub fn counted(prefix: &str, hits: Arc<Counter>, misses: Arc<Counter>) -> Arc<KeyCache> {
        Arc::new(KeyCache {
            prefix: prefix.to_string(),
            state: Mutex::new(State {
                epoch: 0,
                entries: HashMap::new(),
            }),
            origin: Instant::now(),
            fresh_until: AtomicU64::new(0),
            hits,
            misses,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the copy holds `value` for `key` while the feed is current; otherwise a
    /// ticket to [`KeyCache::fill`] with after reading Redis. The copy only confirms: a
    /// value it holds that differs may be the older one (another process wrote the key and
    /// its invalidation is on its way), so a mismatch is a miss, and Redis decides.
    pub fn confirm(&self, key: &str, value: &str) -> Result<(), Ticket> {
        let state = self.lock();
        if self.is_current() && state.entries.get(key).is_some_and(|held| held == value) {
            self.hits.inc();
            return Ok(());
        }
        self.misses.inc();
        Err(Ticket(state.epoch))
    }

    /// Keeps what Redis answered for `key` (an absent key is not kept), unless the copy
    /// changed since `ticket` was taken.
    pub fn fill(&self, key: &str, value: Option<&str>, ticket: Ticket) {
        let Some(value) = value else { return };
        if !key.starts_with(&self.prefix) {
            return;
        }
        let mut state = self.lock();
        if state.epoch != ticket.0 || !self.is_current() {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state.entries.insert(key.to_string(), value.to_string());
    }

    /// Drops `key` after this process wrote it, so its own next read sees the write
    /// without waiting for the feed.
    pub fn forget(&self, key: &str) {
        let mut state = self.lock();
        state.epoch += 1;
        state.entries.remove(key);
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits.get(), self.misses.get())
    }

    /// How many keys the copy holds.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `keys` changed in Redis (`None`: all of them).
    fn invalidate(&self, keys: Option<&[Vec<u8>]>) {
        let mut state = self.lock();
        state.epoch += 1;
        match keys {
            None => state.entries.clear(),
            Some(keys) => {
                for key in keys {
                    if let Ok(key) = std::str::from_utf8(key) {
                        state.entries.remove(key);
                    }
                }
            }
        }
    }

    /// The feed is down or starting over: nothing kept counts.
    fn reset(&self) {
        self.fresh_until.store(0, Ordering::Relaxed);
        self.invalidate(None);
    }

    /// Every invalidation of a write made before `sent` has been applied.
    fn current_as_of(&self, sent: Instant) {
        let until = (sent + STALE_AFTER).saturating_duration_since(self.origin);
        let nanos = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.fresh_until.store(nanos, Ordering::Relaxed);
    }

    /// Whether the feed is current: the copy may confirm.
    pub fn is_current(&self) -> bool {
        let until = self.fresh_until.load(Ordering::Relaxed);
        until != 0 && (self.origin.elapsed().as_nanos() as u64) < until
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why the feed cannot start or had to reconnect.
#[derive(Debug)]
pub enum TrackError {
    /// The URL is no `redis://` URL of a TCP server.
    BadUrl(String),
    Io(io::Error),
    Protocol(RespError),
    /// Redis refused a step (`-NOPERM`, `-WRONGPASS`) or answered something unexpected.
    Refused(String),
    /// A PING went unanswered for [`DEAD_AFTER`].
    Silent,
}

impl fmt::Display for TrackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackError::BadUrl(why) => write!(f, "tracking URL: {why}"),
            TrackError::Io(e) => write!(f, "tracking connection: {e}"),
            TrackError::Protocol(e) => write!(f, "tracking connection: {e}"),
            TrackError::Refused(what) => write!(f, "tracking refused: {what}"),
            TrackError::Silent => write!(f, "tracking connection: no PONG for {DEAD_AFTER:?}"),
        }
    }
}

impl std::error::Error for TrackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrackError::Io(e) => Some(e),
            TrackError::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for TrackError {
    fn from(e: io::Error) -> Self {
        TrackError::Io(e)
    }
}

impl From<RespError> for TrackError {
    fn from(e: RespError) -> Self {
        TrackError::Protocol(e)
    }
}

/// Where and as whom the feed connects.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Endpoint, TrackError> {
        let info = url
            .into_connection_info()
            .map_err(|e| TrackError::BadUrl(e.to_string()))?;
        let redis::ConnectionAddr::Tcp(host, port) = info.addr() else {
            return Err(TrackError::BadUrl(
                "only redis:// over TCP is tracked".into(),
            ));
        };
        let settings = info.redis_settings();
        Ok(Endpoint {
            host: host.clone(),
            port: *port,
            user: settings.username().map(str::to_string),
            password: settings.password().map(str::to_string),
        })
    }
}

/// The feed's thread.
pub struct Tracker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Tracker {
    /// Starts keeping `cache` current from the Redis server at `url` (a single server:
    /// a cluster's keys live on many nodes, and this connection reaches one).
    pub fn start(url: &str, cache: Arc<KeyCache>) -> Result<Tracker, TrackError> {
        let endpoint = Endpoint::parse(url)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("redis-tracking".into())
            .spawn(move || run(&endpoint, &cache, &flag))?;
        Ok(Tracker {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(endpoint: &Endpoint, cache: &KeyCache, stop: &AtomicBool) {
    let mut pause = PING_EVERY;
    // Logged once per change: an outage is one warning, not one per retry.
    let mut on = None;
    while !stop.load(Ordering::Relaxed) {
        let mut feed = Feed::default();
        let result = feed.connect(endpoint, cache.prefix()).and_then(|stream| {
            // Only invalidations of writes after tracking began are caught: start over, and
            // refuse the fills of tickets taken before now (their GETs may have read a value
            // written before tracking began, whose invalidation will never come).
            cache.reset();
            if on != Some(true) {
                crate::info!("redis tracking on", prefix = cache.prefix());
                on = Some(true);
            }
            pause = PING_EVERY;
            feed.follow(stream, cache, stop)
        });
        cache.reset();
        if let Err(e) = result {
            if on != Some(false) {
                crate::warn!("redis tracking off until it reconnects", error = e);
                on = Some(false);
            }
        }
        sleep_unless_stopped(pause, stop);
        pause = (pause * 2).min(RETRY_MAX);
    }
    cache.reset();
}

fn sleep_unless_stopped(pause: Duration, stop: &AtomicBool) {
    let until = Instant::now() + pause;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(PING_EVERY));
    }
}

/// One connection's read buffer.
#[derive(Default)]
struct Feed {
    buf: Vec<u8>,
}

impl Feed {
    /// Connects, authenticates, turns tracking on and subscribes.
    fn connect(&mut self, endpoint: &Endpoint, prefix: &str) -> Result<TcpStream, TrackError> {
        let addr =
            std::net::ToSocketAddrs::to_socket_addrs(&(endpoint.host.as_str(), endpoint.port))?
                .next()
                .ok_or_else(|| {
                    TrackError::BadUrl(format!("{} resolves to nothing", endpoint.host))
                })?;
        let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(DEAD_AFTER))?;
        if let Some(password) = &endpoint.password {
            let auth = match &endpoint.user {
                Some(user) => {
                    resp::encode_command(&[b"AUTH", user.as_bytes(), password.as_bytes()])
                }
                None => resp::encode_command(&[b"AUTH", password.as_bytes()]),
            };
            stream.write_all(&auth)?;
            self.expect_ok(&mut stream, "AUTH")?;
        }
        stream.write_all(&resp::encode_command(&[b"CLIENT", b"ID"]))?;
        let id = match self.next(&mut stream)? {
            Value::Integer(id) => id.to_string(),
            other => return Err(unexpected("CLIENT ID", &other)),
        };
        stream.write_all(&resp::encode_command(&[
            b"CLIENT",
            b"TRACKING",
            b"ON",
            b"REDIRECT",
            id.as_bytes(),
            b"BCAST",
            b"PREFIX",
            prefix.as_bytes(),
        ]))?;
        self.expect_ok(&mut stream, "CLIENT TRACKING")?;
        stream.write_all(&resp::encode_command(&[
            b"SUBSCRIBE",
            INVALIDATE_CHANNEL.as_bytes(),
        ]))?;
        match self.next(&mut stream)? {
            Value::Array(items) if items.first() == Some(&Value::Bulk(b"subscribe".to_vec())) => {}
            other => return Err(unexpected("SUBSCRIBE", &other)),
        }
        stream.set_read_timeout(Some(PING_EVERY))?;
        Ok(stream)
    }

    /// Applies invalidations and keeps the heartbeat until the connection fails or
    /// `stop` is set.
    fn follow(
        &mut self,
        mut stream: TcpStream,
        cache: &KeyCache,
        stop: &AtomicBool,
    ) -> Result<(), TrackError> {
        let ping = resp::encode_command(&[b"PING"]);
        // The PING awaiting its PONG, and when the one before it was sent.
        let mut outstanding: Option<Instant> = None;
        let mut proven: Option<Instant> = None;
        let mut last_pong: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            match outstanding {
                None if last_pong.is_none_or(|at| at.elapsed() >= PING_EVERY) => {
                    outstanding = Some(Instant::now());
                    stream.write_all(&ping)?;
                }
                Some(sent) if sent.elapsed() >= DEAD_AFTER => return Err(TrackError::Silent),
                _ => {}
            }
            if !self.read_more(&mut stream)? {
                continue;
            }
            while let Some(value) = self.take()? {
                match Frame::of(value) {
                    Frame::Invalidate(keys) => cache.invalidate(keys.as_deref()),
                    Frame::Pong => {
                        let sent = outstanding.take().ok_or_else(|| {
                            TrackError::Refused("a PONG no PING asked for".into())
                        })?;
                        if let Some(before) = proven {
                            cache.current_as_of(before);
                        }
                        proven = Some(sent);
                        last_pong = Some(Instant::now());
                    }
                    Frame::Other(value) => return Err(unexpected("the feed", &value)),
                }
            }
        }
        Ok(())
    }

    /// Reads what arrived; false when the read timed out.
    fn read_more(&mut self, stream: &mut TcpStream) -> Result<bool, TrackError> {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => Err(TrackError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The next whole frame in the buffer, if any.
    fn take(&mut self) -> Result<Option<Value>, TrackError> {
        Ok(resp::parse(&self.buf)?.map(|(value, used)| {
            self.buf.drain(..used);
            value
        }))
    }

    /// The next frame, reading until it is whole (the handshake's replies).
    fn next(&mut self, stream: &mut TcpStream) -> Result<Value, TrackError> {
        loop {
            if let Some(value) = self.take()? {
                return Ok(value);
            }
            if !self.read_more(stream)? {
                return Err(TrackError::Silent);
            }
        }
    }

    fn expect_ok(&mut self, stream: &mut TcpStream, step: &str) -> Result<(), TrackError> {
        match self.next(stream)? {
            Value::Simple(ok) if ok == "OK" => Ok(()),
            other => Err(unexpected(step, &other)),
        }
    }
}

/// What a subscribed connection can receive.
#[derive(Debug, PartialEq)]
enum Frame {
    /// Keys that changed; `None`: all of them (FLUSHALL, FLUSHDB).
    Invalidate(Option<Vec<Vec<u8>>>),
    Pong,
    Other(Value),
}

impl Frame {
    fn of(value: Value) -> Frame {
        let Value::Array(mut items) = value else {
            return Frame::Other(value);
        };
        let kind = match items.first() {
            Some(Value::Bulk(kind)) => kind.as_slice(),
            _ => return Frame::Other(Value::Array(items)),
        };
        match (kind, items.len()) {
            (b"pong", 2) => Frame::Pong,
            (b"message", 3) if items[1] == Value::Bulk(INVALIDATE_CHANNEL.into()) => {
                match items.pop() {
                    Some(Value::Nil) => Frame::Invalidate(None),
                    Some(Value::Array(keys)) => Frame::Invalidate(Some(
                        keys.into_iter()
                            .filter_map(|k| match k {
                                Value::Bulk(k) => Some(k),
                                _ => None,
                            })
                            .collect(),
                    )),
                    Some(other) => Frame::Other(other),
                    None => Frame::Other(Value::Nil),
                }
            }
            _ => Frame::Other(Value::Array(items)),
        }
    }
}

fn unexpected(step: &str, value: &Value) -> TrackError {
    match value {
        Value::Error(e) => TrackError::Refused(format!("{step}: {e}")),
        other => TrackError::Refused(format!("{step}: unexpected {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ticket for a read of `key` (the copy holds no "?" anywhere).
    fn ticket_for(cache: &KeyCache, key: &str) -> Ticket {
        cache.confirm(key, "?").unwrap_err()
    }

    fn fresh(prefix: &str) -> Arc<KeyCache> {
        let cache = KeyCache::new(prefix);
        cache.current_as_of(Instant::now());
        cache
    }

    #[test]
    fn a_fill_is_kept_only_when_nothing_changed_since_its_ticket() {
        let cache = fresh("k.");
        let ticket = ticket_for(&cache, "k.a");
        cache.fill("k.a", Some("1"), ticket);
        assert_eq!(cache.confirm("k.a", "1"), Ok(()));
        // Another value is not refused on the copy's word: it may be the newer one.
        assert!(cache.confirm("k.a", "2").is_err());
        assert_eq!(cache.stats(), (1, 2), "(confirmed, missed)");

        // A write lands between a reader's ticket and its fill: the old value is dropped.
        let ticket = ticket_for(&cache, "k.b");
        cache.invalidate(Some(&[b"k.b".to_vec()]));
        cache.fill("k.b", Some("old"), ticket);
        assert!(cache.confirm("k.b", "old").is_err());

        // An invalidation removes what was kept; other keys stay.
        cache.invalidate(Some(&[b"k.a".to_vec(), b"k.zzz".to_vec()]));
        assert!(cache.confirm("k.a", "1").is_err());
        let ticket = ticket_for(&cache, "k.c");
        cache.fill("k.c", Some("3"), ticket);
        cache.forget("k.c");
        assert!(
            cache.confirm("k.c", "3").is_err(),
            "a local write drops the key"
        );
    }

    #[test]
    fn absent_keys_foreign_keys_and_a_stale_feed_keep_nothing() {
        let cache = fresh("k.");
        let ticket = ticket_for(&cache, "k.a");
        cache.fill("k.a", None, ticket);
        cache.fill("other.a", Some("1"), ticket);
        assert!(cache.is_empty());

        cache.fill("k.a", Some("1"), ticket);
        assert_eq!(cache.len(), 1);
        // The feed's proof runs out: the copy stops answering (and keeps no new fills).
        cache.current_as_of(Instant::now() - STALE_AFTER - Duration::from_millis(1));
        assert!(cache.confirm("k.a", "1").is_err());
        let ticket = ticket_for(&cache, "k.b");
        cache.fill("k.b", Some("2"), ticket);
        cache.current_as_of(Instant::now());
        assert_eq!(cache.confirm("k.a", "1"), Ok(()));
        assert!(cache.confirm("k.b", "2").is_err());

        cache.reset();
        assert!(cache.confirm("k.a", "1").is_err() && cache.is_empty());
    }

    #[test]
    fn the_copy_never_grows_past_its_bound() {
        let cache = fresh("k.");
        for i in 0..MAX_ENTRIES + 10 {
            let key = format!("k.{i}");
            let ticket = ticket_for(&cache, &key);
            cache.fill(&key, Some("v"), ticket);
        }
        assert!(cache.len() <= MAX_ENTRIES);
    }

    #[test]
    fn frames_of_a_subscribed_connection() {
        let bulk = |s: &str| Value::Bulk(s.as_bytes().to_vec());
        let message =
            |payload| Value::Array(vec![bulk("message"), bulk(INVALIDATE_CHANNEL), payload]);
        assert_eq!(
            Frame::of(message(Value::Array(vec![bulk("k.a"), bulk("k.b")]))),
            Frame::Invalidate(Some(vec![b"k.a".to_vec(), b"k.b".to_vec()]))
        );
        assert_eq!(Frame::of(message(Value::Nil)), Frame::Invalidate(None));
        assert_eq!(
            Frame::of(Value::Array(vec![bulk("pong"), bulk("")])),
            Frame::Pong
        );
        let elsewhere = Value::Array(vec![bulk("message"), bulk("chat"), bulk("x")]);
        assert_eq!(Frame::of(elsewhere.clone()), Frame::Other(elsewhere));
        assert_eq!(
            Frame::of(Value::Simple("OK".into())),
            Frame::Other(Value::Simple("OK".into()))
        );
    }

    /// A client of the test server as its operator (any key, any command).
    fn operator(redis: &testkit::Redis) -> redis::Connection {
        redis::Client::open(redis.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    fn set(conn: &mut redis::Connection, key: &str, value: &str) {
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query::<()>(conn)
            .unwrap();
    }

    /// Whether `key` holds `value`, checked as a caller does: the copy confirms, else
    /// Redis answers and the copy is filled.
    fn holds(cache: &KeyCache, conn: &mut redis::Connection, key: &str, value: &str) -> bool {
        match cache.confirm(key, value) {
            Ok(()) => true,
            Err(ticket) => {
                let held: Option<String> = redis::cmd("GET").arg(key).query(conn).unwrap();
                cache.fill(key, held.as_deref(), ticket);
                held.as_deref() == Some(value)
            }
        }
    }

    /// Checks `key` until the copy keeps `value` for it.
    fn keep(cache: &KeyCache, conn: &mut redis::Connection, key: &str, value: &str) {
        testkit::eventually("the copy keeps the key", || {
            assert!(holds(cache, conn, key, value));
            cache.confirm(key, value).is_ok()
        });
    }

    /// Waits (up to 10 s) until `done`, returning how long it took.
    /// The worker's ACL user (shared::grants) may run the feed; another client's write
    /// reaches the copy well inside the bound, keys outside the prefix do not disturb it,
    /// and a flush empties it.
    #[test]
    fn writes_by_any_client_reach_the_copy_within_the_bound() {
        let redis = testkit::Redis::start_secured();
        let cache = KeyCache::new("auth.tokens.");
        let tracker = Tracker::start(&redis.url_as("worker"), cache.clone()).unwrap();
        testkit::eventually("the feed is current", || cache.is_current());
        let mut ops = operator(&redis);
        let key = "auth.tokens.account.u1";
        set(&mut ops, key, "j1");
        assert!(holds(&cache, &mut ops, key, "j1"));
        // The first fill is refused if the SET's own invalidation arrives after its ticket.
        keep(&cache, &mut ops, key, "j1");
        assert_eq!(cache.confirm(key, "j1"), Ok(()));

        set(&mut ops, key, "j2");
        let took = testkit::eventually("the write reaches the copy", || {
            cache.confirm(key, "j1").is_err()
        });
        assert!(took < STALE_AFTER, "invalidated after {took:?}");
        // The copy never confirms the new value before it read it from Redis.
        assert!(cache.confirm(key, "j2").is_err());
        assert!(holds(&cache, &mut ops, key, "j2"));
        assert!(!holds(&cache, &mut ops, key, "j1"));

        // Writes outside the prefix send nothing: a reader's ticket stays good.
        let ticket = ticket_for(&cache, "auth.tokens.account.u2");
        set(&mut ops, "chat.rate.u2", "x");
        redis::cmd("PING").query::<String>(&mut ops).unwrap();
        std::thread::sleep(PING_EVERY);
        cache.fill("auth.tokens.account.u2", Some("k"), ticket);
        assert_eq!(cache.confirm("auth.tokens.account.u2", "k"), Ok(()));

        redis::cmd("FLUSHALL").query::<()>(&mut ops).unwrap();
        testkit::eventually("a flush empties the copy", || cache.is_empty());
        tracker.stop();
        assert!(
            cache.confirm(key, "j2").is_err(),
            "a stopped feed confirms nothing"
        );
    }

    /// The copy answers only while the feed proves itself: a killed connection empties it
    /// at once, a server that stops answering turns it off after STALE_AFTER, and it comes
    /// back on with the connection.
    #[test]
    fn the_copy_is_off_while_its_feed_is_down_or_silent() {
        let mut redis = testkit::Redis::start_secured();
        let cache = KeyCache::new("auth.tokens.");
        let _tracker = Tracker::start(&redis.url_as("worker"), cache.clone()).unwrap();
        testkit::eventually("the feed is current", || cache.is_current());
        let mut ops = operator(&redis);
        let key = "auth.tokens.session.u1";
        set(&mut ops, key, "j1");
        keep(&cache, &mut ops, key, "j1");

        // The operator kills the feed's connection: a write made meanwhile must not be
        // missed, so the copy is emptied, then refilled once the feed is back.
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("USER")
            .arg("worker")
            .query(&mut ops)
            .unwrap();
        assert_eq!(killed, 1);
        testkit::eventually("the broken feed empties the copy", || cache.is_empty());
        testkit::eventually("the feed is back", || cache.is_current());
        keep(&cache, &mut ops, key, "j1");

        // A server that stops answering (SIGSTOP): no PONG, so the copy stops answering
        // once its last proof is STALE_AFTER old, without waiting for a broken connection.
        let pid = redis.pid().to_string();
        let signal = |sig: &str| {
            let status = std::process::Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap();
            assert!(status.success());
        };
        signal("-STOP");
        let off = testkit::eventually("a silent feed turns the copy off", || {
            cache.confirm(key, "j1").is_err()
        });
        signal("-CONT");
        assert!(off <= STALE_AFTER + PING_EVERY, "off after {off:?}");
        testkit::eventually("a feed that answers again is current again", || {
            cache.is_current()
        });

        // A restarted server (its data gone): off, then on again by itself.
        redis.kill();
        testkit::eventually("the copy empties", || {
            cache.is_empty() && !cache.is_current()
        });
        redis.restart();
        testkit::eventually("the feed reconnects", || cache.is_current());
        let mut ops = operator(&redis);
        set(&mut ops, key, "j9");
        keep(&cache, &mut ops, key, "j9");
        assert_eq!(cache.confirm(key, "j9"), Ok(()));
    }

    #[test]
    fn urls_name_a_tcp_server_and_its_user() {
        assert_eq!(
            Endpoint::parse("redis://worker:pw@127.0.0.1:6380/").unwrap(),
            Endpoint {
                host: "127.0.0.1".into(),
                port: 6380,
                user: Some("worker".into()),
                password: Some("pw".into()),
            }
        );
        let plain = Endpoint::parse("redis://localhost/").unwrap();
        assert_eq!((plain.port, plain.user, plain.password), (6379, None, None));
        assert!(matches!(
            Endpoint::parse("redis+unix:///tmp/r.sock"),
            Err(TrackError::BadUrl(_))
        ));
        assert!(Endpoint::parse("http://x").is_err());
    }
}
