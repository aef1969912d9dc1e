//! The server: an accept thread, one light thread per connection that reads bounded
//! requests, and a fixed pool of handler threads that run them.
//!
//! The pool bounds how many requests run at once (`threads`); connection threads only wait
//! on their own socket, so idle keep-alive clients and slow senders cannot starve the pool
//! or each other. Connections beyond `max_connections` get 503 and are closed at once.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::wire::{self, HeadError};
use super::{envelope_refusal, Handler, Request, Response};
use crate::metrics::{Counter, Gauge, Histogram, Registry, LATENCY_BUCKETS};

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// After an error answer, unread input is drained this long so the client sees the answer
/// instead of a connection reset.
const LINGER: Duration = Duration::from_secs(1);
/// How long shutdown waits for connections to finish their in-flight request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);
/// Connection threads only read, parse and write: a small stack is plenty.
const CONNECTION_STACK: usize = 256 * 1024;

/// Limits and names of one server. Start from [`Options::default`] and set what differs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Thread names and the metric prefix: `<name>_requests_total`, ...
    pub name: &'static str,
    /// Handler threads: how many requests run at once.
    pub threads: usize,
    /// Request bodies above this are refused with 413 from their declared length.
    pub max_body: usize,
    /// Request heads (request line and headers) above this are refused with 431.
    pub max_head: usize,
    /// Open connections beyond this get 503 and are closed at once.
    pub max_connections: usize,
    /// A keep-alive connection idle this long between requests is closed.
    pub idle_timeout: Duration,
    /// A request must arrive completely within this once its first byte came (else 408).
    pub request_timeout: Duration,
    /// The answer to requests the server refuses itself (status, what was wrong).
    pub refusal: fn(u16, &str) -> Response,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            name: "http",
            threads: 4,
            max_body: 64 * 1024,
            max_head: 16 * 1024,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            refusal: envelope_refusal,
        }
    }
}

struct Metrics {
    requests: Arc<Counter>,
    refused: Arc<Counter>,
    failed: Arc<Counter>,
    too_large: Arc<Counter>,
    connections: Arc<Gauge>,
    turned_away: Arc<Counter>,
    latency: Arc<Histogram>,
}

impl Metrics {
    fn new(name: &str, registry: &Registry) -> Metrics {
        let metric = |suffix: &str| format!("{name}_{suffix}");
        Metrics {
            requests: registry.counter(&metric("requests_total"), "HTTP requests answered"),
            refused: registry.counter(
                &metric("requests_refused_total"),
                "HTTP requests answered 4xx",
            ),
            failed: registry.counter(
                &metric("requests_failed_total"),
                "HTTP requests answered 5xx",
            ),
            too_large: registry.counter(
                &metric("too_large_total"),
                "requests refused with 413: declared body over the limit, never read",
            ),
            connections: registry.gauge(&metric("connections"), "open HTTP connections"),
            turned_away: registry.counter(
                &metric("connections_refused_total"),
                "connections answered 503 because max_connections were open",
            ),
            latency: registry.histogram(
                &metric("request_seconds"),
                "time to answer an HTTP request, request read to answer written",
                LATENCY_BUCKETS,
            ),
        }
    }

    fn count(&self, status: u16) {
        self.requests.inc();
        match status {
            500.. => self.failed.inc(),
            413 => {
                self.refused.inc();
                self.too_large.inc();
            }
            400.. => self.refused.inc(),
            _ => {}
        }
    }
}

/// One request for the handler pool and where its answer goes.
struct Job {
    request: Request,
    reply_to: mpsc::Sender<Response>,
}

/// What the accept thread and connection threads share.
struct Shared {
    options: Options,
    stop: AtomicBool,
    live: AtomicUsize,
    jobs: Mutex<Option<SyncSender<Job>>>,
    metrics: Metrics,
}

/// A running server; dropping it stops it like [`HttpServer::shutdown`].
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    pool: Vec<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `bind` (`host:port`; port 0 picks a free one) and serves `handler`.
    /// Registers the server's metrics, prefixed with `options.name`, in `registry`.
    pub fn start(
        bind: &str,
        options: Options,
        handler: Handler,
        registry: &Registry,
    ) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let threads = options.threads.max(1);
        let name = options.name;
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads * 4);
        let queue = Arc::new(Mutex::new(queue));
        let shared = Arc::new(Shared {
            metrics: Metrics::new(name, registry),
            options,
            stop: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            jobs: Mutex::new(Some(jobs)),
        });
        let mut server = HttpServer {
            addr,
            shared: shared.clone(),
            acceptor: None,
            pool: Vec::with_capacity(threads),
        };
        // On an early return `server` is dropped, which stops the threads already started.
        for n in 0..threads {
            let (queue, handler) = (queue.clone(), handler.clone());
            let refusal = shared.options.refusal;
            server.pool.push(
                std::thread::Builder::new()
                    .name(format!("{name}-pool-{n}"))
                    .spawn(move || run_jobs(&queue, &handler, refusal))?,
            );
        }
        server.acceptor = Some(
            std::thread::Builder::new()
                .name(format!("{name}-accept"))
                .spawn(move || accept_loop(listener, shared))?,
        );
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets every connection finish its in-flight request (up to 15 s),
    /// then stops the pool once it has run what is queued.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while self.shared.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Closing the queue ends the pool once it has run what is queued.
        lock(&self.shared.jobs).take();
        for worker in self.pool.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run_jobs(queue: &Mutex<Receiver<Job>>, handler: &Handler, refusal: fn(u16, &str) -> Response) {
    loop {
        let job = lock(queue).recv();
        let Ok(job) = job else {
            return;
        };
        // A panicking handler costs its request a 500, not a pool thread.
        let response =
            catch_unwind(AssertUnwindSafe(|| handler(&job.request))).unwrap_or_else(|_| {
                crate::error!(
                    "request handler panicked",
                    method = job.request.method,
                    path = job.request.path
                );
                refusal(500, "internal error")
            });
        let _ = job.reply_to.send(response);
    }
}

/// Waits up to [`POLL`] for `listener` to have a connection ready.
fn wait_readable(listener: &TcpListener) -> bool {
    let mut pfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&mut pfd, 1, POLL.as_millis() as libc::c_int) };
    ready > 0
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        if !wait_readable(&listener) {
            continue;
        }
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                crate::warn!("accept failed", server = shared.options.name, error = e);
                std::thread::sleep(POLL);
                continue;
            }
        };
        if shared.live.load(Ordering::SeqCst) >= shared.options.max_connections {
            shared.metrics.turned_away.inc();
            let _ = stream.set_nonblocking(true);
            let busy = (shared.options.refusal)(503, "too many connections");
            let _ = stream.write_all(&wire::render_response(&busy, false, true));
            // Take in what the client already sent, so closing sends a FIN after the 503
            // rather than a reset that could destroy it.
            let _ = stream.shutdown(Shutdown::Write);
            let _ = stream.read(&mut [0u8; 4096]);
            continue;
        }
        shared.live.fetch_add(1, Ordering::SeqCst);
        shared.metrics.connections.add(1);
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{}-conn", shared.options.name))
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                serve_connection(stream, &conn_shared);
                conn_shared.metrics.connections.add(-1);
                conn_shared.live.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            crate::warn!(
                "cannot start a connection thread",
                server = shared.options.name,
                error = e
            );
            shared.metrics.connections.add(-1);
            shared.live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// How reading the next request ended, when it did not produce one.
enum ReadEnd {
    /// The client closed or went quiet between requests, or we are stopping: just close.
    Closed,
    /// Answer this status and message, then close.
    Refuse(u16, String),
}

/// A request read off the connection, and whether to close after answering it.
struct Incoming {
    request: Request,
    close: bool,
}

fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let incoming = match read_request(&mut stream, &mut buf, shared) {
            Ok(incoming) => incoming,
            Err(ReadEnd::Closed) => return,
            Err(ReadEnd::Refuse(status, message)) => {
                let refusal = (shared.options.refusal)(status, &message);
                shared.metrics.count(refusal.status);
                let _ = stream.write_all(&wire::render_response(&refusal, false, true));
                linger(stream);
                return;
            }
        };
        let started = Instant::now();
        let head_only = incoming.request.method == "HEAD";
        let response = run_on_pool(shared, incoming.request);
        shared.metrics.count(response.status);
        let close = incoming.close || shared.stop.load(Ordering::SeqCst);
        let written = stream.write_all(&wire::render_response(&response, head_only, close));
        shared.metrics.latency.observe_since(started);
        if written.is_err() || close {
            return;
        }
    }
}

fn run_on_pool(shared: &Shared, request: Request) -> Response {
    let (reply_to, reply) = mpsc::channel();
    let sender = lock(&shared.jobs).clone();
    let queued = sender.is_some_and(|jobs| jobs.send(Job { request, reply_to }).is_ok());
    match queued.then(|| reply.recv().ok()).flatten() {
        Some(response) => response,
        None => (shared.options.refusal)(503, "shutting down"),
    }
}

/// Reads one complete request (head and body) from `stream`, keeping extra bytes (the
/// next pipelined request) in `buf`.
fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared,
) -> Result<Incoming, ReadEnd> {
    let options = &shared.options;
    let waiting_since = Instant::now();
    let mut request_started: Option<Instant> = (!buf.is_empty()).then(Instant::now);
    let timed_out = || ReadEnd::Refuse(408, "request timed out".into());
    // Where the search for the blank line resumes: a client sending a byte at a time must
    // not make us rescan the whole head on every read.
    let mut scanned = 0;
    let head_len = loop {
        if let Some(end) = wire::head_end(&buf[scanned..]) {
            break scanned + end;
        }
        scanned = buf.len().saturating_sub(3);
        if buf.len() > options.max_head {
            let too_large = HeadError::TooLarge {
                limit: options.max_head,
            };
            return Err(ReadEnd::Refuse(431, too_large.to_string()));
        }
        if request_started.is_some_and(|t| t.elapsed() > options.request_timeout) {
            return Err(timed_out());
        }
        // Read before looking at the stop flag: bytes the client already sent are a
        // request in flight, and get an answer.
        let got = read_more(stream, buf)?;
        if got && request_started.is_none() {
            request_started = Some(Instant::now());
        }
        let idle = buf.is_empty() && !got;
        if idle
            && (shared.stop.load(Ordering::SeqCst)
                || waiting_since.elapsed() > options.idle_timeout)
        {
            return Err(ReadEnd::Closed);
        }
    };
    let head = wire::parse_head(&buf[..head_len], options.max_head)
        .map_err(|e| ReadEnd::Refuse(e.http_status(), e.to_string()))?;
    buf.drain(..head_len);
    if head.content_length > options.max_body {
        return Err(ReadEnd::Refuse(
            413,
            format!("request body over {} bytes", options.max_body),
        ));
    }
    if head.expect_continue && buf.len() < head.content_length {
        stream
            .write_all(wire::CONTINUE)
            .map_err(|_| ReadEnd::Closed)?;
    }
    let started = request_started.unwrap_or_else(Instant::now);
    while buf.len() < head.content_length {
        if started.elapsed() > options.request_timeout {
            return Err(timed_out());
        }
        read_more(stream, buf)?;
    }
    let body = buf.drain(..head.content_length).collect();
    Ok(Incoming {
        close: head.close,
        request: Request {
            method: head.method,
            path: head.path,
            query: head.query,
            headers: head.headers,
            body,
        },
    })
}

/// One read into `buf`: `Ok(true)` if bytes came, `Ok(false)` on a poll timeout.
fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<bool, ReadEnd> {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk) {
        Ok(0) => Err(ReadEnd::Closed),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(true)
        }
        Err(e) if is_timeout(&e) => Ok(false),
        Err(_) => Err(ReadEnd::Closed),
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Closes after an error answer without a reset: stop writing, drain what the client still
/// sends for a moment (discarded), then close.
fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 16 * 1024];
    while Instant::now() < until {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}
