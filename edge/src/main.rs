//! The edge binary: configuration, signals, and the service from the library.

#![forbid(unsafe_code)]

use std::time::Duration;

use edge::{Edge, EdgeConfig, SPEC};
use shared::flags::Flags;

fn main() {
    let cfg = Flags::load(&SPEC);
    let cfg = EdgeConfig::from_flags(&cfg).unwrap_or_else(|e| {
        shared::error!("bad configuration", error = e);
        std::process::exit(2);
    });
    shared::signal::install();
    shared::fd_limit::make_room_for(cfg.max_connections);
    let edge = Edge::start(cfg).unwrap_or_else(|e| {
        shared::error!("cannot start", error = e);
        std::process::exit(1);
    });
    while !shared::signal::shutdown_requested() {
        std::thread::sleep(Duration::from_millis(100));
    }
    shared::info!("shutting down");
    edge.stop();
}
