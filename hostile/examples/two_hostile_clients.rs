//! The combined hostile case of issue 15 against a running system, for figures
//! (docs/benchmarks.md, "Hostile clients (issue 15)"): a slow reader and a login flood at
//! once, each from its own loopback address, while a normal player plays; prints the normal
//! player's latencies quiet and under attack, the gate's RSS and the flood's statuses.
//!
//! ```sh
//! set -a; . var/cluster.env; set +a
//! cargo run -p hostile --example two_hostile_clients -- --gate-pid <pid> [--quiet-secs 10]
//!     [--attack-secs 23] [--pace-ms 20] [--flood-from 127.0.0.5]
//! ```
//!
//! The worker's failed-login budget per address lasts 15 minutes: a second run within them
//! from the same `--flood-from` gets no password work at all (every login answers 2).
//!
//! Reads LUKSEUN_GATE and LUKSEUN_ADMIN_TOKEN from the environment (var/cluster.env).

use std::net::Ipv4Addr;
use std::time::Duration;

use hostile::attack::{run, Scenario};

fn main() {
    let env = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            eprintln!("{name} is not set: `set -a; . var/cluster.env; set +a` first");
            std::process::exit(2)
        })
    };
    let mut scenario = Scenario {
        gate: env("LUKSEUN_GATE")
            .parse()
            .expect("LUKSEUN_GATE is host:port"),
        admin_token: env("LUKSEUN_ADMIN_TOKEN"),
        normal_from: Ipv4Addr::new(127, 0, 0, 2),
        slow_from: Ipv4Addr::new(127, 0, 0, 4),
        flood_from: Ipv4Addr::new(127, 0, 0, 5),
        pace: Duration::from_millis(20),
        quiet: Duration::from_secs(10),
        attack: Duration::from_secs(23),
        rss_pid: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{flag} needs a number")))
        };
        match flag.as_str() {
            "--gate-pid" => scenario.rss_pid = Some(value() as u32),
            "--quiet-secs" => scenario.quiet = Duration::from_secs(value()),
            "--attack-secs" => scenario.attack = Duration::from_secs(value()),
            "--pace-ms" => scenario.pace = Duration::from_millis(value()),
            "--flood-from" => {
                scenario.flood_from = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage("--flood-from needs a 127.x.y.z address"))
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    println!("{}", run(&scenario));
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: two_hostile_clients [--gate-pid N] [--quiet-secs N] \
         [--attack-secs N] [--pace-ms N] [--flood-from 127.x.y.z]"
    );
    std::process::exit(2)
}
