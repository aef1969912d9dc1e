//! Where the gate's job ids come from. The id itself is the contract's
//! ([`shared::contract::JobId`]).

pub use shared::contract::{JobId, JOB_ID_LEN};

/// Random job ids, drawn from the OS 256 at a time: one syscall per 256 requests
/// instead of one per request on the gate's hot path.
pub struct JobIdSource {
    pool: [u8; 4096],
    used: usize,
}

impl Default for JobIdSource {
    fn default() -> Self {
        JobIdSource {
            pool: [0; 4096],
            used: 4096,
        }
    }
}

impl JobIdSource {
    pub fn new() -> JobIdSource {
        JobIdSource::default()
    }

    pub fn next_id(&mut self) -> JobId {
        if self.used == self.pool.len() {
            shared::ids::fill_random(&mut self.pool);
            self.used = 0;
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&self.pool[self.used..self.used + 16]);
        self.used += 16;
        JobId::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_never_repeats_across_refills() {
        let mut source = JobIdSource::new();
        let ids: std::collections::HashSet<JobId> = (0..1000).map(|_| source.next_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
