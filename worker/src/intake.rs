//! Where the job threads wait for work: the NATS subscription's queue and the gate links
//! that carry jobs (shared::contract, "Link jobs"), both at once, on one epoll set
//! (shared::poller). A link is registered one-shot, so the kernel wakes one idle job
//! thread when a gate writes to it; that thread reads what arrived and runs the first job
//! itself. Only a read that brings several jobs queues the rest, waking other idle
//! threads for them. Before, a reader thread per link handed every job to a job thread:
//! two wake-ups per job instead of one (docs/perf.md).
//!
//! Threads: none of its own; the job threads call [`JobIntake::next`]. Stop order: the
//! gate links stop sending (`GateLink::stop_taking`, whose thread reads them too, with
//! [`LinkSources::queue_ready`], in case every job thread is busy, until each link's end
//! is seen and [`LinkState::done`] is set), then NATS delivery drains and `next`
//! returns `None` once the queue is empty.

use std::collections::HashMap;
use std::io;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::contract;
use shared::framing::LineBuffer;
use shared::metrics::Counter;
use shared::nats::{self, Injector, NatsError, Subscription};
use shared::poller::{Event, Poller};
use shared::sock;

use crate::gate_link::{lock, LinkState};
use crate::job::Job;
use crate::metrics::WorkerMetrics;

/// How often an idle job thread checks whether the worker is stopping.
const STOP_POLL: Duration = Duration::from_millis(200);
/// How long a stopping worker waits for NATS to confirm its unsubscribe (the jobs sent
/// before it are then all in hand), and for each gate link to send its last job.
pub(crate) const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// The subject a job read from a gate link carries in the job threads' queue. It holds a
/// space, so no NATS message can carry it.
const LINK_JOB: &str = "gate link";
/// Longest job line a gate sends down a link: a request line and its header.
const LINK_JOB_MAX: usize = shared::framing::GATE_MAX_LINE + 256;
/// Most bytes one thread reads from a link at a time; a link holding more is reported
/// again at once and read on by the next idle thread.
const READ_CHUNK: usize = 64 * 1024;

/// The gate links that carry jobs, watched by the job threads' poller.
pub struct LinkSources {
    poller: Arc<Poller>,
    /// Where [`LinkSources::queue_ready`] puts what it reads.
    injector: Injector,
    sources: Mutex<HashMap<u64, Arc<LinkSource>>>,
    next_token: AtomicU64,
    /// Job lines read from links.
    link_jobs: Arc<Counter>,
    /// Job lines refused (unreadable, or naming another gate).
    refused: Arc<Counter>,
}

/// A link [`LinkSources::open`] found: its gate, its state, and a way to end it.
pub struct OpenLink(Arc<LinkSource>);

impl OpenLink {
    pub fn gid(&self) -> u32 {
        self.0.gid
    }

    pub fn state(&self) -> &LinkState {
        &self.0.state
    }

    /// Shuts the link's socket both ways (every copy of it): the gate answers the jobs
    /// it still holds for this link -2.
    pub fn shut(&self) {
        let _ = self.0.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// One link's reading end: read by the thread the poller reported it to (one-shot), or by
/// a stopping worker's stop thread; the lock keeps it to one reader at a time.
struct LinkSource {
    gid: u32,
    stream: TcpStream,
    state: Arc<LinkState>,
    lines: Mutex<(LineBuffer, Vec<u8>)>,
}

impl LinkSources {
    fn new(
        poller: Arc<Poller>,
        injector: Injector,
        link_jobs: Arc<Counter>,
        refused: Arc<Counter>,
    ) -> LinkSources {
        LinkSources {
            poller,
            injector,
            sources: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(0),
            link_jobs,
            refused,
        }
    }

    /// Starts reading the jobs gate `gid` sends down `stream` (a copy of the link's
    /// socket; the link's writers keep theirs, in blocking mode).
    pub fn add(&self, stream: TcpStream, gid: u32, state: Arc<LinkState>) -> io::Result<()> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let source = Arc::new(LinkSource {
            gid,
            stream,
            state,
            lines: Mutex::new((LineBuffer::new(LINK_JOB_MAX), vec![0; READ_CHUNK])),
        });
        lock(&self.sources).insert(token, source.clone());
        if let Err(e) = self.poller.add(source.stream.as_fd(), token) {
            lock(&self.sources).remove(&token);
            return Err(e);
        }
        Ok(())
    }

    /// The links still read (each is dropped once its end was read), for a stopping
    /// worker to end.
    pub fn open(&self) -> Vec<OpenLink> {
        lock(&self.sources)
            .values()
            .map(|source| OpenLink(source.clone()))
            .collect()
    }

    /// Reads every link once and queues the jobs read for the job threads: a stopping
    /// worker reads its links to their end this way even while every job thread is busy.
    pub fn queue_ready(&self) {
        let tokens: Vec<u64> = lock(&self.sources).keys().copied().collect();
        let mut jobs = Vec::new();
        for token in tokens {
            let Some(source) = self.read(token, &mut jobs) else {
                continue;
            };
            for job in jobs.drain(..) {
                if self.injector.push(job).is_err() {
                    source.ended(false);
                }
            }
        }
    }

    /// Reads what link `token` holds into `jobs`, then watches it again; a link that
    /// ended is dropped and marked done. The link read, if it is still known.
    fn read(&self, token: u64, jobs: &mut Vec<nats::Msg>) -> Option<Arc<LinkSource>> {
        let source = lock(&self.sources).get(&token).cloned()?;
        let before = jobs.len();
        let open = source.read(jobs, &self.refused)
            && self.poller.rearm(source.stream.as_fd(), token).is_ok();
        self.link_jobs.add((jobs.len() - before) as u64);
        if !open {
            let _ = self.poller.remove(source.stream.as_fd());
            lock(&self.sources).remove(&token);
            source.state.done.store(true, Ordering::Release);
        }
        Some(source)
    }
}

impl LinkSource {
    /// One read: the job lines it completes go to `jobs`. False when the link ended: the
    /// gate shut its side (after `jobs 0`, the end of its jobs; else a close), or it broke.
    fn read(&self, jobs: &mut Vec<nats::Msg>, refused: &Counter) -> bool {
        let mut guard = lock(&self.lines);
        let (lines, chunk) = &mut *guard;
        let n = match sock::recv_nonblocking(self.stream.as_fd(), chunk) {
            Ok(0) => return self.ended(self.state.finishing.load(Ordering::Acquire)),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return true
            }
            Err(_) => return self.ended(false),
        };
        let received = Instant::now();
        lines.extend(&chunk[..n]);
        loop {
            let line = match lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => return true,
                Err(e) => {
                    shared::warn!(
                        "gate link sent a broken job line",
                        gid = self.gid,
                        error = e
                    );
                    return self.ended(false);
                }
            };
            match contract::parse_job(line.as_bytes()) {
                Ok(job) if job.header.gate == Some(self.gid) => {}
                Ok(job) => {
                    refused.inc();
                    shared::warn!(
                        "refused a link job naming another gate",
                        gid = self.gid,
                        named = format!("{:?}", job.header.gate)
                    );
                    continue;
                }
                Err(e) => {
                    refused.inc();
                    shared::warn!("refused a malformed link job", gid = self.gid, error = e);
                    continue;
                }
            }
            jobs.push(nats::Msg {
                subject: LINK_JOB.to_string(),
                reply: None,
                payload: line.as_bytes().to_vec(),
                sid: 0,
                received,
            });
        }
    }

    /// The link's end; one that did not end as agreed is shut both ways, so the gate
    /// sees it and answers its jobs -2, and answers go over a new connection.
    fn ended(&self, finished: bool) -> bool {
        if !finished {
            self.state.closed.store(true, Ordering::Release);
            let _ = self.stream.shutdown(std::net::Shutdown::Both);
        }
        false
    }
}

/// The job threads' source of jobs: the NATS subscription and, with a link secret, the
/// gate links.
pub struct JobIntake {
    subscription: Subscription,
    injector: Injector,
    poller: Arc<Poller>,
    links: Option<Arc<LinkSources>>,
    /// Job threads waiting in the poller: a queued message wakes one only if there is one.
    idle: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    metrics: Arc<WorkerMetrics>,
}

/// What one look for work found.
enum Took {
    Msg(nats::Msg),
    /// Nothing yet: look at the stop flag, then again.
    Nothing,
    Ended(NatsError),
}

impl JobIntake {
    /// `take_links`: read jobs from gate links (a worker with a link secret).
    /// `threads`: the job threads that will call [`JobIntake::next`].
    pub fn new(
        subscription: Subscription,
        take_links: bool,
        threads: usize,
        stop: Arc<AtomicBool>,
        metrics: Arc<WorkerMetrics>,
    ) -> io::Result<JobIntake> {
        let poller = Arc::new(Poller::new(threads)?);
        let idle = Arc::new(AtomicUsize::new(0));
        let links = take_links.then(|| {
            Arc::new(LinkSources::new(
                poller.clone(),
                subscription.injector(),
                metrics.link_jobs.clone(),
                metrics.link_jobs_refused.clone(),
            ))
        });
        {
            let (poller, idle) = (poller.clone(), idle.clone());
            subscription.on_arrival(Arc::new(move || {
                if idle.load(Ordering::SeqCst) > 0 {
                    poller.wake();
                }
            }));
        }
        Ok(JobIntake {
            injector: subscription.injector(),
            subscription,
            poller,
            links,
            idle,
            stop,
            metrics,
        })
    }

    /// The gate links to read jobs from (`None` without a link secret).
    pub fn links(&self) -> Option<Arc<LinkSources>> {
        self.links.clone()
    }

    /// The next well-formed job still in time, and when it arrived; `None` once the
    /// worker stops and every job NATS already handed over has been taken.
    pub fn next(&self) -> Option<(Job, Instant)> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                // No more deliveries, but every job NATS already sent us is taken and
                // answered; what is queued is still received, then `Closed`.
                self.subscription.drain(DRAIN_WAIT);
            }
            let took = self.take();
            self.record_queue();
            let msg = match took {
                Took::Msg(msg) => msg,
                Took::Nothing => continue,
                Took::Ended(NatsError::Closed) if self.stop.load(Ordering::Relaxed) => return None,
                Took::Ended(e) => {
                    shared::error!("job subscription ended", error = e);
                    return None;
                }
            };
            match Job::parse(&msg.payload, msg.received).map(|mut job| {
                job.via_link = msg.subject == LINK_JOB;
                job
            }) {
                Ok(job) if job.expired(Instant::now()) => {
                    self.metrics.expired_jobs.inc();
                    shared::debug!("dropped a job past its deadline", jid = job.jid);
                }
                Ok(job) => return Some((job, msg.received)),
                Err(e) => {
                    self.metrics.malformed_jobs.inc();
                    shared::warn!("dropped malformed job", error = e);
                }
            }
        }
    }

    fn record_queue(&self) {
        let subscription = &self.subscription;
        self.metrics.queue_depth.set(subscription.queued() as i64);
        let bytes = subscription.queued_bytes();
        self.metrics
            .queue_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        let dropped = subscription.dropped();
        self.metrics
            .queue_full
            .set(i64::try_from(dropped).unwrap_or(i64::MAX));
    }

    /// A queued message, or the first job of a link the poller reports ready, or nothing
    /// within [`STOP_POLL`].
    fn take(&self) -> Took {
        if let Some(took) = self.queued() {
            return took;
        }
        // Counted idle before looking again: a message queued after this look sees the
        // count and wakes the poller (see `on_arrival` in `new`).
        self.idle.fetch_add(1, Ordering::SeqCst);
        let event = match self.queued() {
            None => self.poller.wait(STOP_POLL),
            Some(took) => {
                self.idle.fetch_sub(1, Ordering::SeqCst);
                return took;
            }
        };
        self.idle.fetch_sub(1, Ordering::SeqCst);
        match event {
            Ok(Event::Ready(token)) => self.read_link(token),
            Ok(Event::Woken) => self.queued().unwrap_or(Took::Nothing),
            Ok(Event::TimedOut) => Took::Nothing,
            Err(e) => {
                shared::error!("job poller failed", error = e);
                std::thread::sleep(STOP_POLL);
                Took::Nothing
            }
        }
    }

    /// The next queued message, if any. Every message queued while a thread was idle gave
    /// a wake of its own (see `on_arrival` in `new`), so nothing is passed on here.
    fn queued(&self) -> Option<Took> {
        match self.subscription.try_recv() {
            Ok(Some(msg)) => Some(Took::Msg(msg)),
            Ok(None) => None,
            Err(e) => {
                // The queue's end gave one wake: pass it on to the next idle thread.
                self.poller.wake();
                Some(Took::Ended(e))
            }
        }
    }

    /// Reads link `token`: its first job is this thread's, the rest are queued for others.
    fn read_link(&self, token: u64) -> Took {
        let Some(links) = &self.links else {
            return Took::Nothing;
        };
        let mut jobs = Vec::new();
        let Some(source) = links.read(token, &mut jobs) else {
            return Took::Nothing;
        };
        let mut jobs = jobs.into_iter();
        let Some(first) = jobs.next() else {
            return Took::Nothing;
        };
        for job in jobs {
            // Refused only once the queue ended: the worker stopped and nobody would run
            // it. The link is shut, so the gate answers its jobs -2 at once.
            if self.injector.push(job).is_err() {
                source.ended(false);
                break;
            }
        }
        Took::Msg(first)
    }
}
