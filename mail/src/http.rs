//! The API server: an accept thread, one light thread per connection that reads bounded
//! requests, and a fixed pool of handler threads that run them against the store.
//!
//! Our own small HTTP/1.1 server rather than tiny_http: tiny_http 0.12 allocates the whole
//! unread remainder of a declared `Content-Length` when it drops a request, so a single
//! request claiming a huge body (then closing) aborted the process. Here a body over
//! [`MAX_BODY`] is refused from its declared length and never read.
//!
//! The pool bounds how many requests touch the disk at once (`--threads`); connection
//! threads only wait on sockets, so idle keep-alive clients cannot starve the pool.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;
use shared::metrics::{Counter, Gauge, Histogram, Registry, LATENCY_BUCKETS};

use crate::api::{self, Endpoint, Reply};
use crate::http_wire::{self, HeadError, RequestHead, MAX_HEAD};
use crate::store::Maildir;

/// Request bodies above this are refused with 413, never read.
pub const MAX_BODY: usize = 256 * 1024;
/// Connections beyond this get 503 and are closed at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// A keep-alive connection idle this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A request must arrive completely within this (slow clients hold only their own thread).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// After an error answer, unread input is drained this long so the client sees the answer.
const LINGER: Duration = Duration::from_secs(1);
/// How long shutdown waits for connections to finish their in-flight request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

struct Metrics {
    requests: Arc<Counter>,
    refused: Arc<Counter>,
    failed: Arc<Counter>,
    delivered: Arc<Counter>,
    full: Arc<Counter>,
    connections: Arc<Gauge>,
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
            connections: registry.gauge("mail_connections", "open API connections"),
            latency: registry.histogram(
                "mail_request_seconds",
                "time to answer an API request, body read to answer written",
                LATENCY_BUCKETS,
            ),
        }
    }

    fn count(&self, endpoint: Option<Endpoint>, reply: &Reply) {
        self.requests.inc();
        match reply.http {
            500.. => self.failed.inc(),
            400.. => self.refused.inc(),
            _ => {}
        }
        if endpoint == Some(Endpoint::Send) {
            match reply.status() {
                0 => self.delivered.inc(),
                1 => self.full.inc(),
                _ => {}
            }
        }
    }
}

/// One request for the handler pool and where its reply goes.
struct Job {
    endpoint: Endpoint,
    body: Vec<u8>,
    reply_to: mpsc::Sender<Reply>,
}

/// What connection threads share.
struct Shared {
    stop: AtomicBool,
    live: AtomicUsize,
    jobs: Mutex<Option<SyncSender<Job>>>,
    metrics: Metrics,
}

/// The running API server; dropping it stops it like [`HttpServer::shutdown`].
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    pool: Vec<JoinHandle<()>>,
}

impl HttpServer {
    pub fn start(
        bind: &str,
        threads: usize,
        store: Arc<Maildir>,
        registry: &Registry,
    ) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads * 4);
        let queue = Arc::new(Mutex::new(queue));
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            jobs: Mutex::new(Some(jobs)),
            metrics: Metrics::new(registry),
        });
        let mut pool = Vec::with_capacity(threads);
        for n in 0..threads {
            let (queue, store) = (queue.clone(), store.clone());
            pool.push(
                std::thread::Builder::new()
                    .name(format!("mail-handler-{n}"))
                    .spawn(move || run_jobs(&queue, &store))?,
            );
        }
        let accepting = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("mail-accept".into())
            .spawn(move || accept_loop(listener, accepting))?;
        Ok(HttpServer {
            addr,
            shared,
            acceptor: Some(acceptor),
            pool,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets every connection finish its in-flight request, stops the pool.
    pub fn shutdown(mut self) {
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run_jobs(queue: &Mutex<Receiver<Job>>, store: &Maildir) {
    loop {
        let job = lock(queue).recv();
        let Ok(job) = job else {
            return;
        };
        let reply = api::handle(store, job.endpoint, &job.body);
        let _ = job.reply_to.send(reply);
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
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                shared::warn!("accept failed", error = e);
                std::thread::sleep(POLL);
                continue;
            }
        };
        if shared.live.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let mut stream = stream;
            let body = json!({"status": -1, "message": "too many connections"}).to_string();
            let _ = stream.write_all(&http_wire::render_response(503, &body, true));
            continue;
        }
        shared.live.fetch_add(1, Ordering::SeqCst);
        shared.metrics.connections.add(1);
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("mail-conn".into())
            .spawn(move || {
                serve_connection(stream, &conn_shared);
                conn_shared.metrics.connections.add(-1);
                conn_shared.live.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            shared::warn!("cannot start a connection thread", error = e);
            shared.metrics.connections.add(-1);
            shared.live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// How reading the next request ended, when it did not produce one.
enum ReadEnd {
    /// The client closed or went quiet between requests, or we are stopping: just close.
    Closed,
    /// Answer this, then close.
    Refuse(u16, String),
}

fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let (head, body) = match read_request(&mut stream, &mut buf, &shared.stop) {
            Ok(request) => request,
            Err(ReadEnd::Closed) => return,
            Err(ReadEnd::Refuse(status, message)) => {
                let reply = Reply {
                    http: status,
                    body: json!({"status": -1, "message": message}),
                };
                shared.metrics.count(None, &reply);
                let _ = stream.write_all(&http_wire::render_response(
                    reply.http,
                    &reply.body.to_string(),
                    true,
                ));
                linger(stream);
                return;
            }
        };
        let started = Instant::now();
        let endpoint = Endpoint::from_path(&head.path);
        let reply = match endpoint {
            None => Reply {
                http: 404,
                body: json!({"status": -1, "message": "unknown path"}),
            },
            Some(_) if head.method != "POST" => Reply {
                http: 405,
                body: json!({"status": -1, "message": "use POST"}),
            },
            Some(endpoint) => run_on_pool(shared, endpoint, body),
        };
        shared.metrics.count(endpoint, &reply);
        let close = head.close || shared.stop.load(Ordering::SeqCst);
        let written = stream.write_all(&http_wire::render_response(
            reply.http,
            &reply.body.to_string(),
            close,
        ));
        shared.metrics.latency.observe_since(started);
        if written.is_err() || close {
            return;
        }
    }
}

fn run_on_pool(shared: &Shared, endpoint: Endpoint, body: Vec<u8>) -> Reply {
    let (reply_to, reply) = mpsc::channel();
    let sender = lock(&shared.jobs).clone();
    let queued = sender.is_some_and(|jobs| {
        jobs.send(Job {
            endpoint,
            body,
            reply_to,
        })
        .is_ok()
    });
    match queued.then(|| reply.recv().ok()).flatten() {
        Some(reply) => reply,
        None => Reply {
            http: 503,
            body: json!({"status": -1, "message": "shutting down"}),
        },
    }
}

/// Reads one complete request (head and body) from `stream`, keeping extra bytes in `buf`.
fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
) -> Result<(RequestHead, Vec<u8>), ReadEnd> {
    let waiting_since = Instant::now();
    let mut request_started: Option<Instant> = (!buf.is_empty()).then(Instant::now);
    let head_len = loop {
        if let Some(end) = http_wire::head_end(buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadEnd::Refuse(431, HeadError::TooLarge.to_string()));
        }
        if request_started.is_some_and(|t| t.elapsed() > REQUEST_TIMEOUT) {
            return Err(ReadEnd::Refuse(408, "request timed out".into()));
        }
        // Read before looking at the stop flag: bytes the client already sent are a
        // request in flight, and get an answer.
        let got = read_more(stream, buf)?;
        if got && request_started.is_none() {
            request_started = Some(Instant::now());
        }
        let idle = buf.is_empty() && !got;
        if idle && (stop.load(Ordering::SeqCst) || waiting_since.elapsed() > IDLE_TIMEOUT) {
            return Err(ReadEnd::Closed);
        }
    };
    let head = http_wire::parse_head(&buf[..head_len])
        .map_err(|e| ReadEnd::Refuse(e.http_status(), e.to_string()))?;
    buf.drain(..head_len);
    if head.content_length > MAX_BODY {
        return Err(ReadEnd::Refuse(
            413,
            format!("request body over {MAX_BODY} bytes"),
        ));
    }
    if head.expect_continue && buf.len() < head.content_length {
        stream
            .write_all(http_wire::CONTINUE)
            .map_err(|_| ReadEnd::Closed)?;
    }
    let started = request_started.unwrap_or_else(Instant::now);
    while buf.len() < head.content_length {
        if started.elapsed() > REQUEST_TIMEOUT {
            return Err(ReadEnd::Refuse(408, "request timed out".into()));
        }
        read_more(stream, buf)?;
    }
    let body = buf.drain(..head.content_length).collect();
    Ok((head, body))
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
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(false)
        }
        Err(_) => Err(ReadEnd::Closed),
    }
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
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}
