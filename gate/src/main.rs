//! The gate binary: flags, logger, start, wait for SIGTERM/SIGINT, graceful stop.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use gate::{Gate, Options, SPEC};
use shared::flags::{self, Flags};

fn main() -> ExitCode {
    let flags = match Flags::load(&SPEC) {
        Ok(flags) => flags,
        Err(e) => return e.report(&SPEC),
    };
    shared::log::init(SPEC.service, flags.log_level());
    shared::signal::install();
    let options = match Options::from_flags(&flags) {
        Ok(options) => options,
        Err(e) => return flags::refused(&e),
    };
    shared::fd_limit::make_room_for(options.max_connections);
    let mut gate = match Gate::start(options) {
        Ok(gate) => gate,
        Err(e) => {
            shared::error!("gate failed to start", error = e);
            return ExitCode::FAILURE;
        }
    };
    shared::signal::wait_for_shutdown();
    shared::info!("shutdown requested");
    gate.stop();
    shared::info!("stopped");
    ExitCode::SUCCESS
}
