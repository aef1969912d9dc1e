//! The config service binary: flags, logger, start, wait for SIGTERM/SIGINT, graceful stop.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use config::{ConfigService, Options, SPEC};
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
    let service = match ConfigService::start(options) {
        Ok(service) => service,
        Err(e) => {
            shared::error!("config service cannot start", error = e);
            return ExitCode::FAILURE;
        }
    };
    shared::signal::wait_for_shutdown();
    shared::info!("shutting down");
    service.stop();
    shared::info!("stopped");
    ExitCode::SUCCESS
}
