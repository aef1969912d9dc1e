//! The admin HTTP server every service runs: `/healthz`, `/readyz`, `/metrics`.
//!
//! Liveness and readiness are closures of the service: `Ok(detail)` answers 200,
//! `Err(reason)` answers 503 with the reason, so an operator sees why at a glance.
//!
//! `/metrics` adds two series of its own to the service's registry, the same in every
//! service (Prometheus's job and pod labels tell them apart): `lukseun_ready` (the readiness
//! check, run at the scrape) and `lukseun_start_time_seconds` (a change is a restart), so
//! the readiness and restart alerts need nothing besides the services' own scrape.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::http::{self, HttpServer, Options, Request, Response};
use crate::metrics::Registry;

/// The readiness series `/metrics` adds: 1 when `/readyz` would answer 200.
pub const READY_METRIC: &str = "lukseun_ready";
/// The start-time series `/metrics` adds: Unix seconds when the admin server started.
pub const START_TIME_METRIC: &str = "lukseun_start_time_seconds";

/// A probe: `Ok(detail)` is healthy / ready, `Err(reason)` is not.
pub type Check = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

pub fn always_ok() -> Check {
    Arc::new(|| Ok(String::new()))
}

/// Probes and scrapes are small GETs from a few clients: a small server suffices.
fn admin_options() -> Options {
    Options {
        name: "admin",
        threads: 2,
        max_body: 4 * 1024,
        max_head: 8 * 1024,
        max_connections: 64,
        idle_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(10),
        refusal: http::text_refusal,
    }
}

/// The running admin server; dropping it stops it.
pub struct AdminServer {
    server: HttpServer,
}

impl AdminServer {
    pub fn start(
        addr: &str,
        registry: Registry,
        health: Check,
        ready: Check,
    ) -> io::Result<AdminServer> {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let handler: http::Handler =
            Arc::new(move |request: &Request| match request.path.as_str() {
                "/healthz" => probe_answer(&health),
                "/readyz" => probe_answer(&ready),
                "/metrics" => {
                    let mut text = registry.render();
                    text.push_str(&own_series(ready().is_ok(), started));
                    Response::new(200, Some("text/plain; version=0.0.4"), text.into_bytes())
                }
                _ => Response::text(404, "not found\n"),
            });
        // The admin server's own traffic is not exported: a private registry keeps its
        // metric names from colliding with the service's.
        let server = HttpServer::start(addr, admin_options(), handler, &Registry::new())?;
        Ok(AdminServer { server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// The series every service's `/metrics` ends with (see the module header).
fn own_series(ready: bool, started: u64) -> String {
    format!(
        "# HELP {READY_METRIC} 1 when the readiness check passes (run at this scrape), else 0\n\
         # TYPE {READY_METRIC} gauge\n\
         {READY_METRIC} {}\n\
         # HELP {START_TIME_METRIC} Unix time the process started; a change is a restart\n\
         # TYPE {START_TIME_METRIC} gauge\n\
         {START_TIME_METRIC} {started}\n",
        u8::from(ready)
    )
}

fn probe_answer(check: &Check) -> Response {
    match check() {
        Ok(detail) if detail.is_empty() => Response::text(200, "ok\n"),
        Ok(detail) => Response::text(200, format!("ok\n{detail}\n")),
        Err(reason) => Response::text(503, format!("unavailable: {reason}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn serves_probes_and_metrics() {
        let registry = Registry::new();
        registry.counter("demo_total", "a demo").add(5);
        let ready = Arc::new(AtomicBool::new(false));
        let r = ready.clone();
        let check: Check = Arc::new(move || {
            if r.load(Ordering::SeqCst) {
                Ok(String::new())
            } else {
                Err("redis: connection refused".into())
            }
        });
        let admin = AdminServer::start("127.0.0.1:0", registry, always_ok(), check).unwrap();
        assert_eq!(
            testkit::http_get(admin.addr(), "/healthz").unwrap(),
            (200, "ok\n".into())
        );
        let (code, body) = testkit::http_get(admin.addr(), "/readyz").unwrap();
        assert_eq!(code, 503);
        assert!(body.contains("connection refused"), "{body}");
        let (_, body) = testkit::http_get(admin.addr(), "/metrics").unwrap();
        assert!(body.contains("\nlukseun_ready 0\n"), "{body}");
        ready.store(true, Ordering::SeqCst);
        assert_eq!(testkit::http_get(admin.addr(), "/readyz").unwrap().0, 200);
        let (code, body) = testkit::http_get(admin.addr(), "/metrics").unwrap();
        assert_eq!(code, 200);
        assert!(body.contains("demo_total 5\n"), "{body}");
        assert!(body.contains("\nlukseun_ready 1\n"), "{body}");
        let start: u64 = body
            .lines()
            .find_map(|l| l.strip_prefix("lukseun_start_time_seconds "))
            .expect("the start time")
            .parse()
            .unwrap();
        assert!(start > 1_600_000_000, "{body}");
        assert_eq!(testkit::http_get(admin.addr(), "/nope").unwrap().0, 404);
    }
}
