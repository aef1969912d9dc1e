//! A job as it arrives on NATS: `<jid>~<request line>`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub jid: String,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    NotUtf8,
    NoSeparator,
    /// The job id is not the 32 lowercase hex characters a gate makes.
    BadJid(String),
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::NotUtf8 => write!(f, "payload is not UTF-8"),
            JobError::NoSeparator => write!(f, "payload has no `~` after the job id"),
            JobError::BadJid(jid) => write!(f, "job id {jid:?} is not 32 lowercase hex characters"),
        }
    }
}

impl std::error::Error for JobError {}

pub const JID_LEN: usize = 32;

/// Splits a payload on its first `~` into job id and request line.
pub fn parse_job(payload: &[u8]) -> Result<Job, JobError> {
    let text = std::str::from_utf8(payload).map_err(|_| JobError::NotUtf8)?;
    let (jid, line) = text.split_once('~').ok_or(JobError::NoSeparator)?;
    let valid = jid.len() == JID_LEN && jid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        // Only a prefix: the log line stays short whatever was sent.
        return Err(JobError::BadJid(jid.chars().take(40).collect()));
    }
    Ok(Job {
        jid: jid.to_string(),
        line: line.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn splits_on_the_first_tilde_only() {
        let job = parse_job(format!("{JID}~{{\"a\":\"x~y\"}}").as_bytes()).unwrap();
        assert_eq!(job.jid, JID);
        assert_eq!(job.line, "{\"a\":\"x~y\"}");
        assert_eq!(parse_job(format!("{JID}~").as_bytes()).unwrap().line, "");
    }

    #[test]
    fn malformed_payloads_are_refused() {
        assert_eq!(parse_job(b"no separator"), Err(JobError::NoSeparator));
        assert_eq!(parse_job(b"\xff\xfe~x"), Err(JobError::NotUtf8));
        assert_eq!(parse_job(b"~x"), Err(JobError::BadJid(String::new())));
        assert!(matches!(parse_job(b"abc~x"), Err(JobError::BadJid(_))));
        let upper = JID.to_uppercase();
        assert!(matches!(
            parse_job(format!("{upper}~x").as_bytes()),
            Err(JobError::BadJid(_))
        ));
        let long = format!("{JID}0~x");
        assert!(matches!(
            parse_job(long.as_bytes()),
            Err(JobError::BadJid(_))
        ));
    }
}
