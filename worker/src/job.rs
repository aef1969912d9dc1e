//! A job as the worker holds it: the contract's job line ([`shared::contract`]), owned so
//! the job thread that took it can keep it, with the deadline its time budget gives.

use std::time::{Duration, Instant};

use shared::contract::{self, JobHeader, JobId, LineError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub jid: JobId,
    pub header: JobHeader,
    pub line: String,
    /// When the gate answers the client -2: arrival plus the job's budget. `None` for a
    /// job without a budget (a seed-contract gate).
    pub deadline: Option<Instant>,
    /// Read from its gate's link (which holds it: no taken notice), not from NATS.
    pub via_link: bool,
}

impl Job {
    /// Reads a NATS payload that arrived at `received`.
    pub fn parse(payload: &[u8], received: Instant) -> Result<Job, LineError> {
        let job = contract::parse_job(payload)?;
        Ok(Job {
            jid: job.jid,
            header: job.header,
            line: job.line.to_string(),
            deadline: job
                .header
                .budget_ms
                .map(|ms| received + Duration::from_millis(ms)),
            via_link: false,
        })
    }

    /// Past its deadline the gate has answered -2: running it would change state behind
    /// an answer that said it failed.
    pub fn expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|deadline| now >= deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_budget_becomes_a_deadline_from_arrival() {
        let arrived = Instant::now();
        let payload = format!("{JID} g=2 t=1500 c=10.0.0.1~{{\"a\":\"x~y\"}}");
        let job = Job::parse(payload.as_bytes(), arrived).unwrap();
        assert_eq!(job.jid.to_string(), JID);
        assert_eq!(job.line, "{\"a\":\"x~y\"}");
        assert_eq!(job.header.gate, Some(2));
        assert_eq!(job.deadline, Some(arrived + Duration::from_millis(1500)));
        assert!(!job.expired(arrived + Duration::from_millis(1499)));
        assert!(job.expired(arrived + Duration::from_millis(1500)));
    }

    #[test]
    fn a_job_without_a_budget_never_expires_here() {
        let arrived = Instant::now();
        let job = Job::parse(format!("{JID}~{{}}").as_bytes(), arrived).unwrap();
        assert_eq!(job.deadline, None);
        assert!(!job.expired(arrived + Duration::from_secs(3600)));
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let now = Instant::now();
        assert_eq!(
            Job::parse(b"no separator", now),
            Err(LineError::NoSeparator)
        );
        assert!(matches!(
            Job::parse(format!("{JID} t=soon~x").as_bytes(), now),
            Err(LineError::BadField(_))
        ));
    }
}
