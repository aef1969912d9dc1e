//! The gate against real Redis and NATS, with stand-in workers speaking the contract.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gate::Gate;
use shared::envelope::timeout_json;
use support::*;

#[test]
fn a_request_gets_its_answer() {
    let servers = Servers::start();
    let gate = servers.gate();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 42);
    let answer = client.read_answer().expect("an answer");
    assert_eq!(data_of(&answer), (1, 42));
    assert!(answer.contains("\"worker\":\"w1\""), "{answer}");
    // The connection stays open for more.
    client.request(1, 43);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 43));
    assert_eq!(gate.metrics().requests.get(), 2);
    assert_eq!(gate.metrics().answers.get(), 2);
    assert_eq!(gate.metrics().round_trip.count(), 2);
}

#[test]
fn a_job_carries_its_gate_its_time_left_and_the_client_address() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.job_timeout = Duration::from_secs(7);
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 1);
    let answer: serde_json::Value = serde_json::from_str(&client.read_answer().unwrap()).unwrap();
    let job = &answer["data"]["job"];
    // The first gate on a fresh Redis holds gid 0.
    assert_eq!(job["gate"], 0, "{answer}");
    assert_eq!(job["client_ip"], "127.0.0.1", "{answer}");
    let budget = job["budget_ms"].as_u64().expect("a budget");
    assert!(budget > 0 && budget <= 7_000, "{answer}");
}

#[test]
fn a_thousand_pipelined_requests_come_back_in_order() {
    let servers = Servers::start();
    let gate = servers.gate();
    let _w1 = servers.worker("w1");
    let _w2 = servers.worker("w2");
    let mut client = TestClient::connect(gate.client_addr());
    let all: String = (0..1000).map(|n| request_line(7, n)).collect();
    client.send(all.as_bytes());
    for n in 0..1000 {
        let answer = client.read_answer().expect("an answer");
        assert_eq!(data_of(&answer), (7, n), "answer {n} out of order");
    }
    assert_eq!(gate.metrics().answers.get(), 1000);
}

#[test]
fn with_two_gates_and_two_workers_every_answer_reaches_its_client() {
    let servers = Servers::start();
    let gate_a = servers.gate();
    let gate_b = servers.gate();
    assert_eq!((gate_a.gid(), gate_b.gid()), (Some(0), Some(1)));
    let w1 = servers.worker("w1");
    let w2 = servers.worker("w2");
    let threads: Vec<_> = (0..6u64)
        .map(|c| {
            let addr = if c % 2 == 0 {
                gate_a.client_addr()
            } else {
                gate_b.client_addr()
            };
            std::thread::spawn(move || {
                let mut client = TestClient::connect(addr);
                for round in 0..4 {
                    let burst: String = (0..50).map(|i| request_line(c, round * 50 + i)).collect();
                    client.send(burst.as_bytes());
                    for i in 0..50 {
                        let answer = client.read_answer().expect("an answer");
                        assert_eq!(data_of(&answer), (c, round * 50 + i));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(gate_a.metrics().answers.get(), 600);
    assert_eq!(gate_b.metrics().answers.get(), 600);
    // Both workers took part (queue group), none of their answers went astray. A stand-in
    // worker counts an answer after writing it, so the client may read the last answer
    // before its count: wait for the counts to settle.
    let answered = || w1.answered.load(Ordering::SeqCst) + w2.answered.load(Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while answered() < 1200 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(answered(), 1200);
    assert_eq!(gate_a.metrics().worker_lines_dropped.get(), 0);
    assert_eq!(gate_b.metrics().worker_lines_dropped.get(), 0);
}

#[test]
fn an_overlong_line_closes_only_that_connection() {
    let servers = Servers::start();
    let gate = servers.gate();
    let _worker = servers.worker("w1");
    let mut other = TestClient::connect(gate.client_addr());

    // Exactly 64 KiB is allowed.
    let mut at_limit = TestClient::connect(gate.client_addr());
    let head = "{\"client\":3,\"n\":1,\"pad\":\"";
    let pad = "x".repeat(64 * 1024 - head.len() - 2);
    let line = format!("{head}{pad}\"}}");
    assert_eq!(line.len(), 64 * 1024);
    at_limit.send(format!("{line}\r\n").as_bytes());
    assert_eq!(data_of(&at_limit.read_answer().unwrap()), (3, 1));

    let mut offender = TestClient::connect(gate.client_addr());
    offender.send(&vec![b'x'; 64 * 1024 + 1]);
    offender.send(b"\r\n");
    assert!(offender.closed_by_gate());

    other.request(2, 5);
    assert_eq!(data_of(&other.read_answer().unwrap()), (2, 5));
    assert_eq!(gate.metrics().client_protocol_errors.get(), 1);
}

#[test]
fn invalid_utf8_closes_the_connection() {
    let servers = Servers::start();
    let gate = servers.gate();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 1);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 1));
    client.send(b"{\"n\":\"\xff\xfe\"}\r\n");
    assert!(client.closed_by_gate());
    assert_eq!(gate.metrics().client_protocol_errors.get(), 1);
}

#[test]
fn without_workers_every_request_times_out_with_status_minus_2() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.job_timeout = Duration::from_millis(300);
    let gate = Gate::start(options).unwrap();
    let mut client = TestClient::connect(gate.client_addr());
    client.send(
        format!(
            "{}{}{}",
            request_line(1, 1),
            request_line(1, 2),
            request_line(1, 3)
        )
        .as_bytes(),
    );
    for _ in 0..3 {
        assert_eq!(client.read_answer().unwrap(), timeout_json());
    }
    assert_eq!(gate.metrics().timeouts.get(), 3);
    // The gauge is set at the end of the loop iteration that wrote the answers.
    wait_for("in-flight gauge at 0", Duration::from_secs(5), || {
        gate.metrics().in_flight.get() == 0
    });
}

#[test]
fn a_late_worker_answer_is_dropped_and_counted() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.job_timeout = Duration::from_millis(200);
    let gate = Gate::start(options).unwrap();
    let _slow = TestWorker::start(
        &servers.nats.url(),
        &servers.redis.url(),
        "slow",
        Duration::from_millis(600),
    );
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 1);
    assert_eq!(client.read_answer().unwrap(), timeout_json());
    wait_for("the late answer", Duration::from_secs(10), || {
        gate.metrics().worker_lines_dropped.get() == 1
    });
    // The late answer was not written to the client: the next answer is the next request's.
    client.request(1, 2);
    assert_eq!(client.read_answer().unwrap(), timeout_json());
}

#[test]
fn one_shot_closes_after_the_first_answer() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.one_shot = true;
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    client.send(format!("{}{}", request_line(1, 1), request_line(1, 2)).as_bytes());
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 1));
    assert_eq!(
        client.read_answer(),
        None,
        "one-shot must close after one answer"
    );
    assert_eq!(gate.metrics().requests.get(), 1);
}

#[test]
fn registration_survives_a_redis_restart_and_is_removed_on_stop() {
    let mut servers = Servers::start();
    let mut gate = servers.gate();
    let key = &shared::contract::gate_key(0);
    let expected = format!("127.0.0.1:{}", gate.worker_addr().port());
    assert_eq!(servers.redis_get(key), Some(expected.clone()));

    servers.redis.kill();
    servers.redis.restart();
    wait_for("re-registration", Duration::from_secs(10), || {
        servers.redis_get(key).as_deref() == Some(expected.as_str())
    });
    assert_eq!(gate.gid(), Some(0));

    // Jobs flow again after the restart.
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 9);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 9));

    gate.stop();
    assert_eq!(servers.redis_get(key), None);
}

#[test]
fn stop_answers_every_in_flight_request() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.job_timeout = Duration::from_secs(2);
    let mut gate = Gate::start(options).unwrap();
    let _worker = TestWorker::start(
        &servers.nats.url(),
        &servers.redis.url(),
        "w1",
        Duration::from_millis(300),
    );
    let mut clients: Vec<TestClient> = (0..4)
        .map(|_| TestClient::connect(gate.client_addr()))
        .collect();
    for (c, client) in clients.iter_mut().enumerate() {
        let burst: String = (0..25).map(|n| request_line(c as u64, n)).collect();
        client.send(burst.as_bytes());
    }
    wait_for("all requests taken", Duration::from_secs(10), || {
        gate.metrics().requests.get() == 100
    });
    let client_addr = gate.client_addr();
    let stopper = std::thread::spawn(move || {
        gate.stop();
        gate
    });
    for (c, client) in clients.iter_mut().enumerate() {
        for n in 0..25 {
            let answer = client
                .read_answer()
                .expect("every in-flight request is answered");
            if answer != timeout_json() {
                assert_eq!(data_of(&answer), (c as u64, n));
            }
        }
        assert_eq!(client.read_answer(), None, "closed after its answers");
    }
    let gate = stopper.join().unwrap();
    assert_eq!(
        gate.metrics().answers.get() + gate.metrics().timeouts.get(),
        100
    );
    assert!(
        TcpStream::connect(client_addr).is_err(),
        "no new clients after stop"
    );
    assert_eq!(servers.redis_get(&shared::contract::gate_key(0)), None);
}

#[test]
fn an_idle_connection_is_closed() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.idle_timeout = Duration::from_secs(1);
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 1);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 1));
    assert_eq!(client.read_answer(), None, "idle connection must be closed");
    assert_eq!(gate.metrics().idle_closed.get(), 1);
}

/// Two clients from 127.0.0.1, each served once: two connections of the gate are in use.
fn two_served(gate: &Gate) -> (TestClient, TestClient) {
    let mut first = TestClient::connect(gate.client_addr());
    let mut second = TestClient::connect(gate.client_addr());
    first.request(1, 1);
    second.request(2, 1);
    assert_eq!(data_of(&first.read_answer().unwrap()), (1, 1));
    assert_eq!(data_of(&second.read_answer().unwrap()), (2, 1));
    (first, second)
}

#[test]
fn connections_over_the_maximum_are_closed_at_once() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.max_connections = 2;
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let (mut first, _second) = two_served(&gate);
    let mut third = TestClient::connect(gate.client_addr());
    assert!(third.closed_by_gate());
    assert_eq!(gate.metrics().connections_refused.get(), 1);
    first.request(1, 2);
    assert_eq!(data_of(&first.read_answer().unwrap()), (1, 2));
}

#[test]
fn a_full_connection_stops_being_read_until_answers_drain() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.max_in_flight = 4;
    options.job_timeout = Duration::from_millis(1000);
    let gate = Gate::start(options).unwrap();
    let mut client = TestClient::connect(gate.client_addr());
    let burst: String = (0..12).map(|n| request_line(1, n)).collect();
    client.send(burst.as_bytes());
    wait_for("the first four requests", Duration::from_secs(5), || {
        gate.metrics().requests.get() >= 4
    });
    // No worker: until the first four time out, nothing more may be taken. (Timeouts
    // are counted before the connection is read again, so read the counters in this order.)
    std::thread::sleep(Duration::from_millis(100));
    let taken = gate.metrics().requests.get();
    if gate.metrics().timeouts.get() == 0 {
        assert_eq!(taken, 4);
    }
    for _ in 0..12 {
        assert_eq!(client.read_answer().unwrap(), timeout_json());
    }
    assert_eq!(gate.metrics().requests.get(), 12);
}

#[test]
fn worker_lines_unknown_jobs_are_dropped_broken_lines_close_the_worker() {
    let servers = Servers::start();
    let gate = servers.gate();
    let mut worker = TcpStream::connect(gate.worker_addr()).unwrap();
    worker
        .write_all(b"00112233445566778899aabbccddeeff~{\"status\":0}\r\n")
        .unwrap();
    worker
        .write_all(b"ffeeddccbbaa99887766554433221100~{\"status\":0}\r\n")
        .unwrap();
    wait_for("two dropped lines", Duration::from_secs(5), || {
        gate.metrics().worker_lines_dropped.get() == 2
    });
    assert_eq!(gate.metrics().worker_connections.get(), 1);
    worker.write_all(b"not a worker line\r\n").unwrap();
    worker.set_read_timeout(Some(READ_LIMIT)).unwrap();
    let mut rest = Vec::new();
    let closed = match std::io::Read::read_to_end(&mut worker, &mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(closed, "a broken line closes the worker connection");
    assert_eq!(gate.metrics().worker_protocol_errors.get(), 1);
    wait_for("worker gauge", Duration::from_secs(5), || {
        gate.metrics().worker_connections.get() == 0
    });

    // Clients are unaffected; a new worker connection works.
    let _w = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 1);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 1));
}

#[test]
fn admin_reports_readiness_and_metrics() {
    let servers = Servers::start();
    let gate = servers.gate();
    let (code, body) = testkit::http_get(gate.admin_addr(), "/readyz").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("gid 0"), "{body}");
    assert_eq!(
        testkit::http_get(gate.admin_addr(), "/healthz").unwrap().0,
        200
    );
    let (code, metrics) = testkit::http_get(gate.admin_addr(), "/metrics").unwrap();
    assert_eq!(code, 200);
    for name in [
        "gate_client_connections ",
        "gate_requests_total ",
        "gate_answers_total ",
        "gate_timeouts_total ",
        "gate_worker_lines_dropped_total ",
        "gate_in_flight ",
        "gate_round_trip_seconds_bucket",
        "gate_dispatch_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "missing {name}");
    }
}

#[test]
fn a_redis_outage_does_not_stop_jobs_to_a_gate_workers_know() {
    // Jobs carry their gate's id, so dispatching needs no Redis; a worker that has the
    // gate's address cached answers while Redis is down.
    let mut servers = Servers::start();
    let gate = servers.gate();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 1);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 1));
    servers.redis.kill();
    let (code, body) = testkit::http_get(gate.admin_addr(), "/readyz").unwrap();
    assert_eq!(code, 503, "{body}");
    client.request(1, 2);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 2));
    assert_eq!(gate.metrics().dispatch_failures.get(), 0);
}

#[test]
fn a_gate_that_never_registered_answers_at_once_instead_of_hanging() {
    // Without Redis at start the gate has no id: nobody could answer its jobs.
    let mut servers = Servers::start();
    servers.redis.kill();
    let gate = servers.gate();
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 1);
    assert_eq!(client.read_answer().unwrap(), timeout_json());
    assert!(gate.metrics().dispatch_failures.get() >= 1);
}

#[test]
fn a_client_that_half_closes_still_gets_its_answers() {
    let servers = Servers::start();
    let gate = servers.gate();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    let burst: String = (0..5).map(|n| request_line(4, n)).collect();
    client.send(burst.as_bytes());
    client
        .reader
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    for n in 0..5 {
        assert_eq!(data_of(&client.read_answer().unwrap()), (4, n));
    }
    assert_eq!(
        client.read_answer(),
        None,
        "closed once everything is answered"
    );
}

#[test]
fn a_client_that_does_not_read_is_not_read_either() {
    let servers = Servers::start();
    let mut options = servers.options();
    // Output backpressure, not the in-flight limit, is what this is about.
    options.max_in_flight = 1024;
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    let line = |n: u64| format!("{{\"client\":5,\"n\":{n},\"answer_pad\":100000}}\r\n");
    // 15 MB of answers: more than the kernel buffers on both sides hold.
    let first: String = (0..150).map(line).collect();
    client.send(first.as_bytes());
    wait_for("150 answers at the gate", Duration::from_secs(15), || {
        gate.metrics().answers.get() == 150
    });
    let more: String = (150..250).map(line).collect();
    client.send(more.as_bytes());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        gate.metrics().requests.get(),
        150,
        "unwritten answers must stop the gate from taking more requests"
    );
    for n in 0..250 {
        assert_eq!(data_of(&client.read_answer().unwrap()), (5, n));
    }
}

#[test]
fn jobs_flow_again_after_a_nats_restart() {
    let mut servers = Servers::start();
    let mut options = servers.options();
    options.job_timeout = Duration::from_millis(500);
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    client.request(1, 0);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 0));

    servers.nats.kill();
    wait_for(
        "readyz to report NATS down",
        Duration::from_secs(10),
        || testkit::http_get(gate.admin_addr(), "/readyz").unwrap().0 == 503,
    );
    client.request(1, 1);
    assert_eq!(
        client.read_answer().unwrap(),
        timeout_json(),
        "answered, not hung"
    );

    servers.nats.restart();
    wait_for("readyz", Duration::from_secs(10), || {
        testkit::http_get(gate.admin_addr(), "/readyz").unwrap().0 == 200
    });
    // The worker resubscribes on its own; the same connection gets answers again.
    let mut n = 2;
    wait_for(
        "an answer after the restart",
        Duration::from_secs(10),
        || {
            client.request(1, n);
            let answer = client.read_answer().unwrap();
            n += 1;
            answer != timeout_json() && data_of(&answer) == (1, n - 1)
        },
    );
}

const SECOND_ADDRESS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

#[test]
fn a_client_that_never_reads_is_closed_after_the_write_stall_while_others_are_served() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.write_stall = Duration::from_secs(2);
    options.max_in_flight = 1024;
    // Below what the slow reader's answers take: the budget has to act too.
    options.answer_budget_bytes = 1024 * 1024;
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let rss_before = rss_kib();
    // 200 answers of 100 kB, never read: the issue's slow reader.
    let mut slow = TestClient::connect(gate.client_addr());
    let line = |n: u64| format!("{{\"client\":9,\"n\":{n},\"answer_pad\":100000}}\r\n");
    let first: String = (0..100).map(line).collect();
    slow.send(first.as_bytes());
    wait_for(
        "answers piling up at the gate",
        Duration::from_secs(15),
        || gate.metrics().answer_buffer_bytes.get() > 1024 * 1024,
    );
    let more: String = (100..200).map(line).collect();
    slow.send(more.as_bytes());
    wait_for(
        "the budget holding the slow reader back",
        Duration::from_secs(5),
        || gate.metrics().budget_paused.get() > 0,
    );
    let held = gate.metrics().answer_buffer_bytes.get();
    let rss_held = rss_kib();
    assert!(
        gate.metrics().requests.get() < 200,
        "the slow reader is held back"
    );

    // Meanwhile a normal client, from another address, is served.
    let mut normal = TestClient::connect_from(SECOND_ADDRESS, gate.client_addr());
    normal.request(2, 1);
    assert_eq!(data_of(&normal.read_answer().unwrap()), (2, 1));

    wait_for("the slow reader closed", Duration::from_secs(10), || {
        gate.metrics().write_stall_closed.get() == 1
    });
    assert!(slow.closed_by_gate(), "the gate closed the slow reader");
    // The gauge is published at the end of the loop pass that closed it.
    wait_for(
        "the slow reader's buffers given back",
        Duration::from_secs(5),
        || gate.metrics().answer_buffer_bytes.get() == 0,
    );
    normal.request(2, 2);
    assert_eq!(data_of(&normal.read_answer().unwrap()), (2, 2));
    eprintln!(
        "slow reader: gate buffered {held} answer bytes (budget 1 MiB), process RSS {rss_before} KiB \
         before, {rss_held} KiB while held, {} KiB after the close; buffered after: {}",
        rss_kib(),
        gate.metrics().answer_buffer_bytes.get()
    );
}

#[test]
fn a_reading_client_with_a_big_backlog_is_not_closed() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.write_stall = Duration::from_secs(1);
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let mut client = TestClient::connect(gate.client_addr());
    let line = |n: u64| format!("{{\"client\":3,\"n\":{n},\"answer_pad\":100000}}\r\n");
    let all: String = (0..100).map(line).collect();
    client.send(all.as_bytes());
    // Read slowly but steadily: the backlog drains between bursts.
    for n in 0..100 {
        assert_eq!(data_of(&client.read_answer().unwrap()), (3, n));
        if n % 20 == 0 {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    assert_eq!(gate.metrics().write_stall_closed.get(), 0);
}

#[test]
fn connections_are_limited_per_client_address() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.max_connections_per_ip = 2;
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let (first, _second) = two_served(&gate);
    let mut third = TestClient::connect(gate.client_addr());
    assert!(third.closed_by_gate(), "a third from 127.0.0.1 is refused");
    assert_eq!(gate.metrics().ip_connections_refused.get(), 1);
    let mut other = TestClient::connect_from(SECOND_ADDRESS, gate.client_addr());
    other.request(3, 1);
    assert_eq!(data_of(&other.read_answer().unwrap()), (3, 1));
    // A closed connection frees its place.
    drop(first);
    wait_for(
        "the closed connection counted",
        Duration::from_secs(5),
        || gate.metrics().client_connections.get() == 2,
    );
    let mut again = TestClient::connect(gate.client_addr());
    again.request(4, 1);
    assert_eq!(data_of(&again.read_answer().unwrap()), (4, 1));
}

#[test]
fn one_address_is_held_to_its_request_rate_and_another_is_not_charged() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.ip_requests_per_sec = 5;
    options.max_in_flight = 1024;
    let gate = Gate::start(options).unwrap();
    let _worker = servers.worker("w1");
    let start = std::time::Instant::now();
    let mut flood = TestClient::connect(gate.client_addr());
    let all: String = (0..40).map(|n| request_line(1, n)).collect();
    flood.send(all.as_bytes());
    for n in 0..5 {
        assert_eq!(data_of(&flood.read_answer().unwrap()), (1, n));
    }
    // Another address has its own allowance: answered while the flood waits.
    let mut other = TestClient::connect_from(SECOND_ADDRESS, gate.client_addr());
    other.request(2, 1);
    assert_eq!(data_of(&other.read_answer().unwrap()), (2, 1));
    let taken = gate.metrics().requests.get() - 1;
    // The burst (5) plus what the rate refilled since the start, at most.
    let allowed = 5 + (start.elapsed().as_secs_f64() * 5.0).ceil() as u64;
    assert!(
        taken <= allowed,
        "took {taken} of the flood, allowed {allowed}"
    );
    assert!(taken < 40);
    assert!(gate.metrics().ip_rate_paused.get() > 0);
    // Held back, not lost: the rest come in order.
    for n in 5..12 {
        assert_eq!(data_of(&flood.read_answer().unwrap()), (1, n));
    }
}

/// A worker that takes jobs off NATS by hand: each job's taken notice goes out on a link of
/// its own choosing, and the test decides what happens next.
fn take_job(jobs: &shared::nats::Subscription) -> shared::contract::JobId {
    let msg = jobs.recv_timeout(READ_LIMIT).expect("a job");
    shared::contract::parse_job(&msg.payload).unwrap().jid
}

#[test]
fn jobs_held_by_a_worker_link_that_closes_are_answered_at_once() {
    use shared::contract;
    let servers = Servers::start();
    let mut options = servers.options();
    // Far past the client's read limit: an answer that comes at all came from the link
    // closing, not from the job timeout.
    options.job_timeout = Duration::from_secs(120);
    let gate = Gate::start(options).unwrap();
    let nats = shared::nats::Client::connect(
        &servers.nats.url(),
        shared::nats::Options::named("hand-worker"),
    )
    .unwrap();
    let jobs = nats
        .subscribe(contract::JOBS_SUBJECT, Some(contract::WORKERS_QUEUE))
        .unwrap();
    nats.flush(READ_LIMIT).unwrap();
    let mut doomed = TcpStream::connect(gate.worker_addr()).unwrap();
    let mut healthy = TcpStream::connect(gate.worker_addr()).unwrap();

    let mut first = TestClient::connect(gate.client_addr());
    let mut second = TestClient::connect(gate.client_addr());
    first.request(1, 1);
    let held_by_doomed = take_job(&jobs);
    second.request(2, 1);
    let held_by_healthy = take_job(&jobs);
    let mut line = Vec::new();
    contract::encode_taken(&mut line, held_by_doomed);
    doomed.write_all(&line).unwrap();
    line.clear();
    contract::encode_taken(&mut line, held_by_healthy);
    // A notice for a job the gate does not know is ignored.
    contract::encode_taken(&mut line, contract::JobId::random());
    healthy.write_all(&line).unwrap();
    wait_for("both jobs held", Duration::from_secs(5), || {
        gate.metrics().jobs_held.get() == 2
    });

    // The doomed worker dies (its socket closes with the job in hand).
    drop(doomed);
    assert_eq!(first.read_answer().unwrap(), timeout_json());
    assert_eq!(gate.metrics().held_jobs_lost.get(), 1);
    // The other link's job is not touched and is answered normally.
    line.clear();
    contract::encode_answer(
        &mut line,
        held_by_healthy,
        r#"{"status":0,"message":"success","data":{"client":2,"n":1}}"#,
    );
    healthy.write_all(&line).unwrap();
    assert_eq!(data_of(&second.read_answer().unwrap()), (2, 1));
    assert_eq!(gate.metrics().timeouts.get(), 1);
    assert_eq!(gate.metrics().worker_protocol_errors.get(), 0);
    wait_for("nothing held", Duration::from_secs(5), || {
        gate.metrics().jobs_held.get() == 0
    });
}
