//! The gate binary: configuration, start, wait for SIGTERM/SIGINT, graceful stop.

use std::time::Duration;

use gate::{Gate, GateOptions, SPEC};
use shared::config::Config;

fn main() {
    shared::signal::install();
    let config = Config::load(&SPEC);
    let options = GateOptions::from_config(&config).unwrap_or_else(|e| {
        shared::error!("bad configuration", error = e);
        std::process::exit(2);
    });
    match gate::fd_limit::raise_to_hard_limit() {
        Ok(limit)
            if gate::fd_limit::connections_that_fit(limit) < options.max_connections as u64 =>
        {
            shared::warn!(
                "open-file limit is below --max-connections: accepts will fail first",
                nofile = limit,
                max_connections = options.max_connections
            );
        }
        Ok(_) => {}
        Err(e) => shared::warn!("cannot read or raise the open-file limit", error = e),
    }
    let mut gate = Gate::start(options).unwrap_or_else(|e| {
        shared::error!("gate failed to start", error = e);
        std::process::exit(1);
    });
    while !shared::signal::shutdown_requested() {
        std::thread::sleep(Duration::from_millis(100));
    }
    shared::info!("shutdown requested");
    gate.stop();
    shared::info!("stopped");
}
