//! The mail service: a Maildir store behind a small JSON-over-HTTP API (port 8020).
//!
//! - [`message`]: the pure ASCII RFC 5322 file format, written and parsed.
//! - [`names`]: strict checks for world, uid and key (they become paths).
//! - [`store`]: the durable Maildir with its per-mailbox limit.
//! - [`lock`]: one writer per mailbox across threads and processes (flock).
//! - [`api`]: JSON requests to store calls and replies.
//! - [`server`]: the API's limits and request handler on the shared HTTP server.
//! - [`options`]: the flags and their checked [`Options`].
//!
//! [`MailService::start`] ([`service`]) runs the whole service in-process (tests bind
//! port 0); `main.rs` only wires flags, the logger, the admin server and signals to it.

pub mod api;
pub mod lock;
pub mod message;
pub mod names;
pub mod options;
pub mod server;
pub mod service;
pub mod store;

pub use options::{Options, SPEC};
pub use service::MailService;
