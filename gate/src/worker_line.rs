//! The worker return line: `<jid>~<response JSON>` (the `\r\n` is stripped by the framing).
//!
//! The response is forwarded as it is: the gate checks only that the line names a job and
//! carries something to forward, never the JSON itself.

use std::fmt;

use crate::job_id::JobId;

#[derive(Debug, PartialEq, Eq)]
pub struct WorkerAnswer<'a> {
    pub jid: JobId,
    pub response: &'a str,
}

#[derive(Debug, PartialEq, Eq)]
pub enum WorkerLineError {
    /// No `~` in the line.
    MissingSeparator,
    /// The text before the first `~` is not 32 lowercase hex characters.
    BadJobId,
    /// Nothing after the `~`.
    EmptyResponse,
}

impl fmt::Display for WorkerLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerLineError::MissingSeparator => write!(f, "worker line has no '~'"),
            WorkerLineError::BadJobId => {
                write!(f, "worker line's job id is not 32 lowercase hex characters")
            }
            WorkerLineError::EmptyResponse => write!(f, "worker line has an empty response"),
        }
    }
}

impl std::error::Error for WorkerLineError {}

/// Splits on the first `~`: the response may contain `~` itself.
pub fn parse_worker_line(line: &str) -> Result<WorkerAnswer<'_>, WorkerLineError> {
    let (jid, response) = line
        .split_once('~')
        .ok_or(WorkerLineError::MissingSeparator)?;
    let jid = JobId::parse(jid).ok_or(WorkerLineError::BadJobId)?;
    if response.is_empty() {
        return Err(WorkerLineError::EmptyResponse);
    }
    Ok(WorkerAnswer { jid, response })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JID: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn splits_job_id_and_response() {
        let line = format!("{JID}~{{\"status\":0,\"message\":\"a~b\"}}");
        let answer = parse_worker_line(&line).unwrap();
        assert_eq!(answer.jid, JobId::parse(JID).unwrap());
        assert_eq!(answer.response, "{\"status\":0,\"message\":\"a~b\"}");
    }

    #[test]
    fn the_response_is_not_validated_as_json() {
        let line = format!("{JID}~not json at all");
        assert_eq!(
            parse_worker_line(&line).unwrap().response,
            "not json at all"
        );
    }

    #[test]
    fn broken_lines_say_what_is_wrong() {
        assert_eq!(
            parse_worker_line("no separator"),
            Err(WorkerLineError::MissingSeparator)
        );
        assert_eq!(parse_worker_line("~{}"), Err(WorkerLineError::BadJobId));
        assert_eq!(
            parse_worker_line("00112233445566778899AABBCCDDEEFF~{}"),
            Err(WorkerLineError::BadJobId)
        );
        assert_eq!(
            parse_worker_line(&format!("{JID}0~{{}}")),
            Err(WorkerLineError::BadJobId)
        );
        assert_eq!(
            parse_worker_line(&format!("{JID}~")),
            Err(WorkerLineError::EmptyResponse)
        );
        assert!(WorkerLineError::BadJobId
            .to_string()
            .contains("32 lowercase hex"));
    }
}
