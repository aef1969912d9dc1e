//! One connection's requests in flight, oldest first. The gate answers a connection's
//! requests in order, so an answer always belongs to the oldest one; each entry is the
//! instant the request was due (closed loop: when it was queued), from which its latency
//! and its timeout count.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::stats::Window;

#[derive(Default)]
pub struct InFlight {
    due: VecDeque<Instant>,
}

impl InFlight {
    pub fn push(&mut self, due: Instant) {
        self.due.push_back(due);
    }

    /// The newest `n` requests were sent at `at` (closed loop: stamped when their write
    /// starts, not when they were queued, so the client's own pass is not counted).
    pub fn restamp_newest(&mut self, n: usize, at: Instant) {
        let len = self.due.len();
        for due in self.due.range_mut(len.saturating_sub(n)..) {
            *due = at;
        }
    }

    /// An answer came: the due time of the request it answers, `None` if none was waiting.
    pub fn answer(&mut self) -> Option<Instant> {
        self.due.pop_front()
    }

    pub fn len(&self) -> usize {
        self.due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    /// Requests to add to reach a pipeline of `depth`.
    pub fn room(&self, depth: usize) -> usize {
        depth.saturating_sub(self.due.len())
    }

    /// The oldest request has waited `timeout` or longer: the client counts it lost.
    pub fn overdue(&self, now: Instant, timeout: Duration) -> bool {
        self.due
            .front()
            .is_some_and(|due| now.saturating_duration_since(*due) >= timeout)
    }

    /// Gives up on every request (lost or cut); returns how many fell in the measured window.
    pub fn give_up(&mut self, window: &Window) -> u64 {
        self.due.drain(..).filter(|d| window.measured(*d)).count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: Instant) -> Window {
        Window {
            start,
            measure_from: start + Duration::from_secs(1),
            end: start + Duration::from_secs(3),
        }
    }

    #[test]
    fn answers_match_the_oldest_request_and_free_pipeline_room() {
        let t = Instant::now();
        let mut f = InFlight::default();
        assert_eq!(f.room(3), 3);
        f.push(t);
        f.push(t + Duration::from_millis(1));
        assert_eq!((f.len(), f.room(3), f.room(1)), (2, 1, 0));
        assert_eq!(f.answer(), Some(t));
        assert_eq!(f.answer(), Some(t + Duration::from_millis(1)));
        // An answer nobody waits for is visible as such.
        assert_eq!(f.answer(), None);
        assert!(f.is_empty());
    }

    #[test]
    fn restamping_touches_only_the_newest_requests() {
        let t = Instant::now();
        let later = t + Duration::from_millis(5);
        let mut f = InFlight::default();
        for _ in 0..3 {
            f.push(t);
        }
        f.restamp_newest(2, later);
        assert_eq!(
            [f.answer(), f.answer(), f.answer()],
            [Some(t), Some(later), Some(later)]
        );
        // More than there are, and none at all, are harmless.
        f.push(t);
        f.restamp_newest(5, later);
        f.restamp_newest(0, t);
        assert_eq!(f.answer(), Some(later));
    }

    #[test]
    fn the_oldest_request_sets_the_timeout() {
        let t = Instant::now();
        let timeout = Duration::from_secs(15);
        let mut f = InFlight::default();
        assert!(!f.overdue(t + timeout * 10, timeout));
        f.push(t);
        f.push(t + Duration::from_secs(10));
        assert!(!f.overdue(t + Duration::from_millis(14_999), timeout));
        assert!(f.overdue(t + timeout, timeout));
        f.answer();
        assert!(!f.overdue(t + timeout, timeout));
        assert!(f.overdue(t + Duration::from_secs(25), timeout));
        // A clock reading older than the request (another thread's `now`) is not overdue.
        assert!(!f.overdue(t, timeout));
    }

    #[test]
    fn giving_up_counts_only_the_measured_window() {
        let t = Instant::now();
        let w = window(t);
        let mut f = InFlight::default();
        for ms in [500, 1000, 2000, 2999, 3000, 3500] {
            f.push(t + Duration::from_millis(ms));
        }
        // Warm-up (500) and after the end (3000, 3500) are not counted.
        assert_eq!(f.give_up(&w), 3);
        assert!(f.is_empty());
        assert_eq!(f.give_up(&w), 0);
    }
}
