//! Throughput of the auth service: `cargo bench -p auth`.
//!
//! Starts a real Redis (testkit) and the service in-process with its default 4 handler
//! threads, then drives `/issue_token` and `/validate_token` over keep-alive HTTP/1.1
//! connections from 1 and 8 client threads, and times `Tokens::validate` (the worker's
//! per-request path) and the pure signature check in-process.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Client, Harness};

const RUN_FOR: Duration = Duration::from_secs(3);

struct Report {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Report {
    fn print(mut self, label: &str) {
        self.latencies.sort();
        let pick = |q: f64| {
            let i = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1);
            self.latencies[i]
        };
        println!(
            "{label:<44} {:>9.0} req/s   p50 {:>7.1} µs   p99 {:>7.1} µs   ({} requests)",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            pick(0.50).as_secs_f64() * 1e6,
            pick(0.99).as_secs_f64() * 1e6,
            self.requests
        );
    }
}

/// Runs `work(thread, i)` from `threads` threads for [`RUN_FOR`], timing each call.
fn drive<S: Send + 'static>(
    threads: usize,
    setup: impl Fn(usize) -> S,
    work: impl Fn(&mut S, usize) + Send + Sync + 'static,
) -> Report {
    let work = Arc::new(work);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let mut state = setup(t);
            let (work, barrier) = (work.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(100_000);
                barrier.wait();
                let start = Instant::now();
                let mut i = 0;
                while start.elapsed() < RUN_FOR {
                    let t0 = Instant::now();
                    work(&mut state, i);
                    latencies.push(t0.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.join().unwrap());
    }
    Report {
        requests: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
    }
}

fn main() {
    let h = Harness::start();
    let addr = h.addr();
    println!("auth service in-process, 4 handler threads, real redis-server; {RUN_FOR:?} per row");

    for threads in [1, 8] {
        drive(
            threads,
            |_| Client::connect(addr),
            move |client, i| {
                let body = json!({"uid": format!("bench-{}", i % 1000), "kind": "account"});
                let (code, answer) = client.post_json("/issue_token", &body);
                assert!(code == 200 && answer["status"] == 0, "{answer}");
            },
        )
        .print(&format!("HTTP issue_token, {threads} client thread(s)"));
    }

    for threads in [1, 8] {
        drive(
            threads,
            |t| {
                let mut client = Client::connect(addr);
                let (_, answer) = client.post_json(
                    "/issue_token",
                    &json!({"uid": format!("reader-{t}"), "kind": "session", "world": "s0"}),
                );
                let body = json!({"token": answer["token"]}).to_string();
                (client, body)
            },
            |(client, body), _| {
                let (code, answer) = client.post("/validate_token", body);
                assert!(code == 200 && answer["status"] == 0, "{answer}");
            },
        )
        .print(&format!("HTTP validate_token, {threads} client thread(s)"));
    }

    let (token, _) = h
        .tokens()
        .issue("in-process", auth::TokenKind::Session, Some("s0"), None)
        .unwrap();
    let service = h.service.clone();
    for threads in [1, 8] {
        let service = service.clone();
        let token = token.clone();
        drive(
            threads,
            |_| (),
            move |_, _| {
                service.tokens.validate(&token).unwrap();
            },
        )
        .print(&format!("Tokens::validate in-process, {threads} thread(s)"));
    }

    let key = support::key();
    drive(
        1,
        |_| (),
        move |_, _| {
            auth::jwt::verify(&key, &token, 0).unwrap();
        },
    )
    .print("jwt::verify only (no Redis), 1 thread");
}
