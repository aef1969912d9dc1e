//! The whole system on a real local Redis Cluster (issue 20): three masters, three
//! replicas, every service on the cluster URL with its own ACL user's rights. Gate round
//! trips, logins, auth nonces (friend request mails), chat tokens redeemed at the edge and
//! request ids work; then each replica in turn takes over its master (`CLUSTER FAILOVER`)
//! while clients keep calling, and every request is answered: none lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use hostile::{new_player, request, status, Player, RawClient, Read1, ANSWER_WAIT};
use serde_json::{json, Value};
use teststack::Stack;

fn call(c: &mut RawClient, p: &Player, function: &str, mut data: Value) -> Value {
    data["token"] = json!(p.session);
    c.call(&request("s0", function, data))
}

/// `request_friend` from `a` (an auth nonce and a mail), `respond_friend` by `b` (the
/// nonce redeemed), as a game client does.
fn befriend(c: &mut RawClient, a: &Player, b: &Player) {
    let r = call(c, a, "request_friend", json!({"gn_target": b.gn}));
    assert_eq!(status(&r), 0, "request_friend: {r}");
    let all = call(c, b, "get_all_mail", json!({}));
    assert_eq!(status(&all), 0, "get_all_mail: {all}");
    let key = all["data"]["mail"]
        .as_array()
        .expect("mail")
        .iter()
        .find(|m| m["type"] == 2 && m["from"] == a.gn.as_str())
        .and_then(|m| m["key"].as_str())
        .expect("the request mail")
        .to_string();
    let r = call(c, b, "respond_friend", json!({"key": key}));
    assert_eq!(status(&r), 0, "respond_friend: {r}");
}

/// A chat token from the worker, redeemed at the edge.
fn chats(stack: &Stack, c: &mut RawClient, p: &Player) {
    let a = call(c, p, "get_login_token_chat", json!({}));
    assert_eq!(status(&a), 0, "get_login_token_chat: {a}");
    let nonce = a["data"]["token"].as_str().expect("nonce");
    let mut chat = RawClient::connect(stack.edge_addr());
    chat.send(&format!("00REGISTER{nonce}"));
    assert_eq!(chat.line(), "00000000OK");
    // Single use: the same nonce again is refused.
    let mut replay = RawClient::connect(stack.edge_addr());
    replay.send(&format!("00REGISTER{nonce}"));
    assert!(replay.line().starts_with("00000ERROR"));
}

/// The functional round: each path that touches Redis, once.
fn every_redis_path(stack: &Stack, prefix: &str) {
    let mut c = RawClient::connect(stack.gate_addr());
    let a = new_player(&mut c, &format!("{prefix}a"));
    let b = new_player(&mut c, &format!("{prefix}b"));
    befriend(&mut c, &a, &b);
    chats(stack, &mut c, &a);
    // A password login of an unknown account: the failure counters of account and client
    // address (two slots, one pipeline).
    let login = c.call(&request(
        "s0",
        "login",
        json!({"identifier": "account", "value": format!("{prefix}-nobody"), "password": "guess-1234"}),
    ));
    assert_eq!(status(&login), 1, "{login}");
    // A request id: the claim rides with the token check, a retry gets the same answer.
    let line = json!({"world": "s0", "function": "get_info_player", "rid": format!("{prefix}-r1"),
        "data": {"token": a.session}})
    .to_string();
    let first = c.call(&line);
    assert_eq!(status(&first), 0, "{first}");
    assert_eq!(c.call(&line), first);
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    ok: AtomicU64,
    timed_out: AtomicU64,
    /// Answered, but neither a success nor -2 (16 when Redis failed).
    other: AtomicU64,
    lost: AtomicU64,
}

/// One client's load: `get_info_player` with a fresh request id (token check, rid claim
/// and record: three slots); every fifth call a chat token (its per-minute counter and
/// the login hash; 95 once over the limit), every seventh a failed password login (the
/// account's and the address's failure counters in one pipeline), until `stop`.
fn load(stack_gate: std::net::SocketAddr, p: Player, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let mut c = RawClient::connect(stack_gate);
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let (line, good): (String, &[i64]) = if i % 7 == 0 {
            // A failed password login: 1, or 2 once the account's failure budget is spent.
            let data = json!({"identifier": "account", "value": format!("{}-x", p.unique_id),
                "password": "guess-1234"});
            (request("s0", "login", data), &[1, 2])
        } else if i % 5 == 0 {
            let line = request("s0", "get_login_token_chat", json!({"token": p.session}));
            (line, &[0, 95])
        } else {
            let line = json!({"world": "s0", "function": "get_info_player",
                "rid": format!("{}-{i}", p.unique_id), "data": {"token": p.session}});
            (line.to_string(), &[0])
        };
        counts.sent.fetch_add(1, Ordering::Relaxed);
        c.send(&line);
        match c.read_line_within(ANSWER_WAIT) {
            Read1::Line(answer) => {
                let answer: Value = serde_json::from_str(&answer).expect("JSON answer");
                let s = status(&answer);
                if good.contains(&s) {
                    counts.ok.fetch_add(1, Ordering::Relaxed);
                } else if s == -2 {
                    counts.timed_out.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("unexpected answer during failover: {answer}");
                    counts.other.fetch_add(1, Ordering::Relaxed);
                }
            }
            Read1::Closed | Read1::Silent => {
                counts.lost.fetch_add(1, Ordering::Relaxed);
                c = RawClient::connect(stack_gate);
            }
        }
    }
}

#[test]
fn the_system_runs_on_a_redis_cluster_and_through_failovers() {
    const CLIENTS: usize = 4;
    // All clients come from 127.0.0.1: the load's failed logins must not use up the
    // address's budget that the rounds' logins count on.
    let stack = Stack::start_on_cluster(|s| {
        s.account_limits.login_failures_per_address = 1_000_000;
    });
    let cluster = match &stack.redis {
        teststack::StackRedis::Cluster(c) => c,
        teststack::StackRedis::Single(_) => unreachable!("started on a cluster"),
    };
    every_redis_path(&stack, "before");

    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut c = RawClient::connect(stack.gate_addr());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let p = new_player(&mut c, &format!("load{n}"));
            let (counts, stop, gate) = (counts.clone(), stop.clone(), stack.gate_addr());
            thread::spawn(move || load(gate, p, counts, stop))
        })
        .collect();
    let sent_at_least = |n: u64| {
        while counts.sent.load(Ordering::Relaxed) < n {
            thread::sleep(Duration::from_millis(10));
        }
    };
    sent_at_least(40);
    let moved_before = cluster.moved_replies();
    let replicas = cluster.replicas();
    assert_eq!(
        replicas.len(),
        testkit::CLUSTER_MASTERS,
        "one replica per master"
    );
    for port in replicas {
        let before = counts.sent.load(Ordering::Relaxed);
        cluster.failover(port);
        // Requests keep flowing on the new topology before the next failover.
        sent_at_least(before + 20);
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("a load client panicked");
    }
    let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
    let (sent, ok, timed_out) = (get(&counts.sent), get(&counts.ok), get(&counts.timed_out));
    let (other, lost) = (get(&counts.other), get(&counts.lost));
    let moved = cluster.moved_replies() - moved_before;
    eprintln!(
        "redis cluster failover run: {} failovers, {CLIENTS} clients: sent {sent}, ok {ok}, \
         -2 {timed_out}, other {other}, lost {lost}; MOVED replies followed {moved}",
        testkit::CLUSTER_MASTERS
    );
    assert!(
        moved > 0,
        "the services met the new masters through redirects"
    );
    assert_eq!(lost, 0, "every request answered");
    assert_eq!(other, 0, "answers are successes or -2");
    assert_eq!(sent, ok + timed_out);

    // Every path again on the new masters.
    every_redis_path(&stack, "after");
}
