//! The receiving end of one SUB.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::queue::{Arrival, PopError, Queue};
use super::{Client, Msg, NatsError};

/// Messages for one subscription, queued by the client's reader thread. Holds a clone of
/// its [`Client`], so the connection lives as long as the subscription. Dropping it
/// unsubscribes. Several threads may receive from one subscription at once (share it in
/// an `Arc`): each message goes to one of them.
pub struct Subscription {
    client: Client,
    sid: u64,
    queue: Arc<Queue>,
    dropped: Arc<AtomicU64>,
    unsubscribed: AtomicBool,
    /// The server's refusal, when it refused the SUB.
    refused: Arc<OnceLock<String>>,
}

impl Subscription {
    pub(super) fn new(
        client: Client,
        sid: u64,
        queue: Arc<Queue>,
        dropped: Arc<AtomicU64>,
        refused: Arc<OnceLock<String>>,
    ) -> Subscription {
        Subscription {
            client,
            sid,
            queue,
            dropped,
            unsubscribed: AtomicBool::new(false),
            refused,
        }
    }

    /// What an ended queue means: the server refused the SUB, or it was closed.
    fn ended(&self) -> NatsError {
        match self.refused.get() {
            Some(text) => NatsError::PermissionDenied(text.clone()),
            None => NatsError::Closed,
        }
    }

    /// Waits for the next message; `Closed` once unsubscribed (after what was queued) or
    /// when the client closed; `PermissionDenied` when the server refused the SUB.
    pub fn recv(&self) -> Result<Msg, NatsError> {
        self.queue.pop(None).map_err(|_| self.ended())
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<Msg, NatsError> {
        self.queue.pop(Some(timeout)).map_err(|e| match e {
            PopError::Empty => NatsError::Timeout,
            PopError::Ended => self.ended(),
        })
    }

    /// The next queued message without waiting: `Ok(None)` if there is none yet.
    pub fn try_recv(&self) -> Result<Option<Msg>, NatsError> {
        match self.queue.pop(Some(Duration::ZERO)) {
            Ok(msg) => Ok(Some(msg)),
            Err(PopError::Empty) => Ok(None),
            Err(PopError::Ended) => Err(self.ended()),
        }
    }

    /// The server's refusal of this SUB, if it refused it (see
    /// [`NatsError::PermissionDenied`]).
    pub fn refused(&self) -> Option<&str> {
        self.refused.get().map(String::as_str)
    }

    /// Messages queued for this subscription and not yet received.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Payload bytes queued for this subscription and not yet received.
    pub fn queued_bytes(&self) -> usize {
        self.queue.bytes()
    }

    pub fn sid(&self) -> u64 {
        self.sid
    }

    /// Messages dropped because this subscription's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops delivery after every message the server already sent has arrived (an UNSUB,
    /// then a PING/PONG round trip of at most `timeout`): for a graceful stop that must
    /// not drop work handed over just before it. Messages queued can still be received.
    pub fn drain(&self, timeout: std::time::Duration) {
        if !self.unsubscribed.swap(true, Ordering::Relaxed) {
            self.client.drain(self.sid, timeout);
        }
    }

    /// A handle that queues messages from elsewhere on this subscription, for its
    /// receivers to take like the server's (a worker's jobs from its gate links reach the
    /// job threads this way, with no thread in between).
    pub fn injector(&self) -> Injector {
        Injector {
            queue: self.queue.clone(),
        }
    }

    /// Calls `arrival` after every message queued for this subscription (by the server or
    /// an [`Injector`]) and when the subscription ends, for receivers that wait elsewhere
    /// and take messages with [`Subscription::try_recv`]. Set once.
    pub fn on_arrival(&self, arrival: Arrival) {
        self.queue.on_arrival(arrival);
    }

    /// Stops delivery. Messages already queued can still be received. Idempotent.
    pub fn unsubscribe(&self) {
        if !self.unsubscribed.swap(true, Ordering::Relaxed) {
            self.client.unsubscribe(self.sid);
        }
    }
}

/// Queues messages on a [`Subscription`] (see [`Subscription::injector`]).
#[derive(Clone)]
pub struct Injector {
    queue: Arc<Queue>,
}

impl Injector {
    /// Queues `msg` past the subscription's capacity (the caller bounds what it puts in);
    /// gives it back once the subscription ended or was dropped: nobody would take it.
    pub fn push(&self, msg: Msg) -> Result<(), Msg> {
        self.queue.inject(msg)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.unsubscribe();
        self.queue.abandon();
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("sid", &self.sid)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Options;
    use super::*;

    #[test]
    fn queued_counts_what_waits_to_be_received() {
        let nats = testkit::Nats::start();
        let client = Client::connect(&nats.url(), Options::named("queued")).unwrap();
        let sub = client.subscribe("q", None).unwrap();
        assert_eq!(sub.queued(), 0);
        for _ in 0..3 {
            client.publish("q", b"x").unwrap();
        }
        client.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(sub.queued(), 3);
        sub.recv().unwrap();
        sub.recv_timeout(Duration::from_secs(1)).unwrap();
        assert_eq!(sub.queued(), 1);
        assert_eq!(sub.queued_bytes(), 1);
        sub.try_recv().unwrap().unwrap();
        assert_eq!(sub.queued(), 0);
        assert_eq!(sub.queued_bytes(), 0);
        assert_eq!(sub.try_recv().unwrap(), None);
        assert_eq!(sub.queued(), 0);
    }
}
