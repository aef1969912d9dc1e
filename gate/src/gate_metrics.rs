//! The gate's Prometheus metrics, created once and shared by its threads.

use std::sync::Arc;

use shared::metrics::{Counter, Gauge, Histogram, Registry, LATENCY_BUCKETS};

#[derive(Clone)]
pub struct GateMetrics {
    pub client_connections: Arc<Gauge>,
    pub connections_accepted: Arc<Counter>,
    pub connections_refused: Arc<Counter>,
    pub idle_closed: Arc<Counter>,
    pub write_stall_closed: Arc<Counter>,
    pub ip_connections_refused: Arc<Counter>,
    pub ip_rate_paused: Arc<Counter>,
    pub budget_paused: Arc<Counter>,
    pub answer_buffer_bytes: Arc<Gauge>,
    pub client_protocol_errors: Arc<Counter>,
    pub worker_connections: Arc<Gauge>,
    pub requests: Arc<Counter>,
    pub answers: Arc<Counter>,
    pub timeouts: Arc<Counter>,
    pub dispatch_failures: Arc<Counter>,
    pub link_jobs: Arc<Counter>,
    pub link_offers_ignored: Arc<Counter>,
    pub held_jobs_lost: Arc<Counter>,
    pub worker_lines_dropped: Arc<Counter>,
    pub worker_protocol_errors: Arc<Counter>,
    pub worker_links_refused: Arc<Counter>,
    pub in_flight: Arc<Gauge>,
    pub jobs_held: Arc<Gauge>,
    pub round_trip: Arc<Histogram>,
    pub dispatch_delay: Arc<Histogram>,
}

impl GateMetrics {
    pub fn new(registry: &Registry) -> GateMetrics {
        GateMetrics {
            client_connections: registry
                .gauge("gate_client_connections", "open client connections"),
            connections_accepted: registry.counter(
                "gate_client_connections_accepted_total",
                "client connections accepted",
            ),
            connections_refused: registry.counter(
                "gate_client_connections_refused_total",
                "client connections closed at once because --max-connections was reached",
            ),
            idle_closed: registry.counter(
                "gate_client_idle_closed_total",
                "client connections closed after --idle-timeout-secs without traffic, or with a request line unfinished for that long",
            ),
            write_stall_closed: registry.counter(
                "gate_client_write_stall_closed_total",
                "client connections closed because their answers stayed unread past --write-stall-secs",
            ),
            ip_connections_refused: registry.counter(
                "gate_client_ip_connections_refused_total",
                "client connections closed at once because their address reached --max-connections-per-ip",
            ),
            ip_rate_paused: registry.counter(
                "gate_client_ip_rate_paused_total",
                "times a connection stopped being read because its address used up --ip-requests-per-sec",
            ),
            budget_paused: registry.counter(
                "gate_client_budget_paused_total",
                "times a connection stopped being read because buffered answers exceed --answer-budget-mb and it holds at least the average share",
            ),
            answer_buffer_bytes: registry.gauge(
                "gate_answer_buffer_bytes",
                "answer bytes held for clients (arrived and waiting for their turn, or not yet taken by the socket)",
            ),
            client_protocol_errors: registry.counter(
                "gate_client_protocol_errors_total",
                "client connections closed for a line over 64 KiB or not UTF-8",
            ),
            worker_connections: registry
                .gauge("gate_worker_connections", "open worker connections"),
            requests: registry.counter("gate_requests_total", "request lines received"),
            answers: registry.counter(
                "gate_answers_total",
                "worker answers routed to a waiting client",
            ),
            timeouts: registry.counter(
                "gate_timeouts_total",
                "requests answered with status -2 (no worker answer in time, or dispatch failed)",
            ),
            dispatch_failures: registry.counter(
                "gate_dispatch_failures_total",
                "jobs that could not be queued on NATS (answered -2 at once)",
            ),
            link_jobs: registry.counter(
                "gate_link_jobs_total",
                "jobs sent down a worker link that offered to take them (the rest go to NATS)",
            ),
            link_offers_ignored: registry.counter(
                "gate_link_offers_ignored_total",
                "offers to take jobs from worker links that did not prove the link secret",
            ),
            held_jobs_lost: registry.counter(
                "gate_held_jobs_lost_total",
                "jobs answered -2 at once because the worker link that took them closed",
            ),
            worker_lines_dropped: registry.counter(
                "gate_worker_lines_dropped_total",
                "worker answers for unknown, expired or already answered jobs",
            ),
            worker_protocol_errors: registry.counter(
                "gate_worker_protocol_errors_total",
                "worker connections closed for a malformed line",
            ),
            worker_links_refused: registry.counter(
                "gate_worker_links_refused_total",
                "worker connections closed for a missing, malformed, wrong or late link proof",
            ),
            in_flight: registry.gauge("gate_in_flight", "requests waiting for their answer"),
            jobs_held: registry.gauge(
                "gate_jobs_held",
                "requests a worker link holds (taken notice, or sent down it) and has not answered yet",
            ),
            round_trip: registry.histogram(
                "gate_round_trip_seconds",
                "time from a request line to its worker answer",
                LATENCY_BUCKETS,
            ),
            dispatch_delay: registry.histogram(
                "gate_dispatch_seconds",
                "time from a request line to its job being stored in Redis and handed to NATS",
                LATENCY_BUCKETS,
            ),
        }
    }
}
