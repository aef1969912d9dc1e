//! The HTTP transport: the auth API on the shared HTTP server ([`shared::http`]).
//!
//! The shared server refuses a body over [`MAX_BODY_BYTES`] from its declared length
//! (413, never read), chunked bodies (411) and oversized heads (431), and runs requests on
//! a fixed pool of handler threads; slow or idle connections only hold their own light
//! connection thread.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use shared::http::{Handler, HttpServer, Options, Request, Response};
use shared::metrics::{Counter, Registry};

use crate::api::{self, Endpoint, Reply, RouteError, MAX_BODY_BYTES};
use crate::endpoints::Endpoints;
use crate::issuer::ISSUER_KEY_HEADER;

/// Per-endpoint request counters. The server adds `auth_requests_total`,
/// `auth_requests_refused_total` (4xx), `auth_requests_failed_total` (5xx),
/// `auth_too_large_total`, `auth_connections` and `auth_request_seconds` to the same
/// registry.
pub struct Metrics {
    registry: Registry,
    requests: Vec<(Endpoint, Arc<Counter>)>,
}

impl Metrics {
    pub fn new(registry: &Registry) -> Metrics {
        let requests = Endpoint::ALL
            .into_iter()
            .map(|e| {
                let name = format!("auth_{}_requests_total", e.name());
                let help = format!("requests to {}", e.path());
                (e, registry.counter(&name, &help))
            })
            .collect();
        Metrics {
            registry: registry.clone(),
            requests,
        }
    }

    fn count(&self, endpoint: Endpoint) {
        if let Some((_, c)) = self.requests.iter().find(|(e, _)| *e == endpoint) {
            c.inc();
        }
    }
}

/// A running server; [`ServerHandle::stop`] (or dropping it) stops it gracefully.
pub struct ServerHandle {
    server: HttpServer,
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Stops taking requests, answers those already received (including a body still
    /// arriving), then closes.
    pub fn stop(self) {
        self.server.stop();
    }
}

/// The server's limits for the auth API with `threads` handler threads.
pub fn options(threads: usize) -> Options {
    Options {
        name: "auth",
        threads,
        max_body: MAX_BODY_BYTES,
        ..Options::default()
    }
}

/// Binds `addr` (port 0 picks a free one) and serves with `threads` handler threads.
pub fn start(
    addr: &str,
    threads: usize,
    service: Arc<Endpoints>,
    metrics: Arc<Metrics>,
) -> io::Result<ServerHandle> {
    let registry = metrics.registry.clone();
    let server = HttpServer::start(addr, options(threads), handler(service, metrics), &registry)?;
    Ok(ServerHandle { server })
}

/// The request handler: route, count, run the endpoint, shape the answer.
pub fn handler(service: Arc<Endpoints>, metrics: Arc<Metrics>) -> Handler {
    Arc::new(move |request: &Request| {
        let reply = match api::route(&request.method, &request.path) {
            Ok(endpoint) => {
                metrics.count(endpoint);
                let issuer_key = request.header(ISSUER_KEY_HEADER);
                service.handle_with(endpoint, &request.body, issuer_key)
            }
            Err(RouteError::NotFound) => Reply::not_found(),
            Err(RouteError::MethodNotAllowed) => Reply::method_not_allowed(),
        };
        to_response(reply)
    })
}

fn to_response(reply: Reply) -> Response {
    let method_not_allowed = reply.code == 405;
    let response = Response::new(
        reply.code,
        Some("application/json"),
        reply.body.into_bytes(),
    );
    if method_not_allowed {
        response.with_header("Allow", "POST")
    } else {
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Key, Nonces, Tokens};
    use shared::redis_conn::RedisPool;
    use std::time::Duration;

    fn request(method: &str, path: &str, body: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn routes_counts_and_shapes_answers() {
        let redis = testkit::Redis::start();
        let pool = Arc::new(RedisPool::new(&redis.url(), 2).unwrap());
        let key = Key::new(b"unit-test-secret-of-at-least-32-bytes").unwrap();
        let service = Arc::new(Endpoints::new(
            Tokens::new(key, pool.clone(), Duration::from_secs(60)),
            Nonces::new(pool),
        ));
        let registry = Registry::new();
        let handle = handler(service, Arc::new(Metrics::new(&registry)));

        let issued = handle(&request(
            "POST",
            "/issue_token",
            r#"{"uid":"u","kind":"account"}"#,
        ));
        assert_eq!(issued.status, 200);
        assert_eq!(issued.content_type, Some("application/json"));
        assert!(issued.body.starts_with(br#"{"status":0,"token":""#));

        let get = handle(&request("GET", "/issue_token", ""));
        assert_eq!((get.status, get.header("Allow")), (405, Some("POST")));
        let missing = handle(&request("POST", "/nope", "{}"));
        assert_eq!((missing.status, missing.header("Allow")), (404, None));

        let metrics = registry.render();
        assert!(
            metrics.contains("auth_issue_token_requests_total 1\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("auth_validate_token_requests_total 0\n"),
            "{metrics}"
        );
    }
}
