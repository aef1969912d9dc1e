//! What the edge counts, exposed on the admin port's `/metrics`.

use std::sync::Arc;

use shared::metrics::{Counter, Gauge, Registry};

pub struct EdgeMetrics {
    pub connections: Arc<Gauge>,
    pub accepted: Arc<Counter>,
    pub refused_full: Arc<Counter>,
    pub frames_in: Arc<Counter>,
    pub frames_out: Arc<Counter>,
    pub protocol_errors: Arc<Counter>,
    pub logins: Arc<Counter>,
    pub login_failures: Arc<Counter>,
    pub rate_limited: Arc<Counter>,
    pub player_limited: Arc<Counter>,
    pub allowance_failures: Arc<Counter>,
    pub control_refused: Arc<Counter>,
    pub slow_dropped: Arc<Counter>,
    pub timeouts: Arc<Counter>,
    pub published: Arc<Counter>,
    pub publish_failures: Arc<Counter>,
    pub nats_received: Arc<Counter>,
    pub nats_rejected: Arc<Counter>,
    pub channels: Arc<Gauge>,
    pub chat_events: Arc<Counter>,
    pub chat_events_rejected: Arc<Counter>,
}

impl EdgeMetrics {
    pub fn register(r: &Registry) -> EdgeMetrics {
        EdgeMetrics {
            connections: r.gauge("edge_connections", "client connections held"),
            accepted: r.counter(
                "edge_connections_accepted_total",
                "client connections accepted",
            ),
            refused_full: r.counter(
                "edge_connections_refused_total",
                "connections refused at --max-connections",
            ),
            frames_in: r.counter("edge_frames_in_total", "frames received from clients"),
            frames_out: r.counter("edge_frames_out_total", "frames queued to clients"),
            protocol_errors: r.counter(
                "edge_protocol_errors_total",
                "connections closed for an unknown command, a bad frame or a frame over 4 KiB",
            ),
            logins: r.counter("edge_logins_total", "REGISTER frames accepted"),
            login_failures: r.counter(
                "edge_login_failures_total",
                "REGISTER frames refused (unknown, replayed or unsafe nonce, Redis down)",
            ),
            rate_limited: r.counter(
                "edge_rate_limited_frames_total",
                "frames dropped by the per-connection rate limit",
            ),
            player_limited: r.counter(
                "edge_player_rate_limited_frames_total",
                "frames dropped by the per-player rate limit (all connections and edges)",
            ),
            allowance_failures: r.counter(
                "edge_allowance_failures_total",
                "per-player allowance checks Redis did not answer (the frame passed on the per-connection limit)",
            ),
            control_refused: r.counter(
                "edge_control_characters_refused_total",
                "chat frames refused for a control character in their text",
            ),
            slow_dropped: r.counter(
                "edge_slow_clients_dropped_total",
                "clients dropped because their output exceeded --max-output-bytes",
            ),
            timeouts: r.counter(
                "edge_timeouts_total",
                "connections closed by the login or idle timeout",
            ),
            published: r.counter("edge_published_total", "chat messages published to NATS"),
            publish_failures: r.counter(
                "edge_publish_failures_total",
                "chat messages NATS did not take (buffer full, closed)",
            ),
            nats_received: r.counter(
                "edge_nats_messages_total",
                "chat messages received from NATS",
            ),
            nats_rejected: r.counter(
                "edge_nats_messages_rejected_total",
                "messages from NATS not relayed (not UTF-8 <gn>:<text>, or a control character in the text)",
            ),
            channels: r.gauge(
                "edge_channels_subscribed",
                "chat channels (NATS subjects) with local members",
            ),
            chat_events: r.counter(
                "edge_chat_events_total",
                "identity events from the worker applied (left, disbanded, renamed)",
            ),
            chat_events_rejected: r.counter(
                "edge_chat_events_rejected_total",
                "identity events not applied (unreadable, unknown kind, unsafe field)",
            ),
        }
    }
}
