//! `auth`: flags, logger, start, wait for SIGTERM/SIGINT, graceful stop.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use auth::{Auth, Options, StartError, SPEC};
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
    let threads = options.threads;
    let auth = match Auth::start(options) {
        Ok(auth) => auth,
        Err(StartError::Redis(e)) => {
            shared::error!("bad --redis-url", error = e);
            return ExitCode::from(2);
        }
        Err(StartError::Admin { addr, error }) => {
            shared::error!("cannot start the admin server", addr = addr, error = error);
            return ExitCode::FAILURE;
        }
        Err(StartError::Api { addr, error }) => {
            shared::error!("cannot listen", addr = addr, error = error);
            return ExitCode::FAILURE;
        }
    };
    shared::info!(
        "listening",
        addr = auth.addr(),
        admin = auth.admin_addr(),
        threads = threads
    );
    shared::signal::wait_for_shutdown();
    shared::info!("shutting down: answering requests in flight");
    auth.stop();
    shared::info!("stopped");
    ExitCode::SUCCESS
}
