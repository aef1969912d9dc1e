//! The daily send limit of player mail: one Redis counter per (day, world, sender), raised
//! with INCR (atomic, so concurrent sends cannot both take the last one) and expiring at
//! the end of its UTC day.

use std::time::{SystemTime, UNIX_EPOCH};

use shared::redis_conn::RedisPool;

use crate::function::FnError;

const SECS_PER_DAY: u64 = 86_400;

/// The counter of `uid`'s sends in `world` on UTC day `day` (days since 1970-01-01).
/// `:` separates the parts because world names never contain it.
pub fn counter_key(day: u64, world: &str, uid: &str) -> String {
    format!("mail.daily:{day}:{world}:{uid}")
}

/// Today's UTC day number and the Unix time its counter expires (the next midnight).
pub fn today() -> (u64, u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = now / SECS_PER_DAY;
    (day, (day + 1) * SECS_PER_DAY)
}

/// A send counted against today's limit; [`DailySend::refund`] gives it back when the mail
/// was not delivered.
pub struct DailySend {
    key: String,
}

/// Counts one send of `uid` in `world`; `Ok(None)` when today's `limit` is used up (the
/// refused attempt is not counted).
pub fn take(
    redis: &RedisPool,
    world: &str,
    uid: &str,
    limit: u64,
) -> Result<Option<DailySend>, FnError> {
    let (day, expires_at) = today();
    let key = counter_key(day, world, uid);
    let (count, _): (u64, i64) = redis
        .run(|conn| {
            redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(&key)
                .cmd("EXPIREAT")
                .arg(&key)
                .arg(expires_at)
                .query(conn)
        })
        .map_err(|e| FnError::Backend(format!("redis: {e}")))?;
    if count > limit {
        DailySend { key }.refund(redis);
        return Ok(None);
    }
    Ok(Some(DailySend { key }))
}

impl DailySend {
    pub fn refund(self, redis: &RedisPool) {
        if let Err(e) = redis.run(|conn| redis::cmd("DECR").arg(&self.key).query::<i64>(conn)) {
            shared::warn!("daily mail count not refunded", key = self.key, error = e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_per_day_world_and_sender() {
        assert_eq!(counter_key(20419, "s0", "u.1"), "mail.daily:20419:s0:u.1");
        assert_ne!(counter_key(1, "a.b", "c"), counter_key(1, "a", "b.c"));
        let (day, expires_at) = today();
        assert!(expires_at > day * SECS_PER_DAY);
        assert_eq!(expires_at - day * SECS_PER_DAY, SECS_PER_DAY);
    }
}
