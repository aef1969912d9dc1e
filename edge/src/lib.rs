//! The chat edge: one mio loop holds every client connection, logs clients in with a
//! nonce redeemed from Redis, and relays chat through NATS to every edge's local members.
//!
//! [`Edge::start`] runs the whole service (client port, loop thread, login helpers, admin
//! port; [`service`]) and returns it running; the binary only wires flags and signals to it.

#![forbid(unsafe_code)]

pub mod allowance;
pub mod channels;
pub mod codec;
pub mod conn;
pub mod keys;
pub mod login;
pub mod metrics;
pub mod options;
pub mod rate;
pub mod redeemer;
pub mod server;
pub mod service;

pub use options::{Options, SPEC};
pub use service::{Edge, NatsLinks, StartError, FAMILY_QUEUE, PUBLIC_QUEUE};
