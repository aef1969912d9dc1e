//! Opening one connection: TCP connect, wait for INFO, send CONNECT + PING, wait for PONG.
//! The PONG proves the server accepted CONNECT (it answers a bad one with -ERR instead).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

use super::proto::{self, Connect, Parser, ServerInfo, ServerOp};
use super::servers::ServerAddr;
use super::{NatsError, Options};

/// A connection that finished the handshake. The parser may already hold bytes the
/// server sent after its PONG.
pub struct Established {
    pub stream: Arc<TcpStream>,
    pub parser: Parser,
    pub info: ServerInfo,
    pub server: ServerAddr,
}

impl Established {
    pub fn max_payload(&self) -> usize {
        effective_max_payload(&self.info)
    }
}

/// Servers that send no limit get the server default.
pub fn effective_max_payload(info: &ServerInfo) -> usize {
    if info.max_payload == 0 {
        proto::DEFAULT_MAX_PAYLOAD
    } else {
        info.max_payload
    }
}

pub fn establish(server: &ServerAddr, options: &Options) -> Result<Established, NatsError> {
    let stream = connect_tcp(server, options)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(options.connect_timeout))?;
    stream.set_write_timeout(Some(options.connect_timeout))?;
    let deadline = Instant::now() + options.connect_timeout;
    let mut reader = OpReader {
        stream: &stream,
        parser: Parser::new(proto::DEFAULT_MAX_PAYLOAD),
        deadline,
    };

    let mut info = match reader.next()? {
        ServerOp::Info(info) => info,
        other => {
            return Err(NatsError::Protocol(format!(
                "expected INFO from {server}, got {other:?}"
            )))
        }
    };
    if info.tls_required {
        return Err(NatsError::Protocol(format!(
            "{server} requires TLS, which this client does not support"
        )));
    }
    reader.parser.set_max_payload(effective_max_payload(&info));

    let mut hello = Vec::with_capacity(256);
    let mut connect = Connect::new(&options.name);
    if let Some(credentials) = &server.credentials {
        connect.user = Some(&credentials.user);
        connect.pass = Some(&credentials.pass);
    }
    proto::push_connect(&mut hello, &connect);
    hello.extend_from_slice(proto::PING);
    (&stream).write_all(&hello)?;

    loop {
        match reader.next()? {
            ServerOp::Pong => break,
            ServerOp::Ok => {}
            ServerOp::Ping => (&stream).write_all(proto::PONG)?,
            ServerOp::Info(newer) => {
                reader.parser.set_max_payload(effective_max_payload(&newer));
                info = newer;
            }
            // Wrong, missing or unknown credentials; the server closes the connection.
            ServerOp::Err(text) if text.starts_with("Authorization Violation") => {
                return Err(NatsError::NotAuthorized(text))
            }
            ServerOp::Err(text) => return Err(NatsError::ServerError(text)),
            ServerOp::Msg(m) => {
                return Err(NatsError::Protocol(format!(
                    "MSG for sid {} before any SUB",
                    m.sid
                )))
            }
        }
    }
    let parser = reader.parser;
    Ok(Established {
        stream: Arc::new(stream),
        parser,
        info,
        server: server.clone(),
    })
}

fn connect_tcp(server: &ServerAddr, options: &Options) -> Result<TcpStream, NatsError> {
    let mut last_error = None;
    for addr in (server.host.as_str(), server.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, options.connect_timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        Some(e) => NatsError::Io(e),
        None => NatsError::InvalidUrl(format!("{server}: host has no address")),
    })
}

/// Reads whole operations during the handshake, within one overall deadline.
struct OpReader<'a> {
    stream: &'a TcpStream,
    parser: Parser,
    deadline: Instant,
}

impl OpReader<'_> {
    fn next(&mut self) -> Result<ServerOp, NatsError> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(op) = self.parser.next_op()? {
                return Ok(op);
            }
            if Instant::now() >= self.deadline {
                return Err(NatsError::Timeout);
            }
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    return Err(NatsError::Io(std::io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "server closed the connection during the handshake",
                    )))
                }
                Ok(n) => self.parser.feed(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(NatsError::Timeout)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(NatsError::Io(e)),
            }
        }
    }
}
