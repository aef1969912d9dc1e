//! The config service's options: declared once for `--help` and the environment, then
//! checked into a typed [`Options`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use shared::flags::{FlagError, Flags, Opt, Spec};

pub const SPEC: Spec = Spec {
    service: "config",
    about: "serves the game config JSON files over HTTP and reloads them when they change",
    options: &[
        Opt::value("port", "8000", "HTTP port for config requests"),
        Opt::value("bind", "0.0.0.0", "IP address to listen on"),
        Opt::value(
            "dir",
            "game-config",
            "directory of <name>.json config files",
        ),
        Opt::value(
            "reload-secs",
            "5",
            "seconds between checks of the directory for changes (fractions allowed)",
        ),
        Opt::value(
            "admin-port",
            "9102",
            "port for /healthz, /readyz and /metrics",
        ),
        Opt::value("http-threads", "4", "threads answering config requests"),
    ],
};

/// Everything [`crate::ConfigService::start`] needs; tests build it directly.
#[derive(Clone, Debug)]
pub struct Options {
    pub bind: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub admin_port: u16,
    pub dir: PathBuf,
    pub reload_every: Duration,
    pub http_threads: usize,
}

impl Options {
    pub fn from_flags(flags: &Flags) -> Result<Options, FlagError> {
        let reload_secs: f64 = flags.parsed("reload-secs")?;
        if !(reload_secs.is_finite() && reload_secs > 0.0) {
            return Err(flags.invalid("reload-secs", "must be above 0"));
        }
        Ok(Options {
            bind: flags.parsed("bind")?,
            port: flags.parsed("port")?,
            admin_port: flags.parsed("admin-port")?,
            dir: PathBuf::from(flags.get("dir")),
            reload_every: Duration::from_secs_f64(reload_secs),
            http_threads: flags.parsed("http-threads")?,
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
    fn defaults() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.port, o.admin_port, o.http_threads), (8000, 9102, 4));
        assert_eq!(o.reload_every, Duration::from_secs(5));
        assert_eq!(o.dir, PathBuf::from("game-config"));
        let o = parse(&["--reload-secs", "0.25"]).unwrap();
        assert_eq!(o.reload_every, Duration::from_millis(250));
    }

    #[test]
    fn bad_values_name_the_option() {
        for (flag, value) in [
            ("--reload-secs", "0"),
            ("--reload-secs", "-1"),
            ("--reload-secs", "NaN"),
            ("--reload-secs", "inf"),
            ("--reload-secs", "1e400"),
            ("--bind", "not-an-ip"),
            ("--port", "70000"),
            ("--http-threads", "-1"),
        ] {
            let e = parse(&[flag, value]).unwrap_err().to_string();
            assert!(e.contains(&flag[2..]) && e.contains(value), "{e}");
        }
    }
}
