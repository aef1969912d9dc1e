//! Our own NATS core client: publish, subscribe (with queue groups), flush, and automatic
//! reconnect. No JetStream, no headers, no TLS.
//!
//! - [`proto`]: the wire protocol, pure and unit-tested (parser, encoders, subject checks).
//! - [`Client`]: a blocking, thread-safe connection. Clone it freely; the connection closes
//!   when [`Client::close`] is called or the last clone (including the clone every
//!   [`Subscription`] holds) is dropped.
//!
//! # Threads
//! Each client runs two threads. The *writer* owns nothing but a shared output buffer:
//! [`Client::publish`] appends one encoded frame under a mutex and wakes the writer, which
//! sends everything that piled up in one `write` call, so many small publishes cost few
//! syscalls. When nothing is queued and the writer is idle, `publish` instead sends its
//! frame itself with a non-blocking `send` (still under the mutex, so frames keep their
//! order), which saves the hand-off to the writer; what the socket does not take at once
//! is left to the writer. The *reader* parses what the server sends, answers its PINGs, sends our own
//! PING every [`Options::ping_interval`], hands messages to subscriptions, and reconnects
//! with backoff when the connection breaks (re-sending CONNECT and every live SUB with the
//! same sid and queue group, then the publishes buffered during the outage).
//!
//! # Use from a mio event loop
//! `publish` never blocks on the network, so it can be called from an event loop. To
//! receive in the loop, register a [`mio::Waker`] with its own token and subscribe with
//! [`Client::subscribe_with_waker`]: the reader wakes it after it queued messages (once
//! per read batch), and the loop drains the subscription with
//! [`Subscription::try_recv`] when that token fires:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use shared::nats::{Client, Options};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! const NATS: mio::Token = mio::Token(0);
//! let mut poll = mio::Poll::new()?;
//! let waker = Arc::new(mio::Waker::new(poll.registry(), NATS)?);
//! let client = Client::connect("nats://127.0.0.1:4222", Options::named("edge"))?;
//! let chat = client.subscribe_with_waker("chat.s0.public", None, waker)?;
//! let mut events = mio::Events::with_capacity(256);
//! loop {
//!     poll.poll(&mut events, None)?;
//!     for event in events.iter() {
//!         if event.token() == NATS {
//!             while let Ok(Some(msg)) = chat.try_recv() {
//!                 // relay msg.payload to the local members
//! #               let _ = msg;
//!             }
//!         }
//!     }
//! }
//! # }
//! ```
//!
//! # Delivery
//! At most once, as NATS core is: messages in flight when a connection breaks are lost.
//! Each subscription has a bounded queue ([`Options::subscription_capacity`] messages and
//! [`Options::subscription_capacity_bytes`] payload bytes); when its
//! owner does not keep up, new messages are dropped and counted
//! ([`Subscription::dropped`], [`Client::dropped_messages`]) instead of stalling the
//! reader and thereby every other subscription.

mod client;
mod handshake;
pub mod proto;
mod queue;
mod servers;
mod state;
mod subscription;
mod threads;

use std::fmt;
use std::time::Duration;

pub use client::Client;
pub use proto::{valid_publish_subject, valid_queue_group, valid_subject};
pub use queue::Arrival;
pub use servers::Credentials;
pub use subscription::{Injector, Subscription};

/// A message received on a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub subject: String,
    pub reply: Option<String>,
    pub payload: Vec<u8>,
    /// The subscription it was delivered to.
    pub sid: u64,
    /// When the reader took it off the socket: a message may wait in the subscription's
    /// queue, and time budgets (a job's deadline) count from its arrival.
    pub received: std::time::Instant,
}

/// Tuning of a [`Client`]; `Options::default()` suits the services.
#[derive(Clone, Debug)]
pub struct Options {
    /// Sent in CONNECT; shows up in the server's connection list.
    pub name: String,
    /// How often we PING the server; two unanswered PINGs mean the connection is dead.
    pub ping_interval: Duration,
    /// Unanswered PINGs after which the connection counts as dead.
    pub max_pings_outstanding: u32,
    /// Publishes kept while disconnected, in encoded bytes; beyond it `BufferFull`.
    pub reconnect_buffer_bytes: usize,
    /// Bytes waiting for the writer while connected; beyond it `BufferFull`. Only reached
    /// when the server or the network cannot keep up.
    pub max_pending_bytes: usize,
    /// Messages a subscription queues before it drops new ones.
    pub subscription_capacity: usize,
    /// Payload bytes a subscription queues before it drops new ones (a worker's job
    /// backlog is bounded in memory, not only in count).
    pub subscription_capacity_bytes: usize,
    /// Limit for the TCP connect and for the server's answers during the handshake.
    pub connect_timeout: Duration,
    /// First delay between reconnect attempts; it doubles per failure up to the maximum.
    pub reconnect_delay_min: Duration,
    pub reconnect_delay_max: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            name: "lukseun".to_string(),
            ping_interval: Duration::from_secs(10),
            max_pings_outstanding: 2,
            reconnect_buffer_bytes: 8 * 1024 * 1024,
            max_pending_bytes: 64 * 1024 * 1024,
            subscription_capacity: 65_536,
            subscription_capacity_bytes: 256 * 1024 * 1024,
            connect_timeout: Duration::from_secs(2),
            reconnect_delay_min: Duration::from_millis(50),
            reconnect_delay_max: Duration::from_secs(1),
        }
    }
}

impl Options {
    /// Default options with the client name set (use the service name).
    pub fn named(name: &str) -> Options {
        Options {
            name: name.to_string(),
            ..Options::default()
        }
    }
}

/// A [`Client::publish_batch`] that stopped early: the first `published` messages are
/// queued, the rest are not.
#[derive(Debug)]
pub struct BatchError {
    pub published: usize,
    pub error: NatsError,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (after {} messages)", self.error, self.published)
    }
}

impl std::error::Error for BatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

#[derive(Debug)]
pub enum NatsError {
    Io(std::io::Error),
    /// The server URL list could not be understood.
    InvalidUrl(String),
    /// The server sent something we cannot follow, or asked for something we do not
    /// support (TLS).
    Protocol(String),
    /// `-ERR` from the server during the handshake.
    ServerError(String),
    /// The server refused our credentials (or their absence): `-ERR 'Authorization
    /// Violation'` during the handshake.
    NotAuthorized(String),
    /// The server refused a SUB under this user's permissions; the subscription ended.
    PermissionDenied(String),
    /// The output buffer is over its limit (see [`Options::reconnect_buffer_bytes`]).
    BufferFull,
    PayloadTooLarge {
        size: usize,
        max: usize,
    },
    InvalidSubject(String),
    InvalidQueueGroup(String),
    Timeout,
    /// The client was closed, or the subscription was unsubscribed.
    Closed,
}

impl fmt::Display for NatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatsError::Io(e) => write!(f, "nats i/o error: {e}"),
            NatsError::InvalidUrl(url) => write!(f, "invalid nats url: {url}"),
            NatsError::Protocol(e) => write!(f, "nats protocol error: {e}"),
            NatsError::ServerError(e) => write!(f, "nats server error: {e}"),
            NatsError::NotAuthorized(e) => write!(
                f,
                "nats server refused the credentials ({e}): check the user and password in the url"
            ),
            NatsError::PermissionDenied(e) => write!(f, "nats permission denied: {e}"),
            NatsError::BufferFull => write!(f, "nats output buffer full"),
            NatsError::PayloadTooLarge { size, max } => {
                write!(f, "nats payload of {size} bytes exceeds max_payload {max}")
            }
            NatsError::InvalidSubject(s) => write!(f, "invalid nats subject {s:?}"),
            NatsError::InvalidQueueGroup(q) => write!(f, "invalid nats queue group {q:?}"),
            NatsError::Timeout => write!(f, "nats operation timed out"),
            NatsError::Closed => write!(f, "nats connection closed"),
        }
    }
}

impl std::error::Error for NatsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NatsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for NatsError {
    fn from(e: std::io::Error) -> NatsError {
        NatsError::Io(e)
    }
}

impl From<proto::ProtoError> for NatsError {
    fn from(e: proto::ProtoError) -> NatsError {
        NatsError::Protocol(e.to_string())
    }
}
