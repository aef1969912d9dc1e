//! `auth`: wires flags, the logger, Redis, the admin server and the HTTP server together.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use auth::{Metrics, Nonces, Options, Service, Tokens, SPEC};
use shared::admin::{always_ok, AdminServer, Check};
use shared::flags::{self, Flags};
use shared::metrics::Registry;
use shared::redis_conn::RedisPool;

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
    let Options {
        bind,
        port,
        admin_port,
        threads,
        ..
    } = options.clone();

    let redis = match RedisPool::new(&options.redis_url, threads) {
        Ok(redis) => redis,
        Err(e) => {
            shared::error!("bad --redis-url", error = e);
            return ExitCode::from(2);
        }
    };
    let redis = Arc::new(redis);
    let mut service = Service::new(
        Tokens::new(options.jwt_key, redis.clone(), options.token_lifetime),
        Nonces::new(redis.clone()),
    );
    if let Some(issuer_key) = options.issuer_key {
        service = service.with_issuer_key(issuer_key);
    } else {
        shared::info!("no --issuer-key: admin tokens are not issued");
    }
    let service = Arc::new(service);

    let registry = Registry::new();
    let metrics = Arc::new(Metrics::new(&registry));
    let ready: Check = Arc::new(move || redis.ping().map(|_| String::new()));
    let admin_addr = format!("{bind}:{admin_port}");
    let _admin = match AdminServer::start(&admin_addr, registry, always_ok(), ready) {
        Ok(admin) => admin,
        Err(e) => {
            shared::error!(
                "cannot start the admin server",
                addr = admin_addr,
                error = e
            );
            return ExitCode::FAILURE;
        }
    };

    let addr = format!("{bind}:{port}");
    let server = match auth::server::start(&addr, threads, service, metrics) {
        Ok(server) => server,
        Err(e) => {
            shared::error!("cannot listen", addr = addr, error = e);
            return ExitCode::FAILURE;
        }
    };
    shared::info!(
        "listening",
        addr = server.addr(),
        admin = admin_addr,
        threads = threads
    );

    shared::signal::wait_for_shutdown();
    shared::info!("shutting down: answering requests in flight");
    server.stop();
    shared::info!("stopped");
    ExitCode::SUCCESS
}
