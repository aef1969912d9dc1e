//! The daily send limit of player mail: one Redis counter per (game day, world, sender),
//! raised with INCR (atomic, so concurrent sends cannot both take the last one) and expiring
//! at the end of its game day. The game day is the original's: it starts at midnight in
//! UTC+8 (Asia/Shanghai, a fixed offset: China has no daylight saving time).

use shared::redis_conn::RedisPool;

use crate::function::FnError;

use crate::modules::daily;

/// The counter of `uid`'s sends in `world` on game day `day` (days since 1970-01-01 in
/// UTC+8): [`crate::keys::mail_daily`].
pub fn counter_key(day: i64, world: &str, uid: &str) -> String {
    crate::keys::mail_daily(day, world, uid)
}

/// The game day of `now` (Unix seconds) and the Unix time it ends (the next UTC+8 midnight).
pub fn game_day(now: i64) -> (i64, i64) {
    let day = daily::game_day(now);
    (day, daily::day_end(day))
}

/// A send counted against today's limit: `count` is the sends today including this one;
/// [`DailySend::refund`] gives it back when the mail was not delivered.
pub struct DailySend {
    key: String,
    pub count: u64,
}

/// Counts one send of `uid` in `world` at `now`; `Ok(None)` when today's `limit` is used up
/// (the refused attempt is not counted).
pub fn take(
    redis: &RedisPool,
    now: i64,
    world: &str,
    uid: &str,
    limit: u64,
) -> Result<Option<DailySend>, FnError> {
    let (day, ends_at) = game_day(now);
    let key = counter_key(day, world, uid);
    let (count, _): (u64, i64) = redis
        .run(|conn| {
            redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(&key)
                .cmd("EXPIREAT")
                .arg(&key)
                .arg(ends_at)
                .query(conn)
        })
        .map_err(|e| FnError::Backend(format!("redis: {e}")))?;
    let send = DailySend { key, count };
    if count > limit {
        send.refund(redis);
        return Ok(None);
    }
    Ok(Some(send))
}

impl DailySend {
    /// Gives the send back; answers the sends today without it.
    pub fn refund(self, redis: &RedisPool) -> u64 {
        if let Err(e) = redis.run(|conn| redis::cmd("DECR").arg(&self.key).query::<i64>(conn)) {
            shared::warn!("daily mail count not refunded", key = self.key, error = e);
        }
        self.count.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    const SECS_PER_DAY: i64 = 86_400;
    use super::*;

    #[test]
    fn counters_are_per_game_day_world_and_sender() {
        assert_eq!(counter_key(20419, "s0", "u.1"), "mail.daily:20419:s0:u.1");
        assert_ne!(counter_key(1, "a.b", "c"), counter_key(1, "a", "b.c"));
        // 2026-01-01 15:59:59 UTC is 23:59:59 in UTC+8; a second later the next game day.
        let before = 1_767_283_199;
        let (day, ends_at) = game_day(before);
        assert_eq!(ends_at, before + 1);
        assert_eq!(game_day(before + 1), (day + 1, ends_at + SECS_PER_DAY));
        // 16:00 UTC the day before to 15:59:59 UTC: one game day.
        assert_eq!(game_day(before - SECS_PER_DAY + 1).0, day);
        assert_eq!(game_day(before - SECS_PER_DAY).0, day - 1);
    }
}
