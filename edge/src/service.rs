//! The running edge: [`Edge::start`] binds the ports, connects to NATS and starts the
//! loop thread; [`Edge::stop`] (or drop) tells clients, closes and joins it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::Waker;
use shared::admin::{always_ok, AdminServer, Check};
use shared::metrics::Registry;
use shared::nats::{self, Client, NatsError};
use shared::redis_conn::{RedisError, RedisPool};

use crate::options::Options;
use crate::{codec, metrics, server};

/// Queue length of one family channel's NATS subscription. The queue is allocated in full
/// when subscribing, and an edge may hold a channel per local family, so it is kept small;
/// the loop drains it on every wake-up.
pub const FAMILY_QUEUE: usize = 128;
/// Queue length of a world's public channel: few of them, most of the traffic.
pub const PUBLIC_QUEUE: usize = 16_384;

#[derive(Debug)]
pub enum StartError {
    Bind(String, std::io::Error),
    Redis(RedisError),
    Nats(NatsError),
    Io(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            StartError::Redis(e) => write!(f, "bad redis url: {e}"),
            StartError::Nats(e) => write!(f, "cannot connect to nats: {e}"),
            StartError::Io(e) => write!(f, "cannot start the event loop: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Bind(_, e) | StartError::Io(e) => Some(e),
            StartError::Redis(e) => Some(e),
            StartError::Nats(e) => Some(e),
        }
    }
}

impl From<std::io::Error> for StartError {
    fn from(e: std::io::Error) -> StartError {
        StartError::Io(e)
    }
}

/// The two NATS connections: public channels get long subscription queues, family
/// channels short ones (see [`FAMILY_QUEUE`]).
#[derive(Clone)]
pub struct NatsLinks {
    pub public: Client,
    pub family: Client,
}

impl NatsLinks {
    pub fn connect(url: &str) -> Result<NatsLinks, NatsError> {
        let mut public = nats::Options::named("edge");
        public.subscription_capacity = PUBLIC_QUEUE;
        let mut family = nats::Options::named("edge-family");
        family.subscription_capacity = FAMILY_QUEUE;
        Ok(NatsLinks {
            public: Client::connect(url, public)?,
            family: Client::connect(url, family)?,
        })
    }

    pub fn is_connected(&self) -> bool {
        self.public.is_connected() && self.family.is_connected()
    }

    pub fn link(&self, kind: codec::ChatKind) -> &Client {
        match kind {
            codec::ChatKind::Public => &self.public,
            codec::ChatKind::Family => &self.family,
        }
    }
}

/// A running edge. Dropping it stops it, as [`Edge::stop`] does.
pub struct Edge {
    addr: SocketAddr,
    admin: Option<AdminServer>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl Edge {
    /// Binds the client and admin ports, connects to NATS (Redis is connected on first
    /// use) and starts the loop on its own thread.
    pub fn start(cfg: Options) -> Result<Edge, StartError> {
        let client_addr = format!("{}:{}", cfg.bind, cfg.port);
        let std_listener = std::net::TcpListener::bind(&client_addr)
            .map_err(|e| StartError::Bind(client_addr.clone(), e))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = mio::net::TcpListener::from_std(std_listener);

        let pool = RedisPool::new(&cfg.redis_url, cfg.login_threads).map_err(StartError::Redis)?;
        let pool = Arc::new(pool);
        let redis = pool.clone();
        let nats = NatsLinks::connect(&cfg.nats_url).map_err(StartError::Nats)?;

        let registry = Registry::new();
        let metrics = metrics::EdgeMetrics::register(&registry);
        let admin_addr = format!("{}:{}", cfg.admin_bind, cfg.admin_port);
        let ready: Check = {
            let nats = nats.clone();
            Arc::new(move || {
                pool.ping()?;
                if nats.is_connected() {
                    Ok(String::new())
                } else {
                    Err("nats: not connected".to_string())
                }
            })
        };
        let admin = AdminServer::start(&admin_addr, registry, always_ok(), ready)
            .map_err(|e| StartError::Bind(admin_addr.clone(), e))?;

        let stop = Arc::new(AtomicBool::new(false));
        let srv = server::Server::new(cfg, listener, redis, nats, metrics, stop.clone())?;
        let waker = srv.waker();
        let thread = std::thread::Builder::new()
            .name("edge-loop".into())
            .spawn(move || srv.run())?;
        shared::info!("listening", addr = addr, admin = admin.addr());
        Ok(Edge {
            addr,
            admin: Some(admin),
            stop,
            waker,
            thread: Some(thread),
        })
    }

    /// The client chat address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .as_ref()
            .map(AdminServer::addr)
            .expect("the admin server runs until stop")
    }

    /// Tells every client `00000ERRORserver shutting down`, closes, unsubscribes, and
    /// returns when the loop has finished.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.admin.take();
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.shut_down();
    }
}
