//! The worker's metrics: jobs by outcome, latency, queue depth, and calls and time per
//! game function and status class.

use std::sync::Arc;
use std::time::Duration;

use shared::metrics::{
    labels, Counter, CounterFamily, Gauge, Histogram, HistogramFamily, Registry, LATENCY_BUCKETS,
};

use crate::functions::FUNCTIONS;

/// The label of a request naming no function of the table (status 10, or 13 before the
/// function was read): the client chooses that name, so it never becomes a label.
pub const UNKNOWN_FUNCTION: &str = "unknown";

/// A status's class, the `status` label of the per-function metrics (the same classes as
/// the `worker_jobs_*_total` counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Ok,
    Refused,
    ModuleError,
    BackendError,
    Panic,
}

impl StatusClass {
    pub const ALL: [StatusClass; 5] = [
        StatusClass::Ok,
        StatusClass::Refused,
        StatusClass::ModuleError,
        StatusClass::BackendError,
        StatusClass::Panic,
    ];

    pub fn of(status: i32) -> StatusClass {
        match status {
            0 => StatusClass::Ok,
            -1 => StatusClass::Panic,
            16 => StatusClass::BackendError,
            -2 | 10..=15 | 20 | 21 => StatusClass::Refused,
            _ => StatusClass::ModuleError,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StatusClass::Ok => "ok",
            StatusClass::Refused => "refused",
            StatusClass::ModuleError => "module_error",
            StatusClass::BackendError => "backend_error",
            StatusClass::Panic => "panic",
        }
    }
}

/// Calls and handling time per game function: one pre-made child per function of the
/// table (and one for [`UNKNOWN_FUNCTION`]), picked by the function's table position.
pub struct FunctionMetrics {
    /// `FUNCTIONS.len() + 1` functions × the status classes, function-major.
    calls: Arc<CounterFamily>,
    /// One per function, `FUNCTIONS.len() + 1`.
    seconds: Arc<HistogramFamily>,
}

impl FunctionMetrics {
    fn register(registry: &Registry) -> FunctionMetrics {
        let names = || {
            FUNCTIONS
                .iter()
                .map(|f| f.name)
                .chain(std::iter::once(UNKNOWN_FUNCTION))
        };
        let call_labels = names()
            .flat_map(|name| {
                StatusClass::ALL
                    .iter()
                    .map(move |class| labels(&[("function", name), ("status", class.label())]))
            })
            .collect();
        let time_labels = names().map(|name| labels(&[("function", name)])).collect();
        FunctionMetrics {
            calls: registry.counter_family(
                "worker_function_calls_total",
                "jobs answered, by game function (`unknown`: a name not in the function table) and status class (ok, refused, module_error, backend_error, panic)",
                call_labels,
            ),
            seconds: registry.histogram_family(
                "worker_function_seconds",
                "time to answer a job by game function: parsing, token check and the function, not the wait in the queue",
                time_labels,
                LATENCY_BUCKETS,
            ),
        }
    }

    /// Counts one answered job. `function`: its position in [`FUNCTIONS`]; `None` (or a
    /// position past the table, which no caller makes) counts as [`UNKNOWN_FUNCTION`].
    pub fn record(&self, function: Option<usize>, status: i32, took: Duration) {
        let f = function
            .filter(|&i| i < FUNCTIONS.len())
            .unwrap_or(FUNCTIONS.len());
        let class = StatusClass::of(status) as usize;
        self.calls.child(f * StatusClass::ALL.len() + class).inc();
        self.seconds.child(f).observe(took.as_secs_f64());
    }
}

pub struct WorkerMetrics {
    pub ok: Arc<Counter>,
    /// Statuses -2, 10–15: the request was wrong (token, world, function, shape); 20, 21:
    /// a request id's retry that did not run.
    pub refused: Arc<Counter>,
    /// Module statuses 80–98.
    pub module_errors: Arc<Counter>,
    /// Status 99: MySQL or Redis failed.
    pub backend_errors: Arc<Counter>,
    /// Status -1: a function panicked.
    pub panics: Arc<Counter>,
    /// Payloads that were not `<jid>~<line>`.
    pub malformed_jobs: Arc<Counter>,
    /// Jobs dropped unrun because their deadline had passed (the gate answered -2).
    pub expired_jobs: Arc<Counter>,
    /// Jobs read from gate links (the rest came from NATS).
    pub link_jobs: Arc<Counter>,
    /// Job lines from gate links refused (unreadable, or naming another gate).
    pub link_jobs_refused: Arc<Counter>,
    /// Answers that could not be delivered (job expired, gate gone).
    pub undelivered: Arc<Counter>,
    pub latency: Arc<Histogram>,
    pub queue_depth: Arc<Gauge>,
    /// Payload bytes of the jobs waiting.
    pub queue_bytes: Arc<Gauge>,
    /// Jobs dropped on arrival because the queue was full (count or bytes).
    pub queue_full: Arc<Gauge>,
    pub functions: FunctionMetrics,
}

impl WorkerMetrics {
    pub fn register(registry: &Registry) -> WorkerMetrics {
        WorkerMetrics {
            ok: registry.counter("worker_jobs_ok_total", "jobs answered with status 0"),
            refused: registry.counter(
                "worker_jobs_refused_total",
                "jobs answered with status -2, 10-15, 20 or 21 (malformed, unknown function or world, token, permission, a request id's retry that did not run)",
            ),
            module_errors: registry.counter(
                "worker_jobs_module_error_total",
                "jobs answered with a module status: any other than 0, -1, -2, 10-16, 20, 21 (the original game's non-zero successes, such as 1 new account created, included)",
            ),
            backend_errors: registry.counter(
                "worker_jobs_backend_error_total",
                "jobs answered with status 16 (MySQL, Redis or a service unavailable)",
            ),
            panics: registry.counter("worker_jobs_panic_total", "jobs answered with status -1"),
            malformed_jobs: registry.counter(
                "worker_jobs_malformed_total",
                "NATS payloads dropped because they were not a job line",
            ),
            expired_jobs: registry.counter(
                "worker_jobs_expired_total",
                "jobs dropped unrun because their deadline had passed",
            ),
            link_jobs: registry.counter(
                "worker_link_jobs_total",
                "jobs read from gate links that offered to take them (the rest came from NATS)",
            ),
            link_jobs_refused: registry.counter(
                "worker_link_jobs_refused_total",
                "job lines from gate links refused: unreadable, or naming another gate",
            ),
            undelivered: registry.counter(
                "worker_answers_undelivered_total",
                "answers dropped because the job expired or its gate was unreachable",
            ),
            latency: registry.histogram(
                "worker_job_seconds",
                "time from receiving a job to handing its answer to the gate",
                LATENCY_BUCKETS,
            ),
            queue_depth: registry.gauge("worker_queue_depth", "jobs waiting for a worker thread"),
            queue_bytes: registry.gauge(
                "worker_queue_bytes",
                "payload bytes of the jobs waiting for a worker thread (bounded by --job-queue-mb)",
            ),
            queue_full: registry.gauge(
                "worker_jobs_queue_full_dropped",
                "jobs dropped on arrival since start because the queue held 65536 jobs or --job-queue-mb bytes (the gate answers them -2)",
            ),
            functions: FunctionMetrics::register(registry),
        }
    }

    pub fn count_status(&self, status: i32) {
        match StatusClass::of(status) {
            StatusClass::Ok => self.ok.inc(),
            StatusClass::Panic => self.panics.inc(),
            StatusClass::BackendError => self.backend_errors.inc(),
            StatusClass::Refused => self.refused.inc(),
            StatusClass::ModuleError => self.module_errors.inc(),
        }
    }
}
