//! The job dispatcher thread: stores `gate.job.<jid>` for a whole batch of jobs in one
//! Redis pipeline, then publishes them on NATS `jobs`.
//!
//! The event loop hands over the jobs of each iteration and keeps serving sockets; jobs
//! that cannot be stored or published are reported back so their clients get the -2
//! answer at once instead of waiting for the job timeout.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use shared::nats::Client;
use shared::redis_conn::RedisPool;

use crate::gate_metrics::GateMetrics;
use crate::job_id::{JobId, JOB_ID_LEN};
use crate::registration::GateIdCell;

/// The NATS subject every job goes to.
pub const JOBS_SUBJECT: &str = "jobs";
/// Seconds `gate.job.<jid>` lives (the contract's `EX 10`).
pub const JOB_KEY_TTL_SECS: u64 = 10;
/// Jobs stored in one Redis pipeline at most; a backlog goes out in several.
const MAX_PIPELINE: usize = 4096;

/// A job ready to go: `payload` is the NATS message `<jid>~<request line>`.
pub struct NewJob {
    pub jid: JobId,
    pub payload: Vec<u8>,
    /// When the request line was read.
    pub created: Instant,
    pub deadline: Instant,
}

impl NewJob {
    pub fn new(jid: JobId, line: &str, created: Instant, deadline: Instant) -> NewJob {
        use std::io::Write;
        let mut payload = Vec::with_capacity(JOB_ID_LEN + 1 + line.len());
        let _ = write!(payload, "{jid}~");
        payload.extend_from_slice(line.as_bytes());
        NewJob {
            jid,
            payload,
            created,
            deadline,
        }
    }

    fn jid_text(&self) -> &[u8] {
        &self.payload[..JOB_ID_LEN]
    }
}

/// What the dispatcher tells the event loop.
pub type FailedJobs = Vec<JobId>;

pub struct Dispatcher {
    pub jobs: Receiver<Vec<NewJob>>,
    pub failed: Sender<FailedJobs>,
    pub wake_loop: Arc<mio::Waker>,
    pub redis: Arc<RedisPool>,
    pub nats: Client,
    pub gid: GateIdCell,
    pub metrics: GateMetrics,
}

impl Dispatcher {
    /// Runs until the event loop drops its sender.
    pub fn run(self) {
        let mut batch: Vec<NewJob> = Vec::new();
        while let Ok(first) = self.jobs.recv() {
            batch.extend(first);
            // Whatever piled up while the last batch was out goes in this one.
            while batch.len() < MAX_PIPELINE {
                match self.jobs.try_recv() {
                    Ok(more) => batch.extend(more),
                    Err(_) => break,
                }
            }
            let now = Instant::now();
            // The loop already answered these with -2; sending them would only load workers.
            batch.retain(|job| job.deadline > now);
            if batch.is_empty() {
                continue;
            }
            let failed = self.dispatch(&batch);
            if !failed.is_empty() {
                self.metrics.dispatch_failures.add(failed.len() as u64);
                if self.failed.send(failed).is_ok() {
                    let _ = self.wake_loop.wake();
                }
            }
            batch.clear();
        }
    }

    /// Stores and publishes `batch`; returns the jobs that did not go out.
    fn dispatch(&self, batch: &[NewJob]) -> FailedJobs {
        let all = || batch.iter().map(|j| j.jid).collect::<FailedJobs>();
        let Some(gid) = self.gid.get() else {
            shared::warn!("jobs failed: gate not registered", jobs = batch.len());
            return all();
        };
        let mut pipe = redis::pipe();
        for job in batch {
            let mut key = Vec::with_capacity(9 + JOB_ID_LEN);
            key.extend_from_slice(b"gate.job.");
            key.extend_from_slice(job.jid_text());
            pipe.cmd("SET")
                .arg(key)
                .arg(gid)
                .arg("EX")
                .arg(JOB_KEY_TTL_SECS)
                .ignore();
        }
        if let Err(e) = self.redis.run(|c| pipe.query::<()>(c)) {
            shared::warn!("jobs failed: redis", jobs = batch.len(), error = e);
            return all();
        }
        let mut failed = FailedJobs::new();
        for job in batch {
            if let Err(e) = self.nats.publish(JOBS_SUBJECT, &job.payload) {
                if failed.is_empty() {
                    shared::warn!("job publish failed", error = e);
                }
                failed.push(job.jid);
            }
        }
        let published = Instant::now();
        for job in batch {
            self.metrics.dispatch_delay.observe(
                published
                    .saturating_duration_since(job.created)
                    .as_secs_f64(),
            );
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_jid_tilde_line() {
        let jid = JobId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let now = Instant::now();
        let job = NewJob::new(jid, "{\"function\":\"x~y\"}", now, now);
        assert_eq!(
            job.payload,
            b"0123456789abcdef0123456789abcdef~{\"function\":\"x~y\"}"
        );
        assert_eq!(job.jid_text(), b"0123456789abcdef0123456789abcdef");
    }
}
