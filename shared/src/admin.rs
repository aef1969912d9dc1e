//! The admin HTTP server every service runs: `/healthz`, `/readyz`, `/metrics`.
//!
//! Liveness and readiness are closures of the service: `Ok(detail)` answers 200,
//! `Err(reason)` answers 503 with the reason, so an operator sees why at a glance.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::metrics::Registry;

/// A probe: `Ok(detail)` is healthy / ready, `Err(reason)` is not.
pub type Check = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

pub fn always_ok() -> Check {
    Arc::new(|| Ok(String::new()))
}

pub struct AdminServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl AdminServer {
    pub fn start(
        addr: &str,
        registry: Registry,
        health: Check,
        ready: Check,
    ) -> io::Result<AdminServer> {
        let server = tiny_http::Server::http(addr).map_err(io::Error::other)?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("admin server is not on an IP address"))?;
        let server = Arc::new(server);
        let serving = server.clone();
        let thread = std::thread::Builder::new()
            .name("admin-http".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    let (code, body, content_type) = match request.url() {
                        "/healthz" => probe_answer(&health),
                        "/readyz" => probe_answer(&ready),
                        "/metrics" => (200, registry.render(), "text/plain; version=0.0.4"),
                        _ => (404, "not found\n".to_string(), "text/plain"),
                    };
                    let header = tiny_http::Header::from_bytes("Content-Type", content_type)
                        .expect("static header is valid");
                    let response = tiny_http::Response::from_string(body)
                        .with_status_code(code)
                        .with_header(header);
                    let _ = request.respond(response);
                }
            })?;
        Ok(AdminServer {
            addr: bound,
            server,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn probe_answer(check: &Check) -> (u16, String, &'static str) {
    match check() {
        Ok(detail) if detail.is_empty() => (200, "ok\n".to_string(), "text/plain"),
        Ok(detail) => (200, format!("ok\n{detail}\n"), "text/plain"),
        Err(reason) => (503, format!("unavailable: {reason}\n"), "text/plain"),
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};

    fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let code = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
        (code, body)
    }

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
        assert_eq!(get(admin.addr(), "/healthz"), (200, "ok\n".into()));
        let (code, body) = get(admin.addr(), "/readyz");
        assert_eq!(code, 503);
        assert!(body.contains("connection refused"), "{body}");
        ready.store(true, Ordering::SeqCst);
        assert_eq!(get(admin.addr(), "/readyz").0, 200);
        let (code, body) = get(admin.addr(), "/metrics");
        assert_eq!(code, 200);
        assert!(body.contains("demo_total 5\n"), "{body}");
        assert_eq!(get(admin.addr(), "/nope").0, 404);
    }
}
