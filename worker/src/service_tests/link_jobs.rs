//! Link jobs at the worker (shared::contract, "Link jobs"): the test plays a gate with a
//! link secret on real Redis and NATS, and the real worker (with MariaDB) runs the jobs.
//! The worker offers `jobs <threads>` only to a gate whose job said `l=1`, runs the job
//! lines that gate sends down the link like NATS jobs (without taken notices), refuses
//! lines naming another gate, and when stopping says `jobs 0` and answers every job the
//! gate sent before it shut its side.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use std::collections::HashMap;

use shared::contract::{JobHeader, JobId, LinkSecret, WorkerLine};

use super::*;
use crate::Worker;

const LINK_SECRET: &str = "worker-link-jobs-secret";

fn secret() -> LinkSecret {
    LinkSecret::from_config(LINK_SECRET).unwrap().unwrap()
}

const UNKNOWN: &str = r#"{"world":"s0","function":"no_such_function","data":{}}"#;

/// A gate played by hand: registered in Redis, publishing on NATS, checking the worker's
/// proof on the link and reading its lines.
struct HandGate {
    gid: u32,
    listener: TcpListener,
    link: Option<BufReader<TcpStream>>,
    nats: shared::nats::Client,
}

impl HandGate {
    fn start(redis: &testkit::Redis, nats: &testkit::Nats, gid: u32) -> HandGate {
        let (listener, _) = super::register_gate(&redis.url(), gid);
        let nats =
            shared::nats::Client::connect(&nats.url(), shared::nats::Options::named("hand-gate"))
                .unwrap();
        HandGate {
            gid,
            listener,
            link: None,
            nats,
        }
    }

    fn header(&self, gate: u32, link_jobs: bool) -> JobHeader {
        JobHeader {
            gate: Some(gate),
            budget_ms: Some(20_000),
            client: Some(std::net::Ipv4Addr::LOCALHOST.into()),
            link_jobs,
        }
    }

    /// Publishes a job on NATS (saying `l=1` when `link_jobs`).
    fn publish(&self, line: &str, link_jobs: bool) -> JobId {
        let jid = JobId::random();
        let mut payload = Vec::new();
        contract::encode_job(&mut payload, jid, &self.header(self.gid, link_jobs), line);
        self.nats.publish(contract::JOBS_SUBJECT, &payload).unwrap();
        jid
    }

    /// Sends a job down the link naming gate `named`.
    fn send_down(&mut self, line: &str, named: u32) -> JobId {
        let jid = JobId::random();
        let mut bytes = Vec::new();
        contract::encode_link_job(&mut bytes, jid, &self.header(named, true), line);
        self.link().get_mut().write_all(&bytes).unwrap();
        jid
    }

    /// The worker's link, accepted, challenged and proved.
    fn link(&mut self) -> &mut BufReader<TcpStream> {
        if self.link.is_none() {
            let (conn, _) = self.listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let nonce = contract::LinkNonce::random();
            let mut challenge = Vec::new();
            contract::encode_link_challenge(&mut challenge, &nonce);
            (&conn).write_all(&challenge).unwrap();
            let mut reader = BufReader::new(conn);
            let mut proof = String::new();
            reader.read_line(&mut proof).unwrap();
            contract::verify_link_proof(&secret(), &nonce, proof.trim_end()).unwrap();
            self.link = Some(reader);
        }
        self.link.as_mut().unwrap()
    }

    /// The worker's next line, without its CRLF.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.link().read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"), "{line:?}");
        line.truncate(line.len() - 2);
        line
    }

    /// The worker's lines until the answers of all `jids`: the answers by jid, and the
    /// other lines in order.
    fn until_answered(&mut self, jids: &[JobId]) -> (HashMap<JobId, String>, Vec<String>) {
        let (mut answers, mut others) = (HashMap::new(), Vec::new());
        while !jids.iter().all(|j| answers.contains_key(j)) {
            let line = self.line();
            match contract::parse_worker_line(&line).unwrap() {
                WorkerLine::Answer(jid, response) => {
                    assert!(answers.insert(jid, response.to_string()).is_none());
                }
                _ => others.push(line),
            }
        }
        (answers, others)
    }
}

fn worker(redis: &testkit::Redis, nats: &testkit::Nats, db: &testkit::MariaDb) -> Worker {
    let mut settings = test_settings(redis, nats, db);
    settings.link_secret = Some(secret());
    Worker::start(&settings).unwrap()
}

fn status_of(response: &str) -> i64 {
    serde_json::from_str::<Value>(response).unwrap()["status"]
        .as_i64()
        .unwrap()
}

#[test]
fn a_gate_that_says_l_gets_an_offer_and_its_link_jobs_run_without_notices() {
    let (redis, nats) = (testkit::Redis::start(), testkit::Nats::start());
    let db = crate::test_support::start_mariadb();
    let worker = worker(&redis, &nats, &db);
    let mut gate = HandGate::start(&redis, &nats, 3);
    let first = gate.publish(UNKNOWN, true);
    // Right after the proof: the offer of as many jobs as the worker has threads.
    assert_eq!(gate.line(), "jobs 4");
    let (answers, others) = gate.until_answered(&[first]);
    assert_eq!(others, [format!("+{first}")], "the NATS job's taken notice");
    assert_eq!(status_of(&answers[&first]), 10);

    let down: Vec<JobId> = (0..20).map(|_| gate.send_down(UNKNOWN, 3)).collect();
    let (answers, others) = gate.until_answered(&down);
    assert!(others.is_empty(), "no notices for link jobs: {others:?}");
    assert!(answers.values().all(|r| status_of(r) == 10));
    worker.stop();
}

#[test]
fn a_link_job_naming_another_gate_is_refused() {
    let (redis, nats) = (testkit::Redis::start(), testkit::Nats::start());
    let db = crate::test_support::start_mariadb();
    let worker = worker(&redis, &nats, &db);
    let mut gate = HandGate::start(&redis, &nats, 3);
    let victim = HandGate::start(&redis, &nats, 4);
    let first = gate.publish(UNKNOWN, true);
    assert_eq!(gate.line(), "jobs 4");
    gate.until_answered(&[first]);
    // Gate 3 tries to have the worker act for gate 4's clients.
    let forged = gate.send_down(UNKNOWN, 4);
    let good = gate.send_down(UNKNOWN, 3);
    let (answers, others) = gate.until_answered(&[good]);
    assert!(!answers.contains_key(&forged) && others.is_empty());
    victim.listener.set_nonblocking(true).unwrap();
    assert!(
        victim.listener.accept().is_err(),
        "nothing went to the other gate"
    );
    let (_, metrics) = http_get(worker.admin_addr(), "/metrics");
    assert!(
        metrics.contains("worker_link_jobs_refused_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("worker_link_jobs_total 1\n"), "{metrics}");
    worker.stop();
}

#[test]
fn a_gate_that_does_not_say_l_never_reads_an_offer() {
    // Our gate before link jobs: jobs name it (`g=`), nothing more.
    let (redis, nats) = (testkit::Redis::start(), testkit::Nats::start());
    let db = crate::test_support::start_mariadb();
    let worker = worker(&redis, &nats, &db);
    let mut gate = HandGate::start(&redis, &nats, 5);
    let jids: Vec<JobId> = (0..5).map(|_| gate.publish(UNKNOWN, false)).collect();
    let (answers, others) = gate.until_answered(&jids);
    assert_eq!(answers.len(), 5);
    assert!(
        others.iter().all(|l| l.starts_with('+')),
        "only taken notices besides the answers: {others:?}"
    );
    worker.stop();
}

#[test]
fn a_stopping_worker_says_jobs_0_and_answers_what_the_gate_sent_before_its_end() {
    let (redis, nats) = (testkit::Redis::start(), testkit::Nats::start());
    let db = crate::test_support::start_mariadb();
    let worker = worker(&redis, &nats, &db);
    let mut gate = HandGate::start(&redis, &nats, 6);
    let first = gate.publish(UNKNOWN, true);
    assert_eq!(gate.line(), "jobs 4");
    gate.until_answered(&[first]);
    let stopping = std::thread::spawn(move || worker.stop());
    assert_eq!(gate.line(), "jobs 0");
    // Jobs the gate sent before it read `jobs 0` still arrive; then it shuts its side.
    let late: Vec<JobId> = (0..3).map(|_| gate.send_down(UNKNOWN, 6)).collect();
    gate.link()
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    let (answers, _) = gate.until_answered(&late);
    assert!(answers.values().all(|r| status_of(r) == 10));
    stopping.join().unwrap();
}
