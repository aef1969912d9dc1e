//! The receiving end of one SUB.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    unsubscribed: AtomicBool,
}

impl Subscription {
    pub(super) fn new(
        client: Client,
        sid: u64,
        receiver: Receiver<Msg>,
        dropped: Arc<AtomicU64>,
    ) -> Subscription {
        Subscription {
            client,
            sid,
            receiver,
            dropped,
            unsubscribed: AtomicBool::new(false),
        }
    }

    /// Waits for the next message; `Closed` once unsubscribed (after what was queued) or
    /// when the client closed.
    pub fn recv(&self) -> Result<Msg, NatsError> {
        self.receiver.recv().map_err(|_| NatsError::Closed)
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<Msg, NatsError> {
        self.receiver.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => NatsError::Timeout,
            RecvTimeoutError::Disconnected => NatsError::Closed,
        })
    }

    /// The next queued message without waiting: `Ok(None)` if there is none yet.
    pub fn try_recv(&self) -> Result<Option<Msg>, NatsError> {
        match self.receiver.try_recv() {
            Ok(msg) => Ok(Some(msg)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(NatsError::Closed),
        }
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
