//! Redis connections that survive a Redis restart.
//!
//! [`RedisPool`] keeps idle connections for reuse by any thread. A command that fails
//! because the connection broke is retried once on a fresh connection, so a Redis restart
//! costs the callers at most the commands in flight while it was down.

use std::sync::Mutex;
use std::time::Duration;

pub use redis::{Connection, RedisError, RedisResult};

/// How long one command (or a connect) may take before it counts as failed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

pub struct RedisPool {
    client: redis::Client,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    timeout: Duration,
}

impl RedisPool {
    /// Checks the URL; connections are made when first needed, so a service can start
    /// while Redis is still coming up.
    pub fn new(url: &str, max_idle: usize) -> RedisResult<RedisPool> {
        Ok(RedisPool {
            client: redis::Client::open(url)?,
            idle: Mutex::new(Vec::new()),
            max_idle,
            timeout: COMMAND_TIMEOUT,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> RedisPool {
        self.timeout = timeout;
        self
    }

    fn connect(&self) -> RedisResult<Connection> {
        let conn = self.client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        Ok(conn)
    }

    fn take(&self) -> RedisResult<Connection> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// Runs `f` on a pooled connection. When the connection turns out broken (Redis
    /// restarted, a timeout), the pool is emptied and `f` runs once more on a new one.
    pub fn run<T>(&self, mut f: impl FnMut(&mut Connection) -> RedisResult<T>) -> RedisResult<T> {
        let mut conn = self.take()?;
        match f(&mut conn) {
            Ok(v) => {
                self.give_back(conn);
                Ok(v)
            }
            Err(e) if is_broken(&e) => {
                // Connections idle beside this one most likely broke too.
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
                let mut conn = self.connect()?;
                let v = f(&mut conn)?;
                self.give_back(conn);
                Ok(v)
            }
            Err(e) => {
                // A reply error (wrong type, bad argument) leaves the connection usable.
                if !e.is_unrecoverable_error() {
                    self.give_back(conn);
                }
                Err(e)
            }
        }
    }

    /// `PING` answered: the readiness check of every service that uses Redis.
    pub fn ping(&self) -> Result<(), String> {
        self.run(|c| redis::cmd("PING").query::<String>(c))
            .map(|_| ())
            .map_err(|e| format!("redis: {e}"))
    }
}

fn is_broken(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_redis_restart() {
        let mut server = testkit::Redis::start();
        let pool = RedisPool::new(&server.url(), 4).unwrap();
        pool.run(|c| redis::cmd("SET").arg("k").arg("v1").query::<()>(c))
            .unwrap();
        server.kill();
        assert!(pool.ping().is_err(), "a dead server must fail the ping");
        server.restart();
        // The pooled connection is dead; the pool must reconnect on its own.
        pool.run(|c| redis::cmd("SET").arg("k").arg("v2").query::<()>(c))
            .unwrap();
        let v: String = pool.run(|c| redis::cmd("GET").arg("k").query(c)).unwrap();
        assert_eq!(v, "v2");
        assert!(pool.ping().is_ok());
    }

    #[test]
    fn reply_errors_are_returned_not_retried() {
        let server = testkit::Redis::start();
        let pool = RedisPool::new(&server.url(), 4).unwrap();
        pool.run(|c| redis::cmd("SET").arg("s").arg("x").query::<()>(c))
            .unwrap();
        let e = pool
            .run(|c| redis::cmd("INCR").arg("s").query::<i64>(c))
            .unwrap_err();
        assert!(!is_broken(&e), "{e}");
    }
}
