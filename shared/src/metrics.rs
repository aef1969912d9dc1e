//! Prometheus text-format metrics: counters, gauges and histograms on atomics.
//!
//! Services create their metrics once at start (`registry.counter(..)`), keep the `Arc`s
//! on their hot paths, and the admin server renders the registry on `/metrics`.
//!
//! Labelled metrics come as families whose label values are all fixed at registration
//! (a bounded set, such as the worker's function table): the caller picks a child by its
//! position, so the hot path is an atomic add with no map and no lock. A child is rendered
//! once it has counted something, as client libraries create a child on first use, so a
//! scrape does not list every never-called function.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Default, Debug)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn add(&self, v: i64) {
        self.0.fetch_add(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Latency buckets in seconds, from 100 µs to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound plus the +Inf bucket; not cumulative (summed when rendered).
    counts: Vec<AtomicU64>,
    /// Sum in microseconds-of-unit (value * 1e6), so it stays an atomic integer.
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn observe_since(&self, start: std::time::Instant) {
        self.observe(start.elapsed().as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// Renders label pairs as they go inside `{..}`: `function="login",status="ok"`, values
/// escaped as the text format asks (backslash, double quote, newline).
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

/// Counters of one name, one per label set fixed at registration.
#[derive(Debug)]
pub struct CounterFamily {
    /// Rendered labels (see [`labels`]) and the counter, in registration order.
    children: Vec<(String, Counter)>,
}

impl CounterFamily {
    /// The counter of the `i`th label set. Panics when `i` is out of range.
    pub fn child(&self, i: usize) -> &Counter {
        &self.children[i].1
    }
}

/// Histograms of one name, one per label set fixed at registration.
#[derive(Debug)]
pub struct HistogramFamily {
    children: Vec<(String, Histogram)>,
}

impl HistogramFamily {
    /// The histogram of the `i`th label set. Panics when `i` is out of range.
    pub fn child(&self, i: usize) -> &Histogram {
        &self.children[i].1
    }
}

enum Metric {
    Counter(Arc<Counter>),
    Gauge(Arc<Gauge>),
    Histogram(Arc<Histogram>),
    CounterFamily(Arc<CounterFamily>),
    HistogramFamily(Arc<HistogramFamily>),
}

struct Entry {
    name: String,
    help: String,
    metric: Metric,
}

/// The set of metrics a service exposes.
#[derive(Default, Clone)]
pub struct Registry {
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    fn add(&self, name: &str, help: &str, metric: Metric) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        assert!(
            !entries.iter().any(|e| e.name == name),
            "metric {name} registered twice"
        );
        entries.push(Entry {
            name: name.to_string(),
            help: help.to_string(),
            metric,
        });
    }

    pub fn counter(&self, name: &str, help: &str) -> Arc<Counter> {
        let c = Arc::new(Counter::default());
        self.add(name, help, Metric::Counter(c.clone()));
        c
    }

    pub fn gauge(&self, name: &str, help: &str) -> Arc<Gauge> {
        let g = Arc::new(Gauge::default());
        self.add(name, help, Metric::Gauge(g.clone()));
        g
    }

    pub fn histogram(&self, name: &str, help: &str, bounds: &'static [f64]) -> Arc<Histogram> {
        let h = Arc::new(Histogram::new(bounds));
        self.add(name, help, Metric::Histogram(h.clone()));
        h
    }

    /// Counters `name{<label set>}`, one per entry of `label_sets` (each made by
    /// [`labels`]); [`CounterFamily::child`] takes the entry's position.
    pub fn counter_family(
        &self,
        name: &str,
        help: &str,
        label_sets: Vec<String>,
    ) -> Arc<CounterFamily> {
        let f = Arc::new(CounterFamily {
            children: label_sets
                .into_iter()
                .map(|l| (l, Counter::default()))
                .collect(),
        });
        self.add(name, help, Metric::CounterFamily(f.clone()));
        f
    }

    /// Histograms `name{<label set>}` with the same `bounds`, one per entry of `label_sets`.
    pub fn histogram_family(
        &self,
        name: &str,
        help: &str,
        label_sets: Vec<String>,
        bounds: &'static [f64],
    ) -> Arc<HistogramFamily> {
        let f = Arc::new(HistogramFamily {
            children: label_sets
                .into_iter()
                .map(|l| (l, Histogram::new(bounds)))
                .collect(),
        });
        self.add(name, help, Metric::HistogramFamily(f.clone()));
        f
    }

    /// The Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for e in entries.iter() {
            let kind = match e.metric {
                Metric::Counter(_) => "counter",
                Metric::Gauge(_) => "gauge",
                Metric::Histogram(_) | Metric::HistogramFamily(_) => "histogram",
                Metric::CounterFamily(_) => "counter",
            };
            let _ = writeln!(out, "# HELP {} {}", e.name, e.help.replace('\n', " "));
            let _ = writeln!(out, "# TYPE {} {kind}", e.name);
            match &e.metric {
                Metric::Counter(c) => {
                    let _ = writeln!(out, "{} {}", e.name, c.get());
                }
                Metric::Gauge(g) => {
                    let _ = writeln!(out, "{} {}", e.name, g.get());
                }
                Metric::Histogram(h) => render_histogram(&mut out, &e.name, "", h),
                Metric::CounterFamily(f) => {
                    for (labels, c) in f.children.iter().filter(|(_, c)| c.get() > 0) {
                        let _ = writeln!(out, "{}{{{labels}}} {}", e.name, c.get());
                    }
                }
                Metric::HistogramFamily(f) => {
                    for (labels, h) in f.children.iter().filter(|(_, h)| h.count() > 0) {
                        render_histogram(&mut out, &e.name, labels, h);
                    }
                }
            }
        }
        out
    }
}

/// One histogram's `_bucket`, `_sum` and `_count` lines; `labels` (maybe empty) go before `le`.
fn render_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let (before_le, braced) = if labels.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("{labels},"), format!("{{{labels}}}"))
    };
    let mut cumulative = 0;
    for (i, bound) in h.bounds.iter().enumerate() {
        cumulative += h.counts[i].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{{before_le}le=\"{bound}\"}} {cumulative}"
        );
    }
    cumulative += h.counts[h.bounds.len()].load(Ordering::Relaxed);
    let _ = writeln!(out, "{name}_bucket{{{before_le}le=\"+Inf\"}} {cumulative}");
    let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum{braced} {sum}");
    let _ = writeln!(out, "{name}_count{braced} {cumulative}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let r = Registry::new();
        let c = r.counter("gate_requests_total", "requests received");
        let g = r.gauge("gate_connections", "open client connections");
        let h = r.histogram("gate_rtt_seconds", "round trip", &[0.001, 0.01]);
        c.add(3);
        g.set(-2);
        h.observe(0.0005);
        h.observe(0.005);
        h.observe(1.0);
        let text = r.render();
        let expected = "# HELP gate_requests_total requests received\n\
# TYPE gate_requests_total counter\n\
gate_requests_total 3\n\
# HELP gate_connections open client connections\n\
# TYPE gate_connections gauge\n\
gate_connections -2\n\
# HELP gate_rtt_seconds round trip\n\
# TYPE gate_rtt_seconds histogram\n\
gate_rtt_seconds_bucket{le=\"0.001\"} 1\n\
gate_rtt_seconds_bucket{le=\"0.01\"} 2\n\
gate_rtt_seconds_bucket{le=\"+Inf\"} 3\n\
gate_rtt_seconds_sum 1.0055\n\
gate_rtt_seconds_count 3\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn families_render_the_children_that_counted() {
        let r = Registry::new();
        let calls = r.counter_family(
            "calls_total",
            "calls",
            vec![
                labels(&[("function", "login"), ("status", "ok")]),
                labels(&[("function", "a\"b\\c\nd"), ("status", "ok")]),
                labels(&[("function", "never"), ("status", "ok")]),
            ],
        );
        let seconds = r.histogram_family(
            "call_seconds",
            "time",
            vec![
                labels(&[("function", "login")]),
                labels(&[("function", "never")]),
            ],
            &[0.001],
        );
        calls.child(0).add(2);
        calls.child(1).inc();
        seconds.child(0).observe(0.0005);
        seconds.child(0).observe(2.0);
        let expected = "# HELP calls_total calls\n\
# TYPE calls_total counter\n\
calls_total{function=\"login\",status=\"ok\"} 2\n\
calls_total{function=\"a\\\"b\\\\c\\nd\",status=\"ok\"} 1\n\
# HELP call_seconds time\n\
# TYPE call_seconds histogram\n\
call_seconds_bucket{function=\"login\",le=\"0.001\"} 1\n\
call_seconds_bucket{function=\"login\",le=\"+Inf\"} 2\n\
call_seconds_sum{function=\"login\"} 2.0005\n\
call_seconds_count{function=\"login\"} 2\n";
        assert_eq!(r.render(), expected);
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn a_name_is_registered_once() {
        let r = Registry::new();
        r.counter("x", "");
        r.counter("x", "");
    }
}
