//! mail: wires configuration, the admin server and signals to [`mail::MailService`].

#![forbid(unsafe_code)]

use std::time::Duration;

use shared::admin::{always_ok, AdminServer};
use shared::flags::{Flags, Opt, Spec};
use shared::metrics::Registry;

const SPEC: Spec = Spec {
    service: "mail",
    about: "stores game mail in a Maildir volume behind a JSON HTTP API",
    options: &[
        Opt::value("port", "8020", "API port (HTTP POST, JSON)"),
        Opt::value(
            "bind",
            "0.0.0.0",
            "address the API and admin ports listen on",
        ),
        Opt::value(
            "root",
            "var/mail",
            "Maildir root: <root>/<world>/<uid>/{tmp,new,cur}",
        ),
        Opt::value(
            "mailbox-limit",
            "50",
            "most mails one mailbox holds (new + cur)",
        ),
        Opt::value("threads", "8", "API handler threads"),
        Opt::value(
            "admin-port",
            "9103",
            "admin port: /healthz /readyz /metrics",
        ),
    ],
};

fn main() {
    let cfg = Flags::load(&SPEC);
    shared::signal::install();
    let bind = cfg.get("bind");
    let config = mail::ServiceConfig {
        bind: format!("{bind}:{}", cfg.require::<u16>("port")),
        root: cfg.get("root").into(),
        mailbox_limit: cfg.require::<usize>("mailbox-limit"),
        threads: cfg.require::<usize>("threads"),
    };
    if config.mailbox_limit == 0 || config.threads == 0 {
        shared::error!("--mailbox-limit and --threads must be at least 1");
        std::process::exit(2);
    }
    let registry = Registry::new();
    let service = mail::MailService::start(&config, &registry).unwrap_or_else(|e| {
        shared::error!(
            "cannot start",
            bind = config.bind,
            root = config.root.display(),
            error = e
        );
        std::process::exit(1);
    });
    let admin_addr = format!("{bind}:{}", cfg.require::<u16>("admin-port"));
    let admin = AdminServer::start(&admin_addr, registry, always_ok(), service.ready_check())
        .unwrap_or_else(|e| {
            shared::error!("cannot start admin server", addr = admin_addr, error = e);
            std::process::exit(1);
        });
    shared::info!(
        "listening",
        addr = service.addr(),
        admin = admin.addr(),
        root = config.root.display(),
        mailbox_limit = config.mailbox_limit
    );
    while !shared::signal::shutdown_requested() {
        std::thread::sleep(Duration::from_millis(100));
    }
    shared::info!("shutting down");
    service.shutdown();
    drop(admin);
    shared::info!("stopped");
}
