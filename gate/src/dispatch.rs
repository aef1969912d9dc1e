//! Publishing jobs: the event loop hands each iteration's new jobs to [`Publisher`], which
//! queues them on NATS `jobs` in one batch (one lock of the client's buffer and, when its
//! writer is idle, one `send` from the loop's own thread: no hand-off to another thread per
//! batch). Each job carries this gate's id, its time left and the client's address (the
//! contract's job line). The seed contract also stored `gate.job.<jid>` in Redis for every
//! job so that workers could find the gate; the gate id in the job makes that record, and
//! the Redis round trip per batch, unnecessary (docs/PROTOCOL.md, "Project additions").
//!
//! Nothing here waits for the network: a job that cannot be queued (gate not registered,
//! NATS buffer full or closed) is returned at once, and its client gets -2 without waiting
//! for the job timeout.

use std::net::IpAddr;
use std::time::Instant;

use shared::contract::{encode_job, JobHeader, JOBS_SUBJECT};
use shared::nats::Client;

use crate::gate_metrics::GateMetrics;
use crate::job_id::JobId;
use crate::registration::GateIdCell;

/// A job ready to go. Its NATS payload is written at publishing, when the gate id and the
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
    /// The job's header as sent by gate `gid` at `now`; `link_jobs` when the gate sends
    /// jobs down worker links that offer to take them.
    pub fn header(&self, gid: u32, now: Instant, link_jobs: bool) -> JobHeader {
        let left = self.deadline.saturating_duration_since(now);
        JobHeader {
            gate: Some(gid),
            budget_ms: Some(u64::try_from(left.as_millis()).unwrap_or(u64::MAX)),
            client: self.client,
            link_jobs,
        }
    }

    /// The job's NATS payload as published by gate `gid` at `now`.
    fn payload(&self, out: &mut Vec<u8>, gid: u32, now: Instant, link_jobs: bool) {
        out.clear();
        encode_job(out, self.jid, &self.header(gid, now, link_jobs), &self.line);
    }
}

pub struct Publisher {
    pub nats: Client,
    pub gid: GateIdCell,
    pub metrics: GateMetrics,
    /// The jobs say `l=1`: this gate sends jobs down proven links that offer to take them.
    pub link_jobs: bool,
}

impl Publisher {
    /// Queues `batch` on NATS; returns the ids of the jobs that did not go out (the tail of
    /// the batch from the first that failed).
    pub fn publish(&self, batch: &[NewJob]) -> Vec<JobId> {
        let from = |i: usize| batch[i..].iter().map(|j| j.jid).collect::<Vec<JobId>>();
        let Some(gid) = self.gid.get() else {
            shared::warn!("jobs failed: gate not registered", jobs = batch.len());
            self.metrics.dispatch_failures.add(batch.len() as u64);
            return from(0);
        };
        let now = Instant::now();
        let published = self
            .nats
            .publish_batch(JOBS_SUBJECT, batch.len(), |i, payload| {
                batch[i].payload(payload, gid, now, self.link_jobs)
            });
        let failed = match published {
            Ok(()) => Vec::new(),
            Err(e) => {
                shared::warn!("job publish failed", error = e);
                self.metrics
                    .dispatch_failures
                    .add((batch.len() - e.published) as u64);
                from(e.published)
            }
        };
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
        job.payload(&mut out, 4, now, false);
        assert_eq!(
            out,
            b"0123456789abcdef0123456789abcdef g=4 t=9500 c=10.1.2.3~{\"function\":\"x~y\"}"
        );
        job.payload(&mut out, 4, now, true);
        assert!(out.starts_with(b"0123456789abcdef0123456789abcdef g=4 t=9500 c=10.1.2.3 l=1~"));
        // Past its deadline the budget is 0, never negative.
        job.payload(&mut out, 4, now + Duration::from_secs(11), false);
        assert!(out.starts_with(b"0123456789abcdef0123456789abcdef g=4 t=0 c=10.1.2.3~"));
    }
}
