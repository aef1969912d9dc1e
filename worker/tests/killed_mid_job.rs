//! A worker process that dies holding a job: the client still gets an answer, the gate's
//! `-2` timeout, within the job timeout, and the next worker serves the next request.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "a test signing key of 32 bytes!!";
const JOB_TIMEOUT: Duration = Duration::from_millis(1500);

fn spawn_worker(redis: &testkit::Redis, nats: &testkit::Nats, db: &testkit::MariaDb) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LUKSEUN_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("LUKSEUN_JWT_SECRET", SECRET)
        .args(["--nats-url", &nats.url(), "--redis-url", &redis.url()])
        .args([
            "--mysql-url",
            &db.url(),
            "--admin-port",
            "0",
            "--threads",
            "2",
        ])
        .args(["--pbkdf2-iterations", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the worker binary")
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: a plain kill(2) on our own child's PID.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn ask(&mut self, device: &str) -> serde_json::Value {
        let request =
            serde_json::json!({"world":"s0","function":"login_unique","data":{"unique_id":device}});
        self.writer
            .write_all(format!("{request}\r\n").as_bytes())
            .unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(line.trim_end()).unwrap()
    }
}

#[test]
fn a_worker_killed_mid_job_answers_minus_2_within_the_job_timeout() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = testkit::MariaDb::start();
    let mut options = gate::GateOptions::local(&redis.url(), &nats.url());
    options.job_timeout = JOB_TIMEOUT;
    let mut front = gate::Gate::start(options).unwrap();
    let stream = TcpStream::connect(front.client_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut client = Client {
        reader: BufReader::new(stream.try_clone().unwrap()),
        writer: stream,
    };

    let mut doomed = spawn_worker(&redis, &nats, &db);
    // Ready once it answers through the gate (timeouts while it starts are expected).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(client.ask("warm-up")["status"].as_i64(), Some(0 | 1)) {
        assert!(Instant::now() < deadline, "the worker never became ready");
    }

    // Frozen, it still holds its NATS subscription: the next job is delivered to it and
    // sits in its socket. Then it dies without answering.
    signal(&doomed, libc::SIGSTOP);
    let asked = Instant::now();
    client
        .writer
        .write_all(
            b"{\"world\":\"s0\",\"function\":\"login_unique\",\"data\":{\"unique_id\":\"lost\"}}\r\n",
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    signal(&doomed, libc::SIGKILL);
    doomed.wait().unwrap();

    let mut line = String::new();
    client.reader.read_line(&mut line).unwrap();
    let waited = asked.elapsed();
    let answer: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(answer["status"], -2, "{line}");
    assert_eq!(answer["message"], "request timed out");
    assert!(
        waited >= JOB_TIMEOUT - Duration::from_millis(100),
        "answered after {waited:?}: the timeout came from nowhere"
    );
    assert!(
        waited < JOB_TIMEOUT + Duration::from_secs(5),
        "the client waited {waited:?}, far past the job timeout"
    );

    // A new worker takes over; the same connection keeps working.
    let mut successor = spawn_worker(&redis, &nats, &db);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(client.ask("after")["status"].as_i64(), Some(0 | 1)) {
        assert!(Instant::now() < deadline, "the next worker never answered");
    }
    signal(&successor, libc::SIGTERM);
    successor.wait().unwrap();
    front.stop();
}
