//! The worker's client of the auth service's nonce endpoints (`--auth-url`, docs/auth.md):
//! request mails register a single-use nonce and accepting one redeems it
//! ([`crate::modules::mail::request`]). Blocking calls on the caller's thread, over the same
//! JSON POST helper as the mail client.

use serde_json::{json, Map, Value};

use crate::modules::mail::client::post_json;

/// Whether [`AuthClient::register_nonce`] stored the nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// Stored now.
    New,
    /// A nonce of that name is registered already (auth's status 1); it was left as it is.
    Exists,
}

/// What redeeming one nonce gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Redeemed {
    /// This redeem won: the payload the nonce was registered with.
    Won(Map<String, Value>),
    /// The nonce is gone: redeemed already, expired, or never registered.
    Gone,
}

/// The auth service at one base URL.
pub struct AuthClient<'a> {
    base: &'a str,
}

impl<'a> AuthClient<'a> {
    pub fn new(base: &'a str) -> AuthClient<'a> {
        AuthClient { base }
    }

    /// Registers `nonce` with `payload` for `ttl_secs`. Errors: unreachable, or an answer
    /// other than registered / taken (the text says which).
    pub fn register_nonce(
        &self,
        nonce: &str,
        payload: &Map<String, Value>,
        ttl_secs: u64,
    ) -> Result<Registered, String> {
        let body = json!({"nonce": nonce, "payload": payload, "ttl": ttl_secs});
        let (code, answer) = post_json(self.base, "/register_nonce", &body)?;
        match (code, answer.get("status").and_then(Value::as_i64)) {
            (200, Some(0)) => Ok(Registered::New),
            (200, Some(1)) => Ok(Registered::Exists),
            _ => Err(format!("/register_nonce answered HTTP {code}: {answer}")),
        }
    }

    /// Redeems `nonces` (at most [`auth::nonces::MAX_REDEEM_KEYS`]) in one request; answers
    /// one [`Redeemed`] a nonce, in order. Errors: unreachable, or an answer that does not
    /// say status 0 or 1 for every nonce.
    pub fn redeem_nonces(&self, nonces: &[String]) -> Result<Vec<Redeemed>, String> {
        let body = json!({ "keys": nonces });
        let (code, answer) = post_json(self.base, "/redeem_nonce", &body)?;
        let unexpected = || format!("/redeem_nonce answered HTTP {code}: {answer}");
        if code != 200 {
            return Err(unexpected());
        }
        nonces
            .iter()
            .map(|nonce| {
                let result = answer.get(nonce).and_then(Value::as_object);
                match result.and_then(|r| r.get("status")).and_then(Value::as_i64) {
                    Some(0) => {
                        let mut payload = result.cloned().unwrap_or_default();
                        // auth merges `status` into the answer; it is no part of the
                        // payload (and auth refuses a payload holding one, so it must go
                        // before the payload is registered again).
                        payload.remove("status");
                        Ok(Redeemed::Won(payload))
                    }
                    Some(1) => Ok(Redeemed::Gone),
                    _ => Err(unexpected()),
                }
            })
            .collect()
    }
}
