//! The auth service's options: declared once for `--help` and the environment, then
//! checked into a typed [`Options`] (keys included: a short key never reaches the server).

use std::time::Duration;

use shared::flags::{FlagError, Flags, Opt, Spec};

use crate::issuer::IssuerKey;
use crate::jwt::Key;

pub const SPEC: Spec = Spec {
    service: "auth",
    about: "issues and validates HS256 tokens, registers and redeems single-use nonces",
    options: &[
        Opt::value("port", "8001", "HTTP port of the API"),
        Opt::value(
            "bind",
            "0.0.0.0",
            "address the API and admin ports listen on",
        ),
        Opt::value(
            "admin-port",
            "9101",
            "port of /healthz, /readyz and /metrics",
        ),
        Opt::value(
            "redis-url",
            "redis://127.0.0.1:6379/",
            "Redis holding tokens and nonces",
        ),
        Opt::required(
            "jwt-secret",
            "HS256 signing key, at least 32 bytes (a Kubernetes Secret)",
        ),
        Opt::value(
            "issuer-key",
            "",
            "operators' key (a Kubernetes Secret, at least 32 bytes): /issue_token mints admin tokens and roles only for requests whose X-Issuer-Key header holds it; empty = never",
        ),
        Opt::value(
            "token-lifetime-secs",
            "2592000",
            "lifetime of issued tokens",
        ),
        Opt::value("threads", "4", "HTTP handler threads"),
    ],
};

/// Everything the service needs to start.
#[derive(Clone)]
pub struct Options {
    pub bind: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub admin_port: u16,
    pub redis_url: String,
    pub jwt_key: Key,
    /// `None`: no admin token or role is issued.
    pub issuer_key: Option<IssuerKey>,
    pub token_lifetime: Duration,
    pub threads: usize,
}

impl Options {
    pub fn from_flags(flags: &Flags) -> Result<Options, FlagError> {
        // Keys never go into an error: they are secrets.
        let hidden = |name: &str, reason: String| FlagError::Invalid {
            name: name.to_string(),
            value: "<hidden>".to_string(),
            reason,
        };
        let jwt_key = Key::new(flags.get("jwt-secret").as_bytes())
            .map_err(|e| hidden("jwt-secret", e.to_string()))?;
        let issuer_key = match flags.get("issuer-key") {
            "" => None,
            key => Some(
                IssuerKey::new(key.as_bytes()).map_err(|e| hidden("issuer-key", e.to_string()))?,
            ),
        };
        Ok(Options {
            bind: flags.get("bind").to_string(),
            port: flags.parsed("port")?,
            admin_port: flags.parsed("admin-port")?,
            redis_url: flags.get("redis-url").to_string(),
            jwt_key,
            issuer_key,
            token_lifetime: Duration::from_secs(flags.positive("token-lifetime-secs")?),
            threads: flags.positive("threads")? as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-signing-key-of-at-least-32-bytes!!";

    fn parse(args: &[&str]) -> Result<Options, FlagError> {
        Options::from_flags(&Flags::from_args(&SPEC, args)?)
    }

    #[test]
    fn defaults_start_an_api_without_issuer_key() {
        let o = parse(&["--jwt-secret", SECRET]).unwrap();
        assert_eq!(
            (o.bind.as_str(), o.port, o.admin_port),
            ("0.0.0.0", 8001, 9101)
        );
        assert_eq!(o.token_lifetime, Duration::from_secs(2_592_000));
        assert_eq!(o.threads, 4);
        assert!(o.issuer_key.is_none());
    }

    #[test]
    fn short_keys_are_refused_without_showing_them() {
        for args in [
            &["--jwt-secret", "short-secret"][..],
            &["--jwt-secret", SECRET, "--issuer-key", "short-issuer"][..],
        ] {
            let e = parse(args).err().expect("refused").to_string();
            assert!(e.contains("<hidden>") && !e.contains("short-"), "{e}");
        }
    }

    #[test]
    fn zero_threads_or_lifetime_is_refused() {
        for flag in ["--threads", "--token-lifetime-secs"] {
            let e = parse(&["--jwt-secret", SECRET, flag, "0"])
                .err()
                .expect("refused");
            assert!(e.to_string().contains(&flag[2..]), "{e}");
        }
        assert!(parse(&["--jwt-secret", SECRET, "--threads", "-1"]).is_err());
    }
}
