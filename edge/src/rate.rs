//! Per-connection rate limiting: a token bucket refilled at `rate` frames per second,
//! holding at most one second's worth, so short bursts pass and floods are cut.
//!
//! Time is passed in, so the bucket is pure and tested without sleeping.

use std::time::{Duration, Instant};

/// At most one "rate limit" notice per this interval, so a flood does not turn into a
/// flood of notices.
pub const NOTICE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Drop the frame and tell the client.
    DroppedWithNotice,
    /// Drop the frame quietly: a notice went out less than a second ago.
    Dropped,
}

#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f32,
    last_refill: Instant,
    last_notice: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: rate as f32,
            last_refill: now,
            last_notice: None,
        }
    }

    /// Takes one token for a frame. `rate` 0 means unlimited.
    pub fn take(&mut self, rate: u32, now: Instant) -> Verdict {
        if rate == 0 {
            return Verdict::Allowed;
        }
        let elapsed = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f32();
        self.tokens = (self.tokens + elapsed * rate as f32).min(rate as f32);
        self.last_refill = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allowed;
        }
        self.dropped(now)
    }

    /// The verdict for a frame dropped at `now` (by this bucket or by the player's shared
    /// allowance): with a notice unless one went out less than [`NOTICE_INTERVAL`] ago.
    pub fn dropped(&mut self, now: Instant) -> Verdict {
        let notice_due = self
            .last_notice
            .is_none_or(|at| now.saturating_duration_since(at) >= NOTICE_INTERVAL);
        if notice_due {
            self.last_notice = Some(now);
            Verdict::DroppedWithNotice
        } else {
            Verdict::Dropped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(bucket: &mut TokenBucket, rate: u32, now: Instant, n: usize) -> [usize; 3] {
        let mut seen = [0; 3];
        for _ in 0..n {
            match bucket.take(rate, now) {
                Verdict::Allowed => seen[0] += 1,
                Verdict::DroppedWithNotice => seen[1] += 1,
                Verdict::Dropped => seen[2] += 1,
            }
        }
        seen
    }

    #[test]
    fn a_burst_up_to_the_rate_passes_then_frames_drop_with_one_notice() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(20, t0);
        assert_eq!(count(&mut b, 20, t0, 25), [20, 1, 4]);
    }

    #[test]
    fn tokens_refill_over_time_but_never_beyond_one_second() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(20, t0);
        count(&mut b, 20, t0, 20);
        // 100 ms at 20/s is two frames.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(count(&mut b, 20, t1, 3), [2, 1, 0]);
        // A long pause refills to the cap, not more.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(count(&mut b, 20, t2, 21)[0], 20);
    }

    #[test]
    fn at_most_one_notice_per_second() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1, t0);
        assert_eq!(b.take(1, t0), Verdict::Allowed);
        assert_eq!(b.take(1, t0), Verdict::DroppedWithNotice);
        let t1 = t0 + Duration::from_millis(500);
        // Half a token: still dropped, and quietly.
        assert_eq!(b.take(1, t1), Verdict::Dropped);
        let t2 = t0 + Duration::from_millis(1000);
        assert_eq!(b.take(1, t2), Verdict::Allowed);
        assert_eq!(b.take(1, t2), Verdict::DroppedWithNotice);
    }

    #[test]
    fn rate_zero_is_unlimited() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0, t0);
        assert_eq!(count(&mut b, 0, t0, 1000), [1000, 0, 0]);
    }
}
