//! A game client's view of the gate: one JSON request per line, answers in order.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::{json, Map, Value};

#[derive(Debug)]
pub enum ClientError {
    Io(io::Error),
    /// The gate closed the connection before answering.
    Closed,
    /// The answer was not a JSON object with an integer `status`.
    BadAnswer(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "connection error: {e}"),
            ClientError::Closed => write!(f, "the gate closed the connection"),
            ClientError::BadAnswer(a) => write!(f, "not an answer of the contract: {a:?}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io(e) => Some(e),
            ClientError::Closed | ClientError::BadAnswer(_) => None,
        }
    }
}

impl ClientError {
    /// No answer came within the read timeout while the connection stayed open: the
    /// answer is lost, as opposed to a connection that broke (which the client sees at once).
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Io(e)
            if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// One answer: the envelope's status and the whole JSON object.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: i64,
    pub body: Value,
}

impl Answer {
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }

    pub fn data(&self, key: &str) -> &Value {
        &self.body["data"][key]
    }
}

/// Account-level calls carry the account token; everything else runs in a world with the
/// session token that `enter_world` returned.
pub fn uses_account_token(function: &str) -> bool {
    matches!(
        function,
        "account_all_info" | "bind_account" | "enter_world"
    )
}

/// The request line of the contract: `{"world":..,"function":..,"data":{"token":..,..}}`.
pub fn request_line(
    world: &str,
    function: &str,
    token: Option<&str>,
    args: &Map<String, Value>,
) -> String {
    let mut data = args.clone();
    if let Some(t) = token {
        data.insert("token".into(), Value::from(t));
    }
    json!({"world": world, "function": function, "data": data}).to_string()
}

pub fn parse_answer(line: &str) -> Result<Answer, ClientError> {
    let body: Value =
        serde_json::from_str(line).map_err(|_| ClientError::BadAnswer(line.to_string()))?;
    let status = body["status"]
        .as_i64()
        .ok_or_else(|| ClientError::BadAnswer(line.to_string()))?;
    Ok(Answer { status, body })
}

pub struct GateClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
}

impl GateClient {
    /// Connects; `timeout` bounds the connect and every read (a gate answers every request
    /// within its job timeout, so a longer wait means an answer was lost).
    pub fn connect(addr: &str, timeout: Duration) -> Result<GateClient, ClientError> {
        let target = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let stream = TcpStream::connect_timeout(&target, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        Ok(GateClient {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            line: String::new(),
        })
    }

    /// A second handle on the socket for a writer thread (open-loop load).
    pub fn try_clone_writer(&self) -> io::Result<TcpStream> {
        self.writer.try_clone()
    }

    pub fn send(&mut self, line: &str) -> Result<(), ClientError> {
        let mut buf = Vec::with_capacity(line.len() + 2);
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(b"\r\n");
        self.writer.write_all(&buf)?;
        Ok(())
    }

    pub fn receive(&mut self) -> Result<Answer, ClientError> {
        self.line.clear();
        if self.reader.read_line(&mut self.line)? == 0 {
            return Err(ClientError::Closed);
        }
        parse_answer(self.line.trim_end_matches(['\r', '\n']))
    }

    pub fn call(&mut self, line: &str) -> Result<Answer, ClientError> {
        self.send(line)?;
        self.receive()
    }

    /// The next answer line exactly as the gate sent it, its `\r\n` included and its bytes
    /// not checked (a tool that shows what came off the wire; [`parse_answer`] reads it).
    pub fn receive_raw(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut line = Vec::new();
        if self.reader.read_until(b'\n', &mut line)? == 0 {
            return Err(ClientError::Closed);
        }
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_carry_the_token_in_data() {
        let mut args = Map::new();
        args.insert("gn".into(), Value::from("a\"b"));
        let line = request_line("s0", "create_player", Some("t"), &args);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["world"], "s0");
        assert_eq!(v["function"], "create_player");
        assert_eq!(v["data"]["token"], "t");
        assert_eq!(v["data"]["gn"], "a\"b");
    }

    #[test]
    fn raw_answers_keep_their_bytes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"{\"status\":0,  \"data\":{}}\r\n{\"status\":1}\r\n")
                .unwrap();
        });
        let mut client = GateClient::connect(&addr, Duration::from_secs(5)).unwrap();
        assert_eq!(
            client.receive_raw().unwrap(),
            b"{\"status\":0,  \"data\":{}}\r\n"
        );
        assert_eq!(client.receive().unwrap().status, 1);
        server.join().unwrap();
        assert!(matches!(client.receive_raw(), Err(ClientError::Closed)));
    }

    #[test]
    fn answers_need_an_integer_status() {
        assert_eq!(
            parse_answer(r#"{"status":-2,"message":"x"}"#)
                .unwrap()
                .status,
            -2
        );
        assert!(parse_answer(r#"{"status":"0"}"#).is_err());
        assert!(parse_answer("nope").is_err());
    }
}
