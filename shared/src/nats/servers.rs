//! The server list a client was given: `nats://host:port`, `host:port`, or several of them
//! separated by commas. Reconnects go round the list.

use std::fmt;

use super::NatsError;

pub const DEFAULT_PORT: u16 = 4222;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddr {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

pub fn parse_servers(urls: &str) -> Result<Vec<ServerAddr>, NatsError> {
    let servers = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(parse_server)
        .collect::<Result<Vec<_>, _>>()?;
    if servers.is_empty() {
        return Err(NatsError::InvalidUrl(format!("{urls:?}: no server given")));
    }
    Ok(servers)
}

fn parse_server(url: &str) -> Result<ServerAddr, NatsError> {
    let invalid = |why: &str| NatsError::InvalidUrl(format!("{url:?}: {why}"));
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("nats") => rest,
        Some((scheme, _)) => return Err(invalid(&format!("scheme {scheme:?} not supported"))),
        None => url,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('@') {
        return Err(invalid("credentials are not supported"));
    }
    if rest.contains(['/', '?', '#']) || rest.chars().any(char::is_whitespace) {
        return Err(invalid("expected host:port"));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| invalid("unclosed '['"))?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or_else(|| invalid("bad port"))?),
            ),
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(invalid("empty host"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port != 0 && p.bytes().all(|b| b.is_ascii_digit()) => port,
            _ => return Err(invalid("bad port")),
        },
    };
    Ok(ServerAddr {
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: u16) -> ServerAddr {
        ServerAddr {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn accepts_urls_and_bare_addresses() {
        assert_eq!(
            parse_servers("nats://127.0.0.1:4223").unwrap(),
            vec![addr("127.0.0.1", 4223)]
        );
        assert_eq!(
            parse_servers("nats:4222").unwrap(),
            vec![addr("nats", 4222)]
        );
        assert_eq!(
            parse_servers("NATS://nats/").unwrap(),
            vec![addr("nats", 4222)]
        );
        assert_eq!(parse_servers("[::1]:5").unwrap(), vec![addr("::1", 5)]);
        assert_eq!(addr("::1", 5).to_string(), "[::1]:5");
    }

    #[test]
    fn accepts_a_comma_separated_list() {
        assert_eq!(
            parse_servers("nats://a:1, b:2,,nats://c").unwrap(),
            vec![addr("a", 1), addr("b", 2), addr("c", 4222)]
        );
    }

    #[test]
    fn rejects_what_it_cannot_use() {
        for bad in [
            "",
            " , ",
            "tls://a:1",
            "nats://user:pw@a:1",
            "a:",
            "a:0",
            "a:65536",
            "a:+1",
            "a:1/path",
            ":4222",
            "[::1",
            "[::1]x",
            "a b:1",
        ] {
            let err = parse_servers(bad).expect_err(bad);
            assert!(matches!(err, NatsError::InvalidUrl(_)), "{bad:?}: {err}");
        }
    }
}
