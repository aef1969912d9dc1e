//! Test helpers: a stand-in worker speaking the real protocols (NATS queue group `workers`,
//! Redis lookups, TCP to the gate's worker port, link jobs; `stand_in`, shared with the
//! gate's benchmark) and a line-oriented test client.

#![allow(dead_code)]

mod stand_in;
pub use stand_in::{StandIn, StandInOptions};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use gate::Gate;
use serde_json::Value;
use shared::contract::{self, LinkSecret};
use shared::redis_conn::RedisPool;

pub const READ_LIMIT: Duration = Duration::from_secs(15);

pub struct Servers {
    pub redis: testkit::Redis,
    pub nats: testkit::Nats,
}

impl Servers {
    pub fn start() -> Servers {
        Servers {
            redis: testkit::Redis::start(),
            nats: testkit::Nats::start(),
        }
    }

    pub fn options(&self) -> gate::Options {
        gate::Options::local(&self.redis.url(), &self.nats.url())
    }

    pub fn gate(&self) -> Gate {
        Gate::start(self.options()).expect("gate starts")
    }

    pub fn worker(&self, name: &'static str) -> StandIn {
        TestWorker::start(&self.nats.url(), &self.redis.url(), name, Duration::ZERO)
    }

    pub fn redis_get(&self, key: &str) -> Option<String> {
        let pool = RedisPool::new(&self.redis.url(), 1).unwrap();
        pool.run(|c| redis::cmd("GET").arg(key).query(c)).unwrap()
    }
}

/// The gate's tests' worker: the [`StandIn`] answering with [`respond`].
pub struct TestWorker;

impl TestWorker {
    /// Takes jobs from NATS only (a seed-contract worker).
    pub fn start(nats_url: &str, redis_url: &str, name: &'static str, delay: Duration) -> StandIn {
        StandIn::start(
            nats_url,
            redis_url,
            StandInOptions {
                name,
                delay,
                respond,
                link: None,
            },
        )
    }

    /// Also takes up to `window` jobs at once down its links, proving `secret`.
    pub fn linked(
        nats_url: &str,
        redis_url: &str,
        name: &'static str,
        secret: LinkSecret,
        window: u32,
    ) -> StandIn {
        StandIn::start(
            nats_url,
            redis_url,
            StandInOptions {
                name,
                delay: Duration::ZERO,
                respond,
                link: Some((secret, window)),
            },
        )
    }
}

/// Echoes the request's `n` and `client`, names the worker, says what the job's header
/// carried, and adds `answer_pad` bytes of padding.
fn respond(job: &contract::Job<'_>, worker: &str) -> String {
    let (line, header) = (job.line, &job.header);
    let request: Value = serde_json::from_str(line).unwrap_or(Value::Null);
    let pad = request["answer_pad"].as_u64().unwrap_or(0) as usize;
    let job = serde_json::json!({
        "gate": header.gate,
        "budget_ms": header.budget_ms,
        "client_ip": header.client.map(|ip| ip.to_string()),
    });
    serde_json::json!({
        "status": 0,
        "message": "success",
        "data": {"n": request["n"], "client": request["client"], "worker": worker,
                 "job": job, "pad": "x".repeat(pad)}
    })
    .to_string()
}

/// A client connection reading answer lines.
pub struct TestClient {
    pub reader: BufReader<TcpStream>,
}

impl TestClient {
    pub fn connect(addr: SocketAddr) -> TestClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(READ_LIMIT)).unwrap();
        TestClient {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    pub fn request(&mut self, client: u64, n: u64) {
        self.send(request_line(client, n).as_bytes());
    }

    /// The next answer line without `\r\n`; `None` when the gate closed the connection.
    pub fn read_answer(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => {
                assert!(line.ends_with("\r\n"), "answer not ended by CRLF: {line:?}");
                line.truncate(line.len() - 2);
                Some(line)
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("no answer within {READ_LIMIT:?}: {e}"),
        }
    }

    /// True if the gate closed the connection (EOF or reset) before `limit`.
    pub fn closed_by_gate(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

pub fn request_line(client: u64, n: u64) -> String {
    format!("{{\"world\":\"s0\",\"function\":\"echo\",\"client\":{client},\"n\":{n},\"data\":{{}}}}\r\n")
}

pub fn data_of(answer: &str) -> (u64, u64) {
    let v: Value = serde_json::from_str(answer).unwrap_or_else(|e| panic!("{answer:?}: {e}"));
    assert_eq!(v["status"], 0, "{answer}");
    (
        v["data"]["client"].as_u64().unwrap(),
        v["data"]["n"].as_u64().unwrap(),
    )
}

pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not happen within {limit:?}");
}

pub use testkit::connect_from;

impl TestClient {
    /// As [`TestClient::connect`], from the loopback address `from`.
    pub fn connect_from(from: std::net::Ipv4Addr, addr: SocketAddr) -> TestClient {
        let stream = connect_from(from, addr);
        stream.set_read_timeout(Some(READ_LIMIT)).unwrap();
        TestClient {
            reader: BufReader::new(stream),
        }
    }
}

/// The resident set size of this process (the gate runs in it), in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
