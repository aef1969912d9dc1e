//! The worker port with a link secret, against real Redis and NATS: only a connection
//! that proves the secret gets its answer lines read. The test plays the attacker who
//! reads jobs off NATS and writes answers to the worker port.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use gate::Gate;
use shared::contract::{self, LinkSecret, JOBS_SUBJECT, WORKERS_QUEUE};
use shared::envelope::timeout_json;
use shared::nats::{Client, Options, Subscription};
use support::*;

const SECRET: &str = "worker-link-secret-for-tests";

fn secret(text: &str) -> LinkSecret {
    LinkSecret::from_config(text).unwrap().unwrap()
}

struct Setup {
    servers: Servers,
    gate: Gate,
    jobs: Subscription,
    _nats: Client,
}

fn start(link_secret: Option<LinkSecret>) -> Setup {
    let servers = Servers::start();
    let options = gate::Options {
        link_secret,
        job_timeout: Duration::from_millis(1500),
        ..servers.options()
    };
    let gate = Gate::start(options).unwrap();
    let nats = Client::connect(&servers.nats.url(), Options::named("spy")).unwrap();
    let jobs = nats.subscribe(JOBS_SUBJECT, Some(WORKERS_QUEUE)).unwrap();
    nats.flush(Duration::from_secs(5)).unwrap();
    Setup {
        servers,
        gate,
        jobs,
        _nats: nats,
    }
}

impl Setup {
    /// A client request, and the job id read off NATS.
    fn request(&self, client: &mut TestClient, n: u64) -> contract::JobId {
        client.request(1, n);
        let msg = self.jobs.recv_timeout(READ_LIMIT).unwrap();
        contract::parse_job(&msg.payload).unwrap().jid
    }

    fn worker_port(&self) -> BufReader<TcpStream> {
        let stream = TcpStream::connect(self.gate.worker_addr()).unwrap();
        stream.set_read_timeout(Some(READ_LIMIT)).unwrap();
        BufReader::new(stream)
    }
}

fn forged_answer(jid: contract::JobId) -> Vec<u8> {
    let mut line = Vec::new();
    contract::encode_answer(&mut line, jid, r#"{"status":0,"message":"forged"}"#);
    line
}

/// The gate's challenge line, read as a worker would.
fn read_challenge(link: &mut BufReader<TcpStream>) -> contract::LinkNonce {
    let mut line = String::new();
    link.read_line(&mut line).unwrap();
    contract::parse_link_challenge(line.trim_end()).expect("a challenge line")
}

/// True once the gate closed the connection (EOF or reset).
fn closed_by_gate(link: &mut BufReader<TcpStream>) -> bool {
    let mut rest = Vec::new();
    match link.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn without_a_secret_anyone_on_the_worker_port_answers_jobs() {
    // The state of today's deployments without --link-secret: the hole the secret closes.
    let setup = start(None);
    let mut client = TestClient::connect(setup.gate.client_addr());
    let jid = setup.request(&mut client, 1);
    let mut attacker = setup.worker_port();
    attacker.get_mut().write_all(&forged_answer(jid)).unwrap();
    assert!(client.read_answer().unwrap().contains("forged"));
}

#[test]
fn a_forged_answer_line_on_the_worker_port_is_refused() {
    let setup = start(Some(secret(SECRET)));
    let mut client = TestClient::connect(setup.gate.client_addr());
    let jid = setup.request(&mut client, 1);
    let mut attacker = setup.worker_port();
    read_challenge(&mut attacker);
    attacker.get_mut().write_all(&forged_answer(jid)).unwrap();
    assert!(closed_by_gate(&mut attacker));
    assert_eq!(client.read_answer().unwrap(), timeout_json());
    assert_eq!(setup.gate.metrics().worker_links_refused.get(), 1);
    assert_eq!(setup.gate.metrics().answers.get(), 0);
}

#[test]
fn a_proof_with_another_secret_or_for_another_challenge_is_refused() {
    let setup = start(Some(secret(SECRET)));
    let mut client = TestClient::connect(setup.gate.client_addr());
    let jid = setup.request(&mut client, 1);

    let mut wrong = setup.worker_port();
    let nonce = read_challenge(&mut wrong);
    let mut bytes = Vec::new();
    contract::encode_link_proof(&mut bytes, &secret("another-secret-entirely"), &nonce);
    bytes.extend_from_slice(&forged_answer(jid));
    wrong.get_mut().write_all(&bytes).unwrap();
    assert!(closed_by_gate(&mut wrong));

    // A proof recorded from one connection opens no other.
    let mut first = setup.worker_port();
    let nonce = read_challenge(&mut first);
    let mut replay = Vec::new();
    contract::encode_link_proof(&mut replay, &secret(SECRET), &nonce);
    let mut second = setup.worker_port();
    read_challenge(&mut second);
    replay.extend_from_slice(&forged_answer(jid));
    second.get_mut().write_all(&replay).unwrap();
    assert!(closed_by_gate(&mut second));

    assert_eq!(client.read_answer().unwrap(), timeout_json());
    assert_eq!(setup.gate.metrics().worker_links_refused.get(), 2);
}

#[test]
fn a_silent_connection_is_dropped_after_the_proof_timeout() {
    let setup = start(Some(secret(SECRET)));
    let mut silent = setup.worker_port();
    read_challenge(&mut silent);
    let started = Instant::now();
    assert!(closed_by_gate(&mut silent));
    eprintln!(
        "silent worker-port connection closed after {:?} (proof timeout {:?})",
        started.elapsed(),
        contract::LINK_PROOF_TIMEOUT
    );
    wait_for("the refusal counted", Duration::from_secs(5), || {
        setup.gate.metrics().worker_links_refused.get() == 1
    });
    let _ = &setup.servers;
}

#[test]
fn a_worker_that_proves_the_secret_answers() {
    let setup = start(Some(secret(SECRET)));
    let mut client = TestClient::connect(setup.gate.client_addr());
    let jid = setup.request(&mut client, 1);
    let mut worker = setup.worker_port();
    let nonce = read_challenge(&mut worker);
    let mut bytes = Vec::new();
    contract::encode_link_proof(&mut bytes, &secret(SECRET), &nonce);
    // The proof and the first answer in one write, as the worker's link may send them.
    contract::encode_answer(&mut bytes, jid, r#"{"status":0,"message":"real"}"#);
    worker.get_mut().write_all(&bytes).unwrap();
    assert!(client.read_answer().unwrap().contains("real"));
    // The link stays open for more answers.
    let jid = setup.request(&mut client, 2);
    let mut line = Vec::new();
    contract::encode_answer(&mut line, jid, r#"{"status":0,"message":"again"}"#);
    worker.get_mut().write_all(&line).unwrap();
    assert!(client.read_answer().unwrap().contains("again"));
    assert_eq!(setup.gate.metrics().worker_links_refused.get(), 0);
}
