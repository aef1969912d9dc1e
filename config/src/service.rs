//! The running service: the reloader thread, the HTTP threads and the admin server.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use shared::admin::{AdminServer, Check};
use shared::metrics::{Counter, Gauge, Histogram, Registry, LATENCY_BUCKETS};

use crate::listener::bind_without_nagle;
use crate::loader::Loader;
use crate::routes::{answer, route, Body, Reply};
use crate::snapshot::Snapshot;

/// How often an idle HTTP thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

#[derive(Clone, Debug)]
pub struct Settings {
    pub bind: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub admin_port: u16,
    pub dir: PathBuf,
    pub reload_every: Duration,
    pub http_threads: usize,
}

#[derive(Debug)]
pub enum StartError {
    /// The directory cannot be listed at start: refuse rather than serve nothing.
    Directory {
        dir: PathBuf,
        reason: String,
    },
    Bind {
        what: &'static str,
        addr: SocketAddr,
        reason: String,
    },
    Thread(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Directory { dir, reason } => {
                write!(
                    f,
                    "cannot read config directory {}: {reason}",
                    dir.display()
                )
            }
            StartError::Bind { what, addr, reason } => {
                write!(f, "cannot listen for {what} on {addr}: {reason}")
            }
            StartError::Thread(e) => write!(f, "cannot start a thread: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The snapshot every request reads; replaced whole by the reloader.
#[derive(Clone)]
struct Current(Arc<RwLock<Arc<Snapshot>>>);

impl Current {
    fn get(&self) -> Arc<Snapshot> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, snapshot: Snapshot) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
    }
}

struct Metrics {
    requests: Arc<Counter>,
    not_modified: Arc<Counter>,
    client_errors: Arc<Counter>,
    latency: Arc<Histogram>,
    files: Arc<Gauge>,
    broken: Arc<Gauge>,
    reloads: Arc<Counter>,
}

impl Metrics {
    fn new(registry: &Registry) -> Metrics {
        Metrics {
            requests: registry.counter("config_http_requests_total", "HTTP requests answered"),
            not_modified: registry.counter(
                "config_http_not_modified_total",
                "requests answered 304 because the client's ETag matched",
            ),
            client_errors: registry.counter(
                "config_http_client_errors_total",
                "requests answered 4xx (bad name, unknown file or path, wrong method)",
            ),
            latency: registry.histogram(
                "config_http_request_seconds",
                "time to answer one request",
                LATENCY_BUCKETS,
            ),
            files: registry.gauge("config_files", "config files served"),
            broken: registry.gauge(
                "config_files_broken",
                "config files refused at the last reload (bad JSON, too large, unreadable)",
            ),
            reloads: registry.counter(
                "config_reloads_total",
                "snapshots swapped in because files changed",
            ),
        }
    }

    fn show(&self, snapshot: &Snapshot) {
        self.files.set(snapshot.files.len() as i64);
        self.broken.set(snapshot.problems.len() as i64);
    }
}

/// A running config service. Dropping it (or [`ConfigService::shutdown`]) stops it:
/// requests already received are answered, then the threads exit.
pub struct ConfigService {
    addr: SocketAddr,
    admin_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Dropping the sender wakes the reloader at once.
    stop_reloader: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
    admin: Option<AdminServer>,
}

impl ConfigService {
    pub fn start(settings: Settings) -> Result<ConfigService, StartError> {
        let registry = Registry::new();
        let metrics = Arc::new(Metrics::new(&registry));

        let mut loader = Loader::new(&settings.dir);
        scan_and_log(&mut loader);
        let first = loader.snapshot();
        if let Some(reason) = first.dir_error.clone() {
            return Err(StartError::Directory {
                dir: settings.dir,
                reason,
            });
        }
        metrics.show(&first);
        let current = Current(Arc::new(RwLock::new(Arc::new(first))));

        let addr = SocketAddr::new(settings.bind, settings.port);
        let bind_error = |reason: String| StartError::Bind {
            what: "config requests",
            addr,
            reason,
        };
        let listener = bind_without_nagle(addr).map_err(|e| bind_error(e.to_string()))?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| bind_error(e.to_string()))?;
        let addr = server.server_addr().to_ip().unwrap_or(addr);
        let server = Arc::new(server);

        let (health, ready) = probes(&current);
        let admin_addr = SocketAddr::new(settings.bind, settings.admin_port);
        let admin =
            AdminServer::start(&admin_addr.to_string(), registry, health, ready).map_err(|e| {
                StartError::Bind {
                    what: "admin",
                    addr: admin_addr,
                    reason: e.to_string(),
                }
            })?;

        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let mut service = ConfigService {
            addr,
            admin_addr: admin.addr(),
            stop: Arc::new(AtomicBool::new(false)),
            stop_reloader: Some(stop_tx),
            threads: Vec::new(),
            admin: Some(admin),
        };
        // From here on, an early return drops `service`, which stops what was started.
        let every = settings.reload_every;
        let (view, reload_metrics) = (current.clone(), metrics.clone());
        let reloader = std::thread::Builder::new()
            .name("config-reload".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stop_rx.recv_timeout(every) {
                    if scan_and_log(&mut loader) {
                        let snapshot = loader.snapshot();
                        reload_metrics.show(&snapshot);
                        reload_metrics.reloads.inc();
                        view.set(snapshot);
                    }
                }
            })
            .map_err(StartError::Thread)?;
        service.threads.push(reloader);

        for i in 0..settings.http_threads.max(1) {
            let (server, stop) = (server.clone(), service.stop.clone());
            let (view, metrics) = (current.clone(), metrics.clone());
            let thread = std::thread::Builder::new()
                .name(format!("config-http-{i}"))
                .spawn(move || serve(&server, &stop, &view, &metrics))
                .map_err(StartError::Thread)?;
            service.threads.push(thread);
        }
        shared::info!(
            "config service started",
            addr = addr,
            admin = service.admin_addr,
            dir = settings.dir.display(),
            reload_ms = every.as_millis()
        );
        Ok(service)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Stops accepting, answers requests already received, stops the reloader.
    pub fn shutdown(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stop_reloader.take();
        // The HTTP threads hold the last references to the server: when they are joined
        // it is dropped, which closes the listening socket.
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.admin.take();
    }
}

impl Drop for ConfigService {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// `/healthz` lists broken files but stays 200: a restart cannot fix a bad file.
/// `/readyz` fails while the directory cannot be read.
fn probes(current: &Current) -> (Check, Check) {
    let health_view = current.clone();
    let health: Check = Arc::new(move || Ok(health_view.get().health_report()));
    let ready_view = current.clone();
    let ready: Check = Arc::new(move || {
        let snapshot = ready_view.get();
        match &snapshot.dir_error {
            Some(e) => Err(format!("config directory unreadable: {e}")),
            None => Ok(format!("files served: {}", snapshot.files.len())),
        }
    });
    (health, ready)
}

/// Scans the directory and logs what changed; true when the snapshot must be rebuilt.
fn scan_and_log(loader: &mut Loader) -> bool {
    let report = loader.scan(SystemTime::now());
    for name in &report.loaded {
        shared::info!(
            "config file loaded",
            file = name,
            dir = loader.dir().display()
        );
    }
    for name in &report.removed {
        shared::info!(
            "config file removed",
            file = name,
            dir = loader.dir().display()
        );
    }
    for (name, reason) in &report.refused {
        shared::warn!(
            "config file refused; keeping its last good version if it had one",
            file = name,
            reason = reason
        );
    }
    report.snapshot_stale
}

fn serve(server: &tiny_http::Server, stop: &AtomicBool, view: &Current, metrics: &Metrics) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(POLL) {
            Ok(Some(request)) => handle(request, view, metrics),
            Ok(None) => {}
            Err(e) => shared::warn!("config http receive failed", error = e),
        }
    }
    // Answer what was already received before the server goes away.
    while let Ok(Some(request)) = server.try_recv() {
        handle(request, view, metrics);
    }
}

fn handle(request: tiny_http::Request, view: &Current, metrics: &Metrics) {
    let started = Instant::now();
    let if_none_match = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("If-None-Match"))
        .map(|h| h.value.as_str().to_string());
    let route = route(request.method().as_str(), request.url());
    let reply = answer(&view.get(), &route, if_none_match.as_deref());
    metrics.requests.inc();
    match reply.status {
        304 => metrics.not_modified.inc(),
        400..=499 => metrics.client_errors.inc(),
        _ => {}
    }
    if let Err(e) = request.respond(to_http(&reply)) {
        shared::debug!("config response not delivered", error = e);
    }
    metrics.latency.observe_since(started);
}

fn to_http(reply: &Reply) -> tiny_http::Response<std::io::Cursor<Arc<[u8]>>> {
    let body = reply.body_bytes();
    let length = match reply.body {
        // A 304 carries the length of the representation it stands for (RFC 9110 §8.6).
        Body::NotModified { length } => length,
        _ => body.len(),
    };
    let mut response = tiny_http::Response::new(
        tiny_http::StatusCode(reply.status),
        Vec::new(),
        std::io::Cursor::new(body),
        Some(length),
        None,
    );
    let header = |name: &str, value: &str| {
        tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
            .expect("header names and values here are ASCII")
    };
    if !matches!(reply.body, Body::NotModified { .. }) {
        response.add_header(header("Content-Type", "application/json"));
    }
    if let Some(etag) = &reply.etag {
        response.add_header(header("ETag", etag));
        // Clients may keep a copy but must revalidate: config changes without notice.
        response.add_header(header("Cache-Control", "no-cache"));
    }
    if reply.status == 405 {
        response.add_header(header("Allow", "GET, HEAD"));
    }
    response
}
