//! The HTTP transport: one `tiny_http::Server`, a fixed pool of handler threads.
//!
//! Bodies are read up to the 64 KiB limit plus one byte and never buffered further.
//! tiny_http must skip the rest of a declared body before the connection's next request;
//! that skipping happens on a short-lived side thread, so a large or slow body never holds
//! a handler thread.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shared::metrics::{Counter, Histogram, Registry, LATENCY_BUCKETS};

use crate::api::{self, Endpoint, Reply, RouteError, MAX_BODY_BYTES};
use crate::service::Service;

/// How often an idle handler thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// A body left unread after an error answer is skipped this many bytes at a time.
const DISCARD_CHUNK: usize = 16 * 1024;

/// At most this many skipping threads at once; beyond that a connection that still owes
/// us body bytes is abandoned instead.
const MAX_DISCARDING: usize = 64;

/// The most body bytes skipped for one request. Also the largest declared length we go
/// near: whenever a body with a `Content-Length` ends early, tiny_http allocates the whole
/// missing length in one piece, so a request declaring more is abandoned unread.
const MAX_DISCARD_BYTES: usize = 16 * 1024 * 1024;

pub struct Metrics {
    requests: Vec<(Endpoint, Arc<Counter>)>,
    errors: Arc<Counter>,
    too_large: Arc<Counter>,
    abandoned: Arc<Counter>,
    latency: Arc<Histogram>,
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
            requests,
            errors: registry.counter(
                "auth_errors_total",
                "requests answered with an HTTP error status (4xx, 5xx)",
            ),
            too_large: registry.counter(
                "auth_too_large_total",
                "requests refused because the body exceeded 64 KiB",
            ),
            abandoned: registry.counter(
                "auth_abandoned_requests_total",
                "requests left unanswered: absurd declared body length or too many at once",
            ),
            latency: registry.histogram(
                "auth_request_seconds",
                "time from request received to answer written",
                LATENCY_BUCKETS,
            ),
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
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    server: Option<Arc<tiny_http::Server>>,
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests, answers those already received, then closes the listener.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.server.take();
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds `addr` (port 0 picks a free one) and serves with `threads` handler threads.
pub fn start(
    addr: &str,
    threads: usize,
    service: Arc<Service>,
    metrics: Arc<Metrics>,
) -> io::Result<ServerHandle> {
    let server = tiny_http::Server::http(addr).map_err(io::Error::other)?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| io::Error::other("the server is not on an IP address"))?;
    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    let discarding = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(threads.max(1));
    for i in 0..threads.max(1) {
        let worker = Worker {
            server: server.clone(),
            stop: stop.clone(),
            service: service.clone(),
            metrics: metrics.clone(),
            discarding: discarding.clone(),
        };
        handles.push(
            std::thread::Builder::new()
                .name(format!("auth-http-{i}"))
                .spawn(move || worker.run())?,
        );
    }
    Ok(ServerHandle {
        addr: bound,
        stop,
        threads: handles,
        server: Some(server),
    })
}

struct Worker {
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    service: Arc<Service>,
    metrics: Arc<Metrics>,
    discarding: Arc<AtomicUsize>,
}

impl Worker {
    fn run(&self) {
        loop {
            let next = if self.stop.load(Ordering::SeqCst) {
                // Stopping: answer what is already queued, then leave.
                match self.server.try_recv() {
                    Ok(Some(rq)) => rq,
                    _ => return,
                }
            } else {
                match self.server.recv_timeout(POLL) {
                    Ok(Some(rq)) => rq,
                    Ok(None) => continue,
                    Err(e) => {
                        shared::warn!("accepting a request failed", error = e);
                        // A persistent failure must not turn into a busy loop.
                        std::thread::sleep(POLL);
                        continue;
                    }
                }
            };
            self.serve(next);
        }
    }

    fn serve(&self, mut rq: tiny_http::Request) {
        let started = Instant::now();
        let endpoint = match api::route(rq.method().as_str(), rq.url()) {
            Ok(e) => e,
            Err(RouteError::NotFound) => return self.finish(rq, Reply::not_found(), started),
            Err(RouteError::MethodNotAllowed) => {
                return self.finish(rq, Reply::method_not_allowed(), started)
            }
        };
        self.metrics.count(endpoint);
        if rq.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
            self.metrics.too_large.inc();
            return self.finish(rq, Reply::too_large(), started);
        }
        let body = match read_limited(rq.as_reader(), MAX_BODY_BYTES) {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                self.metrics.too_large.inc();
                return self.finish(rq, Reply::too_large(), started);
            }
            Err(BodyError::Io(e)) => {
                shared::debug!("reading a request body failed", error = e);
                return self.finish(rq, Reply::failure(400, "request body unreadable"), started);
            }
        };
        let reply = self.service.handle(endpoint, &body);
        // The whole body was read: nothing is left for tiny_http to skip.
        self.respond(rq, reply, started, false);
    }

    /// Answers a request whose body may not have been read to its end.
    fn finish(&self, rq: tiny_http::Request, reply: Reply, started: Instant) {
        let unread = body_may_remain(&rq);
        self.respond(rq, reply, started, unread);
    }

    fn respond(&self, rq: tiny_http::Request, reply: Reply, started: Instant, unread: bool) {
        if reply.code >= 400 {
            self.metrics.errors.inc();
        }
        let response = http_response(reply);
        if unread {
            self.discard_then_respond(rq, response);
        } else {
            let _ = rq.respond(response);
        }
        self.metrics.latency.observe_since(started);
    }

    /// Skips the rest of `rq`'s body on a side thread, then answers. tiny_http would
    /// otherwise skip it itself when the request drops, on this handler thread.
    fn discard_then_respond(&self, rq: tiny_http::Request, response: HttpResponse) {
        if rq.body_length().is_some_and(|n| n > MAX_DISCARD_BYTES) {
            return self.abandon(rq, "declared body length is absurd");
        }
        if self.discarding.fetch_add(1, Ordering::SeqCst) >= MAX_DISCARDING {
            self.discarding.fetch_sub(1, Ordering::SeqCst);
            return self.abandon(rq, "too many unread bodies at once");
        }
        let discarding = self.discarding.clone();
        let spawned = std::thread::Builder::new()
            .name("auth-discard".into())
            .spawn(move || {
                discard_body_and_respond(rq, response);
                discarding.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            self.discarding.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Leaves the request unanswered and never drops it: dropping (or reading to an early
    /// end) would make tiny_http allocate all the bytes still owed. The connection and
    /// tiny_http's thread for it stay parked; that is the price of not crashing.
    fn abandon(&self, rq: tiny_http::Request, why: &str) {
        self.metrics.abandoned.inc();
        shared::warn!(
            "abandoning a request",
            reason = why,
            declared = rq.body_length().unwrap_or(0)
        );
        std::mem::forget(rq);
    }
}

type HttpResponse = tiny_http::Response<io::Cursor<Vec<u8>>>;

fn http_response(reply: Reply) -> HttpResponse {
    let mut response = tiny_http::Response::from_string(reply.body)
        .with_status_code(reply.code)
        .with_header(
            tiny_http::Header::from_bytes("Content-Type", "application/json")
                .expect("static header is valid"),
        );
    if reply.code == 405 {
        response.add_header(
            tiny_http::Header::from_bytes("Allow", "POST").expect("static header is valid"),
        );
    }
    response
}

/// A body that tiny_http has not already buffered (it buffers up to 1 KiB itself).
fn body_may_remain(rq: &tiny_http::Request) -> bool {
    match rq.body_length() {
        Some(n) => n > 1024,
        None => rq
            .headers()
            .iter()
            .any(|h| h.field.equiv("Transfer-Encoding")),
    }
}

/// Reads the rest of the body (at most [`MAX_DISCARD_BYTES`]) into a small scratch
/// buffer, then answers. A body cut short costs tiny_http one allocation of the missing
/// length, which the declared-length check before bounds.
fn discard_body_and_respond(mut rq: tiny_http::Request, response: HttpResponse) {
    let mut buf = vec![0u8; DISCARD_CHUNK];
    let mut skipped = 0usize;
    while skipped <= MAX_DISCARD_BYTES {
        match rq.as_reader().read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => skipped += n,
        }
    }
    // A chunked body still going on is cut here; tiny_http then fails to parse a next
    // request on this connection and closes it, which is what it deserves.
    let _ = rq.respond(response);
}

#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Io(io::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => write!(f, "body larger than the limit"),
            BodyError::Io(e) => write!(f, "reading the body: {e}"),
        }
    }
}

/// Reads all of `reader` if it holds at most `limit` bytes, never more than `limit + 1`.
pub fn read_limited(reader: &mut dyn Read, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(BodyError::Io)?;
    if body.len() > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts what is pulled out of it, to prove the limit bounds the reading.
    struct Endless {
        served: usize,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(b'x');
            self.served += buf.len();
            Ok(buf.len())
        }
    }

    #[test]
    fn reads_a_body_within_the_limit() {
        let mut r: &[u8] = b"{\"a\":1}";
        assert_eq!(read_limited(&mut r, 7).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn stops_one_byte_past_the_limit() {
        let mut r = Endless { served: 0 };
        assert!(matches!(
            read_limited(&mut r, 100),
            Err(BodyError::TooLarge)
        ));
        // `take` bounds each read; the source may hand out a buffer's worth, no more.
        assert!(r.served <= 101 + 64, "read {} bytes", r.served);
    }
}
