//! Virtual players: log in, enter a world, then call the mix closed-loop (as fast as answers
//! come, with a pipeline depth) or open-loop (a fixed rate; latency counts from the moment
//! a request was due, so a stalled server cannot hide its queueing: no coordinated omission).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::calls::{Caller, Lines};
use crate::chat::{Chat, ChatPlan};
use crate::mix::{Mix, Rng};
use crate::stats::Stats;
use shared::gate_client::{request_line, Answer, GateClient};

#[derive(Clone)]
pub struct Plan {
    pub gates: Vec<String>,
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// Requests per second over all connections; 0 runs closed-loop.
    pub rate: f64,
    pub pipeline: usize,
    pub world: String,
    pub mix: Mix,
    /// Longest wait for one answer before it counts as lost.
    pub timeout: Duration,
    /// Chat senders and listeners on edges, alongside the gate load.
    pub chat: Option<ChatPlan>,
}

/// What a run measured: the gate calls and, when the plan had chat, the chat deliveries
/// (status 0 each, with publish → deliver latency) and how many messages were sent.
pub struct Report {
    pub gate: Stats,
    pub chat: Option<(Stats, u64)>,
}

/// Live counters for the progress line.
#[derive(Default)]
pub struct Progress {
    pub answered: AtomicU64,
    pub errors: AtomicU64,
    pub lost: AtomicU64,
}

pub struct Player {
    addr: String,
    client: GateClient,
    world: String,
    session: String,
    /// The request lines of the mix's functions.
    lines: Lines,
}

impl Player {
    /// A guest login with a fresh device id, `enter_world`, and a new player in that world.
    pub fn login(addr: &str, plan: &Plan) -> Result<Player, String> {
        let mut client =
            GateClient::connect(addr, plan.timeout).map_err(|e| format!("{addr}: {e}"))?;
        let device = format!("loadgen-{}", shared::ids::random_hex(12));
        let mut args = Map::new();
        args.insert("unique_id".into(), Value::from(device));
        let answer = client
            .call(&request_line(&plan.world, "login_unique", None, &args))
            .map_err(|e| format!("login_unique: {e}"))?;
        // 1 "new account created": a fresh device id is a new guest.
        let account = token_of(&answer, "login_unique", &[0, 1])?;
        let answer = client
            .call(&request_line(
                &plan.world,
                "enter_world",
                Some(&account),
                &Map::new(),
            ))
            .map_err(|e| format!("enter_world: {e}"))?;
        // 98 "have not been in this world before": the session comes all the same.
        let session = token_of(&answer, "enter_world", &[0, 98])?;
        let gn = format!("lg_{}", shared::ids::random_hex(8));
        let mut player = Map::new();
        player.insert("gn".into(), Value::from(gn.as_str()));
        player.insert("icon".into(), Value::from(0));
        let answer = client
            .call(&request_line(
                &plan.world,
                "create_player",
                Some(&session),
                &player,
            ))
            .map_err(|e| format!("create_player: {e}"))?;
        if answer.status != 0 {
            return Err(format!(
                "create_player answered status {} ({})",
                answer.status,
                answer.message()
            ));
        }
        let caller = Caller {
            gn,
            tag: shared::ids::random_hex(12),
        };
        let lines = Lines::new(&plan.mix, &plan.world, &account, &session, caller);
        Ok(Player {
            addr: addr.to_string(),
            client,
            world: plan.world.clone(),
            session,
            lines,
        })
    }

    /// A chat login nonce for an edge (`get_login_token_chat`).
    pub fn chat_nonce(&mut self) -> Result<String, String> {
        let line = request_line(
            &self.world,
            "get_login_token_chat",
            Some(&self.session),
            &Map::new(),
        );
        let answer = self
            .client
            .call(&line)
            .map_err(|e| format!("get_login_token_chat: {e}"))?;
        token_of(&answer, "get_login_token_chat", &[0])
    }
}

/// The `token` of an answer whose status is one of `ok` (the function's successes).
fn token_of(answer: &Answer, function: &str, ok: &[i64]) -> Result<String, String> {
    match answer.data("token").as_str() {
        Some(t) if ok.contains(&answer.status) => Ok(t.to_string()),
        _ => Err(format!(
            "{function} answered status {} ({})",
            answer.status,
            answer.message()
        )),
    }
}

/// Logs every player in, then runs the plan; returns the merged stats of the measured window.
pub fn run(plan: &Plan, progress: Arc<Progress>) -> Result<Report, String> {
    let mut players = Vec::with_capacity(plan.connections);
    for i in 0..plan.connections {
        players.push(Player::login(&plan.gates[i % plan.gates.len()], plan)?);
    }
    let chat = match &plan.chat {
        Some(chat) => {
            let mut members = Vec::with_capacity(chat.senders + chat.listeners);
            for i in 0..chat.senders + chat.listeners {
                members.push(Player::login(&plan.gates[i % plan.gates.len()], plan)?);
            }
            Some(Chat::join(chat, members)?)
        }
        None => None,
    };
    let start = Instant::now();
    let window = Window {
        start,
        measure_from: start + plan.warmup,
        end: start + plan.warmup + plan.duration,
    };
    let chat = chat.map(|c| thread::spawn(move || c.run(window)));
    let per_connection_rate = plan.rate / plan.connections as f64;
    let handles: Vec<_> = players
        .into_iter()
        .enumerate()
        .map(|(i, player)| {
            let plan = plan.clone();
            let progress = progress.clone();
            thread::spawn(move || {
                let rng = Rng::new(0x9e37_79b9_7f4a_7c15 ^ ((i as u64 + 1) * 0x1000_0001));
                if plan.rate > 0.0 {
                    // Spread the players' schedules over one interval: all starting at the
                    // same instant would send every request in bursts of `connections`.
                    let phase = i as f64 / plan.connections as f64 / per_connection_rate;
                    let window = Window {
                        start: window.start + Duration::from_secs_f64(phase),
                        ..window
                    };
                    open_loop(player, &plan, per_connection_rate, window, rng, &progress)
                } else {
                    closed_loop(player, &plan, window, rng, &progress)
                }
            })
        })
        .collect();
    let mut total = Stats::default();
    for h in handles {
        let stats = h.join().map_err(|_| "a load thread panicked".to_string())?;
        total.merge(&stats);
    }
    let chat = match chat {
        Some(h) => Some(h.join().map_err(|_| "a chat thread panicked".to_string())?),
        None => None,
    };
    Ok(Report { gate: total, chat })
}

/// The run's time line: load from `start`, counted from `measure_from` until `end`.
#[derive(Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub measure_from: Instant,
    pub end: Instant,
}

impl Window {
    pub fn measured(&self, sent: Instant) -> bool {
        sent >= self.measure_from && sent < self.end
    }
}

fn record(stats: &mut Stats, progress: &Progress, status: i64, latency: Duration) {
    stats.record(status, latency);
    progress.answered.fetch_add(1, Ordering::Relaxed);
    if status != 0 {
        progress.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Requests that got no answer: lost when the client waited in vain, cut when the
/// connection broke under them. The progress line counts both as unanswered.
fn count_unanswered(stats: &mut Stats, progress: &Progress, n: u64, timed_out: bool) {
    if timed_out {
        stats.lost += n;
    } else {
        stats.cut += n;
    }
    progress.lost.fetch_add(n, Ordering::Relaxed);
}

fn closed_loop(
    mut player: Player,
    plan: &Plan,
    window: Window,
    mut rng: Rng,
    progress: &Progress,
) -> Stats {
    let mut stats = Stats::default();
    let mut in_flight: VecDeque<Instant> = VecDeque::with_capacity(plan.pipeline);
    loop {
        // `Some(timed_out)` once the connection is unusable.
        let mut broken = None;
        while in_flight.len() < plan.pipeline && Instant::now() < window.end {
            let line = player.lines.pick(&plan.mix, rng.next_u64());
            if player.client.send(&line).is_err() {
                broken = Some(false);
                break;
            }
            in_flight.push_back(Instant::now());
        }
        if broken.is_none() {
            let Some(&sent) = in_flight.front() else {
                return stats;
            };
            match player.client.receive() {
                Ok(answer) => {
                    in_flight.pop_front();
                    if window.measured(sent) {
                        record(&mut stats, progress, answer.status, sent.elapsed());
                    }
                    continue;
                }
                Err(e) => broken = Some(e.is_timeout()),
            }
        }
        if let Some(timed_out) = broken {
            // What was in flight is lost (no answer in time) or cut (the connection broke);
            // carry on with a new connection.
            let unanswered = in_flight.drain(..).filter(|s| window.measured(*s)).count() as u64;
            count_unanswered(&mut stats, progress, unanswered, timed_out);
            loop {
                if Instant::now() >= window.end {
                    return stats;
                }
                match GateClient::connect(&player.addr, plan.timeout) {
                    Ok(c) => {
                        player.client = c;
                        break;
                    }
                    Err(_) => thread::sleep(Duration::from_millis(100)),
                }
            }
        }
    }
}

fn open_loop(
    mut player: Player,
    plan: &Plan,
    rate: f64,
    window: Window,
    mut rng: Rng,
    progress: &Progress,
) -> Stats {
    let mut stats = Stats::default();
    let Ok(mut writer) = player.client.try_clone_writer() else {
        return stats;
    };
    let interval = Duration::from_secs_f64(1.0 / rate.max(1e-6));
    let (due_tx, due_rx) = mpsc::channel::<Instant>();
    let mut lines = player.lines;
    let mix = plan.mix.clone();
    let writer_failed = Arc::new(AtomicBool::new(false));
    let failed = writer_failed.clone();
    let sender = thread::spawn(move || {
        use std::io::Write;
        let mut k: u32 = 0;
        loop {
            let due = window.start + interval * k;
            if due >= window.end {
                return;
            }
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            let line = lines.pick(&mix, rng.next_u64());
            let mut buf = Vec::with_capacity(line.len() + 2);
            buf.extend_from_slice(line.as_bytes());
            buf.extend_from_slice(b"\r\n");
            if writer.write_all(&buf).is_err() {
                failed.store(true, Ordering::SeqCst);
                return;
            }
            if due_tx.send(due).is_err() {
                return;
            }
            k += 1;
        }
    });
    for due in due_rx.iter() {
        match player.client.receive() {
            Ok(answer) => {
                if window.measured(due) {
                    record(&mut stats, progress, answer.status, due.elapsed());
                }
            }
            Err(e) => {
                let unanswered = u64::from(window.measured(due))
                    + due_rx.try_iter().filter(|d| window.measured(*d)).count() as u64;
                count_unanswered(&mut stats, progress, unanswered, e.is_timeout());
                break;
            }
        }
    }
    let _ = sender.join();
    if writer_failed.load(Ordering::SeqCst) {
        shared::warn!("connection broke while sending", gate = player.addr);
    }
    stats
}
