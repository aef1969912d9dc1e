//! What a run counts: answers by status, lost requests, and an HDR latency histogram; the
//! time [`Window`] that is measured, and the live [`Progress`] counters the loops share.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

pub struct Stats {
    /// Latency in microseconds, 1 µs to 60 s at 3 significant digits.
    pub latency: Histogram<u64>,
    pub by_status: BTreeMap<i64, u64>,
    /// Sent on a connection that then broke (its gate died): the client knows at once.
    pub cut: u64,
    /// Sent and never answered while the connection stayed open: no answer within the
    /// client-side timeout. The system promises this stays 0.
    pub lost: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            by_status: BTreeMap::new(),
            cut: 0,
            lost: 0,
        }
    }
}

impl Stats {
    pub fn record(&mut self, status: i64, latency: Duration) {
        *self.by_status.entry(status).or_default() += 1;
        let micros = (latency.as_micros() as u64).clamp(1, 60_000_000);
        self.latency.saturating_record(micros);
    }

    pub fn merge(&mut self, other: &Stats) {
        self.latency
            .add(&other.latency)
            .expect("histograms share bounds");
        for (status, n) in &other.by_status {
            *self.by_status.entry(*status).or_default() += n;
        }
        self.cut += other.cut;
        self.lost += other.lost;
    }

    pub fn answered(&self) -> u64 {
        self.by_status.values().sum()
    }

    pub fn ok(&self) -> u64 {
        self.by_status.get(&0).copied().unwrap_or(0)
    }

    pub fn timed_out(&self) -> u64 {
        self.by_status.get(&-2).copied().unwrap_or(0)
    }

    fn errors(&self) -> impl Iterator<Item = (&i64, &u64)> {
        self.by_status.iter().filter(|(s, _)| **s != 0 && **s != -2)
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn summary(&self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let answered = self.answered();
        let mut errors = String::new();
        for (status, n) in self.errors() {
            let _ = write!(errors, " {status}:{n}");
        }
        format!(
            "requests {} in {:.1} s = {:.0}/s | ok {} | errors{} | timed out {} | cut {} | lost {}\n\
             latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            answered + self.cut + self.lost,
            secs,
            answered as f64 / secs,
            self.ok(),
            if errors.is_empty() {
                " 0".to_string()
            } else {
                errors
            },
            self.timed_out(),
            self.cut,
            self.lost,
            self.percentile_ms(0.5),
            self.percentile_ms(0.9),
            self.percentile_ms(0.99),
            self.percentile_ms(0.999),
            self.latency.max() as f64 / 1000.0,
        )
    }

    pub fn json(&self, elapsed: Duration, label: &str) -> serde_json::Value {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let errors: serde_json::Map<String, serde_json::Value> = self
            .errors()
            .map(|(s, n)| (s.to_string(), (*n).into()))
            .collect();
        serde_json::json!({
            "label": label,
            "seconds": secs,
            "requests": self.answered() + self.cut + self.lost,
            "rps": self.answered() as f64 / secs,
            "ok": self.ok(),
            "errors": errors,
            "timed_out": self.timed_out(),
            "cut": self.cut,
            "lost": self.lost,
            "latency_ms": {
                "p50": self.percentile_ms(0.5),
                "p90": self.percentile_ms(0.9),
                "p99": self.percentile_ms(0.99),
                "p99.9": self.percentile_ms(0.999),
                "max": self.latency.max() as f64 / 1000.0,
            }
        })
    }
}

/// Live counters for the progress line.
#[derive(Default)]
pub struct Progress {
    pub answered: AtomicU64,
    pub errors: AtomicU64,
    pub lost: AtomicU64,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_summarises() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for i in 1..=100 {
            a.record(0, Duration::from_micros(i * 10));
        }
        b.record(11, Duration::from_millis(5));
        b.record(-2, Duration::from_secs(10));
        b.lost = 1;
        a.merge(&b);
        assert_eq!(
            (a.answered(), a.ok(), a.timed_out(), a.lost),
            (102, 100, 1, 1)
        );
        let text = a.summary(Duration::from_secs(1));
        assert!(text.contains("errors 11:1"), "{text}");
        assert!(text.contains("lost 1"), "{text}");
        let json = a.json(Duration::from_secs(2), "x");
        assert_eq!(json["errors"]["11"], 1);
        assert_eq!(json["rps"], 51.0);
    }
}
