//! A worker process that dies holding a job: the client still gets an answer, the gate's
//! `-2` timeout, within the job timeout, and the next worker serves the next request. A
//! job the worker had taken (its taken notice reached the gate) is answered -2 as soon as
//! the worker's link closes, long before the job timeout.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "a test signing key of 32 bytes!!";
const JOB_TIMEOUT: Duration = Duration::from_millis(1500);

fn spawn_worker(redis: &testkit::Redis, nats: &testkit::Nats, db: &testkit::MariaDb) -> Child {
    spawn_worker_with(
        redis,
        nats,
        db,
        &["--threads", "2", "--pbkdf2-iterations", "1000"],
    )
}

fn spawn_worker_with(
    redis: &testkit::Redis,
    nats: &testkit::Nats,
    db: &testkit::MariaDb,
    extra: &[&str],
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LUKSEUN_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("LUKSEUN_JWT_SECRET", SECRET)
        .args(["--nats-url", &nats.url(), "--redis-url", &redis.url()])
        .args(["--mysql-url", &db.url(), "--admin-port", "0"])
        .args(extra)
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

#[test]
fn clients_of_a_killed_worker_are_answered_when_its_link_closes() {
    const PLAYERS: usize = 16;
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = testkit::MariaDb::start();
    let mut options = gate::GateOptions::local(&redis.url(), &nats.url());
    // Far beyond the clients' read limit: a -2 they get comes from the link closing.
    options.job_timeout = Duration::from_secs(300);
    let mut front = gate::Gate::start(options).unwrap();
    // A second gate with a short timeout tells when the worker serves (a job sent before
    // its subscription would wait out the long timeout at the first gate).
    let mut probe_options = gate::GateOptions::local(&redis.url(), &nats.url());
    probe_options.job_timeout = JOB_TIMEOUT;
    let mut probe = gate::Gate::start(probe_options).unwrap();
    let connect = |gate: &gate::Gate| {
        let stream = TcpStream::connect(gate.client_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    };
    // Each registration hashes its password for seconds: the jobs are in hand when the
    // worker dies.
    let mut doomed = Reaped(spawn_worker_with(
        &redis,
        &nats,
        &db,
        &["--threads", "32", "--pbkdf2-iterations", "20000000"],
    ));
    let mut warm = connect(&probe);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(warm.ask("warm-up")["status"].as_i64(), Some(0 | 1)) {
        assert!(Instant::now() < deadline, "the worker never became ready");
    }
    let mut players: Vec<Client> = (0..PLAYERS).map(|_| connect(&front)).collect();
    for (i, player) in players.iter_mut().enumerate() {
        let request = serde_json::json!({"world":"s0","function":"register",
            "data":{"unique_id":format!("slow-{i}"),"account":format!("slow{i}"),"password":"pw-123456"}});
        player
            .writer
            .write_all(format!("{request}\r\n").as_bytes())
            .unwrap();
    }
    // Every job is taken once the gate holds all of them against the worker's link.
    let deadline = Instant::now() + Duration::from_secs(30);
    while front.metrics().jobs_held.get() < PLAYERS as i64 {
        assert!(Instant::now() < deadline, "the worker never took every job");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&doomed.0, libc::SIGKILL);
    let killed = Instant::now();
    doomed.0.wait().unwrap();
    let mut slowest = Duration::ZERO;
    for player in &mut players {
        let mut line = String::new();
        player.reader.read_line(&mut line).unwrap();
        slowest = slowest.max(killed.elapsed());
        let answer: serde_json::Value = serde_json::from_str(line.trim_end())
            .unwrap_or_else(|e| panic!("no answer before the read limit ({e}): {line:?}"));
        assert_eq!(answer["status"], -2, "{line}");
    }
    eprintln!("SIGKILL -> -2 for all {PLAYERS} players: {slowest:?} (job timeout 300 s)");
    assert_eq!(front.metrics().held_jobs_lost.get(), PLAYERS as u64);
    assert_eq!(front.metrics().jobs_held.get(), 0);
    probe.stop();
    front.stop();
}

/// A worker process killed when the test ends, however it ends (a failed assertion must
/// not leave a worker hashing passwords for minutes).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
