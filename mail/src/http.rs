//! The HTTP side: a tiny_http server and a small pool of handler threads that read bounded
//! bodies and hand them to [`crate::api`].

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;
use shared::metrics::{Counter, Histogram, Registry, LATENCY_BUCKETS};

use crate::api::{self, Endpoint, Reply};
use crate::store::Maildir;

/// Request bodies above this are refused with 413, never buffered.
pub const MAX_BODY: usize = 256 * 1024;
/// How often an idle handler thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

struct Metrics {
    requests: Arc<Counter>,
    refused: Arc<Counter>,
    failed: Arc<Counter>,
    delivered: Arc<Counter>,
    full: Arc<Counter>,
    latency: Arc<Histogram>,
}

impl Metrics {
    fn new(registry: &Registry) -> Metrics {
        Metrics {
            requests: registry.counter("mail_requests_total", "API requests answered"),
            refused: registry.counter(
                "mail_requests_refused_total",
                "requests answered 4xx (bad JSON, bad names, too large)",
            ),
            failed: registry.counter("mail_requests_failed_total", "requests answered 5xx"),
            delivered: registry.counter("mail_delivered_total", "mails stored durably"),
            full: registry.counter("mail_mailbox_full_total", "sends refused: mailbox full"),
            latency: registry.histogram(
                "mail_request_seconds",
                "time to answer an API request",
                LATENCY_BUCKETS,
            ),
        }
    }
}

/// The running API server; dropping it stops it.
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl HttpServer {
    pub fn start(
        bind: &str,
        threads: usize,
        store: Arc<Maildir>,
        registry: &Registry,
    ) -> io::Result<HttpServer> {
        let server = tiny_http::Server::http(bind).map_err(io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("mail API is not on an IP address"))?;
        let server = Arc::new(server);
        let metrics = Arc::new(Metrics::new(registry));
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::with_capacity(threads.max(1));
        for n in 0..threads.max(1) {
            let (server, store, metrics, stop) =
                (server.clone(), store.clone(), metrics.clone(), stop.clone());
            workers.push(
                std::thread::Builder::new()
                    .name(format!("mail-http-{n}"))
                    .spawn(move || serve(&server, &store, &metrics, &stop))?,
            );
        }
        Ok(HttpServer {
            addr,
            stop,
            workers,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests, answers the ones already received, then returns.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn serve(server: &tiny_http::Server, store: &Maildir, metrics: &Metrics, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(POLL) {
            Ok(Some(request)) => answer(request, store, metrics),
            Ok(None) => {}
            Err(e) => shared::warn!("receiving a request failed", error = e),
        }
    }
    // Answer what was already queued before the listener goes away.
    while let Ok(Some(request)) = server.try_recv() {
        answer(request, store, metrics);
    }
}

fn answer(mut request: tiny_http::Request, store: &Maildir, metrics: &Metrics) {
    let started = Instant::now();
    let reply = reply_to(&mut request, store);
    metrics.requests.inc();
    match reply.http {
        500.. => metrics.failed.inc(),
        400.. => metrics.refused.inc(),
        _ => {}
    }
    if Endpoint::from_path(request.url()) == Some(Endpoint::Send) {
        match reply.status() {
            0 => metrics.delivered.inc(),
            1 => metrics.full.inc(),
            _ => {}
        }
    }
    let header = tiny_http::Header::from_bytes("Content-Type", "application/json")
        .expect("static header is valid");
    let response = tiny_http::Response::from_string(reply.body.to_string())
        .with_status_code(reply.http)
        .with_header(header);
    if let Err(e) = request.respond(response) {
        shared::debug!("client went away before the answer", error = e);
    }
    metrics.latency.observe_since(started);
}

fn reply_to(request: &mut tiny_http::Request, store: &Maildir) -> Reply {
    let Some(endpoint) = Endpoint::from_path(request.url()) else {
        return Reply {
            http: 404,
            body: json!({"status": -1, "message": "unknown path"}),
        };
    };
    if *request.method() != tiny_http::Method::Post {
        return Reply {
            http: 405,
            body: json!({"status": -1, "message": "use POST"}),
        };
    }
    match read_body(request) {
        Ok(body) => api::handle(store, endpoint, &body),
        Err(BodyError::TooLarge) => Reply {
            http: 413,
            body: json!({"status": -1, "message": format!("request body over {MAX_BODY} bytes")}),
        },
        Err(BodyError::Io(e)) => Reply::bad_request(format!("malformed request: {e}")),
    }
}

enum BodyError {
    TooLarge,
    Io(io::Error),
}

/// Reads at most [`MAX_BODY`] bytes; a declared or actual larger body is refused.
fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, BodyError> {
    if request.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(request.body_length().unwrap_or(0));
    request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(BodyError::Io)?;
    if body.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    Ok(body)
}
