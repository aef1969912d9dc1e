//! Durable sends per second (fsync on every mail) from 1 and 8 threads, and `/all` latency
//! for a full mailbox of 50 mails. Runs the service in-process over real HTTP, with the
//! store under Cargo's target tmp dir (a real disk, so the fsyncs cost what they cost).
//! Then the same sends against 1 and 2 `mail` processes on one store (the replicas of a
//! Deployment on a shared volume): each thread to its own mailboxes, and all threads to
//! one mailbox at a time (every send waits for that mailbox's lock).
//!
//! `cargo bench -p mail` (set MAIL_BENCH_SENDS to change the number of sends per run).

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{spawn, Connection};
use mail::{MailService, Options};
use serde_json::{json, Value};
use shared::metrics::Registry;

const FULL_MAILBOX: usize = 50;
const ALL_SAMPLES: usize = 1000;

fn mail_body(world: &str, uid: &str, i: usize) -> Value {
    json!({"world": world, "uid": uid, "mail": {"type": 1, "from": "基准测试",
        "subj": format!("bench mail {i} 🎁"), "body": "一封测试邮件。".repeat(20),
        "items": ["1:2:3"]}})
}

/// Sends `total` mails from `threads` threads, thread `t` to `addrs[t % addrs.len()]`,
/// its `i`th mail to mailbox `uid(t, i)`; returns sends/s.
fn timed_sends(
    addrs: &[SocketAddr],
    threads: usize,
    total: usize,
    uid: impl Fn(usize, usize) -> String + Send + Sync + 'static,
) -> f64 {
    let uid = std::sync::Arc::new(uid);
    let per_thread = total / threads;
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (addr, uid) = (addrs[t % addrs.len()], uid.clone());
            std::thread::spawn(move || {
                let mut conn = Connection::open(addr).unwrap();
                for i in 0..per_thread {
                    let answer = conn
                        .post("/send", &mail_body("bench", &uid(t, i), i))
                        .unwrap();
                    assert_eq!(answer.json()["status"], 0, "{}", answer.body);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    (per_thread * threads) as f64 / started.elapsed().as_secs_f64()
}

/// Sends from `threads` threads to one in-process service, each to its own mailboxes.
fn durable_sends(addr: SocketAddr, threads: usize, total: usize, run: &str) -> f64 {
    let run = run.to_string();
    // A new mailbox every 50 sends, so the per-mailbox limit never refuses.
    timed_sends(&[addr], threads, total, move |t, i| {
        format!("{run}-t{t}-m{}", i / FULL_MAILBOX)
    })
}

/// The same against `replicas` `mail` processes on one store; `one_mailbox`: all threads
/// send to the same mailbox (a new one every 50 sends per thread), else each to its own.
fn replica_sends(
    root: &std::path::Path,
    replicas: usize,
    threads: usize,
    total: usize,
    one_mailbox: bool,
) -> f64 {
    let processes: Vec<_> = (0..replicas).map(|_| spawn(root, 8, 1_000_000)).collect();
    let addrs: Vec<SocketAddr> = processes.iter().map(|p| p.api).collect();
    let run = format!("r{replicas}t{threads}{one_mailbox}");
    timed_sends(&addrs, threads, total, move |t, i| {
        let m = i / FULL_MAILBOX;
        if one_mailbox {
            format!("{run}-m{m}")
        } else {
            format!("{run}-t{t}-m{m}")
        }
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let sends: usize = std::env::var("MAIL_BENCH_SENDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(800);
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mail-bench");
    let _ = std::fs::remove_dir_all(&root);
    let config = Options {
        bind: "127.0.0.1:0".into(),
        root: root.clone(),
        mailbox_limit: FULL_MAILBOX,
        threads: 8,
    };
    let service = MailService::start(&config, &Registry::new()).unwrap();
    let addr = service.addr();
    println!("store: {}", root.display());

    let one = durable_sends(addr, 1, sends, "one");
    println!("durable sends, 1 thread : {one:8.0} /s ({sends} mails)");
    let eight = durable_sends(addr, 8, sends, "eight");
    println!("durable sends, 8 threads: {eight:8.0} /s ({sends} mails)");

    let mut conn = Connection::open(addr).unwrap();
    for i in 0..FULL_MAILBOX {
        let answer = conn.post("/send", &mail_body("bench", "full", i)).unwrap();
        assert_eq!(answer.json()["status"], 0);
    }
    let mailbox = json!({"world": "bench", "uid": "full"});
    let mut samples = Vec::with_capacity(ALL_SAMPLES);
    for _ in 0..ALL_SAMPLES {
        let started = Instant::now();
        let answer = conn.post("/all", &mailbox).unwrap();
        samples.push(started.elapsed());
        assert_eq!(
            answer.json()["mail"].as_array().unwrap().len(),
            FULL_MAILBOX
        );
    }
    samples.sort();
    println!(
        "/all, full mailbox ({FULL_MAILBOX} mails): p50 {:.3} ms, p99 {:.3} ms ({ALL_SAMPLES} requests)",
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3
    );
    service.stop();
    let _ = std::fs::remove_dir_all(&root);

    // The lock alone (open the lock file, flock, unlock, close): what the lock adds to
    // each request, next to a send's two fsyncs.
    std::fs::create_dir_all(&root).unwrap();
    let locks = mail::lock::Locks::default();
    let mailbox = mail::names::MailboxId::new("bench", "lock").unwrap();
    const LOCKS: u32 = 20_000;
    let started = Instant::now();
    for _ in 0..LOCKS {
        drop(
            locks
                .lock(&mailbox, &root)
                .unwrap()
                .expect("the root exists"),
        );
    }
    println!(
        "mailbox lock + unlock: {:.2} µs ({LOCKS} times)",
        started.elapsed().as_secs_f64() * 1e6 / f64::from(LOCKS)
    );

    for (threads, one_mailbox) in [(1, false), (8, false), (8, true)] {
        for replicas in [1, 2] {
            let rate = replica_sends(&root, replicas, threads, sends, one_mailbox);
            let target = if one_mailbox {
                "one mailbox"
            } else {
                "own mailboxes"
            };
            println!(
                "processes: {replicas} replica(s), {threads} thread(s), {target:13}: {rate:8.0} /s ({sends} mails)"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
