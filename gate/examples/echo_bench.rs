//! Gate throughput and round trip on this machine, without the game worker: real Redis
//! and NATS (testkit), the gate in-process, the tests' stand-in worker answering with the
//! request's `n` by the contract's return path (the gate id in the job, gates.id.<gid>
//! cached), and N client threads sending one request at a time.
//!
//! `cargo run --release -p gate --example echo_bench -- [connections] [seconds] [rate] [link]`
//! rate 0 = closed loop (as fast as answers come); rate > 0 = paced requests/s in total;
//! `link` = gate and stand-in share a link secret, so jobs go down the worker link.

#[path = "../tests/support/stand_in.rs"]
mod stand_in;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use gate::{Gate, Options};
use shared::contract::{self, LinkSecret};
use stand_in::{StandIn, StandInOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: f64| -> f64 {
        args.get(i)
            .map(|a| a.parse().expect("numeric argument"))
            .unwrap_or(default)
    };
    let connections = arg(0, 64.0) as usize;
    let seconds = arg(1, 5.0);
    let rate = arg(2, 0.0);
    let link = args.get(3).is_some_and(|a| a == "link");

    shared::log::init("gate-bench", shared::log::Level::Warn);
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let secret = LinkSecret::from_config("echo-bench-link-secret").unwrap();
    let mut options = Options::local(&redis.url(), &nats.url());
    if link {
        options.link_secret = secret.clone();
    }
    let gate = Gate::start(options).expect("gate");
    let worker = StandIn::start(
        &nats.url(),
        &redis.url(),
        StandInOptions {
            name: "bench-worker",
            delay: Duration::ZERO,
            respond: echo_n,
            link: secret.filter(|_| link).map(|s| (s, 64)),
        },
    );
    std::thread::sleep(Duration::from_millis(200));

    let addr = gate.client_addr();
    let warmup = Duration::from_millis(500);
    let window = Duration::from_secs_f64(seconds);
    let start = Instant::now() + Duration::from_millis(100);
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(connections as f64 / rate));
    let clients: Vec<_> = (0..connections)
        .map(|c| std::thread::spawn(move || client(addr, c, start, warmup, window, interval)))
        .collect();
    let mut latencies: Vec<u32> = Vec::new();
    for c in clients {
        latencies.extend(c.join().unwrap());
    }
    let link_jobs = worker.link_jobs.load(std::sync::atomic::Ordering::SeqCst);
    drop(worker);

    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len() - 1);
        latencies[i] as f64 / 1000.0
    };
    let m = gate.metrics();
    let cpu = thread_cpu_seconds();
    println!(
        "connections={connections} mode={} answered={} req/s={:.0} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} gate_timeouts={} dropped={} link_jobs={link_jobs}",
        if rate > 0.0 { format!("paced@{rate}") } else { "closed-loop".into() },
        latencies.len(),
        latencies.len() as f64 / window.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        pct(1.0),
        m.timeouts.get(),
        m.worker_lines_dropped.get(),
    );
    let metrics = admin_get(gate.admin_addr(), "/metrics");
    let bucket_of = |name: &str, le: &str| -> f64 {
        let prefix = format!("{name}_bucket{{le=\"{le}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    for (name, what) in [
        ("gate_round_trip_seconds", "request in -> answer in"),
        ("gate_dispatch_seconds", "request in -> job published"),
    ] {
        let bucket = |le: &str| bucket_of(name, le);
        let total = bucket("+Inf").max(1.0);
        println!(
            "{what} (gate metric, incl. warm-up): <=0.1ms {:.1}%  <=0.25ms {:.1}%  <=0.5ms {:.1}%  <=1ms {:.1}%  <=2.5ms {:.1}%",
            100.0 * bucket("0.0001") / total,
            100.0 * bucket("0.00025") / total,
            100.0 * bucket("0.0005") / total,
            100.0 * bucket("0.001") / total,
            100.0 * bucket("0.0025") / total,
        );
    }
    let requests = m.requests.get().max(1) as f64;
    for name in ["gate-loop", "gate-dispatch"] {
        let secs = cpu.get(name).copied().unwrap_or(0.0);
        println!(
            "thread={name} cpu_s={secs:.2} cpu_us_per_request={:.1}",
            secs * 1e6 / requests
        );
    }
}

fn admin_get(addr: SocketAddr, path: &str) -> String {
    use std::io::Read;
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

/// CPU time (user + system) of this process's threads by name, from /proc.
fn thread_cpu_seconds() -> HashMap<String, f64> {
    let ticks = 100.0; // USER_HZ on Linux
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let Some((name, rest)) = stat.split_once(" (").and_then(|(_, r)| r.rsplit_once(") "))
        else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        // After the name: state is field 3 overall; utime and stime are fields 14 and 15.
        let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        *out.entry(name.to_string()).or_insert(0.0) += (utime + stime) / ticks;
    }
    out
}

/// One player: a request, its answer, the next (paced or not). Returns round trips in µs
/// of the measured window.
fn client(
    addr: SocketAddr,
    id: usize,
    start: Instant,
    warmup: Duration,
    window: Duration,
    interval: Option<Duration>,
) -> Vec<u32> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let measure_from = start + warmup;
    let end = measure_from + window;
    let mut latencies = Vec::new();
    let mut line = String::new();
    let mut next = start
        + interval
            .map(|i| i.mul_f64(id as f64 / 64.0))
            .unwrap_or_default();
    let mut n = 0u64;
    loop {
        let now = Instant::now();
        if now >= end {
            return latencies;
        }
        if next > now {
            std::thread::sleep(next - now);
        }
        let sent = Instant::now();
        let request = format!("{{\"world\":\"s0\",\"function\":\"echo\",\"client\":{id},\"n\":{n},\"data\":{{}}}}\r\n");
        writer.write_all(request.as_bytes()).unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(
            line.contains(&format!("\"n\":{n}")),
            "wrong answer {line:?}"
        );
        if sent >= measure_from && sent < end {
            latencies.push(sent.elapsed().as_micros() as u32);
        }
        n += 1;
        next = match interval {
            Some(i) => (next + i).max(sent),
            None => Instant::now(),
        };
    }
}

/// Answers `{"status":0,...,"data":{"n":..}}` with the request's `n`.
fn echo_n(job: &contract::Job<'_>, _worker: &str) -> String {
    let n = job
        .line
        .split("\"n\":")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or("0");
    format!("{{\"status\":0,\"message\":\"success\",\"data\":{{\"n\":{n}}}}}")
}
