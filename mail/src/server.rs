//! The API on the shared HTTP server: its limits, and the handler that routes a request
//! to [`api::handle`] and counts deliveries.
//!
//! The server's handler pool bounds how many requests touch the disk at once
//! (`--threads`); its connection threads only wait on sockets, so idle keep-alive clients
//! cannot starve the pool.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::http::{self, Handler, HttpServer, Options, Request, Response};
use shared::metrics::{Counter, Registry};

use crate::api::{self, Endpoint, Reply};
use crate::store::Maildir;

/// Request bodies above this are refused with 413, never read.
pub const MAX_BODY: usize = 256 * 1024;
/// Connections beyond this get 503 and are closed at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// The server's limits for the mail API with `threads` handler threads.
pub fn options(threads: usize) -> Options {
    Options {
        name: "mail",
        threads,
        max_body: MAX_BODY,
        max_head: 16 * 1024,
        max_connections: MAX_CONNECTIONS,
        idle_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(30),
        refusal: http::envelope_refusal,
    }
}

/// Binds `bind` and serves the API on `store`. The server's metrics are `mail_requests_total`,
/// `mail_requests_refused_total`, `mail_requests_failed_total`, `mail_connections` and
/// `mail_request_seconds`; this adds `mail_delivered_total` and `mail_mailbox_full_total`.
pub fn start(
    bind: &str,
    threads: usize,
    store: Arc<Maildir>,
    registry: &Registry,
) -> io::Result<HttpServer> {
    HttpServer::start(bind, options(threads), handler(store, registry), registry)
}

/// Counts what the generic server cannot know: how sends ended.
struct SendMetrics {
    delivered: Arc<Counter>,
    full: Arc<Counter>,
}

impl SendMetrics {
    fn new(registry: &Registry) -> SendMetrics {
        SendMetrics {
            delivered: registry.counter("mail_delivered_total", "mails stored durably"),
            full: registry.counter("mail_mailbox_full_total", "sends refused: mailbox full"),
        }
    }

    fn count(&self, reply: &Reply) {
        match reply.status() {
            0 => self.delivered.inc(),
            1 => self.full.inc(),
            _ => {}
        }
    }
}

/// The request handler: path to endpoint, POST only, JSON body to the store.
pub fn handler(store: Arc<Maildir>, registry: &Registry) -> Handler {
    let metrics = SendMetrics::new(registry);
    Arc::new(move |request: &Request| {
        let reply = match Endpoint::from_path(&request.path) {
            None => Reply {
                http: 404,
                body: json!({"status": -1, "message": "unknown path"}),
            },
            Some(_) if request.method != "POST" => {
                let reply = Reply {
                    http: 405,
                    body: json!({"status": -1, "message": "use POST"}),
                };
                return to_response(&reply).with_header("Allow", "POST");
            }
            Some(endpoint) => {
                let reply = api::handle(&store, endpoint, &request.body);
                if endpoint == Endpoint::Send {
                    metrics.count(&reply);
                }
                reply
            }
        };
        to_response(&reply)
    })
}

fn to_response(reply: &Reply) -> Response {
    Response::json(reply.http, &reply.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn request(method: &str, path: &str, body: &Value) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    fn json_of(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn routes_by_path_and_method() {
        let dir = testkit::TempDir::new("mail-http");
        let store = Arc::new(Maildir::open(&dir.path().join("root"), 1).unwrap());
        let registry = Registry::new();
        let handle = handler(store, &registry);
        let mailbox = json!({"world": "s0", "uid": "u1"});

        let missing = handle(&request("POST", "/nope", &mailbox));
        assert_eq!(missing.status, 404);
        assert_eq!(
            json_of(&missing),
            json!({"status": -1, "message": "unknown path"})
        );
        let get = handle(&request("GET", "/all", &mailbox));
        assert_eq!((get.status, get.header("Allow")), (405, Some("POST")));
        let all = handle(&request("POST", "/all", &mailbox));
        assert_eq!(all.status, 200);
        assert_eq!(all.content_type, Some("application/json"));
        assert_eq!(json_of(&all)["count"], json!({"cur": 0, "max": 1}));
    }

    #[test]
    fn sends_are_counted_as_delivered_or_full() {
        let dir = testkit::TempDir::new("mail-http");
        let store = Arc::new(Maildir::open(&dir.path().join("root"), 1).unwrap());
        let registry = Registry::new();
        let handle = handler(store, &registry);
        let send = json!({"world": "s0", "uid": "u1",
            "mail": {"type": 0, "from": "a", "subj": "b", "body": "c"}});
        assert_eq!(
            json_of(&handle(&request("POST", "/send", &send)))["status"],
            0
        );
        assert_eq!(
            json_of(&handle(&request("POST", "/send", &send)))["status"],
            1
        );
        handle(&request("POST", "/send", &json!({"bad": true})));
        let metrics = registry.render();
        assert!(metrics.contains("mail_delivered_total 1\n"), "{metrics}");
        assert!(metrics.contains("mail_mailbox_full_total 1\n"), "{metrics}");
    }
}
