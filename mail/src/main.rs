//! mail: wires flags, the logger, the admin server and signals to [`mail::MailService`].

#![forbid(unsafe_code)]

use std::process::ExitCode;

use mail::{MailService, Options, SPEC};
use shared::admin::{always_ok, AdminServer};
use shared::flags::{self, Flags};
use shared::metrics::Registry;

fn main() -> ExitCode {
    let flags = match Flags::load(&SPEC) {
        Ok(flags) => flags,
        Err(e) => return e.report(&SPEC),
    };
    shared::log::init(SPEC.service, flags.log_level());
    shared::signal::install();
    let (options, admin_addr) = match Options::from_flags(&flags)
        .and_then(|options| Ok((options, mail::options::admin_addr(&flags)?)))
    {
        Ok(both) => both,
        Err(e) => return flags::refused(&e),
    };
    let registry = Registry::new();
    let service = match MailService::start(&options, &registry) {
        Ok(service) => service,
        Err(e) => {
            shared::error!(
                "cannot start",
                bind = options.bind,
                root = options.root.display(),
                error = e
            );
            return ExitCode::FAILURE;
        }
    };
    let admin = match AdminServer::start(&admin_addr, registry, always_ok(), service.ready_check())
    {
        Ok(admin) => admin,
        Err(e) => {
            shared::error!("cannot start admin server", addr = admin_addr, error = e);
            return ExitCode::FAILURE;
        }
    };
    shared::info!(
        "listening",
        addr = service.addr(),
        admin = admin.addr(),
        root = options.root.display(),
        mailbox_limit = options.mailbox_limit
    );
    shared::signal::wait_for_shutdown();
    shared::info!("shutting down");
    service.stop();
    drop(admin);
    shared::info!("stopped");
    ExitCode::SUCCESS
}
