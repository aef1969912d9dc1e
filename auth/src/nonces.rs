//! Single-use nonces: a JSON payload stored under a caller-chosen key, handed out once.
//!
//! A nonce lives at `auth.nonces.<nonce>` with an expiry. Registering never overwrites
//! (`SET NX`); redeeming uses `GETDEL`, so of two concurrent redeems of one nonce exactly
//! one gets the payload.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};
use shared::redis_conn::{RedisError, RedisPool};

pub const DEFAULT_TTL_SECS: u64 = 7 * 24 * 3600;
pub const MAX_TTL_SECS: u64 = 365 * 24 * 3600;
pub const MAX_NONCE_CHARS: usize = 128;
/// One redeem call answers at most this many keys; a mailbox holds far fewer.
pub const MAX_REDEEM_KEYS: usize = 1000;

/// A redeemed payload is answered as `{"status":0, ...payload}`, so the payload may not
/// carry its own `status`.
pub const RESERVED_FIELD: &str = "status";

pub type Payload = Map<String, Value>;

pub fn redis_key(nonce: &str) -> String {
    format!("auth.nonces.{nonce}")
}

#[derive(Debug, Clone, PartialEq)]
pub enum NonceError {
    Invalid { nonce: String, reason: &'static str },
    BadTtl(u64),
    ReservedField,
    TooManyKeys(usize),
    AlreadyRegistered(String),
    Unavailable(RedisError),
}

impl fmt::Display for NonceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NonceError::Invalid { nonce, reason } => {
                let shown: String = nonce.chars().take(40).collect();
                write!(f, "invalid nonce {shown:?}: {reason}")
            }
            NonceError::BadTtl(ttl) => {
                write!(f, "ttl {ttl} is out of range 1..={MAX_TTL_SECS} seconds")
            }
            NonceError::ReservedField => {
                write!(f, "payload must not contain the field \"{RESERVED_FIELD}\"")
            }
            NonceError::TooManyKeys(n) => {
                write!(f, "{n} keys in one redeem; at most {MAX_REDEEM_KEYS}")
            }
            NonceError::AlreadyRegistered(nonce) => {
                write!(f, "nonce {nonce:?} is already registered")
            }
            NonceError::Unavailable(why) => write!(f, "nonce store unavailable: {why}"),
        }
    }
}

impl std::error::Error for NonceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NonceError::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

/// Non-empty, at most 128 characters of `[A-Za-z0-9._:-]`: safe inside a Redis key and a log.
pub fn check_nonce(nonce: &str) -> Result<(), NonceError> {
    let reason = if nonce.is_empty() {
        "must not be empty"
    } else if nonce.len() > MAX_NONCE_CHARS {
        "longer than 128 characters"
    } else if !nonce
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        "only A-Z a-z 0-9 . _ : - are allowed"
    } else {
        return Ok(());
    };
    Err(NonceError::Invalid {
        nonce: nonce.to_string(),
        reason,
    })
}

pub struct Nonces {
    redis: Arc<RedisPool>,
}

impl Nonces {
    pub fn new(redis: Arc<RedisPool>) -> Nonces {
        Nonces { redis }
    }

    /// Stores `payload` under `nonce` for `ttl_secs`; an existing nonce is left untouched
    /// and answered with [`NonceError::AlreadyRegistered`].
    pub fn register(
        &self,
        nonce: &str,
        payload: &Payload,
        ttl_secs: u64,
    ) -> Result<(), NonceError> {
        check_nonce(nonce)?;
        if ttl_secs == 0 || ttl_secs > MAX_TTL_SECS {
            return Err(NonceError::BadTtl(ttl_secs));
        }
        if payload.contains_key(RESERVED_FIELD) {
            return Err(NonceError::ReservedField);
        }
        let json = serde_json::to_string(payload).expect("a JSON map always serialises");
        let key = redis_key(nonce);
        let stored: Option<String> = self
            .redis
            .run(|c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&json)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl_secs)
                    .query(c)
            })
            .map_err(NonceError::Unavailable)?;
        match stored {
            Some(_) => Ok(()),
            None => Err(NonceError::AlreadyRegistered(nonce.to_string())),
        }
    }

    /// Takes each nonce out of Redis, once: a key maps to its payload if this call removed
    /// it, to `None` if it was unknown, expired or already redeemed. All keys are checked
    /// before any is touched, and all are fetched in one round trip.
    pub fn redeem(&self, keys: &[String]) -> Result<BTreeMap<String, Option<Payload>>, NonceError> {
        if keys.len() > MAX_REDEEM_KEYS {
            return Err(NonceError::TooManyKeys(keys.len()));
        }
        for key in keys {
            check_nonce(key)?;
        }
        // A key listed twice is redeemed once; the map answers it once.
        let unique: Vec<&String> = keys
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if unique.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut pipe = redis::pipe();
        for key in &unique {
            pipe.cmd("GETDEL").arg(redis_key(key));
        }
        let values: Vec<Option<String>> = self
            .redis
            .run(|c| pipe.query(c))
            .map_err(NonceError::Unavailable)?;
        Ok(unique
            .into_iter()
            .zip(values)
            .map(|(key, value)| {
                let payload = value.and_then(|json| parse_stored(key, &json));
                (key.clone(), payload)
            })
            .collect())
    }
}

/// Payloads are written by [`Nonces::register`]; anything else under our prefix is
/// reported and treated as not found (it was deleted all the same).
fn parse_stored(nonce: &str, json: &str) -> Option<Payload> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Some(map),
        _ => {
            shared::warn!("stored nonce payload is not a JSON object", nonce = nonce);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_rules() {
        for good in ["a", "mail:1234", "gift.s0.ABC-def_9", &"x".repeat(128)] {
            assert!(check_nonce(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            (&"x".repeat(129) as &str, "longer"),
            ("a b", "allowed"),
            ("a/b", "allowed"),
            ("a*", "allowed"),
            ("ключ", "allowed"),
            ("a\r\nb", "allowed"),
        ] {
            let e = check_nonce(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn redis_key_has_the_contract_prefix() {
        assert_eq!(redis_key("m:1"), "auth.nonces.m:1");
    }

    #[test]
    fn corrupt_stored_payload_reads_as_absent() {
        assert_eq!(parse_stored("n", "[1]"), None);
        assert_eq!(parse_stored("n", "nope"), None);
        let p = parse_stored("n", r#"{"gift":"1:2:3"}"#).unwrap();
        assert_eq!(p["gift"], "1:2:3");
    }
}
