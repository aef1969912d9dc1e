//! The running service: the reloader thread, the HTTP server and the admin server.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::SystemTime;

use shared::admin::{AdminServer, Check};
use shared::http::{self, Handler, HttpServer, Request, Response};
use shared::metrics::{Counter, Gauge, Registry};

use crate::api::{answer, route, Body, Reply};
use crate::loader::Loader;
use crate::options::Options;
use crate::snapshot::Snapshot;

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
        error: std::io::Error,
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
            StartError::Bind { what, addr, error } => {
                write!(f, "cannot listen for {what} on {addr}: {error}")
            }
            StartError::Thread(e) => write!(f, "cannot start a thread: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Thread(e) | StartError::Bind { error: e, .. } => Some(e),
            // The loader keeps its reason as text: it compares them to log each change once.
            StartError::Directory { .. } => None,
        }
    }
}

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

/// What the HTTP server cannot count itself; it adds `config_http_requests_total`,
/// `config_http_requests_refused_total`, `config_http_request_seconds`, ... to the same
/// registry.
struct Metrics {
    not_modified: Arc<Counter>,
    client_errors: Arc<Counter>,
    files: Arc<Gauge>,
    broken: Arc<Gauge>,
    reloads: Arc<Counter>,
}

impl Metrics {
    fn new(registry: &Registry) -> Metrics {
        Metrics {
            not_modified: registry.counter(
                "config_http_not_modified_total",
                "requests answered 304 because the client's ETag matched",
            ),
            client_errors: registry.counter(
                "config_http_client_errors_total",
                "requests answered 4xx (bad name, unknown file or path, wrong method)",
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
    /// Dropping the sender wakes the reloader at once.
    stop_reloader: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
    http: Option<HttpServer>,
    admin: Option<AdminServer>,
}

impl ConfigService {
    pub fn start(options: Options) -> Result<ConfigService, StartError> {
        let registry = Registry::new();
        let metrics = Arc::new(Metrics::new(&registry));

        let mut loader = Loader::new(&options.dir);
        scan_and_log(&mut loader);
        let first = loader.snapshot();
        if let Some(reason) = first.dir_error.clone() {
            return Err(StartError::Directory {
                dir: options.dir,
                reason,
            });
        }
        metrics.show(&first);
        let current = Current(Arc::new(RwLock::new(Arc::new(first))));

        let addr = SocketAddr::new(options.bind, options.port);
        let (view, http_metrics) = (current.clone(), metrics.clone());
        let handler: Handler =
            Arc::new(move |request: &Request| handle(request, &view, &http_metrics));
        let limits = http_options(options.http_threads);
        let http =
            HttpServer::start(&addr.to_string(), limits, handler, &registry).map_err(|error| {
                StartError::Bind {
                    what: "config requests",
                    addr,
                    error,
                }
            })?;
        let addr = http.addr();

        let (health, ready) = probes(&current);
        let admin_addr = SocketAddr::new(options.bind, options.admin_port);
        let admin = AdminServer::start(&admin_addr.to_string(), registry, health, ready).map_err(
            |error| StartError::Bind {
                what: "admin",
                addr: admin_addr,
                error,
            },
        )?;

        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let mut service = ConfigService {
            addr,
            admin_addr: admin.addr(),
            stop_reloader: Some(stop_tx),
            threads: Vec::new(),
            http: Some(http),
            admin: Some(admin),
        };
        // From here on, an early return drops `service`, which stops what was started.
        let every = options.reload_every;
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
        shared::info!(
            "config service started",
            addr = addr,
            admin = service.admin_addr,
            dir = options.dir.display(),
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
    pub fn stop(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        // The server answers requests already (partly) received before it returns.
        if let Some(http) = self.http.take() {
            http.stop();
        }
        self.stop_reloader.take();
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

/// The HTTP server's limits: a GET-only API never needs a request body.
fn http_options(threads: usize) -> http::Options {
    http::Options {
        name: "config_http",
        threads,
        max_body: 4 * 1024,
        refusal: error_refusal,
        ..http::Options::default()
    }
}

/// The server's own refusals (400, 413, 431, ...) in this API's error shape.
fn error_refusal(status: u16, message: &str) -> Response {
    Reply::error(status, message).into()
}

fn handle(request: &Request, view: &Current, metrics: &Metrics) -> Response {
    let route = route(&request.method, &request.path);
    let reply = answer(&view.get(), &route, request.header("If-None-Match"));
    match reply.status {
        304 => metrics.not_modified.inc(),
        400..=499 => metrics.client_errors.inc(),
        _ => {}
    }
    reply.into()
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Response {
        let content_type = match reply.body {
            Body::NotModified(_) => None,
            _ => Some("application/json"),
        };
        let mut response = Response::new(reply.status, content_type, reply.body_bytes());
        if let Some(etag) = reply.etag {
            // Clients may keep a copy but must revalidate: config changes without notice.
            response = response
                .with_header("ETag", etag)
                .with_header("Cache-Control", "no-cache");
        }
        if reply.status == 405 {
            response = response.with_header("Allow", "GET, HEAD");
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(response: &Response) -> serde_json::Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn replies_become_responses_with_their_headers() {
        let document: Arc<[u8]> = Arc::from(&b"{\"coins\":100}"[..]);
        let ok = Response::from(Reply {
            status: 200,
            etag: Some("\"abc\"".into()),
            body: Body::Json(document.clone()),
        });
        assert_eq!(ok.content_type, Some("application/json"));
        assert_eq!(ok.header("ETag"), Some("\"abc\""));
        assert_eq!(ok.header("Cache-Control"), Some("no-cache"));
        assert_eq!(ok.body, document);

        // The representation rides along so the server can state its length.
        let cached = Response::from(Reply {
            status: 304,
            etag: Some("\"abc\"".into()),
            body: Body::NotModified(document.clone()),
        });
        assert_eq!(cached.content_type, None);
        assert_eq!(cached.body.len(), document.len());
        assert_eq!(cached.header("ETag"), Some("\"abc\""));

        let refused = Response::from(Reply::error(405, "only GET and HEAD are allowed"));
        assert_eq!(refused.header("Allow"), Some("GET, HEAD"));
        assert_eq!(refused.header("ETag"), None);
    }

    #[test]
    fn the_servers_own_refusals_use_the_error_shape() {
        let refused = error_refusal(431, "request head over 16384 bytes");
        assert_eq!(refused.status, 431);
        assert_eq!(
            json_of(&refused),
            serde_json::json!({"error": "request head over 16384 bytes"})
        );
    }
}
