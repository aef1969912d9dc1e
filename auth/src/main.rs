//! `auth`: wires configuration, Redis, the admin server and the HTTP server together.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use auth::{IssuerKey, Key, Metrics, Nonces, Service, Tokens};
use shared::admin::{always_ok, AdminServer, Check};
use shared::flags::{Flags, Opt, Spec};
use shared::metrics::Registry;
use shared::redis_conn::RedisPool;

const SPEC: Spec = Spec {
    service: "auth",
    about: "issues and validates HS256 tokens, registers and redeems single-use nonces",
    options: &[
        Opt::value("port", "8001", "HTTP port of the API"),
        Opt::value(
            "bind",
            "0.0.0.0",
            "address the API and admin ports listen on",
        ),
        Opt::value(
            "admin-port",
            "9101",
            "port of /healthz, /readyz and /metrics",
        ),
        Opt::value(
            "redis-url",
            "redis://127.0.0.1:6379/",
            "Redis holding tokens and nonces",
        ),
        Opt::required(
            "jwt-secret",
            "HS256 signing key, at least 32 bytes (a Kubernetes Secret)",
        ),
        Opt::value(
            "issuer-key",
            "",
            "operators' key (a Kubernetes Secret, at least 32 bytes): /issue_token mints admin tokens and roles only for requests whose X-Issuer-Key header holds it; empty = never",
        ),
        Opt::value(
            "token-lifetime-secs",
            "2592000",
            "lifetime of issued tokens",
        ),
        Opt::value("threads", "4", "HTTP handler threads"),
    ],
};

fn main() {
    shared::signal::install();
    let cfg = Flags::load(&SPEC);
    let key = Key::new(cfg.get("jwt-secret").as_bytes()).unwrap_or_else(|e| {
        shared::error!("refusing to start", error = e);
        eprintln!("auth: {e}");
        std::process::exit(2);
    });
    let issuer_key = match cfg.get("issuer-key") {
        "" => None,
        key => Some(IssuerKey::new(key.as_bytes()).unwrap_or_else(|e| {
            shared::error!("refusing to start", error = e);
            eprintln!("auth: {e}");
            std::process::exit(2);
        })),
    };
    let lifetime: u64 = cfg.require("token-lifetime-secs");
    let threads: usize = cfg.require("threads");
    if lifetime == 0 || threads == 0 {
        shared::error!("--token-lifetime-secs and --threads must be at least 1");
        std::process::exit(2);
    }
    let port: u16 = cfg.require("port");
    let admin_port: u16 = cfg.require("admin-port");
    let bind = cfg.get("bind");

    let redis = RedisPool::new(cfg.get("redis-url"), threads).unwrap_or_else(|e| {
        shared::error!("bad --redis-url", error = e);
        std::process::exit(2);
    });
    let redis = Arc::new(redis);
    let mut service = Service::new(
        Tokens::new(key, redis.clone(), Duration::from_secs(lifetime)),
        Nonces::new(redis.clone()),
    );
    if let Some(issuer_key) = issuer_key {
        service = service.with_issuer_key(issuer_key);
    } else {
        shared::info!("no --issuer-key: admin tokens are not issued");
    }
    let service = Arc::new(service);

    let registry = Registry::new();
    let metrics = Arc::new(Metrics::new(&registry));
    let ready: Check = Arc::new(move || redis.ping().map(|_| String::new()));
    let admin_addr = format!("{bind}:{admin_port}");
    let _admin =
        AdminServer::start(&admin_addr, registry, always_ok(), ready).unwrap_or_else(|e| {
            shared::error!(
                "cannot start the admin server",
                addr = admin_addr,
                error = e
            );
            std::process::exit(1);
        });

    let addr = format!("{bind}:{port}");
    let server = auth::server::start(&addr, threads, service, metrics).unwrap_or_else(|e| {
        shared::error!("cannot listen", addr = addr, error = e);
        std::process::exit(1);
    });
    shared::info!(
        "listening",
        addr = server.addr(),
        admin = admin_addr,
        threads = threads
    );

    while !shared::signal::shutdown_requested() {
        std::thread::sleep(Duration::from_millis(100));
    }
    shared::info!("shutting down: answering requests in flight");
    server.stop();
    shared::info!("stopped");
}
