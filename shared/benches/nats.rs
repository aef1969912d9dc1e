//! Throughput of our NATS client against a real nats-server: N small messages from one
//! publishing connection to one subscriber on another, end to end.
//!
//! `cargo bench -p shared --bench nats` prints msgs/s. `NATS_BENCH_N` overrides N,
//! `NATS_BENCH_CAPACITY` the subscription queue (default: N, so nothing is dropped).

use std::time::{Duration, Instant};

use shared::nats::{Client, NatsError, Options};

const DEFAULT_N: usize = 200_000;
const PAYLOAD_BYTES: usize = 64;

fn main() {
    let n = env_number("NATS_BENCH_N").unwrap_or(DEFAULT_N);
    let nats = testkit::Nats::start();
    let publisher = Client::connect(&nats.url(), Options::named("bench-pub")).expect("connect");
    // Room for every message: this measures the client, not how the consumer thread
    // happens to be scheduled (a full queue would drop, by design).
    let capacity = env_number("NATS_BENCH_CAPACITY").unwrap_or(n);
    let sub_options = Options {
        subscription_capacity: capacity,
        ..Options::named("bench-sub")
    };
    let subscriber = Client::connect(&nats.url(), sub_options).expect("connect");
    let sub = subscriber.subscribe("bench", None).expect("subscribe");
    subscriber.flush(Duration::from_secs(10)).expect("flush");

    let consumer = std::thread::spawn(move || {
        let mut received = 0usize;
        let mut bytes = 0usize;
        while received < n {
            match sub.recv_timeout(Duration::from_secs(30)) {
                Ok(msg) => {
                    received += 1;
                    bytes += msg.payload.len();
                }
                Err(NatsError::Timeout) => break,
                Err(e) => panic!("receive failed: {e}"),
            }
        }
        (received, bytes, Instant::now(), sub.dropped())
    });

    let payload = [b'x'; PAYLOAD_BYTES];
    let start = Instant::now();
    let mut full_retries = 0u64;
    for _ in 0..n {
        // A publisher far ahead of the socket gets BufferFull; back off briefly.
        while let Err(e) = publisher.publish("bench", &payload) {
            match e {
                NatsError::BufferFull => {
                    full_retries += 1;
                    std::thread::yield_now();
                }
                other => panic!("publish failed: {other}"),
            }
        }
    }
    let queued = start.elapsed();
    publisher.flush(Duration::from_secs(30)).expect("flush");
    let flushed = start.elapsed();
    let (received, bytes, done_at, dropped) = consumer.join().expect("consumer thread");
    let end_to_end = done_at.duration_since(start);

    let rate = |count: usize, d: Duration| count as f64 / d.as_secs_f64();
    println!("nats bench: {n} messages of {PAYLOAD_BYTES} bytes, one publisher, one subscriber");
    println!(
        "  publish (queued):   {:>10.0} msgs/s  ({queued:?}, BufferFull retries {full_retries})",
        rate(n, queued)
    );
    println!(
        "  publish + flush:    {:>10.0} msgs/s  ({flushed:?})",
        rate(n, flushed)
    );
    println!(
        "  end to end:         {:>10.0} msgs/s  ({end_to_end:?}, received {received}, {bytes} payload bytes, dropped {dropped})",
        rate(received, end_to_end)
    );
    println!(
        "  reconnects: publisher {}, subscriber {}",
        publisher.reconnects(),
        subscriber.reconnects()
    );
    if received != n {
        eprintln!("nats bench: only {received} of {n} messages arrived");
        std::process::exit(1);
    }
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}
