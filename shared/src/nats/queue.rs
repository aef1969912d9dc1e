//! The bounded queue between the reader thread and one subscription. Unlike a std channel
//! its receiving end can be shared: several threads may wait on one subscription, and each
//! message wakes exactly one of them. Receivers that wait on more than the queue (a
//! worker's job threads also wait on their gate links) set an arrival hook instead and
//! take messages without waiting.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::Msg;

pub(super) struct Queue {
    state: Mutex<State>,
    arrived: Condvar,
    capacity: usize,
    /// Payload bytes queued at most; a message that does not fit is refused, unless the
    /// queue is empty (so one message larger than the bound still gets through).
    capacity_bytes: usize,
    /// Called after each message queued and at the end, for receivers that wait elsewhere
    /// than in [`Queue::pop`] (a worker's job threads wait on their gate links too).
    on_arrival: OnceLock<Arrival>,
}

/// See [`Queue::on_arrival`].
pub type Arrival = Arc<dyn Fn() + Send + Sync>;

struct State {
    items: VecDeque<Msg>,
    /// Sum of the queued payloads' lengths.
    bytes: usize,
    /// The reader will push no more (unsubscribed or client closed).
    ended: bool,
    /// The subscription is gone; pushing is pointless.
    abandoned: bool,
    /// Threads blocked in `pop`; a push wakes one only when there is one.
    waiting: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum PushError {
    Full,
    Abandoned,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum PopError {
    /// Nothing arrived in time (or at once, for a zero wait).
    Empty,
    /// Drained and ended.
    Ended,
}

/// The reader's end; dropping it ends the queue (receivers drain, then see `Ended`).
pub(super) struct QueueSender(Arc<Queue>);

impl Queue {
    pub fn new(capacity: usize, capacity_bytes: usize) -> (QueueSender, Arc<Queue>) {
        let queue = Arc::new(Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                bytes: 0,
                ended: false,
                abandoned: false,
                waiting: 0,
            }),
            arrived: Condvar::new(),
            capacity: capacity.max(1),
            capacity_bytes,
            on_arrival: OnceLock::new(),
        });
        (QueueSender(queue.clone()), queue)
    }

    /// Calls `arrival` after every message queued from now on, and when the queue ends.
    /// Set once; later calls are ignored.
    pub fn on_arrival(&self, arrival: Arrival) {
        let _ = self.on_arrival.set(arrival);
    }

    fn announce(&self, wake: bool) {
        if wake {
            self.arrived.notify_one();
        }
        if let Some(arrival) = self.on_arrival.get() {
            arrival();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next message, waiting up to `wait` (`None`: without limit).
    pub fn pop(&self, wait: Option<Duration>) -> Result<Msg, PopError> {
        let deadline = wait.map(|w| Instant::now() + w);
        let mut state = self.lock();
        loop {
            if let Some(msg) = state.items.pop_front() {
                state.bytes -= msg.payload.len();
                return Ok(msg);
            }
            if state.ended {
                return Err(PopError::Ended);
            }
            state.waiting += 1;
            state = match deadline {
                None => self.arrived.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        state.waiting -= 1;
                        return Err(PopError::Empty);
                    }
                    self.arrived
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            state.waiting -= 1;
        }
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Payload bytes queued.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Queues `msg` beside what the reader queues, past the capacity: the caller bounds
    /// what it puts in. Refused once the queue ended (nobody may receive it any more) or
    /// was abandoned.
    pub fn inject(&self, msg: Msg) -> Result<(), Msg> {
        let mut state = self.lock();
        if state.abandoned || state.ended {
            return Err(msg);
        }
        state.bytes += msg.payload.len();
        state.items.push_back(msg);
        let wake = state.waiting > 0;
        drop(state);
        self.announce(wake);
        Ok(())
    }

    /// The subscription is dropped: later pushes fail instead of piling up.
    pub fn abandon(&self) {
        let mut state = self.lock();
        state.abandoned = true;
        state.items.clear();
        state.bytes = 0;
    }
}

impl QueueSender {
    pub fn try_push(&self, msg: Msg) -> Result<(), PushError> {
        let queue = &self.0;
        let mut state = queue.lock();
        if state.abandoned {
            return Err(PushError::Abandoned);
        }
        let len = msg.payload.len();
        let over_bytes = !state.items.is_empty() && state.bytes + len > queue.capacity_bytes;
        if state.items.len() >= queue.capacity || over_bytes {
            return Err(PushError::Full);
        }
        state.bytes += len;
        state.items.push_back(msg);
        let wake = state.waiting > 0;
        drop(state);
        queue.announce(wake);
        Ok(())
    }
}

impl Drop for QueueSender {
    fn drop(&mut self) {
        self.0.lock().ended = true;
        self.0.arrived.notify_all();
        self.0.announce(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u8) -> Msg {
        Msg {
            subject: "s".into(),
            reply: None,
            payload: vec![n],
            sid: 1,
            received: std::time::Instant::now(),
        }
    }

    const NOW: Option<Duration> = Some(Duration::ZERO);

    #[test]
    fn keeps_order_bounds_and_drains_before_ending() {
        let (sender, queue) = Queue::new(2, usize::MAX);
        assert_eq!(queue.pop(NOW), Err(PopError::Empty));
        sender.try_push(msg(1)).unwrap();
        sender.try_push(msg(2)).unwrap();
        assert_eq!(sender.try_push(msg(3)), Err(PushError::Full));
        assert_eq!(queue.len(), 2);
        drop(sender);
        assert_eq!(queue.pop(None).unwrap().payload, [1]);
        assert_eq!(queue.pop(NOW).unwrap().payload, [2]);
        assert_eq!(queue.pop(None), Err(PopError::Ended));
    }

    #[test]
    fn injected_messages_pass_a_full_queue_wake_a_waiter_and_stop_at_the_end() {
        let (sender, queue) = Queue::new(1, usize::MAX);
        sender.try_push(msg(1)).unwrap();
        assert_eq!(sender.try_push(msg(2)), Err(PushError::Full));
        queue.inject(msg(3)).unwrap();
        assert_eq!(queue.pop(NOW).unwrap().payload, [1]);
        assert_eq!(queue.pop(NOW).unwrap().payload, [3]);
        let waiter = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.pop(None).map(|m| m.payload))
        };
        while queue.lock().waiting == 0 {
            std::thread::yield_now();
        }
        queue.inject(msg(4)).unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(vec![4]));
        drop(sender);
        assert_eq!(queue.inject(msg(5)).map_err(|m| m.payload), Err(vec![5]));
        let (_sender, abandoned) = Queue::new(1, usize::MAX);
        abandoned.abandon();
        assert!(abandoned.inject(msg(6)).is_err());
    }

    #[test]
    fn an_arrival_hook_hears_every_message_and_the_end() {
        let (sender, queue) = Queue::new(1, usize::MAX);
        let heard = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = heard.clone();
        queue.on_arrival(Arc::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        sender.try_push(msg(1)).unwrap();
        assert!(sender.try_push(msg(2)).is_err(), "refused: not heard");
        queue.inject(msg(3)).unwrap();
        assert_eq!(heard.load(std::sync::atomic::Ordering::SeqCst), 2);
        drop(sender);
        assert_eq!(heard.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    fn sized(len: usize) -> Msg {
        Msg {
            payload: vec![7; len],
            ..msg(0)
        }
    }

    #[test]
    fn payload_bytes_are_bounded_too() {
        let (sender, queue) = Queue::new(100, 10);
        sender.try_push(sized(6)).unwrap();
        sender.try_push(sized(4)).unwrap();
        assert_eq!(queue.bytes(), 10);
        assert_eq!(sender.try_push(sized(1)), Err(PushError::Full));
        assert_eq!(queue.len(), 2, "the refused message is not queued");
        assert_eq!(queue.pop(NOW).unwrap().payload.len(), 6);
        assert_eq!(queue.bytes(), 4);
        sender.try_push(sized(6)).unwrap();
        assert_eq!(sender.try_push(sized(1)), Err(PushError::Full));
        queue.pop(NOW).unwrap();
        queue.pop(NOW).unwrap();
        // One message over the bound alone still passes: nothing else would ever carry it.
        sender.try_push(sized(50)).unwrap();
        assert_eq!(sender.try_push(sized(1)), Err(PushError::Full));
        assert_eq!(queue.pop(NOW).unwrap().payload.len(), 50);
        assert_eq!(queue.bytes(), 0);
    }

    #[test]
    fn an_abandoned_queue_refuses_pushes() {
        let (sender, queue) = Queue::new(4, usize::MAX);
        sender.try_push(msg(1)).unwrap();
        queue.abandon();
        assert_eq!(sender.try_push(msg(2)), Err(PushError::Abandoned));
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn each_message_reaches_one_of_several_waiting_threads() {
        let (sender, queue) = Queue::new(1000, usize::MAX);
        let takers: Vec<_> = (0..4)
            .map(|_| {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Ok(m) = queue.pop(Some(Duration::from_secs(10))) {
                        got.push(m.payload[0]);
                    }
                    got
                })
            })
            .collect();
        for n in 0..200u8 {
            sender.try_push(msg(n)).unwrap();
        }
        drop(sender);
        let mut all: Vec<u8> = takers.into_iter().flat_map(|t| t.join().unwrap()).collect();
        all.sort();
        assert_eq!(all, (0..200u8).collect::<Vec<_>>());
    }

    #[test]
    fn a_timed_pop_gives_up_and_a_blocked_one_sees_the_end() {
        let (sender, queue) = Queue::new(1, usize::MAX);
        let started = Instant::now();
        assert_eq!(
            queue.pop(Some(Duration::from_millis(30))),
            Err(PopError::Empty)
        );
        assert!(started.elapsed() >= Duration::from_millis(30));
        let waiter = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.pop(None))
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(sender);
        assert_eq!(waiter.join().unwrap(), Err(PopError::Ended));
    }
}
