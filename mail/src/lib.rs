//! The mail service: a Maildir store behind a small JSON-over-HTTP API (port 8020).
//!
//! - [`message`]: the pure ASCII RFC 5322 file format, written and parsed.
//! - [`names`]: strict checks for world, uid and key (they become paths).
//! - [`store`]: the durable Maildir with its per-mailbox limit.
//! - [`lock`]: one writer per mailbox across threads and processes (flock).
//! - [`api`]: JSON requests to store calls and replies.
//! - [`http`]: the API's limits and request handler on the shared HTTP server.
//!
//! [`MailService::start`] runs the whole service in-process (tests bind port 0);
//! `main.rs` only wires configuration, the admin server and signals to it.

pub mod api;
pub mod http;
pub mod lock;
pub mod message;
pub mod names;
pub mod store;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use shared::admin::Check;
use shared::http::HttpServer;
use shared::metrics::Registry;

use crate::store::Maildir;

/// Everything the service needs to start.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// `host:port` of the API, e.g. `0.0.0.0:8020` (`127.0.0.1:0` in tests).
    pub bind: String,
    /// The Maildir root: `<root>/<world>/<uid>/{tmp,new,cur}`.
    pub root: PathBuf,
    pub mailbox_limit: usize,
    /// Handler threads of the API.
    pub threads: usize,
}

/// The running service; dropping it stops the API (in-flight requests are answered).
pub struct MailService {
    store: Arc<Maildir>,
    http: HttpServer,
}

impl MailService {
    pub fn start(config: &ServiceConfig, registry: &Registry) -> io::Result<MailService> {
        let store = Arc::new(Maildir::open(&config.root, config.mailbox_limit)?);
        let http = http::start(&config.bind, config.threads, store.clone(), registry)?;
        Ok(MailService { store, http })
    }

    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    pub fn store(&self) -> &Arc<Maildir> {
        &self.store
    }

    /// `/readyz`: the store's root accepts a new file.
    pub fn ready_check(&self) -> Check {
        let store = self.store.clone();
        Arc::new(move || {
            store
                .check_writable()
                .map(|()| format!("root {} writable", store.root().display()))
                .map_err(|e| format!("root {} not writable: {e}", store.root().display()))
        })
    }

    /// Stops taking requests and answers those already received.
    pub fn shutdown(self) {
        self.http.shutdown();
    }
}
