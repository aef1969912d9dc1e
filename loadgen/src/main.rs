//! `loadgen`: virtual players against one or more gates; prints requests/s, errors by status
//! and latency percentiles. Reads the gate address from `LUKSEUN_GATES`/`LUKSEUN_GATE`
//! (as in var/cluster.env) unless `--gate` says otherwise. `--serve-verifier <port>` runs
//! a purchase verifier stand-in instead (docs/benchmarks.md, "Economy mix").

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::chat::ChatPlan;
use loadgen::mix::Mix;
use loadgen::run::{run, Plan, Progress};
use shared::flags::{Flags, Opt, Spec};

const SPEC: Spec = Spec {
    service: "loadgen",
    about: "load generator: virtual players calling a mix of game functions through gates",
    options: &[
        Opt::value(
            "gate",
            "127.0.0.1:8880",
            "gate address(es), comma-separated",
        )
        .with_alt_env("LUKSEUN_GATES"),
        Opt::value("connections", "64", "virtual players, one connection each"),
        Opt::value("duration-secs", "10", "length of the measured window"),
        Opt::value(
            "warmup-secs",
            "1",
            "load before the measured window, not counted",
        ),
        Opt::value(
            "rate",
            "0",
            "requests/s over all players (open loop); 0 = closed loop",
        ),
        Opt::value(
            "pipeline",
            "1",
            "requests in flight per player in closed loop",
        ),
        Opt::switch(
            "one-request-per-connection",
            "each request on a new connection: connect, send, read the answer, close (closed loop: --pipeline such connections per player at a time)",
        ),
        Opt::value(
            "loop-threads",
            "1",
            "event loop threads the players are spread over",
        ),
        Opt::value("world", "s0", "world the players enter"),
        Opt::value(
            "mix",
            "account_all_info",
            "weighted calls, e.g. get_all_resource:3,get_info_player:1; `play` = the original simulator's 62 functions",
        ),
        Opt::value(
            "timeout-secs",
            "15",
            "wait for one answer before counting it lost",
        ),
        Opt::value("label", "", "label for the JSON line"),
        Opt::value(
            "edge",
            "127.0.0.1:9000",
            "edge address(es) for chat, comma-separated",
        )
        .with_alt_env("LUKSEUN_EDGES"),
        Opt::value("chat-senders", "0", "players posting public chat messages"),
        Opt::value("chat-listeners", "0", "players only listening to chat"),
        Opt::value(
            "chat-rate",
            "5",
            "messages/s per chat sender (an edge allows 20)",
        ),
        Opt::switch("json", "print one JSON line with the results as well"),
        Opt::value(
            "serve-verifier",
            "",
            "instead of a run: serve a purchase verifier stand-in that accepts every receipt on this port of 127.0.0.1 (or host:port) until Ctrl-C; benchmarks only",
        ),
        Opt::value(
            "verifier-delay-ms",
            "0",
            "with --serve-verifier: wait this long before each answer (a slow store)",
        ),
    ],
};

fn main() -> ExitCode {
    let cfg = match Flags::load(&SPEC) {
        Ok(cfg) => cfg,
        Err(e) => return e.report(&SPEC),
    };
    shared::log::init(SPEC.service, cfg.log_level());
    if !cfg.get("serve-verifier").is_empty() {
        serve_verifier(&cfg);
        return ExitCode::SUCCESS;
    }
    let mix = Mix::parse(cfg.get("mix")).unwrap_or_else(|e| fail(&e.to_string()));
    let plan = Plan {
        gates: address_list(cfg.get("gate")),
        connections: require::<usize>(&cfg, "connections").max(1),
        duration: Duration::from_secs_f64(require(&cfg, "duration-secs")),
        warmup: Duration::from_secs_f64(require(&cfg, "warmup-secs")),
        rate: require(&cfg, "rate"),
        pipeline: require::<usize>(&cfg, "pipeline").max(1),
        one_per_connection: cfg.switch("one-request-per-connection"),
        loop_threads: require::<usize>(&cfg, "loop-threads").max(1),
        world: cfg.get("world").to_string(),
        mix,
        timeout: Duration::from_secs_f64(require(&cfg, "timeout-secs")),
        chat: chat_plan(&cfg),
    };
    if plan.gates.is_empty() {
        fail("no gate address");
    }
    let mut mode = if plan.rate > 0.0 {
        format!("open loop at {} req/s", plan.rate)
    } else {
        format!("closed loop, pipeline {}", plan.pipeline)
    };
    if plan.one_per_connection {
        mode.push_str(", one request per connection");
        // Every request in flight is a descriptor.
        let _ = shared::fd_limit::raise_to_hard_limit();
    }
    eprintln!(
        "loadgen: {} players on {}, {mode}, mix {}, {:.0} s + {:.0} s warm-up",
        plan.connections,
        plan.gates.join(","),
        cfg.get("mix"),
        plan.duration.as_secs_f64(),
        plan.warmup.as_secs_f64()
    );
    let progress = Arc::new(Progress::default());
    let (ticker, per_second) = spawn_progress_line(progress.clone());
    let report = run(&plan, progress).unwrap_or_else(|e| fail(&e));
    drop(ticker);
    let per_second = per_second.join().unwrap_or_default();
    eprintln!();
    let stats = &report.gate;
    println!("{}", stats.summary(plan.duration));
    if let Some((delivered, sent)) = &report.chat {
        println!("chat: {}", chat_summary(delivered, *sent, &plan));
    }
    if cfg.switch("json") {
        let mut json = stats.json(plan.duration, cfg.get("label"));
        if let Some((delivered, sent)) = &report.chat {
            json["chat"] = delivered.json(plan.duration, "chat");
            json["chat"]["sent"] = (*sent).into();
        }
        // Answers per second of wall time since the start (log-in included), to see a
        // fault's dip and the recovery after it.
        json["per_second"] = per_second.into();
        println!("{json}");
    }
    if stats.lost > 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `--serve-verifier`: the stand-in until SIGTERM or Ctrl-C.
fn serve_verifier(cfg: &Flags) {
    let given = cfg.get("serve-verifier");
    let bind = if given.contains(':') {
        given.to_string()
    } else {
        format!("127.0.0.1:{given}")
    };
    let delay = Duration::from_millis(require(cfg, "verifier-delay-ms"));
    shared::signal::install();
    let verifier = loadgen::verifier::Verifier::start(&bind, delay)
        .unwrap_or_else(|e| fail(&format!("serve the verifier on {bind}: {e}")));
    eprintln!(
        "loadgen: purchase verifier stand-in on {} accepts EVERY receipt (delay {} ms); \
         for benchmarks only. Ctrl-C stops it.",
        verifier.url(),
        delay.as_millis()
    );
    while !shared::signal::shutdown_requested() {
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "loadgen: verifier accepted {} receipts",
        verifier.accepted()
    );
    verifier.shutdown();
}

/// `host:port,host:port` as a list, blanks dropped.
fn address_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

fn chat_plan(cfg: &Flags) -> Option<ChatPlan> {
    let senders: usize = require(cfg, "chat-senders");
    let listeners: usize = require(cfg, "chat-listeners");
    if senders == 0 && listeners == 0 {
        return None;
    }
    let edges = address_list(cfg.get("edge"));
    if edges.is_empty() {
        fail("chat needs an --edge address");
    }
    Some(ChatPlan {
        edges,
        senders,
        listeners,
        rate: require(cfg, "chat-rate"),
    })
}

/// Deliveries against what every listener should have received (each listener gets every
/// public message of its world, its own included).
fn chat_summary(delivered: &loadgen::stats::Stats, sent: u64, plan: &Plan) -> String {
    let listeners = plan.chat.as_ref().map_or(0, |c| c.listeners) as u64;
    let expected = sent * listeners;
    let got = delivered.answered();
    let lat = |q| delivered.latency.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "sent {sent}, delivered {got} of {expected} ({:.0} deliveries/s) | publish->deliver ms: p50 {:.3}  p99 {:.3}  max {:.3}",
        got as f64 / plan.duration.as_secs_f64(),
        lat(0.5),
        lat(0.99),
        delivered.latency.max() as f64 / 1000.0
    )
}

fn fail(message: &str) -> ! {
    eprintln!("loadgen: {message}");
    std::process::exit(2);
}

/// Prints `[ 3 s] 12345/s ...` on stderr once a second until the sender is dropped; the
/// thread returns the answers counted in each second.
fn spawn_progress_line(
    progress: Arc<Progress>,
) -> (
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<Vec<u64>>,
) {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let ticker = std::thread::spawn(move || {
        let start = Instant::now();
        let mut last = 0;
        let mut per_second = Vec::new();
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
            stopped.recv_timeout(Duration::from_secs(1))
        {
            let answered = progress.answered.load(Ordering::Relaxed);
            per_second.push(answered - last);
            eprint!(
                "\r[{:>4.0} s] {:>8}/s  answered {:>9}  errors {:>6}  unanswered {:>4}",
                start.elapsed().as_secs_f64(),
                answered - last,
                answered,
                progress.errors.load(Ordering::Relaxed),
                progress.lost.load(Ordering::Relaxed)
            );
            last = answered;
        }
        per_second
    });
    (stop, ticker)
}

/// The value of `name` parsed as `T`; a bad one ends the run (status 2) naming the option.
fn require<T: std::str::FromStr>(cfg: &Flags, name: &str) -> T
where
    T::Err: std::fmt::Display,
{
    cfg.parsed(name).unwrap_or_else(|e| fail(&e.to_string()))
}
