//! The chat rate limit per player: a token bucket in Redis shared by all of a player's
//! connections on every edge, so opening more connections (or reaching more edges) buys
//! no more frames. The per-connection bucket (`rate.rs`) still runs first, on the loop,
//! so a single flooding connection costs no Redis round trips.
//!
//! One Lua script takes a token atomically and reads the time from Redis, so edges with
//! different clocks share one notion of "a second". Called from the helper threads
//! (`redeemer.rs`), never from the loop.

use shared::redis_conn::{RedisError, RedisPool};

/// KEYS[1]: the player's bucket. ARGV[1]: frames per second, also the burst.
/// Returns 1 when the frame may pass (a token was taken), 0 when not. The bucket expires
/// after 2 s without frames: by then it is full again anyway.
const TAKE_SCRIPT: &str = r"
local rate = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'n', 't')
local tokens = tonumber(b[1])
local last = tonumber(b[2])
if tokens == nil or last == nil then
  tokens = rate
  last = now
end
if now > last then
  tokens = math.min(rate, tokens + (now - last) * rate / 1000)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'n', tostring(tokens), 't', tostring(now))
redis.call('PEXPIRE', KEYS[1], 2000)
return allowed
";

/// Takes one frame from the bucket at `key` (`rate` frames per second, burst `rate`).
/// `Ok(false)`: over the allowance. `Err`: Redis could not be asked.
pub fn take(pool: &RedisPool, key: &str, rate: u32) -> Result<bool, RedisError> {
    let allowed: i64 = pool.run(|conn| {
        redis::cmd("EVAL")
            .arg(TAKE_SCRIPT)
            .arg(1)
            .arg(key)
            .arg(rate)
            .query(conn)
    })?;
    Ok(allowed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_takes_the_rate_then_refuses_and_players_are_apart() {
        let server = testkit::Redis::start();
        let pool = RedisPool::new(&server.url(), 2).unwrap();
        let passed = (0..30)
            .filter(|_| take(&pool, "chat.rate.s0.a", 20).unwrap())
            .count();
        // 30 takes within well under a second: 20 from the full bucket, at most a couple
        // refilled meanwhile.
        assert!((20..23).contains(&passed), "{passed} passed");
        assert!(take(&pool, "chat.rate.s0.b", 20).unwrap(), "another player");
        assert!(take(&pool, "chat.rate.s1.a", 20).unwrap(), "another world");
    }

    #[test]
    fn the_bucket_refills_at_the_rate() {
        let server = testkit::Redis::start();
        let pool = RedisPool::new(&server.url(), 2).unwrap();
        assert!(take(&pool, "k", 2).unwrap());
        assert!(take(&pool, "k", 2).unwrap());
        assert!(!take(&pool, "k", 2).unwrap());
        // 600 ms at 2/s is at least one token; however long the pause, never more than
        // the burst of two.
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert!(take(&pool, "k", 2).unwrap());
        let more = (0..5).filter(|_| take(&pool, "k", 2).unwrap()).count();
        assert!(more <= 1, "{more} more");
    }

    #[test]
    fn redis_down_is_an_error() {
        let mut server = testkit::Redis::start();
        let pool = RedisPool::new(&server.url(), 2).unwrap();
        server.kill();
        assert!(take(&pool, "k", 2).is_err());
    }
}
