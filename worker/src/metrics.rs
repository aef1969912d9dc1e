//! The worker's metrics: jobs by outcome, latency, queue depth.

use std::sync::Arc;

use shared::metrics::{Counter, Gauge, Histogram, Registry, LATENCY_BUCKETS};

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
    /// Answers that could not be delivered (job expired, gate gone).
    pub undelivered: Arc<Counter>,
    pub latency: Arc<Histogram>,
    pub queue_depth: Arc<Gauge>,
    /// Payload bytes of the jobs waiting.
    pub queue_bytes: Arc<Gauge>,
    /// Jobs dropped on arrival because the queue was full (count or bytes).
    pub queue_full: Arc<Gauge>,
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
        }
    }

    pub fn count_status(&self, status: i32) {
        match status {
            0 => self.ok.inc(),
            -1 => self.panics.inc(),
            16 => self.backend_errors.inc(),
            -2 | 10..=15 | 20 | 21 => self.refused.inc(),
            _ => self.module_errors.inc(),
        }
    }
}
