//! A real HTTP server for tests of outgoing HTTP calls (webhooks): the project's own
//! `shared::http` server on a free loopback port that records every request and answers
//! a status the test chooses.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shared::http::{HttpServer, Options, Request, Response};
use shared::metrics::Registry;

#[derive(Default)]
struct Recorded {
    requests: Vec<Request>,
    status: u16,
    body: Vec<u8>,
}

struct State {
    recorded: Mutex<Recorded>,
    arrived: Condvar,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.recorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Records every request (method, path, query, headers, body) and answers each with the
/// current status (200 until [`HttpReceiver::set_status`]) and body (empty until
/// [`HttpReceiver::set_body`], sent as `application/json` when not empty).
pub struct HttpReceiver {
    state: Arc<State>,
    server: HttpServer,
}

impl HttpReceiver {
    pub fn start() -> HttpReceiver {
        let state = Arc::new(State {
            recorded: Mutex::new(Recorded {
                status: 200,
                ..Recorded::default()
            }),
            arrived: Condvar::new(),
        });
        let handler_state = state.clone();
        let handler = Arc::new(move |request: &Request| {
            let mut recorded = handler_state.lock();
            recorded.requests.push(request.clone());
            let content_type = (!recorded.body.is_empty()).then_some("application/json");
            let response = Response::new(recorded.status, content_type, recorded.body.clone());
            drop(recorded);
            handler_state.arrived.notify_all();
            response
        });
        let options = Options {
            name: "http_receiver",
            threads: 2,
            max_body: 1024 * 1024,
            ..Options::default()
        };
        let server = HttpServer::start("127.0.0.1:0", options, handler, &Registry::new())
            .expect("start the HTTP receiver");
        HttpReceiver { state, server }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The status of every later answer.
    pub fn set_status(&self, status: u16) {
        self.state.lock().status = status;
    }

    /// The body of every later answer.
    pub fn set_body(&self, body: &[u8]) {
        self.state.lock().body = body.to_vec();
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().requests.clone()
    }

    /// Waits for the `n`-th request (1 = the first) and returns it. Panics after `timeout`
    /// with how many did arrive.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Request {
        assert!(n >= 1, "requests are counted from 1");
        let deadline = Instant::now() + timeout;
        let mut recorded = self.state.lock();
        loop {
            if let Some(request) = recorded.requests.get(n - 1) {
                return request.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "request {n} not received after {timeout:?} ({} arrived)",
                    recorded.requests.len()
                );
            }
            recorded = self
                .state
                .arrived
                .wait_timeout(recorded, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    fn post(addr: SocketAddr, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn records_requests_and_answers_the_chosen_status() {
        let receiver = HttpReceiver::start();
        let answer = post(receiver.addr(), "/hook?x=1", r#"{"a":1}"#);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let first = receiver.wait_for(1, Duration::from_secs(10));
        assert_eq!(first.method, "POST");
        assert_eq!(first.path, "/hook");
        assert_eq!(first.query, "x=1");
        assert_eq!(first.header("content-type"), Some("application/json"));
        assert_eq!(first.body, br#"{"a":1}"#);

        receiver.set_status(500);
        receiver.set_body(br#"{"error":"down"}"#);
        let answer = post(receiver.addr(), "/other", "");
        assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
        assert!(answer.ends_with(r#"{"error":"down"}"#), "{answer}");
        assert_eq!(receiver.wait_for(2, Duration::from_secs(10)).path, "/other");
        assert_eq!(receiver.requests().len(), 2);
    }

    #[test]
    #[should_panic(expected = "request 1 not received")]
    fn waiting_for_a_request_that_never_comes_panics() {
        HttpReceiver::start().wait_for(1, Duration::from_millis(50));
    }
}
