//! Redis connections that survive a Redis restart, to one server or to a Redis Cluster.
//!
//! [`RedisPool`] keeps idle connections for reuse by any thread. A command that fails
//! because the connection broke is retried once on a fresh connection, so a Redis restart
//! costs the callers at most the commands in flight while it was down.
//!
//! The URL names a single server (`redis://…`, today's behaviour and cost) or a cluster:
//! `redis+cluster://[user:password@]host:port[,host:port…][/]`, the seed nodes sharing
//! one set of credentials. A cluster connection is the redis crate's: it routes each
//! command by its key's hash slot, follows MOVED and ASK, and rereads the slot map after
//! a failover. [`RedisConn`] puts both behind one `ConnectionLike`, so callers write the
//! same `cmd.query(c)` and `pipe.query(c)` for either:
//! - a plain pipeline is split per node (each command goes where its key lives, one round
//!   trip to each node, replies in the pipeline's order);
//! - a transaction (`pipe.atomic()`) goes whole to one node, and is refused before it is
//!   sent when its commands' keys (the first argument of each) fall in more than one slot;
//! - a transaction that a failover aborts (MOVED inside MULTI: nothing ran) counts as a
//!   broken connection: [`RedisPool::run`] retries it once on a fresh slot map.
//!
//! docs/redis.md lists every key family and which commands meet in one slot.
//!
//! No threads of its own; connections close when dropped.

use std::sync::Mutex;
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::Slot;
use redis::{ConnectionLike, ErrorKind, ServerErrorKind, Value};

pub use redis::{Connection, RedisError, RedisResult};

/// How long one command (or a connect) may take before it counts as failed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// The URL scheme that names a Redis Cluster by its seed nodes.
pub const CLUSTER_SCHEME: &str = "redis+cluster://";

/// Runs of a transaction that failovers keep aborting (EXECABORT on MOVED: it ran nowhere),
/// 20, 40, 60 ... ms apart, before the caller gets the error.
const REDIRECT_TRIES: u32 = 6;

/// Retries of a cluster command on MOVED, ASK, TRYAGAIN or CLUSTERDOWN, with waits from
/// `CLUSTER_RETRY_MIN_MS` doubling up to `CLUSTER_RETRY_MAX_MS`: a failover settles in
/// about a second, and a job's budget is ten.
const CLUSTER_RETRIES: u32 = 10;
const CLUSTER_RETRY_MIN_MS: u64 = 10;
const CLUSTER_RETRY_MAX_MS: u64 = 500;

enum Target {
    Single(redis::Client),
    /// The seeds are kept to rebuild the client with other timeouts.
    Cluster {
        seeds: Vec<String>,
        client: ClusterClient,
    },
}

/// One pooled connection: to the server, or to every master of the cluster.
pub enum RedisConn {
    Single(Connection),
    Cluster(Box<ClusterConnection>),
}

pub struct RedisPool {
    target: Target,
    idle: Mutex<Vec<RedisConn>>,
    max_idle: usize,
    timeout: Duration,
}

/// The seed URLs of a `redis+cluster://` URL, each a plain `redis://` URL with the shared
/// credentials; `None` for any other URL.
pub fn cluster_seeds(url: &str) -> Option<Result<Vec<String>, String>> {
    let rest = url.strip_prefix(CLUSTER_SCHEME)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    // Passwords may hold `@` or `,`: the hosts are what follows the last `@`.
    let (userinfo, hosts) = match rest.rsplit_once('@') {
        Some((user, hosts)) => (Some(user), hosts),
        None => (None, rest),
    };
    let seeds: Vec<String> = hosts
        .split(',')
        .map(|host| match userinfo {
            Some(user) => format!("redis://{user}@{host}/"),
            None => format!("redis://{host}/"),
        })
        .collect();
    let bad = hosts.split(',').find(|host| {
        let port = host.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>()));
        !matches!(port, Some((h, Ok(p))) if !h.is_empty() && p > 0 && !h.contains('/'))
    });
    Some(match bad {
        Some(host) => Err(format!(
            "cluster seed {host:?} is not host:port in {CLUSTER_SCHEME}[user:password@]host:port[,host:port...]"
        )),
        None => Ok(seeds),
    })
}

impl RedisPool {
    /// Checks the URL; connections are made when first needed, so a service can start
    /// while Redis is still coming up.
    pub fn new(url: &str, max_idle: usize) -> RedisResult<RedisPool> {
        let target = match cluster_seeds(url) {
            None => Target::Single(redis::Client::open(url)?),
            Some(Err(why)) => {
                return Err(RedisError::from((
                    ErrorKind::InvalidClientConfig,
                    "bad Redis Cluster URL",
                    why,
                )))
            }
            Some(Ok(seeds)) => Target::Cluster {
                client: cluster_client(&seeds, COMMAND_TIMEOUT)?,
                seeds,
            },
        };
        Ok(RedisPool {
            target,
            idle: Mutex::new(Vec::new()),
            max_idle,
            timeout: COMMAND_TIMEOUT,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> RedisPool {
        if let Target::Cluster { seeds, client } = &mut self.target {
            // The seeds were checked by `new`, so the same builder succeeds again.
            if let Ok(rebuilt) = cluster_client(seeds, timeout) {
                *client = rebuilt;
            }
        }
        self.timeout = timeout;
        self
    }

    /// Whether the URL named a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster { .. })
    }

    fn connect(&self) -> RedisResult<RedisConn> {
        match &self.target {
            Target::Single(client) => {
                let conn = client.get_connection_with_timeout(self.timeout)?;
                conn.set_read_timeout(Some(self.timeout))?;
                conn.set_write_timeout(Some(self.timeout))?;
                Ok(RedisConn::Single(conn))
            }
            Target::Cluster { client, .. } => {
                let conn = client.get_connection()?;
                conn.set_read_timeout(Some(self.timeout))?;
                conn.set_write_timeout(Some(self.timeout))?;
                Ok(RedisConn::Cluster(Box::new(conn)))
            }
        }
    }

    fn take(&self) -> RedisResult<RedisConn> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn give_back(&self, conn: RedisConn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// Runs `f` on a pooled connection. When the connection turns out broken (Redis
    /// restarted, a timeout, a transaction a cluster failover aborted), the pool is
    /// emptied and `f` runs once more on a new one.
    pub fn run<T>(&self, mut f: impl FnMut(&mut RedisConn) -> RedisResult<T>) -> RedisResult<T> {
        let mut conn = self.take()?;
        match f(&mut conn) {
            Ok(v) => {
                self.give_back(conn);
                Ok(v)
            }
            Err(e) if is_broken(&e) => {
                // Connections idle beside this one most likely broke too (or hold the
                // slot map from before a failover).
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
                let mut tries = 1;
                loop {
                    let mut conn = self.connect()?;
                    match f(&mut conn) {
                        Ok(v) => {
                            self.give_back(conn);
                            return Ok(v);
                        }
                        // A transaction a failover aborted ran nowhere: it is tried again
                        // while the new slot map settles (a fresh connection can still be
                        // sent to the old master for a moment); anything else once only.
                        Err(e) if aborted_by_redirect(&e) && tries < REDIRECT_TRIES => {
                            std::thread::sleep(Duration::from_millis(20 * tries as u64));
                            tries += 1;
                        }
                        Err(e) => return Err(e),
                    }
                }
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

fn cluster_client(seeds: &[String], timeout: Duration) -> RedisResult<ClusterClient> {
    ClusterClient::builder(seeds.iter().map(String::as_str))
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .retries(CLUSTER_RETRIES)
        .min_retry_wait(CLUSTER_RETRY_MIN_MS)
        .max_retry_wait(CLUSTER_RETRY_MAX_MS)
        .retry_wait_formula(CLUSTER_RETRY_MIN_MS, 2)
        .build()
}

/// A failure after which the connection is not reused and the call is retried once.
fn is_broken(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || e.is_cluster_error()
        || aborted_by_redirect(e)
}

/// A transaction whose queued commands met MOVED, ASK, TRYAGAIN or CLUSTERDOWN: Redis
/// ran none of it (EXECABORT), so running it again elsewhere does it once.
fn aborted_by_redirect(e: &RedisError) -> bool {
    e.kind() == ErrorKind::Server(ServerErrorKind::ExecAbort)
        && e.clone().into_server_errors().is_some_and(|errors| {
            errors.iter().any(|(_, err)| {
                matches!(
                    err.kind(),
                    Some(
                        ServerErrorKind::Moved
                            | ServerErrorKind::Ask
                            | ServerErrorKind::TryAgain
                            | ServerErrorKind::ClusterDown
                    )
                )
            })
        })
}

impl ConnectionLike for RedisConn {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        match self {
            RedisConn::Single(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_command(&mut self, cmd: &redis::Cmd) -> RedisResult<Value> {
        match self {
            RedisConn::Single(c) => c.req_command(cmd),
            RedisConn::Cluster(c) => c.req_command(cmd),
        }
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        match self {
            RedisConn::Single(c) => c.req_packed_commands(cmd, offset, count),
            RedisConn::Cluster(c) => cluster_pipeline(c, cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(c) => c.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
        }
    }

    fn check_connection(&mut self) -> bool {
        match self {
            RedisConn::Single(c) => c.check_connection(),
            RedisConn::Cluster(c) => c.check_connection(),
        }
    }

    fn is_open(&self) -> bool {
        match self {
            RedisConn::Single(c) => c.is_open(),
            RedisConn::Cluster(c) => c.is_open(),
        }
    }
}

/// A pipeline on a cluster: a transaction whole to its one slot's node, anything else
/// split by key across the nodes.
fn cluster_pipeline(
    conn: &mut ClusterConnection,
    packed: &[u8],
    offset: usize,
    count: usize,
) -> RedisResult<Vec<Value>> {
    let commands = split_packed(packed).ok_or_else(|| {
        RedisError::from((
            ErrorKind::Client,
            "pipeline is not RESP arrays of bulk strings",
        ))
    })?;
    let is_multi = |args: &Vec<Vec<u8>>| {
        args.first()
            .is_some_and(|a| a.eq_ignore_ascii_case(b"MULTI"))
    };
    if commands.first().is_some_and(is_multi) {
        let inner = &commands[1..commands.len().saturating_sub(1)];
        let mut slots = inner
            .iter()
            .filter_map(|args| args.get(1))
            .map(Slot::for_key);
        if let Some(first) = slots.next() {
            if slots.any(|slot| slot != first) {
                return Err(RedisError::from((
                    ErrorKind::Client,
                    "transaction over keys in more than one hash slot (docs/redis.md)",
                )));
            }
        }
        return conn.req_packed_commands(packed, offset, count);
    }
    // One command at a time, each following MOVED and ASK: the crate's cluster pipeline
    // returns a redirect met by one of its commands as an error without the other commands'
    // replies, so a failover would fail calls that a retry of the moved command alone (it
    // did not run) answers. Our pipelines are 1-3 commands; single Redis keeps its one
    // round trip.
    let mut all = Vec::with_capacity(commands.len());
    for args in commands {
        let mut cmd = redis::Cmd::new();
        for arg in args {
            cmd.arg(arg);
        }
        all.push(conn.req_command(&cmd)?);
    }
    Ok(all.into_iter().skip(offset).take(count).collect())
}

/// The commands of a packed pipeline (`*<n>\r\n` then `n` times `$<len>\r\n<bytes>\r\n`,
/// as the redis crate writes them), each as its arguments; `None` for anything else.
fn split_packed(mut bytes: &[u8]) -> Option<Vec<Vec<Vec<u8>>>> {
    fn line(bytes: &mut &[u8], marker: u8) -> Option<usize> {
        let rest = bytes.strip_prefix(&[marker])?;
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
        *bytes = &rest[end + 2..];
        Some(n)
    }
    let mut commands = Vec::new();
    while !bytes.is_empty() {
        let n = line(&mut bytes, b'*')?;
        let mut args = Vec::with_capacity(n);
        for _ in 0..n {
            let len = line(&mut bytes, b'$')?;
            let arg = bytes.get(..len)?;
            bytes = bytes.get(len..)?.strip_prefix(b"\r\n")?;
            args.push(arg.to_vec());
        }
        commands.push(args);
    }
    Some(commands)
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

    /// Commands, split pipelines and one-slot transactions on a real cluster, as the
    /// worker's ACL user; a transaction over two slots is refused before it runs.
    #[test]
    fn a_cluster_routes_commands_pipelines_and_transactions() {
        let cluster = testkit::RedisCluster::start();
        let pool = RedisPool::new(&cluster.url_as("worker"), 4).unwrap();
        assert!(pool.is_cluster());
        pool.ping().unwrap();
        // Keys spread over the slots (and so over the three masters).
        let keys: Vec<String> = (0..30)
            .map(|i| format!("login.fail.addr.10.0.0.{i}"))
            .collect();
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.cmd("SET")
                .arg(key)
                .arg(0)
                .arg("EX")
                .arg(60)
                .arg("NX")
                .ignore();
            pipe.cmd("INCR").arg(key);
        }
        let counts: Vec<u64> = pool.run(|c| pipe.query(c)).unwrap();
        assert_eq!(counts, vec![1; keys.len()]);
        let again: Vec<u64> = pool.run(|c| pipe.query(c)).unwrap();
        assert_eq!(
            again,
            vec![2; keys.len()],
            "the pipeline's order held per key"
        );
        let one = "mail.daily:1:s0:u1";
        let (n, _): (u64, i64) = pool
            .run(|c| {
                redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg(one)
                    .cmd("EXPIRE")
                    .arg(one)
                    .arg(60)
                    .query(c)
            })
            .unwrap();
        assert_eq!(n, 1);
        let e = pool
            .run(|c| {
                redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg("mail.daily:1:s0:u2")
                    .cmd("INCR")
                    .arg("mail.daily:1:s0:u3")
                    .query::<(u64, u64)>(c)
            })
            .unwrap_err();
        assert!(e.to_string().contains("more than one hash slot"), "{e}");
        let untouched: Option<u64> = pool
            .run(|c| redis::cmd("GET").arg("mail.daily:1:s0:u2").query(c))
            .unwrap();
        assert_eq!(untouched, None, "nothing of the refused transaction ran");
        // Every master holds some of the keys: the commands were routed, not sent to one.
        let masters: Vec<u16> = cluster
            .ports()
            .into_iter()
            .filter(|p| cluster.role(*p) == "master")
            .collect();
        assert_eq!(masters.len(), testkit::CLUSTER_MASTERS);
        for port in masters {
            let size = cluster.cli(port, &["DBSIZE"]);
            assert!(size.trim().parse::<u64>().unwrap() > 0, "{port}: {size}");
        }
    }

    /// A pooled connection still holds the slot map from before a failover: its next
    /// transaction meets MOVED inside MULTI (nothing runs), and the pool runs it again on
    /// the new master, once.
    #[test]
    fn a_transaction_after_a_failover_runs_exactly_once() {
        let cluster = testkit::RedisCluster::start();
        let pool = RedisPool::new(&cluster.url_as("worker"), 1).unwrap();
        let key = "mail.daily:1:s0:failover";
        let count = || -> u64 {
            pool.run(|c| {
                redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg(key)
                    .cmd("EXPIRE")
                    .arg(key)
                    .arg(60)
                    .ignore()
                    .query::<(u64,)>(c)
            })
            .unwrap()
            .0
        };
        assert_eq!(count(), 1);
        // The replica of the key's master takes over.
        let master = cluster.master_of(key);
        let replica = cluster.replica_of(master);
        let moved_before = cluster.moved_replies();
        cluster.failover(replica);
        assert_eq!(cluster.role(master), "slave");
        assert_eq!(count(), 2, "run once on the new master");
        assert!(
            cluster.moved_replies() > moved_before,
            "the old map was used first"
        );
        assert_eq!(count(), 3);
    }

    #[test]
    fn cluster_urls_name_their_seeds_with_shared_credentials() {
        assert_eq!(cluster_seeds("redis://127.0.0.1:6379/"), None);
        assert_eq!(
            cluster_seeds("redis+cluster://worker:p@w,d@10.0.0.1:7000,10.0.0.2:7001/"),
            Some(Ok(vec![
                "redis://worker:p@w,d@10.0.0.1:7000/".to_string(),
                "redis://worker:p@w,d@10.0.0.2:7001/".to_string(),
            ]))
        );
        assert_eq!(
            cluster_seeds("redis+cluster://[::1]:7000"),
            Some(Ok(vec!["redis://[::1]:7000/".to_string()]))
        );
        for bad in [
            "redis+cluster://",
            "redis+cluster://h",
            "redis+cluster://h:0",
            "redis+cluster://h:70000",
            "redis+cluster://h:1,,h:2",
            "redis+cluster://:1",
            "redis+cluster://h:1/0/x:2",
        ] {
            assert!(matches!(cluster_seeds(bad), Some(Err(_))), "{bad}");
            assert!(RedisPool::new(bad, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn packed_pipelines_split_back_into_their_commands() {
        let mut pipe = redis::pipe();
        pipe.cmd("SET").arg("k").arg("a\r\nb").ignore();
        pipe.cmd("GET").arg("k").cmd("PING");
        assert_eq!(
            split_packed(&pipe.get_packed_pipeline()),
            Some(vec![
                vec![b"SET".to_vec(), b"k".to_vec(), b"a\r\nb".to_vec()],
                vec![b"GET".to_vec(), b"k".to_vec()],
                vec![b"PING".to_vec()],
            ])
        );
        assert_eq!(split_packed(b""), Some(vec![]));
        for bad in [
            &b"*1\r\n$3\r\nGE"[..],
            b"*1\r\n$3\r\nGETX\r\n",
            b"*x\r\n",
            b"+OK\r\n",
            b"*1\r\n:1\r\n",
            b"*1\r\n$99999999999999999999\r\n",
        ] {
            assert_eq!(split_packed(bad), None, "{bad:?}");
        }
    }
}
