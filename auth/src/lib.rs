//! Lukseun's auth service as a library: HS256 tokens with revocation, single-use nonces,
//! and the HTTP server of the `auth` binary ([`Auth::start`] in [`service`] runs it all).
//!
//! The worker uses [`tokens::Tokens::validate`] directly (signature check plus one Redis
//! `GET`), so validating a request costs no HTTP hop.

#![forbid(unsafe_code)]

pub mod api;
pub mod endpoints;
pub mod issuer;
pub mod jwt;
pub mod nonces;
pub mod options;
pub mod server;
pub mod service;
pub mod tokens;

pub use endpoints::Endpoints;
pub use issuer::{IssuerKey, IssuerKeyError, ISSUER_KEY_HEADER};
pub use jwt::{Claims, Key, KeyError, TokenError, TokenKind};
pub use nonces::{NonceError, Nonces};
pub use options::{Options, SPEC};
pub use server::{Metrics, ServerHandle};
pub use service::{Auth, StartError};
pub use tokens::{IssueError, Tokens};
