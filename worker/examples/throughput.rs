//! Jobs per second through one in-process worker, with real MariaDB, Redis and NATS and a
//! listener playing the gate. Not a test: a figure for capacity planning.
//!
//! `cargo run -p worker --example throughput [--release] -- [jobs] [threads]`

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::contract;
use shared::redis_conn::RedisPool;
use worker::{Options, Worker};

const SECRET: &str = "a throughput signing key, 32 b!!";

/// The job line as a gate with id 0 writes it (the budget is generous: this measures
/// throughput, not timeouts).
fn job_line(jid: contract::JobId, request: &Value) -> Vec<u8> {
    let header = contract::JobHeader {
        gate: Some(0),
        budget_ms: Some(60_000),
        client: None,
        link_jobs: false,
    };
    let mut payload = Vec::new();
    contract::encode_job(&mut payload, jid, &header, &request.to_string());
    payload
}

struct Gate {
    listener: TcpListener,
    reader: Option<BufReader<std::net::TcpStream>>,
    nats: shared::nats::Client,
}

impl Gate {
    /// Publishes every request at once, then waits for every answer; returns jobs/s and
    /// the answers' statuses.
    fn run(&mut self, requests: &[Value]) -> (f64, Vec<i64>) {
        let start = Instant::now();
        for request in requests {
            let jid = contract::JobId::random();
            self.nats
                .publish(contract::JOBS_SUBJECT, &job_line(jid, request))
                .unwrap();
        }
        if self.reader.is_none() {
            self.reader = Some(BufReader::new(self.listener.accept().unwrap().0));
        }
        let reader = self.reader.as_mut().unwrap();
        let mut statuses = Vec::with_capacity(requests.len());
        let mut line = String::new();
        for _ in requests {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let (_, json) = line.trim_end().split_once('~').unwrap();
            let response: Value = serde_json::from_str(json).unwrap();
            statuses.push(response["status"].as_i64().unwrap());
        }
        (
            requests.len() as f64 / start.elapsed().as_secs_f64(),
            statuses,
        )
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let jobs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let threads: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(32);

    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = testkit::MariaDb::start();
    let mut settings = Options::new(&nats.url(), &redis.url(), &db.url(), SECRET);
    settings.threads = threads;
    settings.admin_addr = "127.0.0.1:0".into();
    let worker = Worker::start(&settings).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let gate_redis = RedisPool::new(&redis.url(), 2).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    gate_redis
        .run(|c| {
            redis::cmd("SET")
                .arg(contract::gate_key(0))
                .arg(&addr)
                .query::<()>(c)
        })
        .unwrap();
    let mut gate = Gate {
        listener,
        reader: None,
        nats: shared::nats::Client::connect(&nats.url(), shared::nats::Options::default()).unwrap(),
    };

    let guests: Vec<Value> = (0..jobs)
        .map(|i| json!({"function":"login_unique","data":{"unique_id":format!("guest-{i}")}}))
        .collect();
    report(
        "login_unique (new guests: INSERT, SELECT, token SET)",
        gate.run(&guests),
        jobs,
    );
    let again = gate.run(&guests);
    report("login_unique (existing guests)", again, jobs);

    let register = json!({"function":"register","data":{"unique_id":"bench","account":"bench","password":"bench-password"}});
    let (_, statuses) = gate.run(&[register]);
    assert_eq!(statuses, [1], "new account created");
    let login = json!({"function":"login","data":{"identifier":"account","value":"bench","password":"bench-password"}});
    let logins: Vec<Value> = (0..(jobs / 200).max(4)).map(|_| login.clone()).collect();
    let n = logins.len();
    report(
        &format!("login (PBKDF2, {} rounds)", settings.pbkdf2_iterations),
        gate.run(&logins),
        n,
    );

    let token = worker
        .services()
        .tokens
        .issue("guest-0", auth::TokenKind::Account, None, None)
        .unwrap()
        .0;
    let info: Vec<Value> = (0..jobs)
        .map(|_| json!({"function":"account_all_info","data":{"token":token}}))
        .collect();
    report(
        "account_all_info (token check, SELECT)",
        gate.run(&info),
        jobs,
    );
    worker.stop();
    std::thread::sleep(Duration::from_millis(100));
}

fn report(what: &str, (rate, statuses): (f64, Vec<i64>), jobs: usize) {
    // 1 is success too: "new account created" (login_unique of a new guest)
    let ok = statuses.iter().filter(|s| matches!(**s, 0 | 1)).count();
    println!("{what}: {jobs} jobs, {ok} ok, {rate:.0} jobs/s");
}
