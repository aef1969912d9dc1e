//! The edge binary: flags, logger, start, wait for SIGTERM/SIGINT, graceful stop.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use edge::{Edge, Options, SPEC};
use shared::flags::{self, Flags};

fn main() -> ExitCode {
    let flags = match Flags::load(&SPEC) {
        Ok(flags) => flags,
        Err(e) => return e.report(&SPEC),
    };
    shared::log::init(SPEC.service, flags.log_level());
    let options = match Options::from_flags(&flags) {
        Ok(options) => options,
        Err(e) => return flags::refused(&e),
    };
    shared::signal::install();
    shared::fd_limit::make_room_for(options.max_connections);
    let edge = match Edge::start(options) {
        Ok(edge) => edge,
        Err(e) => {
            shared::error!("cannot start", error = e);
            return ExitCode::FAILURE;
        }
    };
    shared::signal::wait_for_shutdown();
    shared::info!("shutting down");
    edge.stop();
    ExitCode::SUCCESS
}
