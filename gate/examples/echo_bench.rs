//! Gate throughput and round trip on this machine, without the game worker: real Redis
//! and NATS (testkit), the gate in-process, a minimal echo worker that follows the return
//! path of the contract (the gate id in the job, gates.id.<gid> cached), and N client
//! threads sending one request at a time.
//!
//! `cargo run --release -p gate --example echo_bench -- [connections] [seconds] [rate]`
//! rate 0 = closed loop (as fast as answers come); rate > 0 = paced requests/s in total.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gate::Gate;
use shared::contract;
use shared::nats::{Client, NatsError, Options};
use shared::redis_conn::RedisPool;

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

    shared::log::init("gate-bench", shared::log::Level::Warn);
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let gate = Gate::start(gate::Options::local(&redis.url(), &nats.url())).expect("gate");
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (nats_url, redis_url, stop) = (nats.url(), redis.url(), stop.clone());
        std::thread::spawn(move || echo_worker(&nats_url, &redis_url, &stop))
    };
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
    stop.store(true, Ordering::SeqCst);
    let _ = worker.join();

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
        "connections={connections} mode={} answered={} req/s={:.0} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} gate_timeouts={} dropped={}",
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

/// Answers every job with `{"status":0,...,"data":{"n":..}}` by the contract's return path.
fn echo_worker(nats_url: &str, redis_url: &str, stop: &AtomicBool) {
    let client = Client::connect(nats_url, Options::named("bench-worker")).unwrap();
    let jobs = client
        .subscribe(contract::JOBS_SUBJECT, Some(contract::WORKERS_QUEUE))
        .unwrap();
    client.flush(Duration::from_secs(5)).unwrap();
    let redis = RedisPool::new(redis_url, 1).unwrap();
    let mut gate_addrs: HashMap<u32, String> = HashMap::new();
    let mut gates: HashMap<String, TcpStream> = HashMap::new();
    let mut out: HashMap<String, Vec<u8>> = HashMap::new();
    while !stop.load(Ordering::SeqCst) {
        let first = match jobs.recv_timeout(Duration::from_millis(50)) {
            Ok(m) => m,
            Err(NatsError::Timeout) => continue,
            Err(_) => return,
        };
        let mut batch = vec![first];
        while let Ok(Some(m)) = jobs.try_recv() {
            batch.push(m);
        }
        let jobs_in: Vec<contract::Job> = batch
            .iter()
            .map(|m| contract::parse_job(&m.payload).unwrap())
            .collect();
        for job in &jobs_in {
            let Some(gid) = job.header.gate else { continue };
            let addr = gate_addrs.entry(gid).or_insert_with(|| {
                redis
                    .run(|c| redis::cmd("GET").arg(contract::gate_key(gid)).query(c))
                    .unwrap()
            });
            let n = job
                .line
                .split("\"n\":")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .unwrap_or("0");
            let buf = out.entry(addr.clone()).or_default();
            let response =
                format!("{{\"status\":0,\"message\":\"success\",\"data\":{{\"n\":{n}}}}}");
            contract::encode_answer(buf, job.jid, &response);
        }
        for (addr, buf) in out.iter_mut() {
            if buf.is_empty() {
                continue;
            }
            let stream = gates.entry(addr.clone()).or_insert_with(|| {
                let s = TcpStream::connect(addr.as_str()).unwrap();
                s.set_nodelay(true).unwrap();
                s
            });
            stream.write_all(buf).unwrap();
            buf.clear();
        }
    }
}
