//! The opening of a connection on the worker port: when the gate holds a link secret, it
//! sends a challenge at accept and reads nothing but the worker's proof line until the
//! proof checks out (shared::contract spells both lines). Pure state: the event loop
//! feeds it the connection's line buffer and asks it about deadlines.

use std::fmt;
use std::time::Instant;

use shared::contract::{
    encode_link_challenge, verify_link_proof, LinkNonce, LinkProofError, LinkSecret, LINK_LINE_MAX,
    LINK_PROOF_TIMEOUT,
};
use shared::framing::{FrameError, LineBuffer};

/// Where a worker connection stands.
#[derive(Debug)]
pub enum Opening {
    /// Answer lines are read (proved, or the gate has no secret).
    Open,
    /// The challenge went out; the proof must arrive before `deadline`.
    Awaiting { nonce: LinkNonce, deadline: Instant },
}

/// Why a worker connection was refused before its first answer.
#[derive(Debug)]
pub enum OpeningError {
    Proof(LinkProofError),
    /// More than [`LINK_LINE_MAX`] bytes without a line end.
    TooLong,
    Frame(FrameError),
    /// No proof within [`LINK_PROOF_TIMEOUT`].
    Late,
}

impl fmt::Display for OpeningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpeningError::Proof(e) => write!(f, "worker link refused: {e}"),
            OpeningError::TooLong => {
                write!(
                    f,
                    "worker link refused: over {LINK_LINE_MAX} bytes before a proof"
                )
            }
            OpeningError::Frame(e) => write!(f, "worker link refused: {e}"),
            OpeningError::Late => write!(
                f,
                "worker link refused: no proof within {LINK_PROOF_TIMEOUT:?}"
            ),
        }
    }
}

impl std::error::Error for OpeningError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpeningError::Proof(e) => Some(e),
            OpeningError::Frame(e) => Some(e),
            _ => None,
        }
    }
}

impl Opening {
    /// A new connection's state and the challenge to send it (nothing without a secret).
    pub fn start(secret: Option<&LinkSecret>, now: Instant) -> (Opening, Vec<u8>) {
        match secret {
            None => (Opening::Open, Vec::new()),
            Some(_) => {
                let nonce = LinkNonce::random();
                let mut challenge = Vec::with_capacity(80);
                encode_link_challenge(&mut challenge, &nonce);
                let deadline = now + LINK_PROOF_TIMEOUT;
                (Opening::Awaiting { nonce, deadline }, challenge)
            }
        }
    }

    /// Takes the proof line from `lines` once it is complete; true when answer lines may
    /// be read. What follows the proof stays in `lines`.
    pub fn advance(
        &mut self,
        secret: Option<&LinkSecret>,
        lines: &mut LineBuffer,
    ) -> Result<bool, OpeningError> {
        let Opening::Awaiting { nonce, .. } = self else {
            return Ok(true);
        };
        // A gate whose secret went away cannot check: refuse rather than open.
        let secret = secret.ok_or(OpeningError::Proof(LinkProofError::WrongProof))?;
        match lines.next_line() {
            Ok(Some(line)) => {
                verify_link_proof(secret, nonce, line).map_err(OpeningError::Proof)?;
                *self = Opening::Open;
                return Ok(true);
            }
            Ok(None) => {}
            Err(e) => return Err(OpeningError::Frame(e)),
        }
        if lines.pending() > LINK_LINE_MAX {
            return Err(OpeningError::TooLong);
        }
        Ok(false)
    }

    /// True when the proof is overdue.
    pub fn expired(&self, now: Instant) -> bool {
        matches!(self, Opening::Awaiting { deadline, .. } if now >= *deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::contract::{encode_link_proof, parse_link_challenge};

    fn secret(text: &str) -> LinkSecret {
        LinkSecret::from_config(text).unwrap().unwrap()
    }

    fn proof_for(key: &LinkSecret, challenge: &[u8]) -> Vec<u8> {
        let text = std::str::from_utf8(challenge).unwrap().trim_end();
        let nonce = parse_link_challenge(text).unwrap();
        let mut proof = Vec::new();
        encode_link_proof(&mut proof, key, &nonce);
        proof
    }

    #[test]
    fn without_a_secret_the_link_is_open_at_once() {
        let (mut opening, challenge) = Opening::start(None, Instant::now());
        assert!(challenge.is_empty());
        let mut lines = LineBuffer::new(1024);
        assert!(opening.advance(None, &mut lines).unwrap());
        assert!(!opening.expired(Instant::now() + LINK_PROOF_TIMEOUT * 2));
    }

    #[test]
    fn a_proof_split_anywhere_opens_and_leaves_the_answers() {
        let key = secret("0123456789abcdef");
        let now = Instant::now();
        let (mut opening, challenge) = Opening::start(Some(&key), now);
        assert!(challenge.starts_with(b"challenge ") && challenge.ends_with(b"\r\n"));
        let mut bytes = proof_for(&key, &challenge);
        bytes.extend_from_slice(b"answer\r\n");
        let mut lines = LineBuffer::new(1024);
        let (head, tail) = bytes.split_at(30);
        lines.extend(head);
        assert!(!opening.advance(Some(&key), &mut lines).unwrap());
        lines.extend(tail);
        assert!(opening.advance(Some(&key), &mut lines).unwrap());
        assert_eq!(lines.next_line().unwrap(), Some("answer"));
        assert!(!opening.expired(now + LINK_PROOF_TIMEOUT));
    }

    #[test]
    fn forged_wrong_long_and_late_openings_are_refused() {
        let key = secret("0123456789abcdef");
        let now = Instant::now();
        let forged = format!("{}~{{\"status\":0}}\r\n", "0".repeat(32));
        let (_, other_challenge) = Opening::start(Some(&key), now);
        let replayed = proof_for(&key, &other_challenge);
        let (_, challenge) = Opening::start(Some(&key), now);
        let wrong_secret = proof_for(&secret("0123456789abcdeX"), &challenge);
        for (bytes, what) in [
            (forged.into_bytes(), "an answer line instead of a proof"),
            (replayed, "another connection's proof"),
            (wrong_secret, "another secret"),
        ] {
            let (mut opening, _) = Opening::start(Some(&key), now);
            let mut lines = LineBuffer::new(1024);
            lines.extend(&bytes);
            assert!(
                matches!(
                    opening.advance(Some(&key), &mut lines),
                    Err(OpeningError::Proof(_))
                ),
                "{what}"
            );
        }
        let (mut opening, _) = Opening::start(Some(&key), now);
        let mut lines = LineBuffer::new(1024);
        lines.extend(&[b'a'; LINK_LINE_MAX + 1]);
        assert!(matches!(
            opening.advance(Some(&key), &mut lines),
            Err(OpeningError::TooLong)
        ));
        assert!(!opening.expired(now));
        assert!(opening.expired(now + LINK_PROOF_TIMEOUT));
    }
}
