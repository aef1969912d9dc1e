//! Gate registration: `gates.id.<gid>` = `"<ip>:<worker port>"` with a 10 s expiry, so
//! workers can find the gate a job came from.
//!
//! A thread refreshes the key every second and registers again when Redis lost it (a
//! Redis restart), preferring the gid it had. The current gid is shared through
//! [`GateIdCell`]: the job dispatcher reads it for every batch.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use shared::redis_conn::{RedisPool, RedisResult};

pub use shared::contract::{gate_key, GATE_KEY_TTL_SECS as REGISTRATION_TTL_SECS};
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Gids tried before giving up: far more gates than one cluster runs.
pub const MAX_GATE_IDS: u32 = 4096;

/// The gid this gate holds right now, if any; cheap to read from any thread.
#[derive(Clone, Debug, Default)]
pub struct GateIdCell(Arc<AtomicI64>);

impl GateIdCell {
    pub fn new() -> GateIdCell {
        GateIdCell(Arc::new(AtomicI64::new(-1)))
    }

    pub fn get(&self) -> Option<u32> {
        u32::try_from(self.0.load(Ordering::Acquire)).ok()
    }

    fn set(&self, gid: Option<u32>) {
        self.0
            .store(gid.map(i64::from).unwrap_or(-1), Ordering::Release);
    }
}

#[derive(Debug)]
pub enum RegisterError {
    Redis(shared::redis_conn::RedisError),
    /// Every gid below [`MAX_GATE_IDS`] is held by another gate.
    NoFreeId,
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegisterError::Redis(e) => write!(f, "redis: {e}"),
            RegisterError::NoFreeId => write!(f, "all {MAX_GATE_IDS} gate ids are taken"),
        }
    }
}

impl std::error::Error for RegisterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegisterError::Redis(e) => Some(e),
            RegisterError::NoFreeId => None,
        }
    }
}

impl From<shared::redis_conn::RedisError> for RegisterError {
    fn from(e: shared::redis_conn::RedisError) -> Self {
        RegisterError::Redis(e)
    }
}

fn claim(pool: &RedisPool, gid: u32, value: &str) -> RedisResult<bool> {
    let reply: Option<String> = pool.run(|c| {
        redis::cmd("SET")
            .arg(gate_key(gid))
            .arg(value)
            .arg("NX")
            .arg("EX")
            .arg(REGISTRATION_TTL_SECS)
            .query(c)
    })?;
    Ok(reply.is_some())
}

/// Claims `preferred` if it is free, else the lowest free gid.
pub fn register(
    pool: &RedisPool,
    value: &str,
    preferred: Option<u32>,
) -> Result<u32, RegisterError> {
    if let Some(gid) = preferred {
        if claim(pool, gid, value)? {
            return Ok(gid);
        }
    }
    for gid in 0..MAX_GATE_IDS {
        if Some(gid) != preferred && claim(pool, gid, value)? {
            return Ok(gid);
        }
    }
    Err(RegisterError::NoFreeId)
}

/// Extends the expiry; `false` when the key is gone or holds another gate's value.
///
/// EXPIRE and GET go in one round trip. If the key turned out to be another gate's, the
/// EXPIRE extended that gate's registration, which is harmless: it refreshes it anyway.
pub fn refresh(pool: &RedisPool, gid: u32, value: &str) -> RedisResult<bool> {
    let key = gate_key(gid);
    let (_, held): (i64, Option<String>) = pool.run(|c| {
        redis::pipe()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(REGISTRATION_TTL_SECS)
            .cmd("GET")
            .arg(&key)
            .query(c)
    })?;
    Ok(held.as_deref() == Some(value))
}

/// Deletes the key if it still holds our value; `true` if it was deleted.
/// WATCH makes the check and the DEL one step: another gate's key is never deleted.
/// Every command names the key, so on a Redis Cluster all go to its node: when the key
/// is not ours the WATCH ends with an empty transaction on the key's node, not with
/// UNWATCH, which names no key and could be routed to another node.
pub fn deregister(pool: &RedisPool, gid: u32, value: &str) -> RedisResult<bool> {
    let key = gate_key(gid);
    pool.run(|c| {
        redis::cmd("WATCH").arg(&key).query::<()>(c)?;
        let held: Option<String> = redis::cmd("GET").arg(&key).query(c)?;
        if held.as_deref() != Some(value) {
            redis::pipe().atomic().cmd("GET").arg(&key).query::<()>(c)?;
            return Ok(false);
        }
        let done: Option<(i64,)> = redis::pipe().atomic().cmd("DEL").arg(&key).query(c)?;
        Ok(matches!(done, Some((1,))))
    })
}

/// One registration step: refresh what we hold, or (re-)register.
fn tick(pool: &RedisPool, value: &str, cell: &GateIdCell, last_gid: &mut Option<u32>) {
    if let Some(gid) = cell.get() {
        match refresh(pool, gid, value) {
            Ok(true) => return,
            Ok(false) => {
                shared::warn!("registration lost, registering again", gid = gid);
                cell.set(None);
            }
            Err(e) => {
                // Keep the gid: if Redis comes back with the key, nothing changed.
                shared::warn!("registration refresh failed", gid = gid, error = e);
                return;
            }
        }
    }
    match register(pool, value, *last_gid) {
        Ok(gid) => {
            shared::info!("registered", gid = gid, key = gate_key(gid), value = value);
            *last_gid = Some(gid);
            cell.set(Some(gid));
        }
        Err(e) => shared::warn!("registration failed", error = e),
    }
}

/// The registration thread.
pub struct Registrar {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Registrar {
    /// Registers once before returning (so jobs can carry a gid at once when Redis is up),
    /// then keeps the registration alive on its own thread.
    pub fn start(
        pool: Arc<RedisPool>,
        value: String,
        cell: GateIdCell,
    ) -> std::io::Result<Registrar> {
        let mut last_gid = None;
        tick(&pool, &value, &cell, &mut last_gid);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("gate-registrar".into())
            .spawn(move || {
                // A message or a dropped sender both mean stop.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(REFRESH_INTERVAL) {
                    tick(&pool, &value, &cell, &mut last_gid);
                }
                if let Some(gid) = cell.get() {
                    cell.set(None);
                    match deregister(&pool, gid, &value) {
                        Ok(true) => shared::info!("deregistered", gid = gid),
                        Ok(false) => shared::warn!("registration was not ours any more", gid = gid),
                        Err(e) => shared::warn!("deregistration failed", gid = gid, error = e),
                    }
                }
            })?;
        Ok(Registrar {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops refreshing and deletes the key (if it is still ours).
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(pool: &RedisPool, key: &str) -> Option<String> {
        pool.run(|c| redis::cmd("GET").arg(key).query(c)).unwrap()
    }

    fn set(pool: &RedisPool, key: &str, value: &str) {
        pool.run(|c| redis::cmd("SET").arg(key).arg(value).query::<()>(c))
            .unwrap();
    }

    #[test]
    fn takes_the_lowest_free_id_or_the_preferred_one() {
        let redis = testkit::Redis::start();
        let pool = RedisPool::new(&redis.url(), 2).unwrap();
        assert_eq!(register(&pool, "10.0.0.1:8201", None).unwrap(), 0);
        assert_eq!(register(&pool, "10.0.0.2:8201", None).unwrap(), 1);
        assert_eq!(register(&pool, "10.0.0.3:8201", Some(7)).unwrap(), 7);
        // A taken preferred id falls back to the lowest free one.
        assert_eq!(register(&pool, "10.0.0.4:8201", Some(0)).unwrap(), 2);
        assert_eq!(get(&pool, "gates.id.1").as_deref(), Some("10.0.0.2:8201"));
        let ttl: i64 = pool
            .run(|c| redis::cmd("TTL").arg("gates.id.1").query(c))
            .unwrap();
        assert!((1..=10).contains(&ttl), "ttl {ttl}");
    }

    #[test]
    fn refresh_notices_a_lost_or_stolen_key() {
        let redis = testkit::Redis::start();
        let pool = RedisPool::new(&redis.url(), 2).unwrap();
        let gid = register(&pool, "a:1", None).unwrap();
        assert!(refresh(&pool, gid, "a:1").unwrap());
        pool.run(|c| redis::cmd("DEL").arg(gate_key(gid)).query::<()>(c))
            .unwrap();
        assert!(!refresh(&pool, gid, "a:1").unwrap());
        set(&pool, &gate_key(gid), "b:2");
        assert!(!refresh(&pool, gid, "a:1").unwrap());
    }

    #[test]
    fn deregister_deletes_only_our_own_key() {
        let redis = testkit::Redis::start();
        let pool = RedisPool::new(&redis.url(), 2).unwrap();
        let gid = register(&pool, "a:1", None).unwrap();
        set(&pool, &gate_key(gid), "b:2");
        assert!(!deregister(&pool, gid, "a:1").unwrap());
        assert_eq!(get(&pool, &gate_key(gid)).as_deref(), Some("b:2"));
        // The refused deregister's WATCH is over: a change of the key afterwards does not
        // abort the next transaction on that (pooled) connection.
        set(&pool, &gate_key(gid), "b:3");
        let later: Option<(Option<String>,)> = pool
            .run(|c| {
                redis::pipe()
                    .atomic()
                    .cmd("GET")
                    .arg(gate_key(gid))
                    .query(c)
            })
            .unwrap();
        assert_eq!(later, Some((Some("b:3".to_string()),)));
        let mine = register(&pool, "a:1", None).unwrap();
        assert!(deregister(&pool, mine, "a:1").unwrap());
        assert_eq!(get(&pool, &gate_key(mine)), None);
    }

    #[test]
    fn the_registrar_registers_at_once_and_cleans_up() {
        let redis = testkit::Redis::start();
        let pool = Arc::new(RedisPool::new(&redis.url(), 2).unwrap());
        let cell = GateIdCell::new();
        let mut registrar = Registrar::start(pool.clone(), "c:3".into(), cell.clone()).unwrap();
        assert_eq!(cell.get(), Some(0));
        assert_eq!(get(&pool, "gates.id.0").as_deref(), Some("c:3"));
        registrar.stop();
        assert_eq!(cell.get(), None);
        assert_eq!(get(&pool, "gates.id.0"), None);
    }
}
