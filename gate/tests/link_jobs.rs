//! Jobs down worker links (shared::contract, "Link jobs"), against real Redis and NATS:
//! a proven link that offers gets jobs up to its window, the rest go to NATS; a link that
//! closes with jobs in hand has them answered -2 at once; `jobs 0` ends the jobs and shuts
//! the gate's sending side; workers and links that never offer keep the NATS path.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use gate::{Gate, Options};
use shared::contract::{self, LinkSecret, JOBS_SUBJECT, WORKERS_QUEUE};
use shared::envelope::timeout_json;
use shared::nats::{self, Client};
use support::*;

const SECRET: &str = "worker-link-secret-for-tests";

fn secret() -> LinkSecret {
    LinkSecret::from_config(SECRET).unwrap().unwrap()
}

/// A gate with the link secret (or none) and a job timeout far past the client's read
/// limit: an answer -2 that arrives at all came from a link closing.
fn gate(servers: &Servers, link_secret: Option<LinkSecret>) -> Gate {
    Gate::start(Options {
        link_secret,
        job_timeout: Duration::from_secs(120),
        ..servers.options()
    })
    .unwrap()
}

/// Sends `count` pipelined requests on one connection and checks every answer, in order.
fn round(client: &mut TestClient, id: u64, count: u64) {
    let mut bytes = Vec::new();
    for n in 0..count {
        bytes.extend_from_slice(request_line(id, n).as_bytes());
    }
    client.send(&bytes);
    for n in 0..count {
        assert_eq!(data_of(&client.read_answer().unwrap()), (id, n));
    }
}

/// A hand-made worker link: proves the secret, then plays the worker line by line.
struct HandLink {
    reader: BufReader<TcpStream>,
}

impl HandLink {
    fn open(gate: &Gate) -> HandLink {
        let stream = TcpStream::connect(gate.worker_addr()).unwrap();
        stream.set_read_timeout(Some(READ_LIMIT)).unwrap();
        let mut reader = BufReader::new(stream);
        let mut challenge = String::new();
        reader.read_line(&mut challenge).unwrap();
        let nonce = contract::parse_link_challenge(challenge.trim_end()).unwrap();
        let mut proof = Vec::new();
        contract::encode_link_proof(&mut proof, &secret(), &nonce);
        reader.get_mut().write_all(&proof).unwrap();
        HandLink { reader }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    fn offer(&mut self, window: u32) {
        let mut line = Vec::new();
        contract::encode_link_jobs(&mut line, window);
        self.send(&line);
    }

    /// The next job line the gate sent down the link, as it came.
    fn read_job_line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        assert!(line.ends_with(b"\r\n"), "{line:?}");
        line.truncate(line.len() - 2);
        line
    }

    fn answer(&mut self, jid: contract::JobId, id: u64, n: u64) {
        let mut line = Vec::new();
        let response =
            format!(r#"{{"status":0,"message":"success","data":{{"client":{id},"n":{n}}}}}"#);
        contract::encode_answer(&mut line, jid, &response);
        self.send(&line);
    }
}

/// A hand link that offered `window`, open at the gate, and a spy on NATS `jobs` (with
/// its client, which must live as long).
fn offered_link(
    servers: &Servers,
    gate: &Gate,
    window: u32,
) -> (HandLink, shared::nats::Subscription, Client) {
    let mut link = HandLink::open(gate);
    link.offer(window);
    let nats = Client::connect(&servers.nats.url(), nats::Options::named("spy")).unwrap();
    let jobs = nats.subscribe(JOBS_SUBJECT, Some(WORKERS_QUEUE)).unwrap();
    nats.flush(READ_LIMIT).unwrap();
    wait_for("the link is open", Duration::from_secs(5), || {
        gate.metrics().worker_connections.get() == 1
    });
    (link, jobs, nats)
}

#[test]
fn a_linked_worker_gets_the_jobs_down_its_link_and_answers_them_in_order() {
    let servers = Servers::start();
    let gate = gate(&servers, Some(secret()));
    let worker = TestWorker::linked(
        &servers.nats.url(),
        &servers.redis.url(),
        "w1",
        secret(),
        64,
    );
    let mut client = TestClient::connect(gate.client_addr());
    // The first job comes over NATS and says `l=1`: the worker's link then offers.
    round(&mut client, 1, 1);
    wait_for("the link offers", Duration::from_secs(5), || {
        worker.links_taking_jobs() == 1
    });
    let before = gate.metrics().link_jobs.get();
    for _ in 0..20 {
        round(&mut client, 1, 50);
    }
    assert_eq!(
        gate.metrics().link_jobs.get() - before,
        1000,
        "all down the link"
    );
    wait_for("the stand-in counted them", Duration::from_secs(5), || {
        worker.link_jobs.load(std::sync::atomic::Ordering::SeqCst) >= 1000
    });
    assert_eq!(gate.metrics().timeouts.get(), 0);
    assert_eq!(gate.metrics().worker_protocol_errors.get(), 0);
}

#[test]
fn past_the_window_jobs_go_to_nats_and_every_one_is_answered() {
    let servers = Servers::start();
    let gate = gate(&servers, Some(secret()));
    let (mut link, jobs, _nats) = offered_link(&servers, &gate, 2);
    let mut client = TestClient::connect(gate.client_addr());
    let mut bytes = Vec::new();
    for n in 0..5 {
        bytes.extend_from_slice(request_line(1, n).as_bytes());
    }
    client.send(&bytes);
    // Two fill the window; three go to NATS, which are the same line without the CRLF.
    let mut down_link = Vec::new();
    for _ in 0..2 {
        let line = link.read_job_line();
        let job = contract::parse_job(&line).unwrap();
        assert_eq!(job.header.gate, gate.gid());
        assert!(job.header.link_jobs);
        down_link.push(job.jid);
    }
    let mut on_nats = Vec::new();
    for _ in 0..3 {
        let msg = jobs.recv_timeout(READ_LIMIT).unwrap();
        let job = contract::parse_job(&msg.payload).unwrap();
        assert!(job.header.link_jobs, "NATS jobs say l=1 too");
        on_nats.push(job.jid);
    }
    assert!(jobs.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(gate.metrics().link_jobs.get(), 2);
    assert_eq!(gate.metrics().jobs_held.get(), 2);
    // One answer frees one place: the next request goes down the link again.
    link.answer(down_link[0], 1, 0);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 0));
    client.request(1, 5);
    let line = link.read_job_line();
    let sixth = contract::parse_job(&line).unwrap().jid;
    // Everyone answers on the link, whichever way the job came.
    link.answer(down_link[1], 1, 1);
    for (i, jid) in on_nats.into_iter().enumerate() {
        link.answer(jid, 1, 2 + i as u64);
    }
    link.answer(sixth, 1, 5);
    for n in 1..6 {
        assert_eq!(data_of(&client.read_answer().unwrap()), (1, n));
    }
    wait_for("nothing held", Duration::from_secs(5), || {
        gate.metrics().jobs_held.get() == 0
    });
}

#[test]
fn a_link_that_closes_with_jobs_in_hand_has_them_answered_at_once() {
    let servers = Servers::start();
    let gate = gate(&servers, Some(secret()));
    let mut doomed = HandLink::open(&gate);
    doomed.offer(8);
    wait_for("the link is open", Duration::from_secs(5), || {
        gate.metrics().worker_connections.get() == 1
    });
    let mut client = TestClient::connect(gate.client_addr());
    client.send(format!("{}{}", request_line(1, 0), request_line(1, 1)).as_bytes());
    doomed.read_job_line();
    doomed.read_job_line();
    drop(doomed);
    assert_eq!(client.read_answer().unwrap(), timeout_json());
    assert_eq!(client.read_answer().unwrap(), timeout_json());
    assert_eq!(gate.metrics().held_jobs_lost.get(), 2);
    wait_for("nothing held", Duration::from_secs(5), || {
        gate.metrics().jobs_held.get() == 0
    });
}

#[test]
fn jobs_0_ends_the_jobs_and_shuts_the_gates_side_while_answers_still_arrive() {
    let servers = Servers::start();
    let gate = gate(&servers, Some(secret()));
    let (mut link, jobs, _nats) = offered_link(&servers, &gate, 8);
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 0);
    let held = contract::parse_job(&link.read_job_line()).unwrap().jid;
    link.offer(0);
    // The gate's end of stream: every job it sent is in hand.
    let mut rest = Vec::new();
    link.reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    // New jobs go to NATS, and a later offer on the finished link changes nothing.
    link.offer(8);
    client.request(1, 1);
    let by_nats = contract::parse_job(&jobs.recv_timeout(READ_LIMIT).unwrap().payload)
        .unwrap()
        .jid;
    // The link still carries answers.
    link.answer(held, 1, 0);
    link.answer(by_nats, 1, 1);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 0));
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 1));
    assert_eq!(gate.metrics().link_jobs.get(), 1);
}

#[test]
fn an_offer_on_an_unproven_link_gets_no_jobs() {
    // Without a secret anyone can reach the worker port: such a peer must never read the
    // clients' requests, so its offer is ignored and jobs say nothing of links.
    let servers = Servers::start();
    // Nobody answers the request: a short timeout lets the gate stop soon.
    let gate = Gate::start(Options {
        job_timeout: Duration::from_millis(500),
        ..servers.options()
    })
    .unwrap();
    let nats = Client::connect(&servers.nats.url(), nats::Options::named("spy")).unwrap();
    let jobs = nats.subscribe(JOBS_SUBJECT, Some(WORKERS_QUEUE)).unwrap();
    nats.flush(READ_LIMIT).unwrap();
    let mut peer = TcpStream::connect(gate.worker_addr()).unwrap();
    let mut offer = Vec::new();
    contract::encode_link_jobs(&mut offer, 8);
    peer.write_all(&offer).unwrap();
    wait_for("the offer read", Duration::from_secs(5), || {
        gate.metrics().link_offers_ignored.get() == 1
    });
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 0);
    let job = jobs.recv_timeout(READ_LIMIT).unwrap();
    assert!(!contract::parse_job(&job.payload).unwrap().header.link_jobs);
    assert_eq!(gate.metrics().link_jobs.get(), 0);
    peer.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(peer.read(&mut byte).is_err(), "nothing sent to the peer");
}

#[test]
fn a_worker_that_never_offers_keeps_the_nats_path() {
    // A worker from before link jobs: proves the secret, ignores `l=1`, answers NATS jobs.
    let servers = Servers::start();
    let gate = gate(&servers, Some(secret()));
    let worker = TestWorker::linked(
        &servers.nats.url(),
        &servers.redis.url(),
        "old",
        secret(),
        0,
    );
    let mut client = TestClient::connect(gate.client_addr());
    for _ in 0..5 {
        round(&mut client, 1, 20);
    }
    assert_eq!(gate.metrics().link_jobs.get(), 0);
    assert_eq!(worker.links_taking_jobs(), 0);
    assert_eq!(gate.metrics().worker_protocol_errors.get(), 0);
}

#[test]
fn an_offer_over_the_limit_closes_the_link() {
    let servers = Servers::start();
    let gate = gate(&servers, Some(secret()));
    let mut link = HandLink::open(&gate);
    link.send(format!("jobs {}\r\n", contract::LINK_WINDOW_MAX + 1).as_bytes());
    let mut rest = Vec::new();
    let _ = link.reader.read_to_end(&mut rest);
    assert_eq!(gate.metrics().worker_protocol_errors.get(), 1);
}
