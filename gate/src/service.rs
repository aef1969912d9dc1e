//! [`Gate`]: starts the gate's threads and stops them in order.
//!
//! Threads: the socket loop (which also writes jobs down worker links that offer to take
//! them, and queues the rest on NATS), the NATS client's reader
//! and writer, the registrar and the admin HTTP server. Stop order: the loop drains
//! (answers or times out every in-flight request), then the registration is deleted, so
//! workers can reach the gate as long as a client waits for an answer, then NATS closes.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::net::TcpListener;
use mio::{Poll, Waker};
use shared::admin::{always_ok, AdminServer, Check};
use shared::metrics::Registry;
use shared::nats::{Client, NatsError, Options as NatsOptions};
use shared::redis_conn::{RedisError, RedisPool};

use crate::dispatch::Publisher;
use crate::event_loop::{EventLoop, Limits, LoopParts, WAKER};
use crate::gate_metrics::GateMetrics;
use crate::options::Options;
use crate::registration::{GateIdCell, Registrar};

#[derive(Debug)]
pub enum StartError {
    Redis(RedisError),
    Nats(NatsError),
    Bind {
        what: &'static str,
        addr: SocketAddr,
        error: io::Error,
    },
    Io(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Redis(e) => write!(f, "redis: {e}"),
            StartError::Nats(e) => write!(f, "nats: {e}"),
            StartError::Bind { what, addr, error } => {
                write!(f, "cannot listen on {addr} ({what}): {error}")
            }
            StartError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Redis(e) => Some(e),
            StartError::Nats(e) => Some(e),
            StartError::Bind { error, .. } => Some(error),
            StartError::Io(e) => Some(e),
        }
    }
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        StartError::Io(e)
    }
}

/// A running gate. Dropping it stops it the same way [`Gate::stop`] does.
pub struct Gate {
    client_addr: SocketAddr,
    worker_addr: SocketAddr,
    admin_addr: SocketAddr,
    gid: GateIdCell,
    metrics: GateMetrics,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    event_loop: Option<JoinHandle<io::Result<()>>>,
    registrar: Option<Registrar>,
    admin: Option<AdminServer>,
    nats: Client,
}

fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).map_err(|error| StartError::Bind { what, addr, error })
}

impl Gate {
    /// Binds every port first, so a start error leaves no thread behind.
    pub fn start(options: Options) -> Result<Gate, StartError> {
        let redis = Arc::new(RedisPool::new(&options.redis_url, 4).map_err(StartError::Redis)?);
        let nats = Client::connect(&options.nats_url, NatsOptions::named("gate"))
            .map_err(StartError::Nats)?;

        let client_listener = bind("client", SocketAddr::new(options.bind, options.port))?;
        let worker_listener = bind(
            "worker",
            SocketAddr::new(options.worker_bind, options.worker_port),
        )?;
        let client_addr = client_listener.local_addr()?;
        let worker_addr = worker_listener.local_addr()?;

        let registry = Registry::new();
        let metrics = GateMetrics::new(&registry);
        let gid = GateIdCell::new();
        let ready = readiness(gid.clone(), redis.clone(), nats.clone());
        let admin_addr = SocketAddr::new(options.admin_bind, options.admin_port);
        let admin = AdminServer::start(&admin_addr.to_string(), registry, always_ok(), ready)
            .map_err(|error| StartError::Bind {
                what: "admin",
                addr: admin_addr,
                error,
            })?;

        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let stop = Arc::new(AtomicBool::new(false));
        let event_loop = EventLoop::new(LoopParts {
            poll,
            client_listener,
            worker_listener,
            limits: Limits {
                job_timeout: options.job_timeout,
                idle_timeout: options.idle_timeout,
                max_connections: options.max_connections,
                max_in_flight: options.max_in_flight,
                max_connections_per_ip: options.max_connections_per_ip,
                ip_requests_per_sec: options.ip_requests_per_sec,
                write_stall: options.write_stall,
                answer_budget_bytes: options.answer_budget_bytes,
                one_shot: options.one_shot,
            },
            metrics: metrics.clone(),
            stop: stop.clone(),
            publisher: Publisher {
                nats: nats.clone(),
                gid: gid.clone(),
                metrics: metrics.clone(),
                link_jobs: options.link_secret.is_some(),
            },
            link_secret: options.link_secret.clone(),
        })?;

        // Registered before the first job can be dispatched (when Redis is up).
        let advertised = SocketAddr::new(options.advertise_ip, worker_addr.port()).to_string();
        let registrar = Registrar::start(redis.clone(), advertised.clone(), gid.clone())?;

        let event_loop = std::thread::Builder::new()
            .name("gate-loop".into())
            .spawn(move || event_loop.run())?;

        shared::info!(
            "gate started",
            clients = client_addr,
            workers = worker_addr,
            admin = admin.addr(),
            advertised = advertised,
            gid = gid
                .get()
                .map(|g| g.to_string())
                .unwrap_or_else(|| "none".into()),
            one_shot = options.one_shot,
            worker_link_proof = options.link_secret.is_some()
        );
        if options.link_secret.is_none() {
            shared::warn!(
                "worker port unauthenticated: anyone who reaches it can answer jobs (set --link-secret)"
            );
        }
        Ok(Gate {
            client_addr,
            worker_addr,
            admin_addr: admin.addr(),
            gid,
            metrics,
            stop,
            waker,
            event_loop: Some(event_loop),
            registrar: Some(registrar),
            admin: Some(admin),
            nats,
        })
    }

    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    pub fn worker_addr(&self) -> SocketAddr {
        self.worker_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The gid held right now (`None` while not registered).
    pub fn gid(&self) -> Option<u32> {
        self.gid.get()
    }

    pub fn metrics(&self) -> &GateMetrics {
        &self.metrics
    }

    /// Graceful stop: no new clients or requests; in-flight requests get their answer or
    /// -2 (bounded by the job timeout); then deregisters. Returns when all is done.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(t) = self.event_loop.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => shared::error!("event loop failed", error = e),
                Err(_) => shared::error!("event loop panicked"),
            }
        }
        if let Some(mut r) = self.registrar.take() {
            r.stop();
        }
        self.admin.take();
        self.nats.close();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Ready: registered, Redis answers PING, NATS connected.
fn readiness(gid: GateIdCell, redis: Arc<RedisPool>, nats: Client) -> Check {
    Arc::new(move || {
        let gid = gid.get().ok_or("not registered")?;
        redis.ping()?;
        if !nats.is_connected() {
            return Err("nats: not connected".to_string());
        }
        Ok(format!("gid {gid}"))
    })
}
