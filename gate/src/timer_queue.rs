//! Job deadlines. Every job gets the same timeout, so deadlines are pushed in time order
//! and a FIFO is an exact timer queue: the front is always the next to expire.
//!
//! Answered jobs are not removed here (that would cost a search); their entries expire
//! harmlessly because the job table no longer knows them.

use std::collections::VecDeque;
use std::time::Instant;

#[derive(Debug)]
pub struct TimerQueue<K> {
    fifo: VecDeque<(Instant, K)>,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            fifo: VecDeque::new(),
        }
    }
}

impl<K> TimerQueue<K> {
    pub fn new() -> TimerQueue<K> {
        TimerQueue::default()
    }

    /// Adds a deadline. A deadline earlier than the last one is clamped to it: with one
    /// shared timeout that only happens if the clock source misbehaves, and an entry
    /// firing a moment late is better than one hiding behind later ones.
    pub fn push(&mut self, deadline: Instant, key: K) {
        let deadline = match self.fifo.back() {
            Some((last, _)) if *last > deadline => *last,
            _ => deadline,
        };
        self.fifo.push_back((deadline, key));
    }

    /// The next key whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<K> {
        match self.fifo.front() {
            Some((deadline, _)) if *deadline <= now => self.fifo.pop_front().map(|(_, k)| k),
            _ => None,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.fifo.front().map(|(d, _)| *d)
    }

    pub fn len(&self) -> usize {
        self.fifo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fifo.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expires_in_deadline_order_and_only_when_due() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut q = TimerQueue::new();
        q.push(t0 + ms(10), 1);
        q.push(t0 + ms(20), 2);
        q.push(t0 + ms(20), 3);
        assert_eq!(q.next_deadline(), Some(t0 + ms(10)));
        assert_eq!(q.pop_expired(t0 + ms(5)), None);
        assert_eq!(q.pop_expired(t0 + ms(10)), Some(1));
        assert_eq!(q.pop_expired(t0 + ms(15)), None);
        assert_eq!(q.pop_expired(t0 + ms(25)), Some(2));
        assert_eq!(q.pop_expired(t0 + ms(25)), Some(3));
        assert_eq!(q.pop_expired(t0 + ms(99)), None);
        assert!(q.is_empty());
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn an_out_of_order_deadline_is_clamped_not_lost() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut q = TimerQueue::new();
        q.push(t0 + ms(20), "late");
        q.push(t0 + ms(10), "early");
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_expired(t0 + ms(15)), None);
        assert_eq!(q.pop_expired(t0 + ms(20)), Some("late"));
        assert_eq!(q.pop_expired(t0 + ms(20)), Some("early"));
    }
}
