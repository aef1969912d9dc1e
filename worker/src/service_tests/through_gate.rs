//! The request path of the contract end to end: raw TCP clients like a game's, the real
//! gate (in-process), NATS, the real worker, Redis and MariaDB.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::*;
use crate::Worker;

/// A game client's connection: one JSON line out, one answer line back, in order.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    fn send(&mut self, request: &Value) {
        self.send_raw(format!("{request}\r\n").as_bytes());
    }

    fn receive(&mut self) -> Response {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        assert!(
            line.ends_with("\r\n"),
            "answer {line:?} is not one CRLF line"
        );
        serde_json::from_str(line.trim_end()).unwrap()
    }

    fn ask(&mut self, request: Value) -> Response {
        self.send(&request);
        self.receive()
    }

    /// Writes what it can: the gate may close the connection before a bad line is all sent.
    fn send_bad(&mut self, bytes: &[u8]) {
        let _ = self.writer.write_all(bytes);
    }

    /// True when the gate closed the connection: end of stream, or a reset because unread
    /// bytes were still in flight when it closed.
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

struct Cluster {
    _redis: testkit::Redis,
    _nats: testkit::Nats,
    _db: testkit::MariaDb,
    workers: Vec<Worker>,
    gates: Vec<gate::Gate>,
}

impl Cluster {
    fn start(gates: usize, workers: usize) -> Cluster {
        let redis = testkit::Redis::start();
        let nats = testkit::Nats::start();
        let db = crate::test_support::start_mariadb();
        let workers = (0..workers)
            .map(|_| Worker::start(&test_settings(&redis, &nats, &db)).unwrap())
            .collect();
        let gates = (0..gates)
            .map(|_| gate::Gate::start(gate::Options::local(&redis.url(), &nats.url())).unwrap())
            .collect();
        Cluster {
            _redis: redis,
            _nats: nats,
            _db: db,
            workers,
            gates,
        }
    }

    /// Redis and NATS with one user per service (shared::grants), a worker-link secret
    /// on the gates and `worker_secret` on the workers.
    fn start_secured(worker_secret: &str, job_timeout: Duration) -> Cluster {
        let redis = testkit::Redis::start_secured();
        let nats = testkit::Nats::start_secured();
        let db = crate::test_support::start_mariadb();
        let link_secret = |text: &str| shared::contract::LinkSecret::from_config(text).unwrap();
        let mut settings = test_settings(&redis, &nats, &db);
        settings.redis_url = redis.url_as("worker");
        settings.nats_url = nats.url_as("worker");
        settings.link_secret = link_secret(worker_secret);
        let workers = vec![Worker::start(&settings).unwrap()];
        let options = gate::Options {
            link_secret: link_secret(LINK_SECRET),
            job_timeout,
            ..gate::Options::local(&redis.url_as("gate"), &nats.url_as("gate"))
        };
        let gates = vec![gate::Gate::start(options).unwrap()];
        Cluster {
            _redis: redis,
            _nats: nats,
            _db: db,
            workers,
            gates,
        }
    }

    fn client(&self, gate: usize) -> Client {
        Client::connect(self.gates[gate].client_addr())
    }

    fn stop(mut self) {
        for g in &mut self.gates {
            g.stop();
        }
        for w in self.workers.drain(..) {
            w.stop();
        }
    }
}

const LINK_SECRET: &str = "through-gate-link-secret";

#[test]
fn a_cluster_with_per_service_users_and_a_proved_worker_link_serves_players() {
    let cluster = Cluster::start_secured(LINK_SECRET, Duration::from_secs(10));
    let mut client = cluster.client(0);
    let login = client.ask(login_unique("device-secured-1"));
    assert_status(&login, 1, format_args!("a new guest"));
    let token = login.data["token"].as_str().unwrap().to_string();
    // The revocation key (auth.tokens.*, read only) and the job's gate (gates.id.*).
    let info =
        client.ask(json!({"world":"s0","function":"account_all_info","data":{"token":token}}));
    assert_status(&info, 0, "");
    assert_eq!(info.data["unique_id"], "device-secured-1");
    let entered = client.ask(json!({"world":"s0","function":"enter_world","data":{"token":token}}));
    assert_status(&entered, 98, "");
    let session = entered.data["session"].as_str().unwrap().to_string();
    let player = client.ask(json!({"world":"s0","function":"create_player",
        "data":{"token":session,"gn":"Secured","icon":3}}));
    assert_status(&player, 0, "");
    // chat.tokens:* and chat.logintokens.* (HSET, EXPIRE, INCR under the worker's user).
    let chat = client.ask(json!({"world":"s0","function":"get_login_token_chat",
        "data":{"token":session}}));
    assert_status(&chat, 0, "");
    assert_eq!(cluster.gates[0].metrics().worker_links_refused.get(), 0);
    cluster.stop();
}

#[test]
fn a_worker_with_another_link_secret_or_none_is_refused_and_its_clients_time_out() {
    for (worker_secret, device) in [
        ("not-the-gates-link-secret", "device-secured-2"),
        ("", "device-secured-3"),
    ] {
        let cluster = Cluster::start_secured(worker_secret, Duration::from_millis(1500));
        let mut client = cluster.client(0);
        for _ in 0..2 {
            let answer = client.ask(login_unique(device));
            assert_status(&answer, -2, format_args!("{worker_secret:?}"));
        }
        assert!(cluster.gates[0].metrics().worker_links_refused.get() >= 1);
        assert_eq!(cluster.gates[0].metrics().answers.get(), 0);
        cluster.stop();
    }
}

fn login_unique(device: &str) -> Value {
    json!({"world":"s0","function":"login_unique","data":{"unique_id":device}})
}

#[test]
fn a_guest_logs_in_and_makes_authenticated_calls() {
    let cluster = Cluster::start(1, 1);
    let mut client = cluster.client(0);
    let login = client.ask(login_unique("device-e2e-1"));
    assert_status(&login, 1, format_args!("a new guest"));
    let token = login.data["token"].as_str().unwrap().to_string();
    let info =
        client.ask(json!({"world":"s0","function":"account_all_info","data":{"token":token}}));
    assert_status(&info, 0, "");
    assert_eq!(info.data["unique_id"], "device-e2e-1");
    let entered = client.ask(json!({"world":"s0","function":"enter_world","data":{"token":token}}));
    assert_eq!(entered.status, 98, "no player there yet");
    assert_eq!(entered.data["world"], "s0");
    assert!(entered.data["session"].is_string());
    cluster.stop();
}

#[test]
fn with_two_gates_and_two_workers_every_answer_reaches_the_client_that_asked() {
    let cluster = Cluster::start(2, 2);
    let handles: Vec<_> = (0..8)
        .map(|c| {
            let mut client = cluster.client(c % 2);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let device = format!("dev-{c}-{i}");
                    let answer = client.ask(login_unique(&device));
                    assert_status(&answer, 1, "");
                    assert_eq!(answer.data["unique_id"], device.as_str());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    cluster.stop();
}

#[test]
fn a_thousand_pipelined_requests_come_back_in_order() {
    let cluster = Cluster::start(1, 2);
    let mut client = cluster.client(0);
    let mut batch = String::new();
    for i in 0..1000 {
        // `debug_sleep` echoes its arguments; varying sleeps finish out of order.
        let request =
            json!({"world":"s0","function":"debug_sleep","data":{"ms": (i * 7) % 3, "n": i}});
        batch.push_str(&format!("{request}\r\n"));
    }
    client.send_raw(batch.as_bytes());
    for i in 0..1000 {
        let answer = client.receive();
        assert_status(&answer, 0, "");
        assert_eq!(answer.data["n"], i, "answer {i} out of order");
    }
    cluster.stop();
}

#[test]
fn bad_requests_get_their_contract_status_through_the_gate() {
    let cluster = Cluster::start(1, 1);
    let mut client = cluster.client(0);
    client.send_raw(b"this is not json\r\n");
    assert_eq!(client.receive().status, 13);
    assert_eq!(
        client
            .ask(json!({"world":"s0","function":"no_such_function","data":{}}))
            .status,
        10
    );
    assert_eq!(
        client
            .ask(json!({"world":"s0","function":"account_all_info","data":{}}))
            .status,
        12
    );
    let forged = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1aWQiOiJ4In0.c2lnbmF0dXJl";
    assert_eq!(
        client
            .ask(json!({"world":"s0","function":"account_all_info","data":{"token":forged}}))
            .status,
        11
    );
    assert_eq!(
        client
            .ask(json!({"world":"s404","function":"login_unique","data":{"unique_id":"x"}}))
            .status,
        14
    );

    // A token of one player with another player's unique_id in data acts as the token's owner.
    let victim = client.ask(login_unique("victim-device"));
    assert_eq!(victim.status, 1);
    let attacker = client.ask(login_unique("attacker-device"));
    let token = attacker.data["token"].as_str().unwrap();
    let info = client.ask(json!({"world":"s0","function":"account_all_info",
        "data":{"token":token,"unique_id":"victim-device"}}));
    assert_eq!(info.status, 0);
    assert_eq!(info.data["unique_id"], "attacker-device");

    // A panic inside a function answers -1, and the same connection is served after it.
    assert_eq!(
        client
            .ask(json!({"world":"s0","function":"debug_panic","data":{}}))
            .status,
        -1
    );
    assert_eq!(client.ask(login_unique("after-panic")).status, 1);
    cluster.stop();
}

#[test]
fn oversized_and_non_utf8_lines_close_only_their_connection() {
    let cluster = Cluster::start(1, 1);
    let mut bystander = cluster.client(0);
    assert_eq!(bystander.ask(login_unique("bystander")).status, 1);

    let mut big = cluster.client(0);
    let mut line = vec![b'x'; 64 * 1024 + 1];
    line.extend_from_slice(b"\r\n");
    big.send_bad(&line);
    assert!(big.closed(), "a 64 KiB + 1 line must close the connection");

    let mut garbled = cluster.client(0);
    garbled.send_bad(b"{\"world\":\"s0\xff\xfe\"}\r\n");
    assert!(garbled.closed(), "invalid UTF-8 must close the connection");

    assert_eq!(bystander.ask(login_unique("bystander")).status, 0);
    cluster.stop();
}

#[test]
fn sql_metacharacters_travel_through_the_gate_verbatim() {
    let cluster = Cluster::start(1, 1);
    let mut client = cluster.client(0);
    // (no spaces: a unique_id with one answers 96, the original's rule)
    for device in ["';DROP_TABLE_accounts;--", "\"OR\"1\"=\"1", "100%*>_\\🙂"] {
        let answer = client.ask(login_unique(device));
        assert_status(&answer, 1, format_args!("{device:?}"));
        assert_eq!(answer.data["unique_id"], device);
        let token = answer.data["token"].as_str().unwrap();
        let info =
            client.ask(json!({"world":"s0","function":"account_all_info","data":{"token":token}}));
        assert_eq!(info.data["unique_id"], device);
    }
    // The table is still there and still answers.
    assert_eq!(client.ask(login_unique("plain")).status, 1);
    assert_eq!(client.ask(login_unique("has space")).status, 96);
    cluster.stop();
}
