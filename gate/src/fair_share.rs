//! Fair share between clients: what one client address may hold of the gate (connections,
//! a request rate) and which connections stop being read when buffered answers exceed the
//! gate-wide memory budget. Pure bookkeeping, driven by the event loop's clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    pub fn full(burst: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: burst,
            refilled: now,
        }
    }

    fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.refilled = now;
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        self.refill(rate, burst, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Gives back a token taken for a request that did not come.
    pub fn refund(&mut self, burst: f64) {
        self.tokens = (self.tokens + 1.0).min(burst);
    }

    /// Whether the bucket has refilled completely (then forgetting it loses nothing).
    pub fn is_full(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        self.refill(rate, burst, now);
        self.tokens >= burst
    }
}

/// Per-address limits; `requests_per_sec` is also the burst (one second's worth).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IpLimits {
    pub max_connections: usize,
    pub requests_per_sec: u32,
}

#[derive(Debug)]
struct IpShare {
    connections: usize,
    requests: Bucket,
}

/// What each client address holds: open connections and its request bucket. An address
/// is forgotten once it has no connection and its bucket is full again, so closing and
/// reopening connections does not buy a fresh burst.
#[derive(Debug)]
pub struct IpTable {
    limits: IpLimits,
    shares: HashMap<IpAddr, IpShare>,
}

impl IpTable {
    pub fn new(limits: IpLimits) -> IpTable {
        IpTable {
            limits,
            shares: HashMap::new(),
        }
    }

    fn rate(&self) -> (f64, f64) {
        let rate = f64::from(self.limits.requests_per_sec);
        (rate, rate)
    }

    /// Counts a new connection from `ip`; `false` (nothing counted) when the address
    /// already holds its maximum.
    pub fn open(&mut self, ip: IpAddr, now: Instant) -> bool {
        let (_, burst) = self.rate();
        let share = self.shares.entry(ip).or_insert(IpShare {
            connections: 0,
            requests: Bucket::full(burst, now),
        });
        if share.connections >= self.limits.max_connections {
            return false;
        }
        share.connections += 1;
        true
    }

    pub fn close(&mut self, ip: IpAddr) {
        if let Some(share) = self.shares.get_mut(&ip) {
            share.connections = share.connections.saturating_sub(1);
        }
    }

    /// Takes one request from `ip`'s allowance; `false` when it is used up for now.
    pub fn take_request(&mut self, ip: IpAddr, now: Instant) -> bool {
        let (rate, burst) = self.rate();
        match self.shares.get_mut(&ip) {
            Some(share) => share.requests.take(rate, burst, now),
            // Every connection is opened here first; an unknown address is a bug, not a
            // reason to refuse a client.
            None => true,
        }
    }

    /// Gives back what [`IpTable::take_request`] took when no request line was there.
    pub fn refund(&mut self, ip: IpAddr) {
        let (_, burst) = self.rate();
        if let Some(share) = self.shares.get_mut(&ip) {
            share.requests.refund(burst);
        }
    }

    /// Forgets addresses with no connection and a full bucket.
    pub fn sweep(&mut self, now: Instant) {
        let (rate, burst) = self.rate();
        self.shares
            .retain(|_, s| s.connections > 0 || !s.requests.is_full(rate, burst, now));
    }

    pub fn addresses(&self) -> usize {
        self.shares.len()
    }
}

/// The gate-wide budget for buffered answers (filled answer slots and unwritten output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnswerBudget {
    pub limit_bytes: usize,
}

impl AnswerBudget {
    /// Whether a connection holding `holds` bytes, out of `total` buffered over
    /// `connections` connections, stops taking requests: only over the budget, and only
    /// connections holding at least the average share, i.e. those that hold most of it.
    /// A connection with nothing buffered is always served.
    pub fn is_heavy(&self, holds: usize, total: usize, connections: usize) -> bool {
        total > self.limit_bytes
            && holds > 0
            && (holds as u128) * (connections.max(1) as u128) >= total as u128
    }
}

/// How long an answer backlog may stay undrained before the connection is closed.
pub fn write_stalled(backlog_since: Option<Instant>, limit: Duration, now: Instant) -> bool {
    backlog_since.is_some_and(|since| now.saturating_duration_since(since) >= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_bucket_spends_its_burst_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(3.0, t0);
        assert!((0..3).all(|_| b.take(2.0, 3.0, t0)));
        assert!(!b.take(2.0, 3.0, t0));
        assert!(b.take(2.0, 3.0, t0 + Duration::from_millis(500)));
        assert!(!b.take(2.0, 3.0, t0 + Duration::from_millis(500)));
        // Never more than the burst, however long it rested.
        let later = t0 + Duration::from_secs(100);
        assert!(b.is_full(2.0, 3.0, later));
        assert!((0..3).all(|_| b.take(2.0, 3.0, later)));
        assert!(!b.take(2.0, 3.0, later));
    }

    #[test]
    fn connections_are_limited_per_address() {
        let t0 = Instant::now();
        let mut table = IpTable::new(IpLimits {
            max_connections: 2,
            requests_per_sec: 10,
        });
        assert!(table.open(A, t0) && table.open(A, t0));
        assert!(!table.open(A, t0), "a third from A");
        assert!(table.open(B, t0), "B has its own share");
        table.close(A);
        assert!(table.open(A, t0));
    }

    #[test]
    fn requests_share_one_allowance_per_address_and_reconnecting_buys_nothing() {
        let t0 = Instant::now();
        let mut table = IpTable::new(IpLimits {
            max_connections: 10,
            requests_per_sec: 5,
        });
        table.open(A, t0);
        table.open(B, t0);
        assert!((0..5).all(|_| table.take_request(A, t0)));
        assert!(!table.take_request(A, t0), "A's second is spent");
        table.refund(A);
        assert!(
            table.take_request(A, t0),
            "a refunded token can be taken again"
        );
        assert!(!table.take_request(A, t0));
        assert!(table.take_request(B, t0), "B is not charged for A");
        table.close(A);
        table.sweep(t0);
        assert_eq!(
            table.addresses(),
            2,
            "A is kept while its bucket is not full"
        );
        table.open(A, t0);
        assert!(
            !table.take_request(A, t0),
            "a new connection has no new burst"
        );
        table.close(A);
        table.close(B);
        table.sweep(t0 + Duration::from_secs(2));
        assert_eq!(table.addresses(), 0);
    }

    #[test]
    fn over_the_budget_only_the_heaviest_connections_stop() {
        let budget = AnswerBudget { limit_bytes: 1000 };
        // Under the budget nobody stops.
        assert!(!budget.is_heavy(900, 1000, 4));
        // 1200 over 4 connections: the average share is 300.
        assert!(budget.is_heavy(900, 1200, 4));
        assert!(budget.is_heavy(300, 1200, 4));
        assert!(!budget.is_heavy(299, 1200, 4));
        assert!(
            !budget.is_heavy(0, 1200, 4),
            "holding nothing, always served"
        );
        assert!(budget.is_heavy(1200, 1200, 1));
    }

    #[test]
    fn a_backlog_stalls_after_the_limit() {
        let t0 = Instant::now();
        let limit = Duration::from_secs(20);
        assert!(!write_stalled(None, limit, t0 + limit * 9));
        assert!(!write_stalled(Some(t0), limit, t0 + limit / 2));
        assert!(write_stalled(Some(t0), limit, t0 + limit));
    }
}
