//! What each endpoint does: parse the body, call tokens or nonces, shape the reply.

use crate::api::{self, Endpoint, Reply};
use crate::issuer::{self, IssuerKey};
use crate::jwt::TokenError;
use crate::nonces::{NonceError, Nonces, DEFAULT_TTL_SECS};
use crate::tokens::{IssueError, Tokens};

pub struct Endpoints {
    pub tokens: Tokens,
    pub nonces: Nonces,
    /// `None`: no admin token or role is issued at all.
    issuer_key: Option<IssuerKey>,
}

impl Endpoints {
    /// A service that issues no admin token (see [`Endpoints::with_issuer_key`]).
    pub fn new(tokens: Tokens, nonces: Nonces) -> Endpoints {
        Endpoints {
            tokens,
            nonces,
            issuer_key: None,
        }
    }

    /// Issues admin tokens (and tokens with a role) to requests that present `key`.
    pub fn with_issuer_key(mut self, key: IssuerKey) -> Endpoints {
        self.issuer_key = Some(key);
        self
    }

    /// Answers one request body with no issuer key presented; never panics on caller input.
    pub fn handle(&self, endpoint: Endpoint, body: &[u8]) -> Reply {
        self.handle_with(endpoint, body, None)
    }

    /// Answers one request body; `issuer_key` is the request's [`issuer::ISSUER_KEY_HEADER`].
    pub fn handle_with(&self, endpoint: Endpoint, body: &[u8], issuer_key: Option<&str>) -> Reply {
        let result = match endpoint {
            Endpoint::IssueToken => self.issue_token(body, issuer_key),
            Endpoint::ValidateToken => self.validate_token(body),
            Endpoint::RegisterNonce => self.register_nonce(body),
            Endpoint::RedeemNonce => self.redeem_nonce(body),
        };
        result.unwrap_or_else(|e| Reply::bad_request(&e))
    }

    fn issue_token(&self, body: &[u8], issuer_key: Option<&str>) -> Result<Reply, api::BadRequest> {
        let rq: api::IssueRequest = api::parse(body)?;
        if rq.is_privileged() {
            if let Err(refused) = issuer::check(self.issuer_key.as_ref(), issuer_key) {
                shared::warn!("privileged issue refused", uid = rq.uid, why = refused);
                return Ok(Reply::forbidden(&refused.to_string()));
            }
        }
        let issued = self
            .tokens
            .issue(&rq.uid, rq.kind, rq.world.as_deref(), rq.role.as_deref());
        Ok(match issued {
            Ok((token, _)) => Reply::issued(&token),
            Err(e @ IssueError::InvalidField { .. }) => Reply::bad_request(&bad(e)),
            Err(e @ IssueError::Unavailable(_)) => unavailable(e),
        })
    }

    fn validate_token(&self, body: &[u8]) -> Result<Reply, api::BadRequest> {
        let rq: api::ValidateRequest = api::parse(body)?;
        Ok(match self.tokens.validate(&rq.token) {
            Ok(claims) => Reply::validated(&claims),
            Err(e @ TokenError::Unavailable(_)) => unavailable(e),
            Err(e) => Reply::token_rejected(&e),
        })
    }

    fn register_nonce(&self, body: &[u8]) -> Result<Reply, api::BadRequest> {
        let rq: api::RegisterNonceRequest = api::parse(body)?;
        let ttl = rq.ttl.unwrap_or(DEFAULT_TTL_SECS);
        Ok(match self.nonces.register(&rq.nonce, &rq.payload, ttl) {
            Ok(()) => Reply::registered(),
            Err(e @ NonceError::AlreadyRegistered(_)) => Reply::nonce_taken(&e.to_string()),
            Err(e @ NonceError::Unavailable(_)) => unavailable(e),
            Err(e) => Reply::bad_request(&bad(e)),
        })
    }

    fn redeem_nonce(&self, body: &[u8]) -> Result<Reply, api::BadRequest> {
        let rq: api::RedeemNonceRequest = api::parse(body)?;
        Ok(match self.nonces.redeem(&rq.keys) {
            Ok(results) => Reply::redeemed(results),
            Err(e @ NonceError::Unavailable(_)) => unavailable(e),
            Err(e) => Reply::bad_request(&bad(e)),
        })
    }
}

fn bad(e: impl std::fmt::Display) -> api::BadRequest {
    api::BadRequest(e.to_string())
}

fn unavailable(e: impl std::fmt::Display) -> Reply {
    let why = e.to_string();
    shared::error!("request failed", error = why);
    Reply::unavailable(&why)
}
