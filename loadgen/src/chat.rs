//! Chat load on edges: senders post public messages at a fixed rate, listeners count what
//! arrives. Every message carries its send time, so a listener measures publish → deliver.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::player::Player;
use crate::stats::{Stats, Window};

/// Status recorded for a delivered message (chat has no envelope; 0 means delivered).
const DELIVERED: i64 = 0;

#[derive(Clone)]
pub struct ChatPlan {
    pub edges: Vec<String>,
    pub senders: usize,
    pub listeners: usize,
    /// Messages per second per sender; the edge allows 20 frames/s per connection.
    pub rate: f64,
}

/// A client frame: the command left-padded with `0` to 10 characters.
pub fn frame(command: &str, payload: &str) -> String {
    format!("{command:0>10}{payload}\r\n")
}

/// The text a sender posts: a tag and the microseconds since the run's start.
pub fn stamped(start: Instant, now: Instant) -> String {
    format!("lg {}", now.duration_since(start).as_micros())
}

/// The send time of a relayed `0000PUBLIC<gn>:lg <micros>` frame, if it is one of ours.
pub fn sent_at(start: Instant, line: &str) -> Option<Instant> {
    let payload = line.strip_prefix("0000PUBLIC")?;
    let (_, text) = payload.split_once(':')?;
    stamp_time(start, text)
}

/// The instant a [`stamped`] text carries (to the microsecond).
pub fn stamp_time(start: Instant, text: &str) -> Option<Instant> {
    let micros: u64 = text.strip_prefix("lg ")?.parse().ok()?;
    Some(start + Duration::from_micros(micros))
}

struct Member {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// Logs a player in through the gate, then registers it on an edge with a chat nonce.
fn join(player: &mut Player, edge: &str) -> Result<Member, String> {
    let nonce = player.chat_nonce()?;
    let mut stream = TcpStream::connect(edge).map_err(|e| format!("edge {edge}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(frame("REGISTER", &nonce).as_bytes())
        .map_err(|e| format!("edge {edge}: {e}"))?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while line.is_empty() {
        match reader.read_line(&mut line) {
            Ok(0) => return Err(format!("edge {edge} closed during REGISTER")),
            Ok(_) => {}
            Err(_) if Instant::now() < deadline => {}
            Err(e) => return Err(format!("edge {edge}: {e}")),
        }
    }
    if line.trim_end() != "00000000OK" {
        return Err(format!("edge {edge} refused REGISTER: {}", line.trim_end()));
    }
    Ok(Member {
        reader,
        writer: stream,
    })
}

/// Chat participants, logged in and registered, ready to run.
pub struct Chat {
    senders: Vec<Member>,
    listeners: Vec<Member>,
    rate: f64,
}

impl Chat {
    /// `players` gives one logged-in player per participant (senders, then listeners).
    pub fn join(plan: &ChatPlan, players: Vec<Player>) -> Result<Chat, String> {
        let mut members = Vec::with_capacity(players.len());
        for (i, mut player) in players.into_iter().enumerate() {
            members.push(join(&mut player, &plan.edges[i % plan.edges.len()])?);
        }
        let listeners = members.split_off(plan.senders.min(members.len()));
        Ok(Chat {
            senders: members,
            listeners,
            rate: plan.rate,
        })
    }

    /// Runs the window; returns deliveries (status 0 with their latency) counted over all
    /// listeners, and the number of messages sent in the measured window.
    pub fn run(self, window: Window) -> (Stats, u64) {
        let start = window.start;
        let sending_done = Arc::new(AtomicBool::new(false));
        let interval = Duration::from_secs_f64(1.0 / self.rate.max(0.1));
        let count = self.senders.len().max(1);
        let senders: Vec<_> = self
            .senders
            .into_iter()
            .enumerate()
            .map(|(i, mut member)| {
                thread::spawn(move || {
                    let offset = interval.mul_f64(i as f64 / count as f64);
                    let mut sent = 0u64;
                    let mut k = 0u32;
                    loop {
                        let due = window.start + offset + interval * k;
                        if due >= window.end {
                            return sent;
                        }
                        let now = Instant::now();
                        if due > now {
                            thread::sleep(due - now);
                        }
                        let now = Instant::now();
                        let text = stamped(start, now);
                        if member
                            .writer
                            .write_all(frame("PUBLIC", &text).as_bytes())
                            .is_err()
                        {
                            return sent;
                        }
                        // Counted by the time the text carries, as the listeners count it:
                        // a sender running late sends a message due before the window
                        // inside it, and both sides must put it on the same side.
                        if window.measured(stamp_time(start, &text).unwrap_or(now)) {
                            sent += 1;
                        }
                        k += 1;
                        // Drain our own relayed messages so the edge never sees a slow reader.
                        let mut line = String::new();
                        let _ = member.reader.get_mut().set_nonblocking(true);
                        while matches!(member.reader.read_line(&mut line), Ok(n) if n > 0) {
                            line.clear();
                        }
                        let _ = member.reader.get_mut().set_nonblocking(false);
                    }
                })
            })
            .collect();
        let listeners: Vec<_> = self
            .listeners
            .into_iter()
            .map(|mut member| {
                let done = sending_done.clone();
                thread::spawn(move || {
                    let mut stats = Stats::default();
                    let mut line = String::new();
                    let mut quiet_since: Option<Instant> = None;
                    loop {
                        line.clear();
                        match member.reader.read_line(&mut line) {
                            Ok(0) => return stats,
                            Ok(_) => {
                                let now = Instant::now();
                                if let Some(sent) = sent_at(start, line.trim_end()) {
                                    if window.measured(sent) {
                                        stats.record(DELIVERED, now.duration_since(sent));
                                    }
                                }
                            }
                            Err(_) => {
                                // Read timeout: stop a second after the senders are done.
                                if done.load(Ordering::SeqCst) {
                                    let since = *quiet_since.get_or_insert_with(Instant::now);
                                    if since.elapsed() > Duration::from_secs(1) {
                                        return stats;
                                    }
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        let sent: u64 = senders.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        sending_done.store(true, Ordering::SeqCst);
        let mut delivered = Stats::default();
        for h in listeners {
            if let Ok(stats) = h.join() {
                delivered.merge(&stats);
            }
        }
        (delivered, sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_through_a_relayed_frame() {
        let start = Instant::now();
        let later = start + Duration::from_millis(1500);
        let text = stamped(start, later);
        assert_eq!(text, "lg 1500000");
        let relayed = format!("0000PUBLIClg_player:{text}");
        assert_eq!(sent_at(start, &relayed), Some(later));
        assert_eq!(sent_at(start, "0000PUBLICbob:hello"), None);
        assert_eq!(sent_at(start, "0000FAMILYbob:lg 5"), None);
        assert_eq!(frame("PUBLIC", "x"), "0000PUBLICx\r\n");
    }
}
