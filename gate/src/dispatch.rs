//! The job dispatcher thread: publishes the jobs of each batch on NATS `jobs`, each
//! carrying this gate's id, its time left and the client's address (the contract's job
//! line). The seed contract also stored `gate.job.<jid>` in Redis for every job so that
//! workers could find the gate; the gate id in the job makes that record, and the Redis
//! round trip per batch, unnecessary (docs/PROTOCOL.md, "Project additions").
//!
//! The event loop hands over the jobs of each iteration and keeps serving sockets; jobs
//! that cannot be published are reported back so their clients get the -2 answer at once
//! instead of waiting for the job timeout.

use std::net::IpAddr;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use shared::contract::{encode_job, JobHeader, JOBS_SUBJECT, JOB_ID_LEN};
use shared::nats::Client;

use crate::gate_metrics::GateMetrics;
use crate::job_id::JobId;
use crate::registration::GateIdCell;
/// Jobs stored in one Redis pipeline at most; a backlog goes out in several.
const MAX_PIPELINE: usize = 4096;

/// A job ready to go. Its NATS payload is written at dispatch, when the gate id and the
/// time left are known (the contract's job line).
pub struct NewJob {
    pub jid: JobId,
    pub line: String,
    pub client: Option<IpAddr>,
    /// When the request line was read.
    pub created: Instant,
    pub deadline: Instant,
}

impl NewJob {
    /// The job's NATS payload as published by gate `gid` at `now`.
    fn payload(&self, out: &mut Vec<u8>, gid: u32, now: Instant) {
        let left = self.deadline.saturating_duration_since(now);
        let header = JobHeader {
            gate: Some(gid),
            budget_ms: Some(u64::try_from(left.as_millis()).unwrap_or(u64::MAX)),
            client: self.client,
        };
        out.clear();
        encode_job(out, self.jid, &header, &self.line);
    }
}

/// What the dispatcher tells the event loop.
pub type FailedJobs = Vec<JobId>;

pub struct Dispatcher {
    pub jobs: Receiver<Vec<NewJob>>,
    pub failed: Sender<FailedJobs>,
    pub wake_loop: Arc<mio::Waker>,
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

    /// Publishes `batch`; returns the jobs that did not go out.
    fn dispatch(&self, batch: &[NewJob]) -> FailedJobs {
        let all = || batch.iter().map(|j| j.jid).collect::<FailedJobs>();
        let Some(gid) = self.gid.get() else {
            shared::warn!("jobs failed: gate not registered", jobs = batch.len());
            return all();
        };
        let mut failed = FailedJobs::new();
        let now = Instant::now();
        let mut payload = Vec::with_capacity(JOB_ID_LEN + 64);
        for job in batch {
            job.payload(&mut payload, gid, now);
            if let Err(e) = self.nats.publish(JOBS_SUBJECT, &payload) {
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
    use std::time::Duration;

    #[test]
    fn the_payload_carries_the_gate_the_time_left_and_the_client() {
        let jid = JobId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let now = Instant::now();
        let job = NewJob {
            jid,
            line: "{\"function\":\"x~y\"}".to_string(),
            client: Some("10.1.2.3".parse().unwrap()),
            created: now,
            deadline: now + Duration::from_millis(9_500),
        };
        let mut out = b"left over".to_vec();
        job.payload(&mut out, 4, now);
        assert_eq!(
            out,
            b"0123456789abcdef0123456789abcdef g=4 t=9500 c=10.1.2.3~{\"function\":\"x~y\"}"
        );
        // Past its deadline the budget is 0, never negative.
        job.payload(&mut out, 4, now + Duration::from_secs(11));
        assert!(out.starts_with(b"0123456789abcdef0123456789abcdef g=4 t=0 c=10.1.2.3~"));
    }
}
