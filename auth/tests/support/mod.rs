//! Shared by the integration tests and the benchmark: the service in-process on a free
//! port against a real Redis, and a small keep-alive HTTP/1.1 client.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use auth::{Endpoints, IssuerKey, Key, Metrics, Nonces, ServerHandle, Tokens, ISSUER_KEY_HEADER};
use serde_json::Value;
use shared::metrics::Registry;
use shared::redis_conn::RedisPool;

pub const SECRET: &[u8] = b"test-secret-of-at-least-32-bytes!!";

/// The operators' key of every harness but [`Harness::without_issuer_key`].
pub const ISSUER_KEY: &str = "issuer-key-of-the-tests-32-bytes-or-more";

pub fn key() -> Key {
    Key::new(SECRET).unwrap()
}

/// Redis, a pool on it, and the auth server in this process.
pub struct Harness {
    pub redis: testkit::Redis,
    pub pool: Arc<RedisPool>,
    pub service: Arc<Endpoints>,
    pub registry: Registry,
    pub server: Option<ServerHandle>,
}

impl Harness {
    pub fn start() -> Harness {
        Harness::start_with(4, Duration::from_secs(3600))
    }

    pub fn start_with(threads: usize, lifetime: Duration) -> Harness {
        let issuer_key = IssuerKey::new(ISSUER_KEY.as_bytes()).unwrap();
        Harness::start_full(threads, lifetime, Some(issuer_key))
    }

    /// An auth started without `--issuer-key`.
    pub fn without_issuer_key() -> Harness {
        Harness::start_full(4, Duration::from_secs(3600), None)
    }

    fn start_full(threads: usize, lifetime: Duration, issuer_key: Option<IssuerKey>) -> Harness {
        let redis = testkit::Redis::start();
        let pool = Arc::new(RedisPool::new(&redis.url(), threads * 2).unwrap());
        let mut service = Endpoints::new(
            Tokens::new(key(), pool.clone(), lifetime),
            Nonces::new(pool.clone()),
        );
        if let Some(issuer_key) = issuer_key {
            service = service.with_issuer_key(issuer_key);
        }
        let service = Arc::new(service);
        let registry = Registry::new();
        let metrics = Arc::new(Metrics::new(&registry));
        let server = auth::server::start("127.0.0.1:0", threads, service.clone(), metrics).unwrap();
        Harness {
            redis,
            pool,
            service,
            registry,
            server: Some(server),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().unwrap().addr()
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr())
    }

    pub fn tokens(&self) -> &Tokens {
        &self.service.tokens
    }

    pub fn redis_get(&self, key: &str) -> Option<String> {
        self.pool
            .run(|c| redis::cmd("GET").arg(key).query(c))
            .unwrap()
    }

    pub fn redis_ttl(&self, key: &str) -> i64 {
        self.pool
            .run(|c| redis::cmd("TTL").arg(key).query(c))
            .unwrap()
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            addr,
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Sends one request; returns the status code and the body.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<(u16, String)> {
        self.request_with(method, path, &[], body)
    }

    /// [`Client::request`] with extra header lines (`name`, `value`).
    pub fn request_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<(u16, String)> {
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let mut message = head.into_bytes();
        message.extend_from_slice(body);
        self.writer.write_all(&message)?;
        self.read_response()
    }

    /// Sends a body with chunked transfer encoding (no Content-Length).
    pub fn request_chunked(&mut self, path: &str, body: &[u8]) -> io::Result<(u16, String)> {
        let mut message = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
            self.addr
        )
        .into_bytes();
        for chunk in body.chunks(8192) {
            message.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            message.extend_from_slice(chunk);
            message.extend_from_slice(b"\r\n");
        }
        message.extend_from_slice(b"0\r\n\r\n");
        self.writer.write_all(&message)?;
        self.read_response()
    }

    pub fn post(&mut self, path: &str, body: &str) -> (u16, Value) {
        let (code, text) = self.request("POST", path, body.as_bytes()).unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("answer to {path} is not JSON ({e}): {text:?}"));
        (code, value)
    }

    pub fn post_json(&mut self, path: &str, body: &Value) -> (u16, Value) {
        self.post(path, &body.to_string())
    }

    /// `/issue_token` presenting `issuer_key` (None: no header).
    pub fn issue_as(&mut self, issuer_key: Option<&str>, body: &Value) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = issuer_key
            .map(|k| (ISSUER_KEY_HEADER, k))
            .into_iter()
            .collect();
        let (code, text) = self
            .request_with(
                "POST",
                "/issue_token",
                &headers,
                body.to_string().as_bytes(),
            )
            .unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text:?}"));
        (code, value)
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(line.trim_end().to_string())
    }

    fn read_response(&mut self) -> io::Result<(u16, String)> {
        let status_line = self.read_line()?;
        let code: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let size = usize::from_str_radix(self.read_line()?.trim(), 16)
                    .map_err(|e| io::Error::other(format!("bad chunk size: {e}")))?;
                if size == 0 {
                    self.read_line()?;
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                self.reader.read_exact(&mut body[start..])?;
                self.read_line()?;
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok((code, String::from_utf8_lossy(&body).into_owned()))
    }
}
