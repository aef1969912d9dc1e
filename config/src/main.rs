//! The config service binary: reads its options, starts the service, waits for SIGTERM.

#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use config::{ConfigService, Settings};
use shared::flags::{Flags, Opt, Spec};

const SPEC: Spec = Spec {
    service: "config",
    about: "serves the game config JSON files over HTTP and reloads them when they change",
    options: &[
        Opt::value("port", "8000", "HTTP port for config requests"),
        Opt::value("bind", "0.0.0.0", "IP address to listen on"),
        Opt::value(
            "dir",
            "game-config",
            "directory of <name>.json config files",
        ),
        Opt::value(
            "reload-secs",
            "5",
            "seconds between checks of the directory for changes (fractions allowed)",
        ),
        Opt::value(
            "admin-port",
            "9102",
            "port for /healthz, /readyz and /metrics",
        ),
        Opt::value("http-threads", "4", "threads answering config requests"),
    ],
};

fn main() {
    let cfg = Flags::load(&SPEC);
    shared::signal::install();
    let reload_secs: f64 = cfg.require("reload-secs");
    if !(reload_secs.is_finite() && reload_secs > 0.0) {
        shared::error!("bad configuration", error = "--reload-secs must be above 0");
        std::process::exit(2);
    }
    let settings = Settings {
        bind: cfg.require::<IpAddr>("bind"),
        port: cfg.require("port"),
        admin_port: cfg.require("admin-port"),
        dir: PathBuf::from(cfg.get("dir")),
        reload_every: Duration::from_secs_f64(reload_secs),
        http_threads: cfg.require("http-threads"),
    };
    let service = match ConfigService::start(settings) {
        Ok(service) => service,
        Err(e) => {
            shared::error!("config service cannot start", error = e);
            std::process::exit(1);
        }
    };
    while !shared::signal::shutdown_requested() {
        std::thread::sleep(Duration::from_millis(100));
    }
    shared::info!("shutting down");
    service.shutdown();
    shared::info!("stopped");
}
