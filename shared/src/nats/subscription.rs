//! The receiving end of one SUB.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use super::{Client, Msg, NatsError};

/// Messages for one subscription, queued by the client's reader thread. Holds a clone of
/// its [`Client`], so the connection lives as long as the subscription. Dropping it
/// unsubscribes.
pub struct Subscription {
    client: Client,
    sid: u64,
    receiver: Receiver<Msg>,
    dropped: Arc<AtomicU64>,
    queued: Arc<AtomicUsize>,
    unsubscribed: AtomicBool,
}

impl Subscription {
    pub(super) fn new(
        client: Client,
        sid: u64,
        receiver: Receiver<Msg>,
        dropped: Arc<AtomicU64>,
        queued: Arc<AtomicUsize>,
    ) -> Subscription {
        Subscription {
            client,
            sid,
            receiver,
            dropped,
            queued,
            unsubscribed: AtomicBool::new(false),
        }
    }

    /// Waits for the next message; `Closed` once unsubscribed (after what was queued) or
    /// when the client closed.
    pub fn recv(&self) -> Result<Msg, NatsError> {
        let msg = self.receiver.recv().map_err(|_| NatsError::Closed)?;
        Ok(self.taken(msg))
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<Msg, NatsError> {
        let msg = self.receiver.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => NatsError::Timeout,
            RecvTimeoutError::Disconnected => NatsError::Closed,
        })?;
        Ok(self.taken(msg))
    }

    /// The next queued message without waiting: `Ok(None)` if there is none yet.
    pub fn try_recv(&self) -> Result<Option<Msg>, NatsError> {
        match self.receiver.try_recv() {
            Ok(msg) => Ok(Some(self.taken(msg))),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(NatsError::Closed),
        }
    }

    fn taken(&self, msg: Msg) -> Msg {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        msg
    }

    /// Messages queued for this subscription and not yet received.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub fn sid(&self) -> u64 {
        self.sid
    }

    /// Messages dropped because this subscription's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops delivery. Messages already queued can still be received. Idempotent.
    pub fn unsubscribe(&self) {
        if !self.unsubscribed.swap(true, Ordering::Relaxed) {
            self.client.unsubscribe(self.sid);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.unsubscribe();
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
        sub.try_recv().unwrap().unwrap();
        assert_eq!(sub.queued(), 0);
        assert_eq!(sub.try_recv().unwrap(), None);
        assert_eq!(sub.queued(), 0);
    }
}
