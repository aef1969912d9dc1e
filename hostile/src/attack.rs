//! Two hostile clients at once while a normal player plays (issue 15, the combined case):
//! a client that pipelines big requests and never reads its answers, and a pipelined login
//! flood, each from its own client address, while a normal player from a third address calls
//! `get_info_player` at a steady pace. One scenario for two uses: `tests/fair_share.rs` runs
//! it against a teststack and asserts behaviour; `examples/two_hostile_clients.rs` runs it
//! against `./lukseun up` and prints the figures of docs/benchmarks.md.
//!
//! Threads: the caller's thread plays the normal player and holds the slow reader's socket
//! (never read until the attack is over); one thread runs the login flood until the attack
//! ends (an `AtomicBool`) and is joined before [`run`] returns.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::{new_player, request, status, RawClient, Read1};

/// Requests the slow reader pipelines; each answer is about 80 kB (a full mailbox).
pub const SLOW_REQUESTS: usize = 200;
/// Login lines per burst of the flood; the flood sends bursts until the attack ends.
pub const FLOOD_BURST: usize = 300;
/// Mails filling the slow reader's mailbox (the mailbox limit is 50).
const MAILS: usize = 50;

/// Who attacks from where, and for how long.
pub struct Scenario {
    pub gate: SocketAddr,
    /// An admin token (kind `admin`): it fills the slow reader's mailbox.
    pub admin_token: String,
    pub normal_from: Ipv4Addr,
    pub slow_from: Ipv4Addr,
    pub flood_from: Ipv4Addr,
    /// The normal player's pause between calls: a player, not a load generator (a closed
    /// loop would be held to the gate's per-address request rate, like any flood).
    pub pace: Duration,
    /// How long the normal player plays alone first.
    pub quiet: Duration,
    /// How long both attacks run; longer than the gate's write stall, so that by its end
    /// the slow reader has been closed.
    pub attack: Duration,
    /// A process whose RSS is sampled (the gate's, or the test's own when the gate is
    /// in-process).
    pub rss_pid: Option<u32>,
}

/// The normal player's calls in one phase.
#[derive(Default)]
pub struct Calls {
    pub ms: Vec<f64>,
    pub statuses: BTreeMap<i64, usize>,
}

impl Calls {
    fn record(&mut self, ms: f64, status: i64) {
        self.ms.push(ms);
        *self.statuses.entry(status).or_insert(0) += 1;
    }

    /// The nearest-rank percentile `p` (0–100) in ms; 0 with no calls.
    pub fn percentile(&self, p: f64) -> f64 {
        percentile(&self.ms, p)
    }
}

impl fmt::Display for Calls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = self.ms.iter().cloned().fold(0.0, f64::max);
        write!(
            f,
            "{} calls, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, statuses {:?}",
            self.ms.len(),
            self.percentile(50.0),
            self.percentile(90.0),
            self.percentile(99.0),
            max,
            self.statuses
        )
    }
}

/// The nearest-rank percentile `p` (0–100) of `values`; 0 when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What happened.
pub struct Report {
    pub quiet: Calls,
    pub attack: Calls,
    /// Whether the slow reader's connection was closed by the end of the attack.
    pub slow_closed: bool,
    /// Answers the slow reader found when it finally read (of [`SLOW_REQUESTS`]).
    pub slow_answers: usize,
    /// Statuses of the flood's answers; lines it sent.
    pub flood_statuses: BTreeMap<i64, usize>,
    pub flood_sent: usize,
    /// How long the flood ran.
    pub flood_secs: f64,
    /// Whether the gate closed the flood's connection.
    pub flood_closed: bool,
    /// RSS of `rss_pid` in KiB: before the attack, the highest sample during it, after.
    pub rss_kib: Option<(u64, u64, u64)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "normal player, quiet:        {}", self.quiet)?;
        writeln!(f, "normal player, under attack: {}", self.attack)?;
        writeln!(
            f,
            "slow reader: closed {}, {} of {SLOW_REQUESTS} answers reached it",
            self.slow_closed, self.slow_answers
        )?;
        writeln!(
            f,
            "login flood: {} lines sent in {:.1} s, statuses {:?}, closed {}",
            self.flood_sent, self.flood_secs, self.flood_statuses, self.flood_closed
        )?;
        match self.rss_kib {
            Some((before, peak, after)) => write!(
                f,
                "RSS: {before} KiB before, {peak} KiB at most during, {after} KiB after"
            ),
            None => write!(f, "RSS: not sampled"),
        }
    }
}

/// Runs the scenario: setup, quiet phase, attack phase. Panics where a plain client would
/// be stuck (no answer within [`crate::ANSWER_WAIT`]).
pub fn run(s: &Scenario) -> Report {
    let rss = || s.rss_pid.and_then(rss_kib);
    let mut normal = RawClient::connect_from(s.normal_from, s.gate);
    let player = new_player(&mut normal, "nrm");
    let info = request("s0", "get_info_player", json!({"token": player.session}));

    let mut slow = RawClient::connect_from(s.slow_from, s.gate);
    let victim = new_player(&mut slow, "slw");
    fill_mailbox(s, &victim.gn);

    let mut quiet = Calls::default();
    play(&mut normal, &info, s.pace, s.quiet, &mut quiet, || {});

    let rss_before = rss();
    let mut rss_peak = rss_before;
    let line = request("s0", "get_all_mail", json!({"token": victim.session}));
    let pipelined: String = (0..SLOW_REQUESTS).map(|_| format!("{line}\r\n")).collect();
    slow.send_raw(pipelined.as_bytes());

    let stop = Arc::new(AtomicBool::new(false));
    let flood_started = Instant::now();
    let flood = {
        let (stop, gate, from) = (stop.clone(), s.gate, s.flood_from);
        std::thread::spawn(move || login_flood(gate, from, &stop))
    };
    let mut attack = Calls::default();
    play(&mut normal, &info, s.pace, s.attack, &mut attack, || {
        rss_peak = rss_peak.max(rss());
    });
    stop.store(true, Ordering::Relaxed);
    let (flood_statuses, flood_sent, flood_closed) = flood.join().expect("the flood thread");
    let flood_secs = flood_started.elapsed().as_secs_f64();

    let (slow_closed, slow_answers) = drain(&mut slow);
    Report {
        quiet,
        attack,
        slow_closed,
        slow_answers,
        flood_statuses,
        flood_sent,
        flood_secs,
        flood_closed,
        rss_kib: rss_before.map(|b| (b, rss_peak.unwrap_or(b), rss().unwrap_or(0))),
    }
}

/// A full mailbox of long mails makes each `get_all_mail` answer about 80 kB.
fn fill_mailbox(s: &Scenario, gn: &str) {
    let mut sender = RawClient::connect_from(s.slow_from, s.gate);
    for n in 0..MAILS {
        let a = sender.call(&request(
            "s0",
            "send_text_mail",
            json!({"token": s.admin_token, "gn_target": gn, "msg": "中".repeat(500), "subj": format!("long {n}")}),
        ));
        assert_eq!(status(&a), 0, "mail {n}: {a}");
    }
}

/// Calls `line` every `pace` for `length`, recording each round trip; `tick` after each.
fn play(
    client: &mut RawClient,
    line: &str,
    pace: Duration,
    length: Duration,
    calls: &mut Calls,
    mut tick: impl FnMut(),
) {
    let end = Instant::now() + length;
    while Instant::now() < end {
        let started = Instant::now();
        let a = client.call(line);
        calls.record(started.elapsed().as_secs_f64() * 1000.0, status(&a));
        tick();
        std::thread::sleep(pace);
    }
}

/// Bursts of [`FLOOD_BURST`] failed logins for one new account name, each burst's answers
/// read before the next, until `stop`: statuses, lines sent, whether the gate closed it.
fn login_flood(
    gate: SocketAddr,
    from: Ipv4Addr,
    stop: &AtomicBool,
) -> (BTreeMap<i64, usize>, usize, bool) {
    let mut flood = RawClient::connect_from(from, gate);
    // A new name per run: the budget of an account lasts 15 minutes.
    let account = format!("flood-{}", shared::ids::random_hex(6));
    let login = request(
        "s0",
        "login",
        json!({"identifier": "account", "value": account, "password": "guess-1234"}),
    );
    let burst: String = (0..FLOOD_BURST).map(|_| format!("{login}\r\n")).collect();
    let (mut statuses, mut sent) = (BTreeMap::new(), 0);
    while !stop.load(Ordering::Relaxed) {
        flood.send_raw(burst.as_bytes());
        sent += FLOOD_BURST;
        for _ in 0..FLOOD_BURST {
            match flood.read_line_within(crate::ANSWER_WAIT) {
                Read1::Line(l) => {
                    let a = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
                    *statuses.entry(status(&a)).or_insert(0) += 1;
                }
                Read1::Closed => return (statuses, sent, true),
                Read1::Silent => panic!("the flood got no answer within the wait"),
            }
        }
    }
    (statuses, sent, false)
}

/// Reads the slow reader's socket at last: whether it ends closed, and the answers before.
fn drain(slow: &mut RawClient) -> (bool, usize) {
    let mut answers = 0;
    loop {
        match slow.read_line_within(Duration::from_secs(5)) {
            Read1::Line(_) => answers += 1,
            Read1::Closed => return (true, answers),
            Read1::Silent => return (false, answers),
        }
    }
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), 2.0);
        assert_eq!(percentile(&[7.0], 0.0), 7.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }
}
