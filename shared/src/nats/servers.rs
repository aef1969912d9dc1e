//! The server list a client was given: `nats://host:port`, `host:port`, or several of them
//! separated by commas; each may carry `user:password@` before the host (sent in
//! CONNECT, never shown in errors or logs). Reconnects go round the list.

use std::fmt;

use super::NatsError;

pub const DEFAULT_PORT: u16 = 4222;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddr {
    pub host: String,
    pub port: u16,
    pub credentials: Option<Credentials>,
}

/// A NATS user and its password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub pass: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({:?}, <password>)", self.user)
    }
}

/// The URL with any password replaced, for error messages.
fn redacted(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((userinfo, rest)) => {
            let (scheme, userinfo) = match userinfo.split_once("://") {
                Some((scheme, u)) => (format!("{scheme}://"), u),
                None => (String::new(), userinfo),
            };
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}{user}:***@{rest}")
        }
        None => url.to_string(),
    }
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
    let shown = redacted(url);
    let invalid = |why: &str| NatsError::InvalidUrl(format!("{shown:?}: {why}"));
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("nats") => rest,
        Some((scheme, _)) => return Err(invalid(&format!("scheme {scheme:?} not supported"))),
        None => url,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (credentials, rest) = match rest.rsplit_once('@') {
        Some((userinfo, rest)) => {
            let (user, pass) = userinfo
                .split_once(':')
                .ok_or_else(|| invalid("credentials need user:password"))?;
            if user.is_empty() || pass.is_empty() || pass.contains(['@', ':']) {
                return Err(invalid(
                    "credentials need a user and a password without @ or :",
                ));
            }
            let credentials = Credentials {
                user: user.to_string(),
                pass: pass.to_string(),
            };
            (Some(credentials), rest)
        }
        None => (None, rest),
    };
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
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: u16) -> ServerAddr {
        ServerAddr {
            host: host.into(),
            port,
            credentials: None,
        }
    }

    #[test]
    fn takes_user_and_password_and_never_shows_the_password() {
        let servers = parse_servers("nats://gate:pw1@nats:4222,edge:pw2@b:5").unwrap();
        let creds = |user: &str, pass: &str| {
            Some(Credentials {
                user: user.into(),
                pass: pass.into(),
            })
        };
        assert_eq!(servers[0].credentials, creds("gate", "pw1"));
        assert_eq!((servers[0].host.as_str(), servers[0].port), ("nats", 4222));
        assert_eq!(servers[1].credentials, creds("edge", "pw2"));
        assert_eq!(servers[0].to_string(), "nats:4222");
        assert!(!format!("{:?}", servers[0]).contains("pw1"));
        for bad in [
            "nats://gate@a:1",
            "nats://:pw@a:1",
            "nats://gate:@a:1",
            "nats://gate:p:w@a:1",
            "nats://gate:secretpw@a:1/x",
        ] {
            let err = parse_servers(bad).expect_err(bad).to_string();
            assert!(!err.contains("secretpw"), "{err}");
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
