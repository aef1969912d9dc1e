//! The running service: the Maildir store behind the API server ([`crate::server`]).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use shared::admin::Check;
use shared::http::HttpServer;
use shared::metrics::Registry;

use crate::options::Options;
use crate::server;
use crate::store::Maildir;

/// The running service; dropping it stops the API (in-flight requests are answered).
pub struct MailService {
    store: Arc<Maildir>,
    http: HttpServer,
}

impl MailService {
    pub fn start(options: &Options, registry: &Registry) -> io::Result<MailService> {
        let store = Arc::new(Maildir::open(&options.root, options.mailbox_limit)?);
        let http = server::start(&options.bind, options.threads, store.clone(), registry)?;
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
    pub fn stop(self) {
        self.http.stop();
    }
}
