//! The mail service's options: declared once for `--help` and the environment, then
//! checked into a typed [`Options`].

use std::path::PathBuf;

use shared::flags::{FlagError, Flags, Opt, Spec};

pub const SPEC: Spec = Spec {
    service: "mail",
    about: "stores game mail in a Maildir volume behind a JSON HTTP API",
    options: &[
        Opt::value("port", "8020", "API port (HTTP POST, JSON)"),
        Opt::value(
            "bind",
            "0.0.0.0",
            "address the API and admin ports listen on",
        ),
        Opt::value(
            "root",
            "var/mail",
            "Maildir root: <root>/<world>/<uid>/{tmp,new,cur}",
        ),
        Opt::value(
            "mailbox-limit",
            "50",
            "most mails one mailbox holds (new + cur)",
        ),
        Opt::value("threads", "8", "API handler threads"),
        Opt::value(
            "admin-port",
            "9103",
            "admin port: /healthz /readyz /metrics",
        ),
    ],
};

/// Everything [`crate::MailService::start`] needs; tests build it directly. The admin
/// server is `main`'s: its address is [`admin_addr`].
#[derive(Clone, Debug)]
pub struct Options {
    /// `host:port` of the API, e.g. `0.0.0.0:8020` (`127.0.0.1:0` in tests).
    pub bind: String,
    /// The Maildir root: `<root>/<world>/<uid>/{tmp,new,cur}`.
    pub root: PathBuf,
    pub mailbox_limit: usize,
    /// Handler threads of the API.
    pub threads: usize,
}

impl Options {
    pub fn from_flags(flags: &Flags) -> Result<Options, FlagError> {
        Ok(Options {
            bind: format!("{}:{}", flags.get("bind"), flags.parsed::<u16>("port")?),
            root: flags.get("root").into(),
            mailbox_limit: flags.positive("mailbox-limit")? as usize,
            threads: flags.positive("threads")? as usize,
        })
    }
}

/// `host:port` of the admin server (`/healthz /readyz /metrics`).
pub fn admin_addr(flags: &Flags) -> Result<String, FlagError> {
    Ok(format!(
        "{}:{}",
        flags.get("bind"),
        flags.parsed::<u16>("admin-port")?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        Flags::from_args(&SPEC, args).unwrap()
    }

    #[test]
    fn defaults_and_addresses() {
        let f = flags(&["--bind", "127.0.0.1"]);
        let o = Options::from_flags(&f).unwrap();
        assert_eq!(o.bind, "127.0.0.1:8020");
        assert_eq!(o.root, PathBuf::from("var/mail"));
        assert_eq!((o.mailbox_limit, o.threads), (50, 8));
        assert_eq!(admin_addr(&f).unwrap(), "127.0.0.1:9103");
    }

    #[test]
    fn zero_negative_or_huge_counts_are_refused() {
        for (flag, value) in [
            ("--mailbox-limit", "0"),
            ("--threads", "0"),
            ("--threads", "-2"),
            ("--mailbox-limit", "99999999999999999999999"),
            ("--port", "65536"),
        ] {
            let e = Options::from_flags(&flags(&[flag, value])).unwrap_err();
            assert!(e.to_string().contains(&flag[2..]), "{e}");
        }
        assert!(admin_addr(&flags(&["--admin-port", "x"])).is_err());
    }
}
