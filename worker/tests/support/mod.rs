//! What the worker's process tests share: the worker binary as a child process that dies
//! with the test, signals to it, and a line client of the gate.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const SECRET: &str = "a test signing key of 32 bytes!!";

/// Worker flags for a test: any admin port, two threads, cheap password hashes.
pub const QUICK: &[&str] = &[
    "--admin-port",
    "0",
    "--threads",
    "2",
    "--pbkdf2-iterations",
    "1000",
];

/// Redis, NATS and MariaDB of one test, and gates on them.
pub struct Servers {
    pub redis: testkit::Redis,
    pub nats: testkit::Nats,
    pub db: testkit::MariaDb,
}

impl Servers {
    pub fn start() -> Servers {
        Servers {
            redis: testkit::Redis::start(),
            nats: testkit::Nats::start(),
            db: testkit::MariaDb::start(),
        }
    }

    /// A gate on these servers answering -2 after `job_timeout`.
    pub fn gate(&self, job_timeout: Duration) -> gate::Gate {
        let mut options = gate::Options::local(&self.redis.url(), &self.nats.url());
        options.job_timeout = job_timeout;
        gate::Gate::start(options).unwrap()
    }

    /// The worker binary on these servers (see [`spawn_worker`]).
    pub fn worker(&self, args: &[&str]) -> WorkerProcess {
        spawn_worker(&self.redis, &self.nats, &self.db, args)
    }

    /// A worker with 32 job threads whose registrations each hash a password for seconds,
    /// so that jobs are surely in hand when a test kills it; `args` follow.
    pub fn slow_worker(&self, args: &[&str]) -> WorkerProcess {
        let mut all = vec![
            "--admin-port",
            "0",
            "--threads",
            "32",
            "--pbkdf2-iterations",
            "20000000",
        ];
        all.extend_from_slice(args);
        self.worker(&all)
    }
}

/// The worker process; killed when the test ends however it ends (a failed assertion must
/// not leave a worker running, hashing passwords or holding a port).
pub struct WorkerProcess(pub Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            signal(&self.0, libc::SIGKILL);
            let _ = self.0.wait();
        }
    }
}

/// The worker binary on these servers, with `args` after the connection flags; nothing of
/// the caller's `LUKSEUN_*` environment leaks in.
pub fn spawn_worker(
    redis: &testkit::Redis,
    nats: &testkit::Nats,
    db: &testkit::MariaDb,
    args: &[&str],
) -> WorkerProcess {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LUKSEUN_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("LUKSEUN_JWT_SECRET", SECRET)
        .args(["--nats-url", &nats.url(), "--redis-url", &redis.url()])
        .args(["--mysql-url", &db.url()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map(WorkerProcess)
        .expect("start the worker binary")
}

pub fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: a plain kill(2) on our own child's PID.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

/// Waits until every thread of `child` is stopped (after SIGSTOP): kill(2) returns before
/// a thread running on another core has stopped, and such a thread could still take a job.
pub fn wait_stopped(child: &Child) {
    let tasks = format!("/proc/{}/task", child.id());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let all_stopped = std::fs::read_dir(&tasks).unwrap().all(|task| {
            let stat =
                std::fs::read_to_string(task.unwrap().path().join("stat")).unwrap_or_default();
            // The state follows the command name's closing parenthesis.
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
        });
        if all_stopped {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never stopped"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One client connection to a gate, a JSON request per line.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Reads wait at most `read_limit` (an answer that does not come fails the test).
    pub fn connect(addr: SocketAddr, read_limit: Duration) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(read_limit)).unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    pub fn send(&mut self, request: &Value) {
        self.writer
            .write_all(format!("{request}\r\n").as_bytes())
            .unwrap();
    }

    pub fn receive(&mut self) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(line.trim_end())
            .unwrap_or_else(|e| panic!("no answer within the read limit ({e}): {line:?}"))
    }

    pub fn ask(&mut self, request: Value) -> Value {
        self.send(&request);
        self.receive()
    }
}

/// A guest login (`login_unique`) request for `device`.
pub fn guest_login(device: &str) -> Value {
    serde_json::json!({"world":"s0","function":"login_unique","data":{"unique_id":device}})
}

/// Asks `client` for a guest login until a worker answers it (timeouts while the worker
/// starts are expected; on a busy machine its migrations alone can take half a minute).
/// Through a gate with a link secret, the worker's link has offered to take jobs by then
/// (the offer goes before the first answer on the link).
pub fn wait_served(client: &mut Client, device: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !matches!(
        client.ask(guest_login(device))["status"].as_i64(),
        Some(0 | 1)
    ) {
        assert!(std::time::Instant::now() < deadline, "no worker answered");
    }
}
