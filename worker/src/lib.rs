//! The Lukseun worker: takes jobs from NATS `jobs` (queue group `workers`), runs the game
//! function each names against MySQL and Redis, and writes the answer to the gate that
//! holds the client.
//!
//! - [`service::Worker`]: the running service (in-process for tests, wired by `main`).
//! - [`options`]: the flags and their checked [`Options`].
//! - [`handler`]: one request line to one response; the statuses of the contract.
//! - [`function`]: the game function API (context, caller, arguments, replies, statuses).
//! - [`functions`]: the function table; [`modules`]: the game functions.
//! - [`db`]: MySQL pool and migrations; [`world_db`]: which server holds which world.
//! - [`gate_link`]: the return path to the gates.
//! - [`intake`]: where the job threads wait for jobs (NATS and the gate links).
//! - [`auth_client`]: the auth service's nonce endpoints (request mails).
//! - [`notify`]: verification codes by email (SMTP) and to a phone hook (HTTP).
//! - [`request_id`]: a retried request with a request id runs once.

#![forbid(unsafe_code)]

pub mod auth_client;
pub mod config_refresh;
pub mod db;
pub mod function;
pub mod functions;
pub mod game_config;
pub mod gate_link;
pub mod handler;
pub mod intake;
pub mod job;
pub mod keys;
pub mod metrics;
pub mod modules;
pub mod notify;
pub mod options;
pub mod pool;
pub mod request_id;
pub mod service;
pub mod world_db;

#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod test_support;

pub use options::{Options, SPEC};
pub use service::{StartError, Worker};
