//! The worker binary: flags, logger, start, wait for SIGTERM/SIGINT, graceful stop.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use shared::flags::{self, Flags};
use worker::{Options, Worker, SPEC};

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
    let worker = match Worker::start(&options) {
        Ok(worker) => worker,
        // Told to stop while waiting for MySQL or NATS: a clean stop, not a failure.
        Err(e) if shared::signal::shutdown_requested() => {
            shared::info!("shutdown requested during start", reason = e);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            shared::error!("worker failed", error = e);
            return ExitCode::FAILURE;
        }
    };
    shared::signal::wait_for_shutdown();
    shared::info!("shutdown requested");
    worker.stop();
    shared::info!("worker stopped");
    ExitCode::SUCCESS
}
