//! Capacity and fan-out of one edge process, against real Redis and NATS.
//!
//! 1. Holds `EDGE_BENCH_IDLE` (default 10,000) registered idle connections, in families of
//!    10, and reports the edge process's resident memory per connection
//!    (`/proc/<pid>/status` VmRSS before and after).
//! 2. With `EDGE_BENCH_LISTENERS` (default 1,000) listeners in another world, publishes a
//!    burst on `chat.s0.public` (as another edge would) and reports delivered messages per
//!    second; then publishes one message every `EDGE_BENCH_PACE_MS` (default 20) and
//!    reports publish -> deliver latency. The listeners are read by this process, which
//!    shares the machine's cores with the edge and NATS.
//!
//! Run: `cargo bench -p edge --bench fanout`.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use shared::framing::LineBuffer;

const BURST: usize = 2_000;
const PACED: usize = 250;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

struct EdgeProcess {
    child: Child,
    addr: SocketAddr,
    admin: SocketAddr,
}

impl Drop for EdgeProcess {
    fn drop(&mut self) {
        // SAFETY: signalling the child we spawned, by its own pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn start_edge(redis: &testkit::Redis, nats: &testkit::Nats) -> EdgeProcess {
    let port = testkit::free_port();
    let admin = testkit::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_edge"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--admin-port", &admin.to_string()])
        .args(["--redis-url", &redis.url(), "--nats-url", &nats.url()])
        .args(["--log-level", "warn"])
        .stdout(Stdio::inherit())
        .spawn()
        .expect("run the edge binary");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "edge never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let admin = format!("127.0.0.1:{admin}").parse().unwrap();
    EdgeProcess { child, addr, admin }
}

/// Writes `count` nonces the way the worker does, pipelined.
fn make_nonces(
    redis: &mut redis::Connection,
    count: usize,
    world: &str,
    family_size: usize,
) -> Vec<String> {
    let nonces: Vec<String> = (0..count).map(|_| shared::ids::random_hex(16)).collect();
    for (chunk_index, chunk) in nonces.chunks(1000).enumerate() {
        let mut pipe = redis::pipe();
        for (i, nonce) in chunk.iter().enumerate() {
            let n = chunk_index * 1000 + i;
            let fid = n
                .checked_div(family_size)
                .map(|f| format!("f{f}"))
                .unwrap_or_default();
            let key = shared::contract::chat_login_key(nonce);
            pipe.cmd("HSET")
                .arg(&key)
                .arg("world")
                .arg(world)
                .arg("gn")
                .arg(format!("p{n}"))
                .arg("fid")
                .arg(fid)
                .ignore();
            pipe.cmd("EXPIRE").arg(&key).arg(120).ignore();
        }
        pipe.query::<()>(redis).expect("write nonces");
    }
    nonces
}

/// Connects and registers every nonce; REGISTERs are sent in windows to keep it quick.
fn register_all(addr: SocketAddr, nonces: &[String]) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(nonces.len());
    for window in nonces.chunks(200) {
        let mut batch = Vec::with_capacity(window.len());
        for nonce in window {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(format!("00REGISTER{nonce}\r\n").as_bytes())
                .unwrap();
            batch.push(s);
        }
        for mut s in batch {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut ok = [0u8; 12];
            s.read_exact(&mut ok).expect("registration answer");
            assert_eq!(&ok, b"00000000OK\r\n");
            streams.push(s);
        }
    }
    streams
}

/// Reads every listener until each got `expect` chat frames; returns per-frame latencies
/// (the text carries the publish time as nanoseconds since `origin`).
fn collect(
    poll: &mut Poll,
    listeners: &mut [(mio::net::TcpStream, LineBuffer, usize)],
    expect: usize,
    origin: Instant,
) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(listeners.len() * expect);
    let mut done = listeners.iter().filter(|l| l.2 >= expect).count();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(120);
    while done < listeners.len() {
        assert!(
            Instant::now() < deadline,
            "deliveries missing: {done} listeners complete"
        );
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for event in events.iter() {
            let (stream, lines, got) = &mut listeners[event.token().0];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => panic!("edge closed a listener"),
                    Ok(n) => lines.extend(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("listener read: {e}"),
                }
                let now = origin.elapsed().as_nanos() as u64;
                while let Some(line) = lines.next_line().unwrap() {
                    let sent: u64 = line
                        .rsplit_once(':')
                        .and_then(|(_, t)| t.parse().ok())
                        .unwrap_or_else(|| panic!("unexpected frame {line:?}"));
                    latencies.push(now.saturating_sub(sent));
                    *got += 1;
                    if *got == expect {
                        done += 1;
                    }
                }
            }
        }
    }
    latencies
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    Duration::from_nanos(sorted[i])
}

fn main() {
    let idle = env_count("EDGE_BENCH_IDLE", 10_000);
    let listener_count = env_count("EDGE_BENCH_LISTENERS", 1_000);
    let pace = Duration::from_millis(env_count("EDGE_BENCH_PACE_MS", 20) as u64);
    let fds = shared::fd_limit::raise_to_hard_limit().expect("raise the fd limit");
    assert!(
        fds as usize > idle + listener_count + 100,
        "fd limit {fds} too low for {idle} + {listener_count} connections"
    );
    let redis_server = testkit::Redis::start();
    let nats_server = testkit::Nats::start();
    let mut redis = redis::Client::open(redis_server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let edge = start_edge(&redis_server, &nats_server);
    let pid = edge.child.id();

    // 1. Idle connections and memory.
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kib(pid);
    let nonces = make_nonces(&mut redis, idle, "idle", 10);
    let started = Instant::now();
    let idle_streams = register_all(edge.addr, &nonces);
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid);
    let per_conn = (after.saturating_sub(before) * 1024) as f64 / idle as f64;
    println!(
        "idle: {idle} connections registered in {took:.2?} ({} families); edge RSS {before} KiB -> {after} KiB = {per_conn:.0} bytes per connection",
        idle / 10
    );

    // 2. Fan-out to listeners in world s0 (no family).
    let nonces = make_nonces(&mut redis, listener_count, "s0", 0);
    let mut poll = Poll::new().unwrap();
    let mut listeners: Vec<(mio::net::TcpStream, LineBuffer, usize)> =
        register_all(edge.addr, &nonces)
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                s.set_nonblocking(true).unwrap();
                let mut s = mio::net::TcpStream::from_std(s);
                poll.registry()
                    .register(&mut s, Token(i), Interest::READABLE)
                    .unwrap();
                (s, LineBuffer::new(1 << 16), 0)
            })
            .collect();
    let publisher = shared::nats::Client::connect(&nats_server.url(), Default::default()).unwrap();
    let origin = Instant::now();
    let stamp = |origin: Instant| format!("bench:{}", origin.elapsed().as_nanos());

    // Settle: the edge's SUB and our PUB travel on different connections.
    let mut settled = false;
    while !settled {
        publisher
            .publish("chat.s0.public", stamp(origin).as_bytes())
            .unwrap();
        publisher.flush(Duration::from_secs(5)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut buf = [0u8; 256];
        settled = listeners[0].0.read(&mut buf).is_ok_and(|n| n > 0);
    }
    std::thread::sleep(Duration::from_millis(200));
    for (s, _, _) in listeners.iter_mut() {
        let mut buf = [0u8; 4096];
        while s.read(&mut buf).is_ok_and(|n| n > 0) {}
    }

    // 2a. Burst throughput.
    let started = Instant::now();
    for _ in 0..BURST {
        publisher
            .publish("chat.s0.public", stamp(origin).as_bytes())
            .unwrap();
    }
    let _ = collect(&mut poll, &mut listeners, BURST, origin);
    let took = started.elapsed();
    let delivered = BURST * listener_count;
    println!(
        "burst: {BURST} messages x {listener_count} listeners = {delivered} deliveries in {took:.2?} = {:.0} deliveries/s",
        delivered as f64 / took.as_secs_f64()
    );

    // 2b. Steady pace: latency from publish to delivery.
    for l in listeners.iter_mut() {
        l.2 = 0;
    }
    // Reference: the same messages straight from NATS, without the edge.
    let direct = publisher.subscribe("chat.s0.public", None).unwrap();
    publisher.flush(Duration::from_secs(5)).unwrap();
    let direct_reader = std::thread::spawn(move || {
        (0..PACED)
            .map(|_| {
                let msg = direct.recv_timeout(Duration::from_secs(30)).unwrap();
                let now = origin.elapsed().as_nanos() as u64;
                let text = String::from_utf8(msg.payload).unwrap();
                let sent: u64 = text.rsplit_once(':').unwrap().1.parse().unwrap();
                now.saturating_sub(sent)
            })
            .collect::<Vec<u64>>()
    });
    let pacer = {
        let publisher = publisher.clone();
        std::thread::spawn(move || {
            for _ in 0..PACED {
                let text = format!("bench:{}", origin.elapsed().as_nanos());
                publisher
                    .publish("chat.s0.public", text.as_bytes())
                    .unwrap();
                std::thread::sleep(pace);
            }
        })
    };
    let mut latencies = collect(&mut poll, &mut listeners, PACED, origin);
    pacer.join().unwrap();
    latencies.sort_unstable();
    println!(
        "paced: {PACED} messages every {pace:?} x {listener_count} listeners: publish->deliver p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    let mut direct_latencies = direct_reader.join().unwrap();
    direct_latencies.sort_unstable();
    println!(
        "reference, the same messages read straight from NATS: p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        percentile(&direct_latencies, 0.50),
        percentile(&direct_latencies, 0.99),
        percentile(&direct_latencies, 1.0)
    );
    let after_fanout = rss_kib(pid);
    println!("edge RSS after fan-out: {after_fanout} KiB");

    let metrics = admin_metrics(&edge);
    for name in [
        "edge_connections",
        "edge_slow_clients_dropped_total",
        "edge_channels_subscribed",
    ] {
        println!(
            "{name} {}",
            metrics.get(name).map(String::as_str).unwrap_or("?")
        );
    }
    drop(idle_streams);
}

fn admin_metrics(edge: &EdgeProcess) -> HashMap<String, String> {
    let Ok(mut s) = TcpStream::connect(edge.admin) else {
        return HashMap::new();
    };
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
