//! The shared HTTP server over real sockets: hostile input, slow clients, limits,
//! keep-alive and graceful shutdown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::http::{Handler, HttpServer, Options, Request, Response};
use shared::metrics::Registry;

/// Echoes what it was asked, as JSON; `/panic` panics, `/sleep` takes 300 ms.
fn echo() -> Handler {
    Arc::new(|request: &Request| {
        match request.path.as_str() {
            "/panic" => panic!("a handler bug"),
            "/sleep" => std::thread::sleep(Duration::from_millis(300)),
            _ => {}
        }
        let body = json!({
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "x_tag": request.header("X-Tag"),
            "body": String::from_utf8_lossy(&request.body),
        });
        Response::json(200, &body).with_header("ETag", "\"e1\"")
    })
}

fn start(options: Options) -> HttpServer {
    start_with(options, echo(), &Registry::new())
}

fn start_with(options: Options, handler: Handler, registry: &Registry) -> HttpServer {
    HttpServer::start("127.0.0.1:0", options, handler, registry).unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// A parsed answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// Reads answers off one connection by their `Content-Length`.
struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Reader {
    fn new(stream: TcpStream) -> Reader {
        Reader {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next answer; `head_only` for answers to HEAD (a length but no body).
    fn answer(&mut self, head_only: bool) -> std::io::Result<Answer> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
                let mut lines = head.split("\r\n");
                let status = lines.next().unwrap()[9..12].parse().unwrap();
                let headers: Vec<(String, String)> = lines
                    .map(|l| {
                        let (n, v) = l.split_once(": ").unwrap();
                        (n.to_string(), v.to_string())
                    })
                    .collect();
                let length = headers
                    .iter()
                    .find(|(n, _)| n == "Content-Length")
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let length = if head_only || status == 304 {
                    0
                } else {
                    length
                };
                if self.buf.len() >= end + 4 + length {
                    let body = self.buf[end + 4..end + 4 + length].to_vec();
                    self.buf.drain(..end + 4 + length);
                    return Ok(Answer {
                        status,
                        headers,
                        body,
                    });
                }
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// True when the server has closed the connection (after any unread answer).
    fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        matches!(self.stream.read(&mut chunk), Ok(0))
    }
}

/// One request on a fresh connection; its answer.
fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut reader = Reader::new(connect(addr));
    reader.send(request);
    reader.answer(request.starts_with(b"HEAD")).unwrap()
}

fn post(path: &str, body: &str, close: bool) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{body}",
        body.len(),
        if close { "close" } else { "keep-alive" }
    )
    .into_bytes()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let server = start(Options::default());
    let mut conn = Reader::new(connect(server.addr()));
    conn.send(b"GET /first?a=1&b=%20 HTTP/1.1\r\nHost: t\r\nX-TAG: one\r\n\r\n");
    let first = conn.answer(false).unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("Connection"), Some("keep-alive"));
    assert_eq!(first.header("ETag"), Some("\"e1\""));
    assert_eq!(first.header("Content-Type"), Some("application/json"));
    assert_eq!(
        first.json(),
        json!({"method": "GET", "path": "/first", "query": "a=1&b=%20", "x_tag": "one", "body": ""})
    );
    conn.send(&post("/second", "hello", true));
    let second = conn.answer(false).unwrap();
    assert_eq!(second.json()["body"], "hello");
    assert_eq!(second.json()["method"], "POST");
    assert_eq!(second.header("Connection"), Some("close"));
    assert!(conn.closed(), "Connection: close is honoured");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start(Options::default());
    let mut conn = Reader::new(connect(server.addr()));
    let mut both = post("/a", "1", false);
    both.extend(post("/b", "22", false));
    both.extend(get("/c"));
    conn.send(&both);
    for (path, body) in [("/a", "1"), ("/b", "22"), ("/c", "")] {
        let answer = conn.answer(false).unwrap().json();
        assert_eq!(
            (answer["path"].as_str(), answer["body"].as_str()),
            (Some(path), Some(body))
        );
    }
}

#[test]
fn head_gets_the_headers_and_length_without_a_body() {
    let server = start(Options::default());
    let mut conn = Reader::new(connect(server.addr()));
    conn.send(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = conn.answer(true).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("ETag"), Some("\"e1\""));
    let length: usize = head.header("Content-Length").unwrap().parse().unwrap();
    assert!(length > 0);
    // The next answer starts right after the head: no body bytes were sent.
    conn.send(&get("/after"));
    assert_eq!(conn.answer(false).unwrap().json()["path"], "/after");
}

#[test]
fn a_lying_huge_content_length_then_close_leaves_the_server_answering() {
    let server = start(Options::default());
    for declared in ["99999999999999", "18446744073709551615", "1000"] {
        let mut liar = connect(server.addr());
        let head = format!("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: {declared}\r\n\r\n{{");
        liar.write_all(head.as_bytes()).unwrap();
        drop(liar);
    }
    // Declared length over max_body: refused from the length alone, nothing read.
    let answer = exchange(
        server.addr(),
        b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999\r\n\r\n{",
    );
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["status"], -1);
    assert!(answer.json()["message"].as_str().unwrap().contains("65536"));
    assert_eq!(
        exchange(server.addr(), &get("/still")).json()["path"],
        "/still"
    );
}

#[test]
fn a_twenty_kib_header_gets_431() {
    let server = start(Options::default());
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20 * 1024)
    );
    let answer = exchange(server.addr(), big.as_bytes());
    assert_eq!(answer.status, 431);
    assert_eq!(answer.header("Connection"), Some("close"));
    // Also when the head never ends: the server stops reading at the limit.
    let mut endless = Reader::new(connect(server.addr()));
    endless.send(format!("GET / HTTP/1.1\r\nX-Big: {}", "b".repeat(20 * 1024)).as_bytes());
    assert_eq!(endless.answer(false).unwrap().status, 431);
    assert_eq!(exchange(server.addr(), &get("/ok")).status, 200);
}

#[test]
fn bad_requests_get_clear_errors_and_the_connection_closes() {
    let server = start(Options::default());
    let cases: [(&[u8], u16, &str); 5] = [
        (b"garbage\r\n\r\n", 400, "request line"),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            411,
            "Content-Length",
        ),
        (b"GET / HTTP/2.0\r\n\r\n", 505, "HTTP/1.1"),
        (
            b"POST / HTTP/1.1\r\nExpect: magic\r\n\r\n",
            417,
            "100-continue",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            "conflicting",
        ),
    ];
    for (request, status, says) in cases {
        let mut conn = Reader::new(connect(server.addr()));
        conn.send(request);
        let answer = conn.answer(false).unwrap();
        assert_eq!(
            answer.status,
            status,
            "{:?}",
            String::from_utf8_lossy(request)
        );
        let message = answer.json()["message"].as_str().unwrap().to_string();
        assert!(message.contains(says), "{message}");
        assert!(conn.closed());
    }
}

#[test]
fn expect_100_continue_gets_the_interim_answer_before_the_body() {
    let server = start(Options::default());
    let mut conn = Reader::new(connect(server.addr()));
    conn.send(b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    let interim = conn.answer(false).unwrap();
    assert_eq!(interim.status, 100);
    conn.send(b"data");
    assert_eq!(conn.answer(false).unwrap().json()["body"], "data");
    // Over max_body: refused without the interim answer.
    let mut big = Reader::new(connect(server.addr()));
    big.send(b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 70000\r\n\r\n");
    assert_eq!(big.answer(false).unwrap().status, 413);
}

#[test]
fn a_slowloris_client_does_not_block_other_clients_and_is_answered_in_the_end() {
    let server = start(Options {
        threads: 1,
        ..Options::default()
    });
    let addr = server.addr();
    let slow_done = Arc::new(AtomicBool::new(false));
    let done = slow_done.clone();
    let slow = std::thread::spawn(move || {
        let mut conn = Reader::new(connect(addr));
        for &byte in b"POST /slow HTTP/1.1\r\nContent-Length: 2\r\n\r\nzz" {
            conn.send(&[byte]);
            std::thread::sleep(Duration::from_millis(100));
        }
        let answer = conn.answer(false).unwrap();
        done.store(true, Ordering::SeqCst);
        answer
    });
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..5 {
        let path = format!("/fast{i}");
        assert_eq!(exchange(addr, &get(&path)).json()["path"], path.as_str());
    }
    assert!(
        !slow_done.load(Ordering::SeqCst),
        "the fast clients were answered while the slow one was still sending"
    );
    let slow_answer = slow.join().unwrap();
    assert_eq!(slow_answer.json()["body"], "zz");
}

#[test]
fn a_request_that_never_completes_gets_408() {
    let server = start(Options {
        request_timeout: Duration::from_millis(500),
        ..Options::default()
    });
    let mut conn = Reader::new(connect(server.addr()));
    conn.send(b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    let answer = conn.answer(false).unwrap();
    assert_eq!(answer.status, 408);
    assert!(conn.closed());
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let server = start(Options {
        idle_timeout: Duration::from_millis(300),
        ..Options::default()
    });
    let mut conn = Reader::new(connect(server.addr()));
    conn.send(&get("/once"));
    assert_eq!(conn.answer(false).unwrap().status, 200);
    assert!(
        conn.closed(),
        "closed after the idle timeout, without an answer"
    );
}

#[test]
fn connections_over_max_connections_get_503_until_one_closes() {
    let registry = Registry::new();
    let server = start_with(
        Options {
            name: "limited",
            max_connections: 3,
            ..Options::default()
        },
        echo(),
        &registry,
    );
    let mut open: Vec<Reader> = (0..3)
        .map(|i| {
            let mut conn = Reader::new(connect(server.addr()));
            // Answered: the server holds this connection open.
            conn.send(&get(&format!("/hold{i}")));
            assert_eq!(conn.answer(false).unwrap().status, 200);
            conn
        })
        .collect();
    let mut extra = Reader::new(connect(server.addr()));
    let refused = extra.answer(false).unwrap();
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["message"], "too many connections");
    assert!(extra.closed());
    assert!(registry
        .render()
        .contains("limited_connections_refused_total 1\n"));
    assert!(registry.render().contains("limited_connections 3\n"));

    drop(open.pop());
    // The server notices the close within its poll interval; then there is room again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = Reader::new(connect(server.addr()));
        conn.send(&get("/again"));
        let answer = conn.answer(false).unwrap();
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 503);
        assert!(
            Instant::now() < deadline,
            "a closed connection frees its slot"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The held connections still work.
    for conn in &mut open {
        conn.send(&get("/still"));
        assert_eq!(conn.answer(false).unwrap().status, 200);
    }
}

#[test]
fn the_pool_runs_at_most_threads_handlers_at_once() {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (r, m) = (running.clone(), most.clone());
    let handler: Handler = Arc::new(move |_: &Request| {
        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        r.fetch_sub(1, Ordering::SeqCst);
        Response::empty(204)
    });
    let server = start_with(
        Options {
            threads: 2,
            ..Options::default()
        },
        handler,
        &Registry::new(),
    );
    let addr = server.addr();
    let barrier = Arc::new(Barrier::new(8));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                exchange(addr, &get("/")).status
            })
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), 204);
    }
    assert_eq!(most.load(Ordering::SeqCst), 2);
}

#[test]
fn a_panicking_handler_costs_one_500_not_the_server() {
    let registry = Registry::new();
    let server = start_with(
        Options {
            name: "panicky",
            threads: 1,
            ..Options::default()
        },
        echo(),
        &registry,
    );
    let answer = exchange(server.addr(), &get("/panic"));
    assert_eq!(answer.status, 500);
    assert_eq!(answer.json()["message"], "internal error");
    assert_eq!(exchange(server.addr(), &get("/fine")).status, 200);
    let metrics = registry.render();
    assert!(metrics.contains("panicky_requests_total 2\n"), "{metrics}");
    assert!(
        metrics.contains("panicky_requests_failed_total 1\n"),
        "{metrics}"
    );
}

#[test]
fn metrics_count_requests_refusals_and_failures() {
    let registry = Registry::new();
    let handler: Handler = Arc::new(|request: &Request| match request.path.as_str() {
        "/missing" => Response::text(404, "no"),
        "/broken" => Response::text(503, "down"),
        _ => Response::text(200, "yes"),
    });
    let server = start_with(
        Options {
            name: "counted",
            ..Options::default()
        },
        handler,
        &registry,
    );
    for path in ["/", "/missing", "/broken", "/"] {
        exchange(server.addr(), &get(path));
    }
    exchange(server.addr(), b"nonsense\r\n\r\n");
    exchange(
        server.addr(),
        b"POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n",
    );
    let metrics = registry.render();
    for line in [
        "counted_requests_total 6\n",
        "counted_requests_refused_total 3\n",
        "counted_too_large_total 1\n",
        "counted_requests_failed_total 1\n",
        "counted_request_seconds_count 4\n",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[test]
fn a_custom_refusal_shapes_the_servers_own_errors() {
    fn refusal(status: u16, message: &str) -> Response {
        Response::json(status, &json!({"error": message}))
    }
    let server = start(Options {
        refusal,
        ..Options::default()
    });
    let answer = exchange(server.addr(), b"GET nowhere HTTP/1.1\r\n\r\n");
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        json!({"error": "malformed HTTP request: request target"})
    );
}

#[test]
fn shutdown_answers_the_request_in_flight_then_refuses_connections() {
    let server = start(Options::default());
    let addr = server.addr();
    let mut in_flight = Reader::new(connect(addr));
    in_flight.send(&get("/sleep"));
    // The request reaches the handler before shutdown starts.
    std::thread::sleep(Duration::from_millis(100));
    let stopped = Arc::new(Mutex::new(false));
    let flag = stopped.clone();
    let stopper = std::thread::spawn(move || {
        server.stop();
        *flag.lock().unwrap() = true;
    });
    let answer = in_flight.answer(false).unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Connection"), Some("close"));
    stopper.join().unwrap();
    assert!(*stopped.lock().unwrap());
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
}

#[test]
fn binding_a_taken_port_is_an_error() {
    let first = start(Options::default());
    let taken = first.addr().to_string();
    let second = HttpServer::start(&taken, Options::default(), echo(), &Registry::new());
    assert!(second.is_err());
}
