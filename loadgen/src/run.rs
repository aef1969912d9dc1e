//! Virtual players: log in (one blocking client each, one after the other), enter a world,
//! then call the mix on the event loops (`event_loop.rs`) closed-loop (as fast as answers
//! come, with a pipeline depth) or open-loop (a fixed rate; latency counts from the moment
//! a request was due, so a stalled server cannot hide its queueing: no coordinated
//! omission), keep-alive or with one request per connection.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::calls::{Caller, Lines};
use crate::chat::{Chat, ChatPlan};
use crate::event_loop::{self, LoopPlayer, Settings, Shard};
use crate::mix::Mix;
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
    /// Connect, send one request, read its answer and close, instead of keep-alive.
    pub one_per_connection: bool,
    /// Event loop threads the players are spread over.
    pub loop_threads: usize,
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
            peers: Arc::from(Vec::new()),
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

    /// The player as an event loop takes it over: the gate's address resolved (once per
    /// address), and the login connection unless every request gets its own.
    fn into_loop_player(
        self,
        plan: &Plan,
        addresses: &mut HashMap<String, SocketAddr>,
    ) -> Result<LoopPlayer, String> {
        let addr = match addresses.get(&self.addr) {
            Some(a) => *a,
            None => {
                let a = self
                    .addr
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| format!("{}: no address", self.addr))?;
                addresses.insert(self.addr.clone(), a);
                a
            }
        };
        let stream = if plan.one_per_connection {
            None
        } else {
            // A second descriptor of the socket; dropping the client closes the first.
            Some(
                self.client
                    .try_clone_writer()
                    .map_err(|e| format!("{}: {e}", self.addr))?,
            )
        };
        Ok(LoopPlayer {
            addr,
            stream,
            lines: self.lines,
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

/// Logs every player in, then runs the plan on the event loops; returns the merged stats
/// of the measured window.
pub fn run(plan: &Plan, progress: Arc<Progress>) -> Result<Report, String> {
    let mut players = Vec::with_capacity(plan.connections);
    for i in 0..plan.connections {
        players.push(Player::login(&plan.gates[i % plan.gates.len()], plan)?);
    }
    // The social calls of a mix target the run's other players.
    let peers: Arc<[String]> = players.iter().map(|p| p.lines.gn().to_string()).collect();
    for player in &mut players {
        player.lines.set_peers(peers.clone());
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
    let threads = plan.loop_threads.clamp(1, players.len().max(1));
    let mut groups: Vec<Vec<LoopPlayer>> = (0..threads).map(|_| Vec::new()).collect();
    let mut addresses = HashMap::new();
    for (i, player) in players.into_iter().enumerate() {
        groups[i % threads].push(player.into_loop_player(plan, &mut addresses)?);
    }
    // scripts/load-model.sh reads this line: the counters it takes from here on are play,
    // not log-ins.
    eprintln!(
        "loadgen: {} players logged in, load starts",
        plan.connections
    );
    let start = Instant::now();
    let window = Window {
        start,
        measure_from: start + plan.warmup,
        end: start + plan.warmup + plan.duration,
    };
    let chat = chat.map(|c| thread::spawn(move || c.run(window)));
    let settings = Settings {
        window,
        pipeline: plan.pipeline,
        one_per_connection: plan.one_per_connection,
        timeout: plan.timeout,
        mix: plan.mix.clone(),
    };
    let shards = groups.into_iter().enumerate().map(|(t, players)| {
        // Open loop: each loop's share of the rate, in proportion to its players, and
        // loop t's schedule starting t/rate in, so the loops' requests interleave.
        let share = players.len() as f64 / plan.connections as f64;
        let open = plan.rate > 0.0;
        Shard {
            rate: open.then_some(plan.rate * share),
            first_due: if open {
                start + Duration::from_secs_f64(t as f64 / plan.rate)
            } else {
                start
            },
            seed: 0x9e37_79b9_7f4a_7c15 ^ ((t as u64 + 1) * 0x1000_0001),
            players,
        }
    });
    let results: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = shards
            .map(|shard| {
                let (settings, progress) = (&settings, &*progress);
                thread::Builder::new()
                    .name("loadgen-loop".into())
                    .spawn_scoped(s, move || event_loop::run(shard, settings, progress))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .map_err(|_| "a load thread panicked".to_string())?
                    .map_err(|e| e.to_string()),
                Err(e) => Err(format!("start a load thread: {e}")),
            })
            .collect()
    });
    let mut total = Stats::default();
    for stats in results {
        total.merge(&stats?);
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

pub(crate) fn record(stats: &mut Stats, progress: &Progress, status: i64, latency: Duration) {
    stats.record(status, latency);
    progress.answered.fetch_add(1, Ordering::Relaxed);
    if status != 0 {
        progress.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Requests that got no answer: lost when the client waited in vain, cut when the
/// connection broke under them. The progress line counts both as unanswered.
pub(crate) fn count_unanswered(stats: &mut Stats, progress: &Progress, n: u64, timed_out: bool) {
    if timed_out {
        stats.lost += n;
    } else {
        stats.cut += n;
    }
    progress.lost.fetch_add(n, Ordering::Relaxed);
}
