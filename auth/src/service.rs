//! The running service: the Redis pool, the endpoints, the API server and the admin
//! server, started from [`Options`]. Threads: the API server's and the admin server's
//! (see [`shared::http`]); [`Auth::stop`] stops the API first (answering what is in
//! flight), then the admin server.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use shared::admin::{always_ok, AdminServer, Check};
use shared::metrics::Registry;
use shared::redis_conn::{RedisError, RedisPool};

use crate::endpoints::Endpoints;
use crate::nonces::Nonces;
use crate::options::Options;
use crate::server::{self, Metrics, ServerHandle};
use crate::tokens::Tokens;

#[derive(Debug)]
pub enum StartError {
    /// `--redis-url` does not parse (Redis itself is reached on first use).
    Redis(RedisError),
    /// The admin server cannot listen on `addr`.
    Admin { addr: String, error: io::Error },
    /// The API cannot listen on `addr`.
    Api { addr: String, error: io::Error },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Redis(e) => write!(f, "bad --redis-url: {e}"),
            StartError::Admin { addr, error } => {
                write!(f, "cannot start the admin server on {addr}: {error}")
            }
            StartError::Api { addr, error } => write!(f, "cannot listen on {addr}: {error}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Redis(e) => Some(e),
            StartError::Admin { error, .. } | StartError::Api { error, .. } => Some(error),
        }
    }
}

/// A running auth service. Dropping it stops it too (each server stops on drop).
pub struct Auth {
    server: ServerHandle,
    admin: AdminServer,
}

impl Auth {
    pub fn start(options: Options) -> Result<Auth, StartError> {
        let redis =
            RedisPool::new(&options.redis_url, options.threads).map_err(StartError::Redis)?;
        let redis = Arc::new(redis);
        let mut endpoints = Endpoints::new(
            Tokens::new(options.jwt_key, redis.clone(), options.token_lifetime),
            Nonces::new(redis.clone()),
        );
        if let Some(issuer_key) = options.issuer_key {
            endpoints = endpoints.with_issuer_key(issuer_key);
        } else {
            shared::info!("no --issuer-key: admin tokens are not issued");
        }

        let registry = Registry::new();
        let metrics = Arc::new(Metrics::new(&registry));
        let ready: Check = Arc::new(move || redis.ping().map(|_| String::new()));
        let addr = format!("{}:{}", options.bind, options.admin_port);
        let admin = AdminServer::start(&addr, registry, always_ok(), ready)
            .map_err(|error| StartError::Admin { addr, error })?;

        let addr = format!("{}:{}", options.bind, options.port);
        let server = server::start(&addr, options.threads, Arc::new(endpoints), metrics)
            .map_err(|error| StartError::Api { addr, error })?;
        Ok(Auth { server, admin })
    }

    /// The API's address (port 0 in the options picks a free one).
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.addr()
    }

    /// Stops taking requests, answers those already received, then stops the admin server.
    pub fn stop(self) {
        self.server.stop();
        drop(self.admin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;
    use std::time::Duration;

    use crate::jwt::Key;

    fn options(redis_url: &str, port: u16) -> Options {
        Options {
            bind: "127.0.0.1".into(),
            port,
            admin_port: 0,
            redis_url: redis_url.into(),
            jwt_key: Key::new(b"unit-test-secret-of-at-least-32-bytes").unwrap(),
            issuer_key: None,
            token_lifetime: Duration::from_secs(60),
            threads: 2,
        }
    }

    #[test]
    fn bad_redis_url_and_taken_port_are_typed_errors() {
        let e = Auth::start(options("http://not-redis", 0))
            .err()
            .expect("refused");
        assert!(
            matches!(e, StartError::Redis(_)) && e.source().is_some(),
            "{e}"
        );

        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = Auth::start(options("redis://127.0.0.1:1/", port))
            .err()
            .expect("refused");
        assert!(matches!(e, StartError::Api { .. }), "{e}");
        assert!(e.to_string().contains(&port.to_string()), "{e}");
        assert!(e.source().is_some());
    }

    #[test]
    fn starts_on_free_ports_and_stops() {
        let redis = testkit::Redis::start();
        let auth = Auth::start(options(&redis.url(), 0)).unwrap();
        let (api, admin) = (auth.addr(), auth.admin_addr());
        assert_ne!(api.port(), 0);
        assert_ne!(api, admin);
        std::net::TcpStream::connect(api).unwrap();
        auth.stop();
        assert!(std::net::TcpStream::connect(api).is_err());
    }
}
