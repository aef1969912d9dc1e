//! The operators' credential for privileged issues (issue 16): `/issue_token` mints an
//! admin token, or any token with a `role`, only for a request whose
//! [`ISSUER_KEY_HEADER`] holds the issuer key (`--issuer-key`, from the Secret). Network
//! reach to auth is not enough.

use std::fmt;

use sha2::{Digest, Sha256};

/// The request header that carries the issuer key.
pub const ISSUER_KEY_HEADER: &str = "x-issuer-key";

/// Shorter keys are guessable; the same floor as the JWT key's.
pub const MIN_ISSUER_KEY_BYTES: usize = 32;

/// The issuer key, kept only as its SHA-256 digest: comparing digests of equal length
/// makes the comparison's time independent of the presented key's length and content.
#[derive(Clone)]
pub struct IssuerKey {
    digest: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerKeyError {
    TooShort { len: usize },
}

impl fmt::Display for IssuerKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssuerKeyError::TooShort { len } => write!(
                f,
                "the issuer key has {len} bytes; at least {MIN_ISSUER_KEY_BYTES} are required"
            ),
        }
    }
}

impl std::error::Error for IssuerKeyError {}

impl IssuerKey {
    pub fn new(key: &[u8]) -> Result<IssuerKey, IssuerKeyError> {
        if key.len() < MIN_ISSUER_KEY_BYTES {
            return Err(IssuerKeyError::TooShort { len: key.len() });
        }
        Ok(IssuerKey {
            digest: Sha256::digest(key).into(),
        })
    }

    /// Constant time: every byte of the two digests is looked at, whatever differs.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented).into();
        let difference = self
            .digest
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssuerKey(..)")
    }
}

/// Why a privileged issue was refused (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This auth has no `--issuer-key`: it issues no admin token at all.
    NotConfigured,
    /// The request carries no issuer key header.
    Missing,
    /// The header holds another key.
    Wrong,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::NotConfigured => {
                "admin tokens and roles are not issued: this auth has no --issuer-key"
            }
            Refused::Missing => "admin tokens and roles need the issuer key (X-Issuer-Key)",
            Refused::Wrong => "the issuer key does not match",
        })
    }
}

impl std::error::Error for Refused {}

/// Does a request presenting `header` (the value of [`ISSUER_KEY_HEADER`]) hold the key?
pub fn check(key: Option<&IssuerKey>, header: Option<&str>) -> Result<(), Refused> {
    let key = key.ok_or(Refused::NotConfigured)?;
    let presented = header.ok_or(Refused::Missing)?;
    if key.matches(presented.as_bytes()) {
        Ok(())
    } else {
        Err(Refused::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"issuer key of at least thirty-two bytes";

    #[test]
    fn short_keys_are_refused() {
        let e = IssuerKey::new(&[1; 31]).unwrap_err();
        assert_eq!(e, IssuerKeyError::TooShort { len: 31 });
        assert!(e.to_string().contains("at least 32"), "{e}");
        assert!(IssuerKey::new(&[1; 32]).is_ok());
    }

    #[test]
    fn only_the_exact_key_matches() {
        let key = IssuerKey::new(KEY).unwrap();
        assert!(key.matches(KEY));
        let mut near = KEY.to_vec();
        near[0] ^= 1;
        for wrong in [&near[..], &KEY[..KEY.len() - 1], b"", &[KEY, b"x"].concat()] {
            assert!(!key.matches(wrong), "{:?}", String::from_utf8_lossy(wrong));
        }
    }

    #[test]
    fn check_says_why() {
        let key = IssuerKey::new(KEY).unwrap();
        let text = std::str::from_utf8(KEY).unwrap();
        assert_eq!(check(Some(&key), Some(text)), Ok(()));
        assert_eq!(check(Some(&key), None), Err(Refused::Missing));
        assert_eq!(check(Some(&key), Some("guess")), Err(Refused::Wrong));
        assert_eq!(check(None, Some(text)), Err(Refused::NotConfigured));
        assert_eq!(format!("{:?}", key), "IssuerKey(..)");
    }
}
