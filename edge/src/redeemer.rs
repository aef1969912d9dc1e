//! Redis work off the event loop: nonce redemption and the players' chat allowances.
//!
//! A Redis round trip is short, but a slow or restarting Redis would stall every chat
//! connection if the loop waited for it. So the loop hands the work to a few helper
//! threads (`--login-threads`) and carries on; each answer comes back through a channel
//! and wakes the loop. The threads end when the `Redeemer` is dropped (the job channel
//! closes), after their current job.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use mio::Waker;
use shared::redis_conn::{RedisError, RedisPool};

use crate::allowance;
use crate::login::{self, Identity, LoginError};

/// Names the connection a lookup is for. The slot may be reused by a new connection while
/// the lookup runs, so the connection's unique serial is carried too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub slot: usize,
    pub serial: u64,
}

/// What a helper asks Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// Redeem a login nonce.
    Redeem { nonce: String },
    /// Take one frame from the player's allowance at `key`.
    Spend { key: String, rate: u32 },
}

/// What Redis answered, by the kind of work.
#[derive(Debug)]
pub enum Outcome {
    Login(Result<Identity, LoginError>),
    /// `Ok(false)`: over the player's allowance; `Err`: Redis could not be asked.
    Allowance(Result<bool, RedisError>),
}

struct Job {
    ticket: Ticket,
    work: Work,
}

pub struct Answer {
    pub ticket: Ticket,
    pub outcome: Outcome,
}

fn perform(pool: &RedisPool, work: &Work) -> Outcome {
    match work {
        Work::Redeem { nonce } => Outcome::Login(login::redeem(pool, nonce)),
        Work::Spend { key, rate } => Outcome::Allowance(allowance::take(pool, key, *rate)),
    }
}

pub struct Redeemer {
    jobs: Option<Sender<Job>>,
    answers: Receiver<Answer>,
    threads: Vec<JoinHandle<()>>,
}

impl Redeemer {
    pub fn start(
        pool: Arc<RedisPool>,
        threads: usize,
        waker: Arc<Waker>,
    ) -> std::io::Result<Redeemer> {
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (answer_tx, answers) = mpsc::channel::<Answer>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let jobs = job_rx.clone();
            let answer_tx = answer_tx.clone();
            let pool = pool.clone();
            let waker = waker.clone();
            let handle = std::thread::Builder::new()
                .name(format!("edge-login-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job, not while Redis answers.
                    let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return, // the loop is gone
                    };
                    let outcome = perform(&pool, &job.work);
                    if answer_tx
                        .send(Answer {
                            ticket: job.ticket,
                            outcome,
                        })
                        .is_err()
                    {
                        return;
                    }
                    let _ = waker.wake();
                })?;
            handles.push(handle);
        }
        Ok(Redeemer {
            jobs: Some(job_tx),
            answers,
            threads: handles,
        })
    }

    pub fn submit(&self, ticket: Ticket, work: Work) {
        if let Some(jobs) = &self.jobs {
            // Sending fails only when every helper died, which the answers would never
            // show; the login (or idle) timeout then closes the connection.
            let _ = jobs.send(Job { ticket, work });
        }
    }

    /// The next finished lookup, if any.
    pub fn try_answer(&self) -> Option<Answer> {
        // Empty, or every helper ended (then the login timeout closes the waiting clients).
        self.answers.try_recv().ok()
    }
}

impl Drop for Redeemer {
    fn drop(&mut self) {
        // Closing the job channel ends every helper after its current lookup.
        self.jobs.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
