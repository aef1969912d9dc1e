//! Hostile chat frames at the edge, with nonces from the real path (the worker's
//! `get_login_token_chat` through the gate) or written the way the worker writes them.

use std::time::Duration;

use hostile::{new_player, request, status, RawClient, Read1};
use serde_json::json;
use teststack::Stack;

const WAIT: Duration = Duration::from_secs(15);

/// A chat nonce for `player` from the worker, through the gate.
fn chat_nonce(stack: &Stack, session: &str) -> String {
    let mut c = RawClient::connect(stack.gate_addr());
    let a = c.call(&request(
        "s0",
        "get_login_token_chat",
        json!({"token": session}),
    ));
    assert_eq!(status(&a), 0, "get_login_token_chat: {a}");
    a["data"]["token"].as_str().expect("nonce").to_string()
}

/// A registered chat client for a new player.
fn chat_member(stack: &Stack, prefix: &str) -> (RawClient, String) {
    let mut g = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut g, prefix);
    let nonce = chat_nonce(stack, &p.session);
    let mut c = RawClient::connect(stack.edge_addr());
    c.send(&format!("00REGISTER{nonce}"));
    assert_eq!(c.line(), "00000000OK", "{prefix} registers");
    (c, p.gn)
}

/// The member still chats: its own public message comes back to it (after any public
/// messages of others in between; an error frame is a failure).
fn still_chatting(member: &mut RawClient, gn: &str, text: &str) {
    member.send(&format!("0000PUBLIC{text}"));
    let mine = format!("0000PUBLIC{gn}:{text}");
    loop {
        let line = member.line();
        if line == mine {
            return;
        }
        assert!(line.starts_with("0000PUBLIC"), "unexpected {line:?}");
    }
}

/// `lines` (what came before the close) hold exactly one error frame saying `needle`.
fn one_error(lines: &[String], needle: &str) {
    let errors: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("00000ERROR"))
        .collect();
    assert_eq!(errors.len(), 1, "one error frame: {lines:?}");
    assert!(errors[0].contains(needle), "{needle:?} in {lines:?}");
}

#[test]
fn protocol_breaks_close_only_that_connection() {
    let stack = Stack::start();
    let (mut ann, ann_gn) = chat_member(&stack, "ann");

    // A nonce nobody issued.
    let mut c = RawClient::connect(stack.edge_addr());
    c.send("00REGISTERdeadbeefdeadbeefdeadbeefdeadbeef");
    one_error(&c.expect_closed(WAIT), "");
    still_chatting(&mut ann, &ann_gn, "after bad nonce");

    // A nonce already redeemed: used once by bob, replayed by eve.
    let mut g = RawClient::connect(stack.gate_addr());
    let bob = new_player(&mut g, "bob");
    let nonce = chat_nonce(&stack, &bob.session);
    let mut first = RawClient::connect(stack.edge_addr());
    first.send(&format!("00REGISTER{nonce}"));
    assert_eq!(first.line(), "00000000OK");
    let mut replay = RawClient::connect(stack.edge_addr());
    replay.send(&format!("00REGISTER{nonce}"));
    one_error(&replay.expect_closed(WAIT), "");
    still_chatting(&mut first, &bob.gn, "the first redeemer keeps its seat");

    let (mut victim, _) = chat_member(&stack, "vic");
    // An unknown command, after a good REGISTER.
    victim.send("00000SHOUThello");
    one_error(&victim.expect_closed(WAIT), "");
    still_chatting(&mut ann, &ann_gn, "after unknown command");

    // A frame of exactly 4 KiB is relayed, sent one byte at a time with multi-byte
    // characters split across reads.
    let text = format!("{}{}", "é😀", "z".repeat(4096 - 10 - "é😀".len()));
    let frame = format!("0000PUBLIC{text}\r\n");
    assert_eq!(frame.len(), 4096 + 2);
    for byte in frame.as_bytes() {
        ann.send_raw(std::slice::from_ref(byte));
    }
    loop {
        let line = ann.line();
        if line == format!("0000PUBLIC{ann_gn}:{text}") {
            break;
        }
        assert!(line.starts_with("0000PUBLIC"), "unexpected {line:?}");
    }

    // A 5 KiB frame.
    let (mut big, _) = chat_member(&stack, "big");
    big.send(&format!("0000PUBLIC{}", "x".repeat(5 * 1024)));
    let lines = big.expect_closed(WAIT);
    one_error(&lines, "frame longer");
    assert!(
        !lines.iter().any(|l| l.starts_with("0000PUBLIC")),
        "nothing relayed: {lines:?}"
    );
    still_chatting(&mut ann, &ann_gn, "after 5 KiB frame");

    // A chat frame before REGISTER.
    let mut early = RawClient::connect(stack.edge_addr());
    early.send("0000PUBLICsneaky");
    one_error(&early.expect_closed(WAIT), "register first");
    let mut early_family = RawClient::connect(stack.edge_addr());
    early_family.send("0000FAMILYsneaky");
    one_error(&early_family.expect_closed(WAIT), "register first");

    // Invalid UTF-8 in a payload, after a good REGISTER.
    let (mut bad_utf8, _) = chat_member(&stack, "utf");
    bad_utf8.send_raw(b"0000PUBLIC\xff\xfe\xc0\x80\r\n");
    bad_utf8.expect_closed(WAIT);

    // A short or empty command and a bare line end.
    for junk in ["", "0000", "00REGISTER", "\u{0}\u{0}\u{0}"] {
        let mut c = RawClient::connect(stack.edge_addr());
        c.send(junk);
        c.expect_closed(WAIT);
    }

    // Ann still chats, and saw no error frame of the others (still_chatting fails on one).
    still_chatting(&mut ann, &ann_gn, "at the end");
}

#[test]
fn over_the_rate_limit_gets_a_notice_and_the_connection_stays() {
    let stack = Stack::start();
    let (mut ann, ann_gn) = chat_member(&stack, "rate");
    let burst: String = (0..60).map(|i| format!("0000PUBLICm{i}\r\n")).collect();
    ann.send_raw(burst.as_bytes());
    let (mut relayed, mut notices) = (0, 0);
    loop {
        match ann.read_line_within(Duration::from_secs(2)) {
            Read1::Line(l) if l == "00000ERRORrate limit" => notices += 1,
            Read1::Line(l) if l.starts_with("0000PUBLIC") => relayed += 1,
            Read1::Line(l) => panic!("unexpected {l:?}"),
            Read1::Silent => break,
            Read1::Closed => panic!("rate limiting must not close the connection"),
        }
    }
    assert!(notices >= 1, "a rate-limit notice");
    assert!(
        relayed < 60,
        "frames over the limit are dropped ({relayed} relayed)"
    );
    std::thread::sleep(Duration::from_millis(1100));
    still_chatting(&mut ann, &ann_gn, "after the burst");
}

#[test]
fn worlds_and_family_ids_unsafe_as_subjects_are_refused() {
    let stack = Stack::start();
    let admin = stack.redis_admin();
    let cases = [
        ("*", ""),
        (">", ""),
        ("s0.x", ""),
        ("s 0", ""),
        ("s0\t", ""),
        ("", ""),
        ("s0", "*"),
        ("s0", ">"),
        ("s0", "a.b"),
        ("s0", "my family"),
        ("s0", "f1\r\n"),
    ];
    for (world, fid) in cases {
        let nonce = shared::ids::random_hex(16);
        let key = shared::contract::chat_login_key(&nonce);
        admin
            .run(|c| {
                redis::cmd("HSET")
                    .arg(&key)
                    .arg("world")
                    .arg(world)
                    .arg("gn")
                    .arg("Eve")
                    .arg("fid")
                    .arg(fid)
                    .query::<()>(c)?;
                redis::cmd("EXPIRE").arg(&key).arg(120).query::<()>(c)
            })
            .unwrap();
        let mut c = RawClient::connect(stack.edge_addr());
        c.send(&format!("00REGISTER{nonce}"));
        let lines = c.expect_closed(WAIT);
        one_error(&lines, "");
        assert!(
            !lines.iter().any(|l| l == "00000000OK"),
            "world {world:?} fid {fid:?}: {lines:?}"
        );
    }
}

/// Issue 15, finding 3: a bare LF or CR in chat text made a reader that splits on either
/// (our CLI, C# and Java `ReadLine`) show a forged frame from "system"; ESC and NUL passed
/// too. Such text is refused with an error frame, the sender stays connected, and no
/// listener ever reads it.
#[test]
fn chat_text_with_control_characters_is_refused_and_never_relayed() {
    let stack = Stack::start();
    let (mut ann, ann_gn) = chat_member(&stack, "ctl");
    let (mut bob, _) = chat_member(&stack, "lis");
    let forged = "0000PUBLICsystem: server restart, re-enter your password at evil.example";
    let cases = [
        ("CR alone", "\r"),
        ("LF alone", "\n"),
        ("ESC", "\u{1b}[2J"),
        ("NUL", "\u{0}"),
        ("DEL", "\u{7f}"),
        ("C1 NEL", "\u{85}"),
    ];
    let mut relayed = 0;
    for (name, control) in cases {
        ann.send(&format!("0000PUBLIChi{control}{forged}"));
        let answer = ann.line();
        if answer != "00000ERRORcontrol character in text" {
            eprintln!("{name}: answered {answer:?}");
            relayed += 1;
        }
        // The refused frame does not come back later either.
        still_chatting(&mut ann, &ann_gn, &format!("after {name}"));
    }
    // A TAB is text.
    ann.send("0000PUBLICcol1\tcol2");
    loop {
        let line = ann.line();
        if line == format!("0000PUBLIC{ann_gn}:col1\tcol2") {
            break;
        }
        assert!(
            !line.starts_with("00000ERROR"),
            "a TAB was refused: {line:?}"
        );
    }
    ann.send("0000PUBLICdone");
    let done = format!("0000PUBLIC{ann_gn}:done");
    let mut bob_saw = Vec::new();
    loop {
        let line = bob.line();
        if line == done {
            break;
        }
        bob_saw.push(line);
    }
    let dirty: Vec<&String> = bob_saw
        .iter()
        .filter(|l| l.chars().any(|c| c != '\t' && c.is_control()) || l.contains("system:"))
        .collect();
    eprintln!(
        "control-character frames relayed: {relayed} of {} (the listener read {} of them)",
        cases.len(),
        dirty.len()
    );
    assert_eq!(relayed, 0, "every control character is refused");
    assert!(dirty.is_empty(), "the listener read {dirty:?}");
}

/// Issue 15, finding 8: the chat rate limit was per connection, so one player with five
/// connections had five allowances. Now every connection of a player (on every edge)
/// draws on one allowance (20 frames a second, a burst of 20).
#[test]
fn one_player_with_five_connections_has_one_allowance() {
    let stack = Stack::start();
    let mut g = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut g, "five");
    let mut conns: Vec<RawClient> = (0..5)
        .map(|_| {
            let nonce = chat_nonce(&stack, &p.session);
            let mut c = RawClient::connect(stack.edge_addr());
            c.send(&format!("00REGISTER{nonce}"));
            assert_eq!(c.line(), "00000000OK");
            c
        })
        .collect();
    let (mut listener, _) = chat_member(&stack, "ear");

    // Each connection sends 10 frames a second for two seconds: within its own bucket,
    // 50 a second together.
    let started = std::time::Instant::now();
    for round in 0..20 {
        for (i, c) in conns.iter_mut().enumerate() {
            c.send(&format!("0000PUBLICc{i}r{round}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = 100;
    let mine = format!("0000PUBLIC{}:", p.gn);
    let mut delivered = 0u32;
    let mut last = started;
    loop {
        match listener.read_line_within(Duration::from_secs(2)) {
            Read1::Line(l) if l.starts_with(&mine) => {
                delivered += 1;
                last = std::time::Instant::now();
            }
            Read1::Line(l) => panic!("unexpected {l:?}"),
            Read1::Silent => break,
            Read1::Closed => panic!("the listener was closed"),
        }
    }
    // A bucket full at `started` grants at most the burst plus the rate since then.
    let allowance = 20 + (20.0 * (last - started).as_secs_f64()).ceil() as u32;
    let over = delivered.saturating_sub(allowance);
    eprintln!(
        "{sent} frames from 5 connections of one player: {delivered} delivered, allowance \
         {allowance}, {over} over it"
    );
    assert_eq!(
        over, 0,
        "{delivered} delivered against an allowance of {allowance}"
    );
    // Throttled, not cut off: every connection is still open and the player still chats
    // once the allowance is back.
    std::thread::sleep(Duration::from_millis(1100));
    for (i, c) in conns.iter_mut().enumerate() {
        let text = format!("conn {i} after the flood");
        c.send(&format!("0000PUBLIC{text}"));
        let mine = format!("0000PUBLIC{}:{text}", p.gn);
        loop {
            let line = c.line();
            if line == mine {
                break;
            }
            // The flood's echoes and its rate-limit notices come first.
            assert!(
                line.starts_with("0000PUBLIC") || line == "00000ERRORrate limit",
                "unexpected {line:?}"
            );
        }
    }
}

/// Issue 15, finding 8: chat tokens were unlimited, and each is one more chat connection.
#[test]
fn chat_tokens_are_limited_per_player() {
    let stack = Stack::start();
    let mut g = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut g, "tok");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let a = g.call(&request(
            "s0",
            "get_login_token_chat",
            json!({"token": p.session}),
        ));
        statuses.push(status(&a));
    }
    let issued = statuses.iter().filter(|&&s| s == 0).count();
    eprintln!("12 chat token requests in a row: {issued} issued, statuses {statuses:?}");
    assert_eq!(&statuses[..10], &[0; 10]);
    assert_eq!(&statuses[10..], &[95, 95], "over 10 a minute: 95");
    // Another player is not affected.
    let q = new_player(&mut g, "tok2");
    chat_nonce(&stack, &q.session);
}
