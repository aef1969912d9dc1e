//! Test helpers: a stand-in worker speaking the real protocols (NATS queue group `workers`,
//! Redis lookups, TCP to the gate's worker port) and a line-oriented test client.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gate::Gate;
use serde_json::Value;
use shared::contract;
use shared::nats::{Client, NatsError, Options};
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

    pub fn worker(&self, name: &'static str) -> TestWorker {
        TestWorker::start(&self.nats.url(), &self.redis.url(), name, Duration::ZERO)
    }

    pub fn redis_get(&self, key: &str) -> Option<String> {
        let pool = RedisPool::new(&self.redis.url(), 1).unwrap();
        pool.run(|c| redis::cmd("GET").arg(key).query(c)).unwrap()
    }
}

/// Answers jobs as the real worker will: looks up the job's gate in Redis and writes
/// `<jid>~<response>` to that gate's worker port. The response echoes the request's
/// `n` and `client` fields, names the worker, and adds `answer_pad` bytes of padding. Jobs that arrive together are answered
/// in reverse order, so the gate's reordering is exercised.
pub struct TestWorker {
    stop: Arc<AtomicBool>,
    pub answered: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl TestWorker {
    pub fn start(
        nats_url: &str,
        redis_url: &str,
        name: &'static str,
        delay: Duration,
    ) -> TestWorker {
        let client = Client::connect(nats_url, Options::named(name)).unwrap();
        let jobs = client
            .subscribe(contract::JOBS_SUBJECT, Some(contract::WORKERS_QUEUE))
            .unwrap();
        client.flush(Duration::from_secs(5)).unwrap();
        let redis = RedisPool::new(redis_url, 1).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let (stop2, answered2) = (stop.clone(), answered.clone());
        let thread = std::thread::spawn(move || {
            let _client = client;
            let mut gates: HashMap<String, TcpStream> = HashMap::new();
            let mut addrs: HashMap<u32, String> = HashMap::new();
            while !stop2.load(Ordering::SeqCst) {
                let first = match jobs.recv_timeout(Duration::from_millis(20)) {
                    Ok(m) => m,
                    Err(NatsError::Timeout) => continue,
                    Err(_) => return,
                };
                let mut batch = vec![first];
                while let Ok(Some(m)) = jobs.try_recv() {
                    batch.push(m);
                }
                std::thread::sleep(delay);
                for msg in batch.iter().rev() {
                    let job = contract::parse_job(&msg.payload).unwrap();
                    let response = respond(job.line, &job.header, name);
                    if answer(&redis, &mut addrs, &mut gates, &job, &response) {
                        answered2.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
        TestWorker {
            stop,
            answered,
            thread: Some(thread),
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Echoes the request's `n` and `client`, and what the job's header carried.
fn respond(line: &str, header: &contract::JobHeader, worker: &str) -> String {
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

/// The contract's return path: the job's gate id (`g=`) -> `gates.id.<gid>` -> ip:port,
/// the address cached per gid as the real worker does (and looked up again when a write
/// fails).
fn answer(
    redis: &RedisPool,
    addrs: &mut HashMap<u32, String>,
    gates: &mut HashMap<String, TcpStream>,
    job: &contract::Job,
    response: &str,
) -> bool {
    let jid = job.jid;
    let Some(gid) = job.header.gate else {
        return false;
    };
    if let std::collections::hash_map::Entry::Vacant(slot) = addrs.entry(gid) {
        let lookup = redis.run(|c| {
            redis::cmd("GET")
                .arg(contract::gate_key(gid))
                .query::<Option<String>>(c)
        });
        let Ok(Some(addr)) = lookup else {
            return false;
        };
        slot.insert(addr);
    }
    let addr = addrs[&gid].clone();
    let mut line = Vec::new();
    contract::encode_answer(&mut line, jid, response);
    for _ in 0..2 {
        let stream = match gates.get_mut(&addr) {
            Some(s) => s,
            None => match TcpStream::connect(&addr) {
                Ok(s) => gates.entry(addr.clone()).or_insert(s),
                Err(_) => return false,
            },
        };
        if stream.write_all(&line).is_ok() {
            return true;
        }
        gates.remove(&addr);
        addrs.remove(&gid);
    }
    false
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
