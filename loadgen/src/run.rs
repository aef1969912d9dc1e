//! A run: the virtual players log in ([`crate::player`], one after the other), then call
//! the mix on the event loops (`event_loop.rs`) closed-loop (as fast as answers come,
//! with a pipeline depth) or open-loop (a fixed rate; latency counts from the moment
//! a request was due, so a stalled server cannot hide its queueing: no coordinated
//! omission), keep-alive or with one request per connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::chat::{Chat, ChatPlan};
use crate::event_loop::{self, LoopPlayer, Settings, Shard};
use crate::mix::Mix;
use crate::player::Player;
use crate::stats::{Stats, Window};

/// `run`'s live counters; the type lives with the stats the loops count into.
pub use crate::stats::Progress;

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

/// Logs every player in, then runs the plan on the event loops; returns the merged stats
/// of the measured window.
pub fn run(plan: &Plan, progress: Arc<Progress>) -> Result<Report, String> {
    // Players (and chat members) log in through the gates in turn.
    let login = |i: usize| {
        let gate = &plan.gates[i % plan.gates.len()];
        Player::login(gate, &plan.world, &plan.mix, plan.timeout)
    };
    let mut players = Vec::with_capacity(plan.connections);
    for i in 0..plan.connections {
        players.push(login(i)?);
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
                members.push(login(i)?);
            }
            Some(Chat::join(chat, members)?)
        }
        None => None,
    };
    let threads = plan.loop_threads.clamp(1, players.len().max(1));
    let mut groups: Vec<Vec<LoopPlayer>> = (0..threads).map(|_| Vec::new()).collect();
    let mut addresses = HashMap::new();
    for (i, player) in players.into_iter().enumerate() {
        groups[i % threads].push(player.into_loop_player(plan.one_per_connection, &mut addresses)?);
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
