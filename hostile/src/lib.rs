//! Helpers for the hostile-input suite: raw clients that can send anything a hostile peer
//! would, and small readers of the answers. The cases themselves live in `tests/`; the
//! table of every case is docs/hostile-input.md.

pub mod attack;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// Long enough for a worker round trip on a busy 2-core machine; a hang still fails.
pub const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// A raw line client: sends any bytes, reads `\r\n`-ended lines, notices a closed socket.
pub struct RawClient {
    stream: TcpStream,
    pending: Vec<u8>,
}

/// What a read of one line found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read1 {
    Line(String),
    /// The peer closed (EOF or reset) before a complete line.
    Closed,
    /// Nothing within the wait.
    Silent,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        RawClient {
            stream,
            pending: Vec::new(),
        }
    }

    /// As [`RawClient::connect`], from the loopback address `from` (any of 127.0.0.0/8):
    /// one test can be several client addresses.
    pub fn connect_from(from: std::net::Ipv4Addr, addr: SocketAddr) -> RawClient {
        let stream = connect_from(from, addr);
        stream.set_nodelay(true).expect("nodelay");
        RawClient {
            stream,
            pending: Vec::new(),
        }
    }

    /// Sends bytes as they are; a peer that already closed is not an error here (the
    /// following read reports it).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Sends `line` plus `\r\n`.
    pub fn send(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.send_raw(&bytes);
    }

    pub fn shutdown_write(&self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("shutdown write");
    }

    /// The next line (without `\r\n`), or whether the peer closed or stayed silent.
    pub fn read_line_within(&mut self, wait: Duration) -> Read1 {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.pending.drain(..end + 2).take(end).collect();
                return Read1::Line(String::from_utf8_lossy(&line).into_owned());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Read1::Silent;
            }
            self.stream
                .set_read_timeout(Some(left.min(Duration::from_millis(500))))
                .expect("read timeout");
            let mut buf = [0u8; 8192];
            match self.stream.read(&mut buf) {
                Ok(0) => return Read1::Closed,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Read1::Closed,
            }
        }
    }

    /// The next line, which must come within [`ANSWER_WAIT`].
    pub fn line(&mut self) -> String {
        match self.read_line_within(ANSWER_WAIT) {
            Read1::Line(l) => l,
            other => panic!("expected a line, got {other:?}"),
        }
    }

    /// The next line as JSON.
    pub fn answer(&mut self) -> Value {
        let line = self.line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer {line:?} is not JSON: {e}"))
    }

    /// Sends one request line and reads its answer.
    pub fn call(&mut self, line: &str) -> Value {
        self.send(line);
        self.answer()
    }

    /// True once the peer has closed the connection (within `wait`), with no line before.
    pub fn closes_within(&mut self, wait: Duration) -> bool {
        self.read_line_within(wait) == Read1::Closed
    }

    /// Drains lines until the peer closes; panics if it does not within `wait`.
    pub fn expect_closed(&mut self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_line_within(left) {
                Read1::Line(l) => lines.push(l),
                Read1::Closed => return lines,
                Read1::Silent => panic!("connection still open after {wait:?}; read {lines:?}"),
            }
        }
    }
}

pub use testkit::connect_from;

/// The `status` of an answer; panics if there is none (an answer without one is a bug).
pub fn status(answer: &Value) -> i64 {
    answer["status"]
        .as_i64()
        .unwrap_or_else(|| panic!("answer without an integer status: {answer}"))
}

/// A request line of the contract.
pub fn request(world: &str, function: &str, data: Value) -> String {
    json!({"world": world, "function": function, "data": data}).to_string()
}

/// A logged-in player in world `s0`: the account and session tokens, the device id and name.
pub struct Player {
    pub unique_id: String,
    pub account: String,
    pub session: String,
    pub gn: String,
}

/// A guest login, `enter_world s0` and `create_player` through the gate, as a game client does.
pub fn new_player(client: &mut RawClient, prefix: &str) -> Player {
    let unique_id = format!("{prefix}-{}", shared::ids::random_hex(8));
    let login = client.call(&request(
        "s0",
        "login_unique",
        json!({"unique_id": unique_id}),
    ));
    assert_eq!(status(&login), 1, "login_unique, a new guest: {login}");
    let account = login["data"]["token"].as_str().expect("token").to_string();
    let enter = client.call(&request("s0", "enter_world", json!({"token": account})));
    assert_eq!(status(&enter), 98, "enter_world, no player yet: {enter}");
    let session = enter["data"]["session"]
        .as_str()
        .expect("session")
        .to_string();
    let gn = format!("{prefix}{}", shared::ids::random_hex(4));
    let created = client.call(&request(
        "s0",
        "create_player",
        json!({"token": session, "gn": gn, "icon": 1}),
    ));
    assert_eq!(status(&created), 0, "create_player: {created}");
    Player {
        unique_id,
        account,
        session,
        gn,
    }
}

/// base64url without padding, as JWT segments are written.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// One HTTP/1.1 request with `Connection: close`, body as given; `extra_headers` are full
/// header lines. Returns the status code and the body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &[&str],
    body: &[u8],
) -> (u16, String) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: hostile\r\nConnection: close\r\n");
    for h in extra_headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    if !extra_headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(ANSWER_WAIT)).expect("timeout");
    stream.write_all(head.as_bytes()).expect("write head");
    // The server may answer (413) and close before reading a big body: ignore write errors.
    let _ = stream.write_all(body);
    read_http_answer(&mut stream)
}

/// Reads what the server sends until it closes; the status code and body.
pub fn read_http_answer(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after the answer (unread body) still leaves the answer read.
            Err(_) if !raw.is_empty() => break,
            Err(e) => panic!("no HTTP answer: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let code = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// POSTs a JSON body; the status code and the body parsed as JSON (Null if not JSON).
pub fn post_json(addr: SocketAddr, path: &str, body: &str) -> (u16, Value) {
    let (code, text) = http(addr, "POST", path, &[], body.as_bytes());
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The value of an unlabelled metric on an admin port's /metrics.
pub fn metric(admin: SocketAddr, name: &str) -> f64 {
    let (code, text) = testkit::http_get(admin, "/metrics").expect("GET /metrics");
    assert_eq!(code, 200, "/metrics answered {code}");
    text.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(' ')?;
            (n == name).then(|| v.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
}

/// Polls `probe` until it is true or `wait` passes; whether it became true.
pub fn eventually(wait: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if probe() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Opens `total` TCP connections to `addr` in batches of `batch`, dropping each batch
/// before the next, with nothing sent. Odd batches close with FIN, even ones with RST
/// (SO_LINGER 0): both ways a client vanishes. After each batch it waits (up to 10 s) for
/// `server_settled(connections opened so far)`, e.g. all accepted and the gauge at 0: a new connect on a port
/// whose old connection the server has not closed yet waits out a 1 s SYN retransmit.
/// Returns how many connects succeeded and how many batches settled in time.
pub fn open_and_drop(
    addr: SocketAddr,
    total: usize,
    batch: usize,
    mut server_settled: impl FnMut(usize) -> bool,
) -> (usize, usize) {
    let (mut opened, mut settled) = (0, 0);
    let mut left = total;
    let mut abort = false;
    while left > 0 {
        let n = left.min(batch);
        let conns: Vec<TcpStream> = (0..n)
            .filter_map(|_| TcpStream::connect(addr).ok())
            .collect();
        opened += conns.len();
        if abort {
            conns.iter().for_each(reset_on_close);
        }
        drop(conns);
        if eventually(Duration::from_secs(10), || server_settled(opened)) {
            settled += 1;
        }
        abort = !abort;
        left -= n;
    }
    (opened, settled)
}

/// Makes the coming close send RST instead of FIN.
fn reset_on_close(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `linger` for the given length; the fd is open.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_without_padding() {
        assert_eq!(b64url(b"{\"a\":1}"), "eyJhIjoxfQ");
        assert_eq!(b64url_decode("eyJhIjoxfQ"), b"{\"a\":1}");
    }

    #[test]
    fn request_lines_follow_the_contract_shape() {
        let line = request("s0", "f", json!({"token": "t"}));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({"world": "s0", "function": "f", "data": {"token": "t"}})
        );
    }
}
