//! The edge against real Redis and NATS: clients speak the wire protocol over TCP, nonces
//! are created the way the worker creates them (HSET + EXPIRE).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use edge::codec::{ChatKind, ServerFrame};
use edge::{Edge, Options};
use shared::framing::LineBuffer;

const WAIT: Duration = Duration::from_secs(10);

struct Stack {
    redis: testkit::Redis,
    nats: testkit::Nats,
    conn: redis::Connection,
    secured: bool,
}

impl Stack {
    fn start() -> Stack {
        let redis = testkit::Redis::start();
        let nats = testkit::Nats::start();
        let conn = redis::Client::open(redis.url())
            .unwrap()
            .get_connection()
            .unwrap();
        Stack {
            redis,
            nats,
            conn,
            secured: false,
        }
    }

    /// Redis and NATS with the services' users: the edge speaks as `edge`, the nonces and
    /// chat events come from the `worker` user, as in a cluster.
    fn start_secured() -> Stack {
        let redis = testkit::Redis::start_secured();
        let nats = testkit::Nats::start_secured();
        let conn = redis::Client::open(redis.url_as("worker"))
            .unwrap()
            .get_connection()
            .unwrap();
        Stack {
            redis,
            nats,
            conn,
            secured: true,
        }
    }

    fn config(&self) -> Options {
        if self.secured {
            return Options::local(&self.redis.url_as("edge"), &self.nats.url_as("edge"));
        }
        Options::local(&self.redis.url(), &self.nats.url())
    }

    fn edge(&self) -> Edge {
        Edge::start(self.config()).unwrap()
    }

    /// A login nonce as the worker writes it; `fid` "" means no family.
    fn nonce(&mut self, world: &str, gn: &str, fid: &str) -> String {
        self.nonce_of(world, gn, fid, "")
    }

    /// A login nonce with the player's chat id `pid` ("": none, as older workers wrote).
    fn nonce_of(&mut self, world: &str, gn: &str, fid: &str, pid: &str) -> String {
        let nonce = shared::ids::random_hex(16);
        let key = shared::contract::chat_login_key(&nonce);
        redis::cmd("HSET")
            .arg(&key)
            .arg("world")
            .arg(world)
            .arg("gn")
            .arg(gn)
            .arg("fid")
            .arg(fid)
            .arg("pid")
            .arg(pid)
            .query::<()>(&mut self.conn)
            .unwrap();
        redis::cmd("EXPIRE")
            .arg(&key)
            .arg(120)
            .query::<()>(&mut self.conn)
            .unwrap();
        nonce
    }

    fn login(&mut self, edge: &Edge, world: &str, gn: &str, fid: &str) -> Client {
        let nonce = self.nonce(world, gn, fid);
        let mut c = Client::connect(edge.addr());
        c.send(&format!("00REGISTER{nonce}"));
        assert_eq!(c.frame(), Some(ServerFrame::Registered), "{gn} registers");
        c
    }
}

struct Client {
    stream: TcpStream,
    lines: LineBuffer,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Client {
            stream,
            lines: LineBuffer::new(1 << 20),
        }
    }

    fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next frame, `None` once the edge closed the connection, or the read's error (a
    /// timeout among them).
    fn next_frame(&mut self) -> io::Result<Option<ServerFrame>> {
        let mut buf = [0u8; 8192];
        loop {
            if let Some(line) = self.lines.next_line().unwrap() {
                return Ok(Some(ServerFrame::parse(line).unwrap()));
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => self.lines.extend(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next frame, or `None` once the edge closed the connection.
    fn frame(&mut self) -> Option<ServerFrame> {
        self.next_frame()
            .unwrap_or_else(|e| panic!("no frame within {WAIT:?}: {e}"))
    }

    /// The next frame, or `None` when none came within the read timeout.
    fn try_frame(&mut self) -> Option<ServerFrame> {
        match self.next_frame() {
            Ok(Some(frame)) => Some(frame),
            Ok(None) => panic!("closed"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Says `text` in public and gets it back as `gn`'s message: the connection is open and
    /// registered.
    fn says_back(&mut self, gn: &str, text: &str) {
        self.send(&format!("0000PUBLIC{text}"));
        assert_eq!(self.chat(), (ChatKind::Public, format!("{gn}:{text}")));
    }

    /// The next chat frame that is not a warm-up message.
    fn chat(&mut self) -> (ChatKind, String) {
        loop {
            match self.frame() {
                Some(ServerFrame::Chat { message, .. }) if message.contains(":warmup") => {}
                Some(ServerFrame::Chat { kind, message }) => return (kind, message),
                other => panic!("expected a chat frame, got {other:?}"),
            }
        }
    }

    /// As [`Client::chat`], past the chat frames whose message ends with `stale` (frames
    /// relayed before a change took effect).
    fn chat_past(&mut self, stale: &str) -> (ChatKind, String) {
        loop {
            let (kind, message) = self.chat();
            if !message.ends_with(stale) {
                return (kind, message);
            }
        }
    }

    fn expect_error_then_close(&mut self, needle: &str) {
        match self.frame() {
            Some(ServerFrame::Error { reason }) => {
                assert!(
                    reason.contains(needle),
                    "reason {reason:?} lacks {needle:?}"
                )
            }
            other => panic!("expected an error about {needle:?}, got {other:?}"),
        }
        assert_eq!(self.frame(), None, "closed after the error");
    }
}

/// Sends warm-up messages from `sender` until every receiver got one: then every edge
/// involved has its NATS subscription in place (SUB and PUB travel on different
/// connections, so "registered" alone does not order them).
fn warm_up(sender: &mut Client, command: &str, receivers: &mut [&mut Client]) {
    let deadline = Instant::now() + WAIT;
    let mut seen = vec![false; receivers.len()];
    while seen.contains(&false) {
        assert!(Instant::now() < deadline, "subscriptions never settled");
        sender.send(&format!("{command}warmup"));
        for (i, r) in receivers.iter_mut().enumerate() {
            r.stream
                .set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let mut buf = [0u8; 8192];
            loop {
                if let Some(line) = r.lines.next_line().unwrap() {
                    if line.ends_with(":warmup") {
                        seen[i] = true;
                    }
                    continue;
                }
                match r.stream.read(&mut buf) {
                    Ok(0) => panic!("closed during warm-up"),
                    Ok(n) => r.lines.extend(&buf[..n]),
                    Err(_) => break,
                }
            }
            r.stream.set_read_timeout(Some(WAIT)).unwrap();
        }
    }
}

fn metrics(edge: &Edge) -> String {
    testkit::http_get(edge.admin_addr(), "/metrics").unwrap().1
}

fn metric(edge: &Edge, name: &str) -> i64 {
    let text = metrics(edge);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .parse()
        .unwrap()
}

#[test]
fn public_message_reaches_both_edges_sender_included() {
    let mut stack = Stack::start();
    let (a, b) = (stack.edge(), stack.edge());
    let mut ann = stack.login(&a, "s0", "Ann", "");
    let mut bob = stack.login(&b, "s0", "Bob", "");
    let mut cy = stack.login(&b, "s0", "Cy", "f1");
    let mut other_world = stack.login(&b, "s1", "Dee", "");
    warm_up(&mut ann, "0000PUBLIC", &mut [&mut bob, &mut cy]);

    ann.send("0000PUBLIChello, world: ünïcode");
    for c in [&mut ann, &mut bob, &mut cy] {
        assert_eq!(
            c.chat(),
            (ChatKind::Public, "Ann:hello, world: ünïcode".to_string())
        );
    }
    // The other world hears nothing: its next chat is its own.
    other_world.says_back("Dee", "mine");
    assert_eq!(metric(&a, "edge_connections"), 1);
    assert_eq!(metric(&b, "edge_connections"), 3);
    assert_eq!(metric(&b, "edge_channels_subscribed"), 3);
}

#[test]
fn under_the_edge_and_worker_users_chat_crosses_edges_and_events_apply() {
    let mut stack = Stack::start_secured();
    let (a, b) = (stack.edge(), stack.edge());
    let mut ann = stack.login(&a, "s0", "Ann", "f1");
    let nonce = stack.nonce_of("s0", "Bob", "f1", "pb");
    let mut bob = Client::connect(b.addr());
    bob.send(&format!("00REGISTER{nonce}"));
    assert_eq!(bob.frame(), Some(ServerFrame::Registered));
    warm_up(&mut ann, "0000PUBLIC", &mut [&mut bob]);
    warm_up(&mut ann, "0000FAMILY", &mut [&mut bob]);
    ann.send("0000FAMILYacross edges");
    assert_eq!(
        bob.chat_past(":warmup"),
        (ChatKind::Family, "Ann:across edges".into())
    );
    // The worker's user publishes chat events; the edges' subscription to them was allowed.
    let worker =
        shared::nats::Client::connect(&stack.nats.url_as("worker"), Default::default()).unwrap();
    let renamed = shared::contract::ChatEvent::Renamed {
        world: "s0".into(),
        pid: "pb".into(),
        gn: "Robert".into(),
    };
    worker
        .publish(shared::contract::CHAT_EVENTS_SUBJECT, &renamed.encode())
        .unwrap();
    worker.flush(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "the rename never applied");
        bob.send("0000PUBLICname?");
        let (_, message) = bob.chat_past(":warmup");
        if message == "Robert:name?" {
            break;
        }
        assert_eq!(message, "Bob:name?");
    }
    assert_eq!(worker.permission_violations(), 0);
}

#[test]
fn family_message_reaches_only_that_family() {
    let mut stack = Stack::start();
    let (a, b) = (stack.edge(), stack.edge());
    let mut ann = stack.login(&a, "s0", "Ann", "f1");
    let mut bob = stack.login(&b, "s0", "Bob", "f1");
    let mut eve = stack.login(&b, "s0", "Eve", "f2");
    let mut same_fid_other_world = stack.login(&b, "s1", "Max", "f1");
    warm_up(&mut ann, "0000FAMILY", &mut [&mut bob]);

    ann.send("0000FAMILYsecret plan");
    assert_eq!(ann.chat(), (ChatKind::Family, "Ann:secret plan".into()));
    assert_eq!(bob.chat(), (ChatKind::Family, "Ann:secret plan".into()));
    // Eve and Max get the next thing said to them, not the secret.
    eve.send("0000FAMILYf2 only");
    assert_eq!(eve.chat(), (ChatKind::Family, "Eve:f2 only".into()));
    same_fid_other_world.send("0000FAMILYs1 family");
    assert_eq!(
        same_fid_other_world.chat(),
        (ChatKind::Family, "Max:s1 family".into())
    );
}

#[test]
fn a_player_without_family_gets_an_error_and_stays() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let mut ann = stack.login(&a, "s0", "Ann", "");
    ann.send("0000FAMILYanyone?");
    assert_eq!(ann.frame(), Some(ServerFrame::error("no family")));
    ann.says_back("Ann", "still here");
}

#[test]
fn bad_and_replayed_nonces_close_only_that_connection() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let mut ann = stack.login(&a, "s0", "Ann", "");

    let mut unknown = Client::connect(a.addr());
    unknown.send("00REGISTERdeadbeef");
    unknown.expect_error_then_close("bad nonce");

    let nonce = stack.nonce("s0", "Bob", "");
    let mut first = Client::connect(a.addr());
    first.send(&format!("00REGISTER{nonce}"));
    assert_eq!(first.frame(), Some(ServerFrame::Registered));
    let mut replay = Client::connect(a.addr());
    replay.send(&format!("00REGISTER{nonce}"));
    replay.expect_error_then_close("bad nonce");

    let mut malformed = Client::connect(a.addr());
    malformed.send("00REGISTERhas space");
    malformed.expect_error_then_close("bad nonce");

    let mut chat_first = Client::connect(a.addr());
    chat_first.send("0000PUBLIChi");
    chat_first.expect_error_then_close("register first");

    ann.says_back("Ann", "still fine");
    assert_eq!(metric(&a, "edge_login_failures_total"), 2);
    assert_eq!(metric(&a, "edge_protocol_errors_total"), 2);
}

#[test]
fn unknown_command_and_oversized_frame_close_only_that_connection() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let mut ann = stack.login(&a, "s0", "Ann", "");

    let mut unknown = stack.login(&a, "s0", "Bob", "");
    unknown.send("0000WHISPRhello");
    unknown.expect_error_then_close("unknown command");

    let mut big = stack.login(&a, "s0", "Cy", "");
    big.send(&format!("0000PUBLIC{}", "x".repeat(5 * 1024)));
    big.expect_error_then_close("longer than 4096");

    let mut binary = stack.login(&a, "s0", "Dee", "");
    binary.send_raw(b"0000PUBLIC\xff\xfe\r\n");
    binary.expect_error_then_close("UTF-8");

    // A frame of exactly 4 KiB is fine.
    let text = "y".repeat(4096 - 10);
    ann.says_back("Ann", &text);
    assert_eq!(metric(&a, "edge_protocol_errors_total"), 3);
}

#[test]
fn unsafe_worlds_and_family_ids_are_refused() {
    let mut stack = Stack::start();
    let a = stack.edge();
    // Watch every chat subject: nothing may ever be published on a wildcard-like subject.
    let watcher = shared::nats::Client::connect(&stack.nats.url(), Default::default()).unwrap();
    let all = watcher.subscribe("chat.>", None).unwrap();
    watcher.flush(WAIT).unwrap();
    let cases = [
        ("*", ""),
        (">", ""),
        ("s0.x", ""),
        ("s 0", ""),
        ("s0", "*"),
        ("s0", ">"),
        ("s0", "a.b"),
        ("s0", "my family"),
    ];
    for (world, fid) in cases {
        let nonce = stack.nonce(world, "Eve", fid);
        let mut c = Client::connect(a.addr());
        c.send(&format!("00REGISTER{nonce}"));
        c.expect_error_then_close("bad nonce");
    }
    let mut ann = stack.login(&a, "s0", "Ann", "f1");
    ann.says_back("Ann", "ok");
    let msg = all.recv_timeout(WAIT).unwrap();
    assert_eq!(msg.subject, "chat.s0.public");
    assert_eq!(msg.payload, b"Ann:ok");
    assert_eq!(metric(&a, "edge_channels_subscribed"), 2);
}

#[test]
fn re_register_switches_family_channels() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let mut ann = stack.login(&a, "s0", "Ann", "f1");
    let mut old_family = stack.login(&a, "s0", "Bob", "f1");
    let mut new_family = stack.login(&a, "s0", "Cy", "f2");
    warm_up(&mut old_family, "0000FAMILY", &mut [&mut ann]);

    let nonce = stack.nonce("s0", "Ann", "f2");
    ann.send(&format!("00REGISTER{nonce}"));
    // Frames right behind REGISTER already run as the new identity.
    ann.send("0000FAMILYhello f2");
    // Skip old-family warm-ups still in flight.
    loop {
        match ann.frame() {
            Some(ServerFrame::Registered) => break,
            Some(ServerFrame::Chat { message, .. }) if message.ends_with(":warmup") => {}
            other => panic!("expected OK, got {other:?}"),
        }
    }
    assert_eq!(ann.chat(), (ChatKind::Family, "Ann:hello f2".into()));
    assert_eq!(new_family.chat(), (ChatKind::Family, "Ann:hello f2".into()));
    // The old family no longer reaches Ann: her next frame is the new family's.
    old_family.send("0000FAMILYbye ann");
    assert_eq!(old_family.chat(), (ChatKind::Family, "Bob:bye ann".into()));
    new_family.send("0000FAMILYwelcome");
    assert_eq!(ann.chat(), (ChatKind::Family, "Cy:welcome".into()));
}

#[test]
fn over_the_rate_limit_frames_drop_with_one_notice() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let mut ann = stack.login(&a, "s0", "Ann", "");
    let mut bob = stack.login(&a, "s0", "Bob", "");
    // 30 frames in one write: the bucket (20/s) lets about 20 through.
    let burst: String = (0..30).map(|i| format!("0000PUBLICm{i}\r\n")).collect();
    ann.send_raw(burst.as_bytes());
    let mut notices = 0;
    let mut mine = 0;
    // REGISTER used one token; `bob` marks the end of ann's relayed messages.
    loop {
        match ann.frame() {
            Some(ServerFrame::Error { reason }) => {
                assert_eq!(reason, "rate limit");
                notices += 1;
            }
            Some(ServerFrame::Chat { message, .. }) if message == "Bob:marker" => break,
            Some(ServerFrame::Chat { message, .. }) => {
                assert!(message.starts_with("Ann:m"), "{message}");
                mine += 1;
                if mine == 19 {
                    bob.send("0000PUBLICmarker");
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(notices, 1, "one notice per second at most");
    assert!((19..30).contains(&mine), "{mine} frames passed");
    assert!(metric(&a, "edge_rate_limited_frames_total") >= 1);
    // The connection stays open and usable once the bucket refilled.
    std::thread::sleep(Duration::from_millis(1100));
    ann.says_back("Ann", "after");
}

#[test]
fn one_player_shares_one_allowance_across_connections_and_edges() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let b = stack.edge();
    let mut listener = stack.login(&a, "s0", "Lis", "");
    let mut conns: Vec<Client> = (0..4)
        .map(|i| {
            let edge = if i % 2 == 0 { &a } else { &b };
            let nonce = stack.nonce_of("s0", "Ann", "", "00aa11bb");
            let mut c = Client::connect(edge.addr());
            c.send(&format!("00REGISTER{nonce}"));
            assert_eq!(c.frame(), Some(ServerFrame::Registered));
            c
        })
        .collect();
    let (first, rest) = conns.split_at_mut(1);
    let mut receivers: Vec<&mut Client> = rest.iter_mut().collect();
    receivers.push(&mut listener);
    warm_up(&mut first[0], "0000PUBLIC", &mut receivers);
    // Let the warm-up's tokens come back (a full bucket holds one second's worth).
    std::thread::sleep(Duration::from_millis(1100));

    // 19 frames on each connection: each is within its own bucket (20/s, REGISTER took
    // one), together 76 against the player's 20/s.
    let started = Instant::now();
    for c in conns.iter_mut() {
        let burst: String = (0..19).map(|i| format!("0000PUBLICm{i}\r\n")).collect();
        c.send_raw(burst.as_bytes());
    }
    // The listener's own message after a pause marks the end of Ann's.
    let mut delivered = 0u32;
    let mut marked = false;
    listener
        .stream
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut last = started;
    loop {
        match listener.try_frame() {
            Some(ServerFrame::Chat { message, .. }) if message == "Lis:marker" => break,
            Some(ServerFrame::Chat { message, .. }) => {
                assert!(message.starts_with("Ann:m"), "{message}");
                delivered += 1;
                last = Instant::now();
            }
            Some(other) => panic!("unexpected {other:?}"),
            None if !marked => {
                marked = true;
                listener.send("0000PUBLICmarker");
            }
            None => panic!("the marker never came"),
        }
    }
    // A bucket that was full at `started` grants at most 20 + 20/s since then.
    let allowance = 20 + (20.0 * (last - started).as_secs_f64()).ceil() as u32;
    eprintln!(
        "76 frames from 4 connections on 2 edges: {delivered} delivered, allowance {allowance}"
    );
    assert!(
        delivered <= allowance,
        "{delivered} delivered over the allowance of {allowance}"
    );
    assert!(delivered >= 19, "the allowance is used ({delivered})");
    let limited = metric(&a, "edge_player_rate_limited_frames_total")
        + metric(&b, "edge_player_rate_limited_frames_total");
    assert_eq!(limited, 76 - delivered as i64);
}

#[test]
fn a_client_that_never_reads_is_dropped_and_others_keep_receiving() {
    let mut stack = Stack::start();
    let mut cfg = stack.config();
    cfg.rate_limit = 0;
    cfg.player_rate_limit = 0;
    let a = Edge::start(cfg).unwrap();
    let mut sleeper = stack.login(&a, "s0", "Zed", "");
    let mut ann = stack.login(&a, "s0", "Ann", "");
    let mut bob = stack.login(&a, "s0", "Bob", "");
    sleeper.stream.set_read_timeout(None).unwrap();

    // Ann talks, Ann and Bob read every message as it comes (so they are never behind by
    // more than one), the sleeper reads nothing: 15 MB is far beyond what the kernel's
    // socket buffers and its 256 KiB output limit hold.
    let text = "z".repeat(3000);
    for i in 0..5000 {
        ann.send(&format!("0000PUBLIC{i} {text}"));
        for c in [&mut ann, &mut bob] {
            let (_, message) = c.chat();
            assert!(
                message.starts_with(&format!("Ann:{i} ")),
                "{i}: {message:.20}"
            );
        }
    }
    assert_eq!(metric(&a, "edge_slow_clients_dropped_total"), 1);
    assert_eq!(metric(&a, "edge_connections"), 2);
    // The sleeper finds its connection closed after what was buffered.
    sleeper.stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut sink = vec![0u8; 65536];
    loop {
        match sleeper.stream.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("slow client not closed: {e}"),
        }
    }
    bob.send("0000PUBLICstill here");
    assert_eq!(ann.chat(), (ChatKind::Public, "Bob:still here".into()));
}

#[test]
fn relayed_messages_cannot_inject_frames() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let mut ann = stack.login(&a, "s0", "Ann", "");
    let outsider = shared::nats::Client::connect(&stack.nats.url(), Default::default()).unwrap();
    // The outsider's connection is not ordered with the edge's SUB: publish until one lands.
    ann.stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    'settle: loop {
        assert!(Instant::now() < deadline, "subscription never settled");
        outsider.publish("chat.s0.public", b"Other:warmup").unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n) = ann.stream.read(&mut buf) {
            ann.lines.extend(&buf[..n]);
            if ann.lines.next_line().unwrap().is_some() {
                break 'settle;
            }
        }
    }
    ann.stream.set_read_timeout(Some(WAIT)).unwrap();
    outsider
        .publish("chat.s0.public", b"Mallory:hi\r\n00000000OK")
        .unwrap();
    outsider.publish("chat.s0.public", b"no colon").unwrap();
    outsider.publish("chat.s0.public", b"Mal:\xff").unwrap();
    // What the edge refuses from its own clients it does not relay from another edge
    // (or an older one) either: bare LF, bare CR, ESC, NUL, DEL, C1.
    let controls: [&[u8]; 6] = [
        b"Mal:hi\n0000PUBLICsystem: re-enter your password",
        b"Mal:hi\r0000PUBLICsystem: re-enter your password",
        b"Mal:\x1b[2Jcleared",
        b"Mal:nul\x00",
        b"Mal:del\x7f",
        "Mal:nel\u{85}".as_bytes(),
    ];
    for payload in controls {
        outsider.publish("chat.s0.public", payload).unwrap();
    }
    outsider
        .publish("chat.s0.public", b"Other:fine\twith a tab")
        .unwrap();
    outsider.flush(WAIT).unwrap();
    assert_eq!(
        ann.chat(),
        (ChatKind::Public, "Other:fine\twith a tab".into())
    );
    assert_eq!(metric(&a, "edge_nats_messages_rejected_total"), 9);
}

#[test]
fn exit_closes_politely_and_silent_connections_time_out() {
    let mut stack = Stack::start();
    let mut cfg = stack.config();
    cfg.login_timeout = Duration::from_secs(1);
    cfg.idle_timeout = Some(Duration::from_secs(2));
    let a = Edge::start(cfg).unwrap();
    let mut ann = stack.login(&a, "s0", "Ann", "");
    ann.send("000000EXIT");
    assert_eq!(ann.frame(), None);

    let mut idle = stack.login(&a, "s1", "Bob", "");
    let mut silent = Client::connect(a.addr());
    silent.expect_error_then_close("login timeout");
    idle.expect_error_then_close("idle timeout");
    assert_eq!(metric(&a, "edge_timeouts_total"), 2);
    // Once the clients hang up, the edge forgets them.
    drop((idle, silent));
    let deadline = Instant::now() + WAIT;
    while metric(&a, "edge_connections") != 0 {
        assert!(Instant::now() < deadline, "closed connections linger");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn connections_over_the_maximum_are_refused() {
    let mut stack = Stack::start();
    let mut cfg = stack.config();
    cfg.max_connections = 2;
    let a = Edge::start(cfg).unwrap();
    let mut ann = stack.login(&a, "s0", "Ann", "");
    let _bob = stack.login(&a, "s0", "Bob", "");
    let mut third = Client::connect(a.addr());
    third.expect_error_then_close("server full");
    ann.says_back("Ann", "still open");
}

#[test]
fn stop_says_goodbye_to_every_client() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let mut ann = stack.login(&a, "s0", "Ann", "f1");
    let mut fresh = Client::connect(a.addr());
    let admin = a.admin_addr();
    assert_eq!(testkit::http_get(admin, "/readyz").unwrap().0, 200);
    assert_eq!(testkit::http_get(admin, "/healthz").unwrap().0, 200);
    a.stop();
    ann.expect_error_then_close("server shutting down");
    fresh.expect_error_then_close("server shutting down");
}

#[test]
fn readiness_follows_redis() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let admin = a.admin_addr();
    assert_eq!(testkit::http_get(admin, "/readyz").unwrap().0, 200);
    stack.redis.kill();
    let (code, body) = testkit::http_get(admin, "/readyz").unwrap();
    assert_eq!(code, 503);
    assert!(body.contains("redis"), "{body}");
    // A nonce lookup during the outage fails cleanly, and logins work again after it.
    let mut c = Client::connect(a.addr());
    c.send("00REGISTERabc");
    c.expect_error_then_close("login unavailable");
    stack.redis.restart();
    stack.conn = redis::Client::open(stack.redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut ann = stack.login(&a, "s0", "Ann", "");
    ann.says_back("Ann", "back");
}

#[test]
fn the_binary_says_goodbye_and_exits_zero_on_sigterm() {
    let mut stack = Stack::start();
    let port = testkit::free_port();
    let admin_port = testkit::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_edge"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--admin-port", &admin_port.to_string()])
        .args([
            "--redis-url",
            &stack.redis.url(),
            "--nats-url",
            &stack.nats.url(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "edge binary never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let nonce = stack.nonce("s0", "Ann", "");
    let mut ann = Client::connect(addr);
    ann.send(&format!("00REGISTER{nonce}"));
    assert_eq!(ann.frame(), Some(ServerFrame::Registered));
    // SAFETY: signalling the child we spawned, by its own pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    ann.expect_error_then_close("server shutting down");
    assert!(child.wait().unwrap().success(), "exit status 0");
}

#[test]
fn chat_resumes_after_a_nats_restart() {
    let mut stack = Stack::start();
    let a = stack.edge();
    let mut ann = stack.login(&a, "s0", "Ann", "f1");
    stack.nats.kill();
    let deadline = Instant::now() + WAIT;
    while testkit::http_get(a.admin_addr(), "/readyz").unwrap().0 == 200 {
        assert!(
            Instant::now() < deadline,
            "readiness never noticed NATS down"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stack.nats.restart();
    while testkit::http_get(a.admin_addr(), "/readyz").unwrap().0 != 200 {
        assert!(Instant::now() < deadline, "never reconnected to NATS");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The client re-sent the SUBs before anything published after the reconnect.
    ann.says_back("Ann", "back");
    ann.send("0000FAMILYback too");
    assert_eq!(ann.chat(), (ChatKind::Family, "Ann:back too".into()));
}

/// The next family chat message (public ones are skipped).
fn family_chat(c: &mut Client) -> String {
    loop {
        if let (ChatKind::Family, message) = c.chat() {
            return message;
        }
    }
}

/// Sends a family frame every 200 ms until the edge answers `no family` (an event from the
/// worker reaches the edge asynchronously); chat frames meanwhile are skipped.
fn until_no_family(c: &mut Client) {
    let deadline = Instant::now() + WAIT;
    c.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut seen = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "family frames never refused: {seen:?}"
        );
        c.send("0000FAMILYstill in?");
        while let Some(frame) = c.try_frame() {
            if frame == ServerFrame::error("no family") {
                c.stream.set_read_timeout(Some(WAIT)).unwrap();
                return;
            }
            seen.push(frame);
        }
    }
}

/// Issue 15, finding 4: the worker's chat events (`chat.events`) change the channels and
/// the name of every open connection of the player they name, on every edge; an event
/// for another family, another world or with an unsafe field changes nothing.
#[test]
fn chat_events_follow_the_player_on_every_connection_and_edge() {
    let mut stack = Stack::start();
    let (a, b) = (stack.edge(), stack.edge());
    let mut login = |edge: &Edge, world: &str, gn: &str, fid: &str, pid: &str| {
        let nonce = stack.nonce_of(world, gn, fid, pid);
        let mut c = Client::connect(edge.addr());
        c.send(&format!("00REGISTER{nonce}"));
        assert_eq!(c.frame(), Some(ServerFrame::Registered), "{gn} registers");
        c
    };
    let mut ann_a = login(&a, "s0", "Ann", "f1", "pa");
    let mut ann_a2 = login(&a, "s0", "Ann", "f1", "pa");
    let mut ann_b = login(&b, "s0", "Ann", "f1", "pa");
    let mut bob = login(&a, "s0", "Bob", "f1", "pb");
    let mut dee = login(&b, "s0", "Dee", "f1", "pd");
    let mut cy = login(&b, "s0", "Cy", "f2", "pc");
    let mut max = login(&b, "s1", "Max", "f1", "pa");
    warm_up(
        &mut bob,
        "0000FAMILY",
        &mut [&mut ann_a, &mut ann_a2, &mut ann_b, &mut dee],
    );
    let worker = shared::nats::Client::connect(&stack.nats.url(), Default::default()).unwrap();
    let subject = shared::contract::CHAT_EVENTS_SUBJECT;
    // Changes nothing: unreadable, unknown, an unsafe name, another family, another world.
    for payload in [
        &b"\xff"[..],
        b"joined s0 pa f9",
        b"left s0 pa",
        b"renamed s0 pb Bad:name",
        b"left s0 pa f2",
    ] {
        worker.publish(subject, payload).unwrap();
    }
    let left = shared::contract::ChatEvent::Left {
        world: "s0".into(),
        pid: "pa".into(),
        fid: "f1".into(),
    };
    worker.publish(subject, &left.encode()).unwrap();
    worker.flush(WAIT).unwrap();
    // Ann is out of f1 on all three connections, on both edges ...
    for ann in [&mut ann_a, &mut ann_a2, &mut ann_b] {
        until_no_family(ann);
    }
    // ... hears f1 no more (her next frame is her own), while Bob and Dee still talk (past
    // Ann's probes that went out before the event reached her edge).
    bob.send("0000FAMILYwithout ann");
    assert_eq!(
        bob.chat_past(":still in?"),
        (ChatKind::Family, "Bob:without ann".into())
    );
    assert_eq!(
        dee.chat_past(":still in?"),
        (ChatKind::Family, "Bob:without ann".into())
    );
    for ann in [&mut ann_a, &mut ann_a2, &mut ann_b] {
        ann.send("0000PUBLICme");
        loop {
            match ann.frame() {
                Some(ServerFrame::Chat { message, .. })
                    if message.ends_with(":warmup") || message.ends_with(":still in?") => {}
                other => {
                    assert_eq!(
                        other,
                        Some(ServerFrame::Chat {
                            kind: ChatKind::Public,
                            message: "Ann:me".into()
                        })
                    );
                    break;
                }
            }
        }
    }
    // The same pid in another world keeps its family.
    max.send("0000FAMILYs1 still");
    assert_eq!(max.chat(), (ChatKind::Family, "Max:s1 still".into()));

    // A rename: the next frame carries the new name; the unsafe one above did nothing.
    let renamed = shared::contract::ChatEvent::Renamed {
        world: "s0".into(),
        pid: "pb".into(),
        gn: "Robert".into(),
    };
    worker.publish(subject, &renamed.encode()).unwrap();
    worker.flush(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "the rename never applied");
        bob.send("0000FAMILYwho am I");
        let message = family_chat(&mut bob);
        assert_eq!(family_chat(&mut dee), message);
        if message == "Robert:who am I" {
            break;
        }
        assert_eq!(message, "Bob:who am I");
    }

    // A disband ends f1 for every member on every edge; f2 goes on.
    worker.publish(subject, b"disbanded s0 f1").unwrap();
    worker.flush(WAIT).unwrap();
    until_no_family(&mut bob);
    until_no_family(&mut dee);
    cy.send("0000FAMILYf2 goes on");
    assert_eq!(family_chat(&mut cy), "Cy:f2 goes on");
    assert_eq!(metric(&a, "edge_chat_events_rejected_total"), 4);
    assert_eq!(metric(&b, "edge_chat_events_rejected_total"), 4);
    assert_eq!(metric(&a, "edge_chat_events_total"), 4);
}
