//! The open loop's due times: request `k` of a loop thread is due at `first + k / rate` and
//! belongs to player `k mod players`, so each player sends every `players / rate` seconds
//! and the players' requests interleave evenly instead of arriving in bursts. Due times
//! are fixed in advance: a loop that falls behind sends the overdue requests at once and
//! their latency still counts from when they were due (no coordinated omission).

use std::time::{Duration, Instant};

pub struct Schedule {
    first: Instant,
    end: Instant,
    /// Nanoseconds between two requests of this schedule (all players together).
    interval_ns: f64,
    players: usize,
    /// The next request's number.
    next: u64,
}

impl Schedule {
    /// `rate` requests/s over `players` players, from `first` until (not including) `end`.
    pub fn new(first: Instant, end: Instant, rate: f64, players: usize) -> Schedule {
        Schedule {
            first,
            end,
            interval_ns: 1e9 / rate.max(1e-9),
            players: players.max(1),
            next: 0,
        }
    }

    fn due(&self, k: u64) -> Option<Instant> {
        // Rounded from k × interval each time, so no error piles up over a long run.
        let nanos = (k as f64 * self.interval_ns).round();
        if nanos >= u64::MAX as f64 {
            return None;
        }
        let due = self.first.checked_add(Duration::from_nanos(nanos as u64))?;
        (due < self.end).then_some(due)
    }

    /// When the next request is due; `None` once the schedule is over.
    pub fn next_due(&self) -> Option<Instant> {
        self.due(self.next)
    }

    /// The next request due at or before `now`: its player and due time.
    pub fn pop_due(&mut self, now: Instant) -> Option<(usize, Instant)> {
        let due = self.next_due().filter(|d| *d <= now)?;
        let player = (self.next % self.players as u64) as usize;
        self.next += 1;
        Some((player, due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_sets_the_count_and_players_take_turns() {
        let start = Instant::now();
        let end = start + Duration::from_secs(2);
        let mut s = Schedule::new(start, end, 200.0, 3);
        let mut dues = Vec::new();
        // Far past the end: everything comes out, each with its own due time.
        while let Some(d) = s.pop_due(end + Duration::from_secs(5)) {
            dues.push(d);
        }
        assert_eq!(dues.len(), 400);
        assert_eq!(s.next_due(), None);
        for (k, (player, due)) in dues.iter().enumerate() {
            assert_eq!(*player, k % 3);
            assert_eq!(*due, start + Duration::from_millis(5 * k as u64));
        }
    }

    #[test]
    fn nothing_comes_out_before_it_is_due() {
        let start = Instant::now();
        let mut s = Schedule::new(start, start + Duration::from_secs(1), 1000.0, 2);
        assert_eq!(s.pop_due(start), Some((0, start)));
        assert_eq!(s.next_due(), Some(start + Duration::from_millis(1)));
        assert_eq!(s.pop_due(start + Duration::from_micros(999)), None);
        // A loop that wakes late gets the overdue requests at their own due times.
        let late = start + Duration::from_micros(3500);
        let got: Vec<_> = std::iter::from_fn(|| s.pop_due(late)).collect();
        assert_eq!(
            got,
            [1, 2, 3].map(|ms| (ms % 2, start + Duration::from_millis(ms as u64)))
        );
    }

    #[test]
    fn a_schedule_that_starts_at_its_end_is_empty() {
        let start = Instant::now();
        let mut s = Schedule::new(start, start, 100.0, 1);
        assert_eq!(s.next_due(), None);
        assert_eq!(s.pop_due(start + Duration::from_secs(1)), None);
    }
}
