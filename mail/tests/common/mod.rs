//! A plain HTTP/1.1 client for the tests and the bench: raw bytes over TcpStream, so tests
//! can also send what a polite client never would.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// The status code and the body of a response.
pub struct Answer {
    pub http: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Sends raw request bytes on a new connection and reads until the server closes it.
pub fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    let mut text = Vec::new();
    stream.read_to_end(&mut text)?;
    parse_answer(&text)
}

pub fn parse_answer(text: &[u8]) -> std::io::Result<Answer> {
    let text = String::from_utf8_lossy(text);
    let bad = || std::io::Error::other(format!("bad HTTP response {text:?}"));
    let http = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let body = text.split_once("\r\n\r\n").ok_or_else(bad)?.1.to_string();
    Ok(Answer { http, body })
}

pub fn request_bytes(path: &str, body: &[u8], close: bool) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nHost: mail\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: {}\r\n\r\n",
        body.len(),
        if close { "close" } else { "keep-alive" }
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// POSTs JSON on a fresh connection.
pub fn post(addr: SocketAddr, path: &str, body: &Value) -> std::io::Result<Answer> {
    raw(
        addr,
        &request_bytes(path, body.to_string().as_bytes(), true),
    )
}

/// A keep-alive connection: one request after another on the same socket.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    pub fn open(addr: SocketAddr) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn post(&mut self, path: &str, body: &Value) -> std::io::Result<Answer> {
        self.write_raw(&request_bytes(path, body.to_string().as_bytes(), false))?;
        self.read_answer()
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads an interim `1xx` status line (and its blank line); returns the status line.
    pub fn read_interim(&mut self) -> std::io::Result<String> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).to_string();
                self.buf.drain(..end + 4);
                return Ok(line);
            }
            let mut chunk = [0u8; 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one response (by its Content-Length) from the connection.
    pub fn read_answer(&mut self) -> std::io::Result<Answer> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| std::io::Error::other("no Content-Length"))?;
                let total = end + 4 + length;
                if self.buf.len() >= total {
                    let answer = parse_answer(&self.buf[..total])?;
                    self.buf.drain(..total);
                    return Ok(answer);
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
}

/// The built `mail` binary running as a child process on `root`.
pub struct Process {
    pub child: std::process::Child,
    pub api: SocketAddr,
    pub admin: SocketAddr,
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failed test must not leave a server running; after kill + wait this is a no-op.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the `mail` binary on `root` and waits until its API and admin ports accept.
pub fn spawn(root: &std::path::Path, threads: usize, limit: usize) -> Process {
    let port = testkit::free_port();
    let admin_port = testkit::free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mail"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--admin-port", &admin_port.to_string()])
        .arg("--root")
        .arg(root)
        .args(["--threads", &threads.to_string()])
        .args(["--mailbox-limit", &limit.to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the mail binary");
    let api: SocketAddr = ([127, 0, 0, 1], port).into();
    let admin: SocketAddr = ([127, 0, 0, 1], admin_port).into();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(api).is_err() || TcpStream::connect(admin).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "mail did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Process { child, api, admin }
}

/// The names in `dir` (none when it does not exist).
pub fn names_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A GET on a fresh connection (the admin port's endpoints).
pub fn get(addr: SocketAddr, path: &str) -> Answer {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap()
}
