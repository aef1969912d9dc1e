//! Job ids: 128 random bits, written as 32 lowercase hex characters on the wire.
//!
//! Kept as a `u128` inside the gate so the job table hashes and compares a number, not a
//! string, on every request and answer.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JobId(u128);

/// Wire length of a job id.
pub const JOB_ID_LEN: usize = 32;

impl JobId {
    /// A fresh random id (the same 16 random bytes `shared::ids::job_id` renders as hex).
    pub fn random() -> JobId {
        let mut bytes = [0u8; 16];
        shared::ids::fill_random(&mut bytes);
        JobId(u128::from_be_bytes(bytes))
    }

    /// Exactly 32 lowercase hex characters; anything else is not a job id.
    pub fn parse(text: &str) -> Option<JobId> {
        if text.len() != JOB_ID_LEN {
            return None;
        }
        let mut value: u128 = 0;
        for b in text.bytes() {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return None,
            };
            value = (value << 4) | u128::from(digit);
        }
        Some(JobId(value))
    }
}

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
        JobId(u128::from_be_bytes(bytes))
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_32_lowercase_hex_and_parses_back() {
        let id = JobId::random();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert!(text
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_eq!(JobId::parse(&text), Some(id));
        assert_ne!(JobId::random(), id);
    }

    #[test]
    fn the_source_never_repeats_across_refills() {
        let mut source = JobIdSource::new();
        let ids: std::collections::HashSet<JobId> = (0..1000).map(|_| source.next_id()).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn leading_zeros_are_kept() {
        assert_eq!(JobId(1).to_string(), format!("{}1", "0".repeat(31)));
        assert_eq!(JobId::parse(&JobId(1).to_string()), Some(JobId(1)));
    }

    #[test]
    fn rejects_anything_but_32_lowercase_hex() {
        let good = "0123456789abcdef0123456789abcdef";
        assert!(JobId::parse(good).is_some());
        for bad in [
            "",
            "0123456789abcdef0123456789abcde",   // 31
            "0123456789abcdef0123456789abcdef0", // 33
            "0123456789ABCDEF0123456789abcdef",  // upper case
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef0123456789abcde ",
            "+123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(JobId::parse(bad), None, "{bad:?}");
        }
    }
}
