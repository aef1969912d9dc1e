//! The edge's options (flags and `LUKSEUN_*` environment) and their checked values.

use std::time::Duration;

use shared::flags::{FlagError, Flags, Opt, Spec};

pub const SPEC: Spec = Spec {
    service: "edge",
    about: "Lukseun chat edge: client chat connections relayed over NATS",
    options: &[
        Opt::value("port", "9000", "client chat port (0 picks a free one)"),
        Opt::value("bind", "0.0.0.0", "address the client port listens on"),
        Opt::value(
            "admin-bind",
            "",
            "address the admin port listens on; empty = as --bind",
        ),
        Opt::value(
            "redis-url",
            "redis://127.0.0.1:6379/",
            "Redis holding chat login nonces",
        ),
        Opt::value(
            "nats-url",
            "nats://127.0.0.1:4222",
            "NATS carrying chat between edges",
        ),
        Opt::value(
            "rate-limit",
            "20",
            "frames per second one connection may send (0: unlimited)",
        ),
        Opt::value(
            "player-rate-limit",
            "20",
            "frames per second one player may send over all its connections and edges, shared in Redis (0: off)",
        ),
        Opt::value(
            "max-connections",
            "20000",
            "client connections held at most",
        ),
        Opt::value(
            "max-output-bytes",
            "262144",
            "bytes queued for one client before it counts as too slow and is dropped",
        ),
        Opt::value(
            "login-timeout",
            "10",
            "seconds a new connection has to be registered",
        ),
        Opt::value(
            "idle-timeout",
            "600",
            "seconds without a frame in either direction before a connection is closed (0: never)",
        ),
        Opt::value("login-threads", "2", "threads redeeming nonces in Redis"),
        Opt::value(
            "admin-port",
            "9106",
            "admin HTTP port: /healthz /readyz /metrics",
        ),
    ],
};

#[derive(Debug, Clone)]
pub struct Options {
    /// The client port's address.
    pub bind: String,
    /// The admin port's (`./lukseun up`: 127.0.0.1).
    pub admin_bind: String,
    pub port: u16,
    pub admin_port: u16,
    pub redis_url: String,
    pub nats_url: String,
    pub rate_limit: u32,
    /// Frames per second per player across connections and edges; 0: off.
    pub player_rate_limit: u32,
    pub max_connections: usize,
    pub max_output_bytes: usize,
    pub login_timeout: Duration,
    /// `None`: connections may idle forever.
    pub idle_timeout: Option<Duration>,
    pub login_threads: usize,
}

impl Options {
    /// Defaults for everything but the servers, on loopback with free ports: for tests.
    pub fn local(redis_url: &str, nats_url: &str) -> Options {
        Options {
            bind: "127.0.0.1".into(),
            admin_bind: "127.0.0.1".into(),
            port: 0,
            admin_port: 0,
            redis_url: redis_url.into(),
            nats_url: nats_url.into(),
            rate_limit: 20,
            player_rate_limit: 20,
            max_connections: 20_000,
            max_output_bytes: 256 * 1024,
            login_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
            login_threads: 2,
        }
    }

    pub fn from_flags(flags: &Flags) -> Result<Options, FlagError> {
        let idle: u64 = flags.parsed("idle-timeout")?;
        let bind = flags.get("bind").to_string();
        let admin_bind = match flags.get("admin-bind").trim() {
            "" => bind.clone(),
            other => other.to_string(),
        };
        Ok(Options {
            bind,
            admin_bind,
            port: flags.parsed("port")?,
            admin_port: flags.parsed("admin-port")?,
            redis_url: flags.get("redis-url").to_string(),
            nats_url: flags.get("nats-url").to_string(),
            rate_limit: flags.parsed("rate-limit")?,
            player_rate_limit: flags.parsed("player-rate-limit")?,
            max_connections: flags.positive("max-connections")? as usize,
            max_output_bytes: flags.positive("max-output-bytes")? as usize,
            login_timeout: Duration::from_secs(flags.positive("login-timeout")?),
            idle_timeout: (idle > 0).then(|| Duration::from_secs(idle)),
            login_threads: flags.positive("login-threads")? as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, FlagError> {
        Options::from_flags(&Flags::from_args(&SPEC, args)?)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.admin_port, 9106);
        assert_eq!(c.rate_limit, 20);
        assert_eq!(c.player_rate_limit, 20);
        assert_eq!(c.max_connections, 20_000);
        assert_eq!(c.max_output_bytes, 256 * 1024);
        assert_eq!(c.login_timeout, Duration::from_secs(10));
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(600)));
    }

    #[test]
    fn the_admin_port_binds_as_the_client_port_unless_told() {
        let c = parse(&["--bind", "10.0.0.5"]).unwrap();
        assert_eq!(
            (c.bind.as_str(), c.admin_bind.as_str()),
            ("10.0.0.5", "10.0.0.5")
        );
        let c = parse(&["--admin-bind", "127.0.0.1"]).unwrap();
        assert_eq!(
            (c.bind.as_str(), c.admin_bind.as_str()),
            ("0.0.0.0", "127.0.0.1")
        );
    }

    #[test]
    fn flags_override_and_bad_values_name_the_option() {
        let c = parse(&["--rate-limit", "5", "--idle-timeout", "0", "--port=0"]).unwrap();
        assert_eq!(c.rate_limit, 5);
        assert_eq!(c.idle_timeout, None);
        assert_eq!(c.port, 0);
        let e = parse(&["--max-connections", "0"]).unwrap_err().to_string();
        assert!(e.contains("--max-connections"), "{e}");
        let e = parse(&["--rate-limit", "fast"]).unwrap_err().to_string();
        assert!(e.contains("--rate-limit"), "{e}");
    }
}
