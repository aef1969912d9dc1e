//! One hostile client must not hurt anyone else (issue 15, findings 1, 2 and 9), against
//! the whole system with its default limits: a client that never reads its answers, a
//! pipelined login flood, and a flood of new guest accounts from one address.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hostile::{new_player, request, status, RawClient, Read1};
use serde_json::json;
use teststack::Stack;

const BYSTANDER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Milliseconds of one `get_info_player` round trip.
fn info_ms(client: &mut RawClient, session: &str) -> f64 {
    let started = Instant::now();
    let a = client.call(&request("s0", "get_info_player", json!({"token": session})));
    assert_eq!(status(&a), 0, "the bystander is served: {a}");
    started.elapsed().as_secs_f64() * 1000.0
}

#[test]
fn a_client_that_never_reads_is_closed_while_a_normal_player_is_served() {
    let stack = Stack::start();
    let mut slow = RawClient::connect(stack.gate_addr());
    let victim = new_player(&mut slow, "slw");
    // A full mailbox of long mails makes get_all_mail's answer big (about 80 kB).
    let admin = stack.admin_token();
    let mut sender = RawClient::connect(stack.gate_addr());
    for n in 0..50 {
        let a = sender.call(&request(
            "s0",
            "send_text_mail",
            json!({"token": admin, "gn_target": victim.gn, "msg": "中".repeat(500), "subj": format!("long {n}")}),
        ));
        assert_eq!(status(&a), 0, "mail {n}: {a}");
    }
    let rss_before = rss_kib();
    let line = request("s0", "get_all_mail", json!({"token": victim.session}));
    let flood: String = (0..200).map(|_| format!("{line}\r\n")).collect();
    slow.send_raw(flood.as_bytes());

    // Meanwhile a normal player from another address is served.
    let mut normal = RawClient::connect_from(BYSTANDER, stack.gate_addr());
    let p = new_player(&mut normal, "nrm");
    let during = info_ms(&mut normal, &p.session);
    let rss_held = rss_kib();

    // Past the write-stall limit (20 s by default) the gate has closed the slow reader:
    // what it reads now ends with the close instead of waiting on an open connection.
    std::thread::sleep(Duration::from_secs(22));
    let mut answers = 0;
    let closed = loop {
        match slow.read_line_within(Duration::from_secs(5)) {
            Read1::Line(_) => answers += 1,
            Read1::Closed => break true,
            Read1::Silent => break false,
        }
    };
    assert!(
        closed,
        "a client that never read its answers was left open ({answers} answers read at the end)"
    );
    assert!(answers < 200, "closed with answers unsent");
    let after = info_ms(&mut normal, &p.session);
    eprintln!(
        "slow reader: process RSS {rss_before} KiB before, {rss_held} KiB while held, {} KiB \
         after the close; {answers} of 200 answers reached it; bystander get_info_player \
         {during:.1} ms during, {after:.1} ms after",
        rss_kib()
    );
}

#[test]
fn a_login_flood_on_one_connection_is_cut_short_and_a_bystander_is_served() {
    let stack = Stack::start_with(|s| s.pbkdf2_iterations = 20_000);
    let mut normal = RawClient::connect_from(BYSTANDER, stack.gate_addr());
    let p = new_player(&mut normal, "bys");
    let quiet = info_ms(&mut normal, &p.session);

    let mut flood = RawClient::connect(stack.gate_addr());
    let login = request(
        "s0",
        "login",
        json!({"identifier": "account", "value": "no-such-account", "password": "guess-1234"}),
    );
    let lines: String = (0..300).map(|_| format!("{login}\r\n")).collect();
    let started = Instant::now();
    flood.send_raw(lines.as_bytes());
    let during = info_ms(&mut normal, &p.session);
    let mut by_status = std::collections::BTreeMap::new();
    for _ in 0..300 {
        *by_status.entry(status(&flood.answer())).or_insert(0) += 1;
    }
    let flood_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "login flood: statuses {by_status:?} in {flood_secs:.2} s; bystander get_info_player \
         {quiet:.1} ms quiet, {during:.1} ms during the flood"
    );
    // The default budget: 10 attempts for one account get password work (answered 1, or
    // -2 when a debug build on a busy machine is slower than the job timeout), the other
    // 290 are refused at once without it.
    let worked = by_status.get(&1).unwrap_or(&0) + by_status.get(&-2).unwrap_or(&0);
    assert_eq!(worked, 10, "{by_status:?}");
    assert_eq!(by_status.get(&2), Some(&290), "{by_status:?}");
    // The account's real owner is held back too, for the window; another account is not.
    let mut other = RawClient::connect_from(BYSTANDER, stack.gate_addr());
    let a = other.call(&request(
        "s0",
        "login",
        json!({"identifier": "account", "value": "someone-else", "password": "guess-1234"}),
    ));
    assert_eq!(status(&a), 1, "{a}");
}

#[test]
fn one_address_gets_a_budget_of_new_guests_others_are_not_charged() {
    let stack = Stack::start();
    let from = Ipv4Addr::new(127, 0, 0, 3);
    let mut c = RawClient::connect_from(from, stack.gate_addr());
    let guest = |id: &str| request("s0", "login_unique", json!({"unique_id": id}));
    let tag = shared::ids::random_hex(4);
    for n in 0..50 {
        let a = c.call(&guest(&format!("gb-{tag}-{n}")));
        assert_eq!(status(&a), 1, "guest {n}: {a}");
    }
    let over = c.call(&guest(&format!("gb-{tag}-over")));
    assert_eq!(status(&over), 3, "{over}");
    assert!(over["data"]["token"].is_null(), "no token: {over}");
    // An existing guest still logs in from there; another address still creates.
    assert_eq!(status(&c.call(&guest(&format!("gb-{tag}-0")))), 0);
    let mut elsewhere = RawClient::connect_from(BYSTANDER, stack.gate_addr());
    assert_eq!(
        status(&elsewhere.call(&guest(&format!("gb-{tag}-over")))),
        1
    );
}

/// Both hostile clients at once, each from its own address, while a normal player from a
/// third plays at a steady pace: the normal player never gets -2 (nor anything but 0), the
/// slow reader is closed, the flood is answered 2 past its budget. The figures (quiet and
/// under attack) are printed for the note; their release-build run is in docs/benchmarks.md.
#[test]
fn two_hostile_clients_at_once_leave_a_normal_player_served() {
    let stack = Stack::start_with(|s| s.pbkdf2_iterations = 20_000);
    let report = hostile::attack::run(&hostile::attack::Scenario {
        gate: stack.gate_addr(),
        admin_token: stack.admin_token(),
        normal_from: BYSTANDER,
        slow_from: Ipv4Addr::new(127, 0, 0, 4),
        flood_from: Ipv4Addr::new(127, 0, 0, 5),
        pace: Duration::from_millis(20),
        quiet: Duration::from_secs(3),
        // Past the gate's default write stall (20 s).
        attack: Duration::from_secs(23),
        rss_pid: Some(std::process::id()),
    });
    eprintln!("two hostile clients at once (debug build, whole stack in one process):\n{report}");

    for phase in [&report.quiet, &report.attack] {
        assert_eq!(
            phase.statuses.get(&-2),
            None,
            "the normal player got -2: {phase}"
        );
        assert_eq!(
            phase.statuses.keys().collect::<Vec<_>>(),
            [&0],
            "the normal player is served: {phase}"
        );
    }
    assert!(
        report.slow_closed,
        "the slow reader was left open: {report}"
    );
    assert!(
        report.slow_answers < hostile::attack::SLOW_REQUESTS,
        "the slow reader was closed with answers unsent: {report}"
    );
    // The flood: at most the account's budget (10) gets password work (1, or -2 when a
    // debug build on a busy machine is slower than the job timeout); every other line is
    // refused with 2 without it.
    let answered: usize = report.flood_statuses.values().sum();
    let worked =
        report.flood_statuses.get(&1).unwrap_or(&0) + report.flood_statuses.get(&-2).unwrap_or(&0);
    assert!(worked <= 10, "{report}");
    assert!(answered > 10, "the flood was answered: {report}");
    assert_eq!(
        report.flood_statuses.get(&2).copied().unwrap_or(0),
        answered - worked,
        "{report}"
    );
}
