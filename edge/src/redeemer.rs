//! Nonce redemption off the event loop.
//!
//! A Redis round trip is short, but a slow or restarting Redis would stall every chat
//! connection if the loop waited for it. So the loop hands nonces to a few helper threads
//! and carries on; each answer comes back through a channel and wakes the loop.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use mio::Waker;
use shared::redis_conn::RedisPool;

use crate::login::{self, Identity, LoginError};

/// Names the connection a lookup is for. The slot may be reused by a new connection while
/// the lookup runs, so the connection's unique serial is carried too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub slot: usize,
    pub serial: u64,
}

struct Job {
    ticket: Ticket,
    nonce: String,
}

pub struct Answer {
    pub ticket: Ticket,
    pub result: Result<Identity, LoginError>,
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
                    let result = login::redeem(&pool, &job.nonce);
                    if answer_tx
                        .send(Answer {
                            ticket: job.ticket,
                            result,
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

    pub fn submit(&self, ticket: Ticket, nonce: String) {
        if let Some(jobs) = &self.jobs {
            // Sending fails only when every helper died, which the answers would never
            // show; the login timeout then closes the connection.
            let _ = jobs.send(Job { ticket, nonce });
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
