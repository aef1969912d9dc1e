//! The gate binary: configuration, start, wait for SIGTERM/SIGINT, graceful stop.

#![forbid(unsafe_code)]

use std::time::Duration;

use gate::{Gate, GateOptions, SPEC};
use shared::flags::Flags;

fn main() {
    shared::signal::install();
    let config = Flags::load(&SPEC);
    let options = GateOptions::from_flags(&config).unwrap_or_else(|e| {
        shared::error!("bad configuration", error = e);
        std::process::exit(2);
    });
    shared::fd_limit::make_room_for(options.max_connections);
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
