//! The Lukseun worker: takes jobs from NATS `jobs` (queue group `workers`), runs the game
//! function each names against MySQL and Redis, and writes the answer to the gate that
//! holds the client.
//!
//! - [`service::Worker`]: the running service (in-process for tests, wired by `main`).
//! - [`handler`]: one request line to one response; the statuses of the contract.
//! - [`function`]: the game function API (context, caller, arguments, replies, statuses).
//! - [`functions`]: the function table; [`modules`]: the game functions.
//! - [`db`]: MySQL pool and migrations; [`world_db`]: which server holds which world.
//! - [`gate_link`]: the return path to the gates.
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
pub mod job;
pub mod keys;
pub mod metrics;
pub mod modules;
pub mod notify;
pub mod pool;
pub mod request_id;
pub mod service;
pub mod settings;
pub mod world_db;

#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod test_support;

pub use service::{StartError, Worker};
pub use settings::{Settings, SPEC};

/// Runs the worker until SIGTERM or SIGINT, then stops gracefully.
pub fn run(config: &shared::config::Config) -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_config(config)?;
    shared::signal::install();
    let worker = match Worker::start(&settings) {
        Ok(worker) => worker,
        // Told to stop while waiting for MySQL or NATS: a clean stop, not a failure.
        Err(e) if shared::signal::shutdown_requested() => {
            shared::info!("shutdown requested during start", reason = e);
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    while !shared::signal::shutdown_requested() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    shared::info!("shutdown requested");
    worker.stop();
    shared::info!("worker stopped");
    Ok(())
}
