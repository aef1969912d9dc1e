//! Hostile connection patterns: slowloris and 10,000 connections opened and dropped, against
//! the gate and the edge.

use std::time::Duration;

use hostile::{eventually, metric, new_player, open_and_drop, request, status, RawClient, Read1};
use serde_json::json;
use teststack::Stack;

/// Connections opened and dropped per target, in batches that stay under the fd limit.
const CHURN: usize = 10_000;
const BATCH: usize = 100;

#[test]
fn slowloris_does_not_block_others_and_is_closed_by_the_idle_timeout() {
    let stack = Stack::start();
    // A second gate on the same Redis and NATS, with a short idle timeout.
    let mut options = gate::Options::local(&stack.redis.url(), &stack.nats.url());
    options.idle_timeout = Duration::from_secs(2);
    let mut short = gate::Gate::start(options).expect("start a second gate");

    let mut loris: Vec<RawClient> = (0..50)
        .map(|i| {
            let mut c = RawClient::connect(short.client_addr());
            // A partial line, never finished: half the request, or a lone `{`.
            let part = request("s0", "get_info_player", json!({"token": "t"}));
            c.send_raw(&part.as_bytes()[..if i % 2 == 0 { 1 } else { part.len() / 2 }]);
            c
        })
        .collect();

    // Others are served meanwhile, on the same gate.
    let mut honest = RawClient::connect(short.client_addr());
    let p = new_player(&mut honest, "loris");
    let a = honest.call(&request(
        "s0",
        "get_info_player",
        json!({"token": p.session}),
    ));
    assert_eq!(status(&a), 0, "{a}");

    // Every slowloris connection is closed without an answer once idle past the timeout.
    for (i, c) in loris.iter_mut().enumerate() {
        assert_eq!(
            c.read_line_within(Duration::from_secs(15)),
            Read1::Closed,
            "slowloris connection {i}"
        );
    }
    let closed = metric(short.admin_addr(), "gate_client_idle_closed_total");
    assert!(closed >= 50.0, "gate_client_idle_closed_total = {closed}");
    short.stop();
}

#[test]
fn ten_thousand_connections_opened_and_dropped_leave_the_gate_serving() {
    shared::fd_limit::raise_to_hard_limit().expect("raise the fd limit");
    let stack = Stack::start();
    let gate = stack.gate.as_ref().unwrap();
    let admin = gate.admin_addr();
    let gauge = |opened: usize| {
        metric(admin, "gate_client_connections_accepted_total") >= opened as f64
            && metric(admin, "gate_client_connections") == 0.0
    };
    let (opened, settled) = open_and_drop(stack.gate_addr(), CHURN, BATCH, gauge);
    assert_eq!(opened, CHURN, "every connect succeeded");
    assert_eq!(
        settled,
        CHURN / BATCH,
        "every batch accepted, gate_client_connections back to 0"
    );

    let mut c = RawClient::connect(stack.gate_addr());
    let a = c.call(&request("s0", "no_such_function", json!({})));
    assert_eq!(status(&a), 10, "the gate still answers: {a}");
    drop(c);
    assert!(
        eventually(Duration::from_secs(20), || metric(
            admin,
            "gate_client_connections"
        ) == 0.0),
        "gate_client_connections back to 0, is {}",
        metric(admin, "gate_client_connections")
    );
    let accepted = metric(admin, "gate_client_connections_accepted_total");
    assert!(accepted >= CHURN as f64, "accepted {accepted}");
}

#[test]
fn ten_thousand_connections_opened_and_dropped_leave_the_edge_serving() {
    shared::fd_limit::raise_to_hard_limit().expect("raise the fd limit");
    let stack = Stack::start();
    let admin = stack.edge.as_ref().unwrap().admin_addr();
    let before = metric(admin, "edge_connections_accepted_total");
    let gauge = |opened: usize| {
        metric(admin, "edge_connections_accepted_total") >= before + opened as f64
            && metric(admin, "edge_connections") == 0.0
    };
    let (opened, settled) = open_and_drop(stack.edge_addr(), CHURN, BATCH, gauge);
    assert_eq!(opened, CHURN, "every connect succeeded");
    assert_eq!(
        settled,
        CHURN / BATCH,
        "every batch accepted, edge_connections back to 0"
    );

    // Still serving: a bad nonce gets its error frame.
    let mut c = RawClient::connect(stack.edge_addr());
    c.send("00REGISTERnot-a-nonce");
    let lines = c.expect_closed(Duration::from_secs(20));
    assert!(
        lines.iter().any(|l| l.starts_with("00000ERROR")),
        "error frame then close: {lines:?}"
    );
    assert!(
        eventually(Duration::from_secs(20), || metric(
            admin,
            "edge_connections"
        ) == 0.0),
        "edge_connections back to 0, is {}",
        metric(admin, "edge_connections")
    );
}

/// A real slowloris trickles: one byte of a line that never ends, just inside the idle
/// timeout each time, so it is never idle. The gate gives an unfinished request line the
/// idle timeout to arrive (the shared HTTP server's `request_timeout` does the same).
/// Expected here (leniently): a line still unfinished after 12 × idle_timeout is closed.
#[test]
fn a_trickling_slowloris_is_closed_although_never_idle() {
    let stack = Stack::start();
    let mut options = gate::Options::local(&stack.redis.url(), &stack.nats.url());
    options.idle_timeout = Duration::from_secs(1);
    let mut short = gate::Gate::start(options).expect("start a second gate");
    let mut loris = RawClient::connect(short.client_addr());
    let mut closed = false;
    // 12 s of trickling, one byte every 500 ms: 12 × idle_timeout.
    for byte in b"{\"world\":\"s0\",\"fun".iter().cycle().take(24) {
        loris.send_raw(std::slice::from_ref(byte));
        if loris.read_line_within(Duration::from_millis(500)) == Read1::Closed {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "an unfinished line trickled for 12 × idle_timeout is still open"
    );
    short.stop();
}
