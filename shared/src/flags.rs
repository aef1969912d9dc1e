//! Configuration from flags and `LUKSEUN_*` environment variables.
//!
//! Each service declares its options once, in a [`Spec`]; `--help` prints them with their
//! environment names and defaults. A flag beats the environment, which beats the default.
//! Nothing here exits or starts the logger: each service's `main` does both, so a library
//! caller (tests, tools) never loses its process to a bad flag.

use std::collections::HashMap;
use std::fmt;
use std::process::ExitCode;
use std::str::FromStr;

use crate::log::Level;

/// One option: `--name value` (or `--name=value`), env `LUKSEUN_NAME`.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    pub name: &'static str,
    /// `None`: the option must be given. Switches default to off.
    pub default: Option<&'static str>,
    pub help: &'static str,
    /// A switch: `--name` alone turns it on; env accepts 1/true/yes.
    pub switch: bool,
    /// Another environment variable read when `LUKSEUN_*` is unset (e.g. Kubernetes' `POD_IP`).
    pub alt_env: Option<&'static str>,
}

impl Opt {
    pub const fn value(name: &'static str, default: &'static str, help: &'static str) -> Opt {
        Opt {
            name,
            default: Some(default),
            help,
            switch: false,
            alt_env: None,
        }
    }

    pub const fn required(name: &'static str, help: &'static str) -> Opt {
        Opt {
            name,
            default: None,
            help,
            switch: false,
            alt_env: None,
        }
    }

    pub const fn switch(name: &'static str, help: &'static str) -> Opt {
        Opt {
            name,
            default: None,
            help,
            switch: true,
            alt_env: None,
        }
    }

    pub const fn with_alt_env(mut self, env: &'static str) -> Opt {
        self.alt_env = Some(env);
        self
    }

    /// `log-level` -> `LUKSEUN_LOG_LEVEL`
    pub fn env_name(&self) -> String {
        format!(
            "LUKSEUN_{}",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }
}

const LOG_LEVEL: &str = "log-level";

/// Options every service has.
pub const COMMON: &[Opt] = &[Opt::value(
    LOG_LEVEL,
    "info",
    "lowest log level written: debug, info, warn, error",
)];

pub struct Spec {
    pub service: &'static str,
    pub about: &'static str,
    pub options: &'static [Opt],
}

impl Spec {
    fn all(&self) -> impl Iterator<Item = &Opt> {
        self.options.iter().chain(COMMON)
    }

    fn find(&self, name: &str) -> Option<&Opt> {
        self.all().find(|o| o.name == name)
    }

    pub fn help(&self) -> String {
        let mut out = format!(
            "{} — {}\n\nUsage: {} [OPTIONS]\n\nOptions (flag, environment, default):\n",
            self.service, self.about, self.service
        );
        for opt in self.all() {
            let default = match (opt.switch, opt.default) {
                (true, _) => "off".to_string(),
                (false, Some("")) => "(empty)".to_string(),
                (false, Some(d)) => d.to_string(),
                (false, None) => "(required)".to_string(),
            };
            let alt = opt.alt_env.map(|e| format!(" or {e}")).unwrap_or_default();
            out.push_str(&format!(
                "  --{}{}\n      env {}{alt}; default {default}\n      {}\n",
                opt.name,
                if opt.switch { "" } else { " <value>" },
                opt.env_name(),
                opt.help
            ));
        }
        out.push_str("  --help\n      print this and exit\n");
        out
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum FlagError {
    HelpRequested,
    UnknownOption(String),
    MissingValue(String),
    Missing {
        name: String,
        env: String,
    },
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
    Unexpected(String),
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::HelpRequested => write!(f, "help requested"),
            FlagError::UnknownOption(o) => write!(f, "unknown option {o} (see --help)"),
            FlagError::MissingValue(o) => write!(f, "option --{o} needs a value"),
            FlagError::Missing { name, env } => {
                write!(f, "--{name} (or env {env}) is required")
            }
            FlagError::Invalid {
                name,
                value,
                reason,
            } => write!(f, "invalid --{name} {value:?}: {reason}"),
            FlagError::Unexpected(a) => write!(f, "unexpected argument {a:?} (see --help)"),
        }
    }
}

impl std::error::Error for FlagError {}

/// What `main` does with options that parse but do not check (a zero, a bad address...),
/// once the logger runs: logs them and returns the exit status of a configuration error.
pub fn refused(error: &dyn fmt::Display) -> ExitCode {
    crate::error!("bad configuration", error = error);
    ExitCode::from(2)
}

impl FlagError {
    /// Tells the operator, before any logger runs, and gives `main` its exit status: the
    /// help on stdout and success after `--help`; anything else on stderr and 2.
    pub fn report(&self, spec: &Spec) -> ExitCode {
        if *self == FlagError::HelpRequested {
            print!("{}", spec.help());
            ExitCode::SUCCESS
        } else {
            eprintln!("{}: {self}", spec.service);
            ExitCode::from(2)
        }
    }
}

/// Resolved option values.
#[derive(Debug, Clone)]
pub struct Flags {
    values: HashMap<&'static str, String>,
}

impl Flags {
    /// Parses the process's arguments and environment. Starts nothing (the caller starts
    /// the logger at [`Flags::log_level`]); `--help` comes back as
    /// [`FlagError::HelpRequested`], for [`FlagError::report`].
    pub fn load(spec: &Spec) -> Result<Flags, FlagError> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        Flags::parse(spec, &args, |k| std::env::var(k).ok())
    }

    /// `--log-level`, checked by [`Flags::parse`].
    pub fn log_level(&self) -> Level {
        Level::parse(self.get(LOG_LEVEL)).unwrap_or(Level::Info)
    }

    /// `args` alone, no environment: how tests check a service's options.
    pub fn from_args(spec: &Spec, args: &[&str]) -> Result<Flags, FlagError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Flags::parse(spec, &args, |_| None)
    }

    pub fn parse(
        spec: &Spec,
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Flags, FlagError> {
        let mut given: HashMap<&'static str, String> = HashMap::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if arg == "--help" || arg == "-h" {
                return Err(FlagError::HelpRequested);
            }
            let Some(body) = arg.strip_prefix("--") else {
                return Err(FlagError::Unexpected(arg.clone()));
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let opt = spec
                .find(name)
                .ok_or_else(|| FlagError::UnknownOption(arg.clone()))?;
            let value = if opt.switch {
                inline.unwrap_or_else(|| "true".to_string())
            } else if let Some(v) = inline {
                v
            } else if i < args.len() {
                i += 1;
                args[i - 1].clone()
            } else {
                return Err(FlagError::MissingValue(opt.name.to_string()));
            };
            given.insert(opt.name, value);
        }

        let mut values = HashMap::new();
        for opt in spec.all() {
            let value = given
                .remove(opt.name)
                .or_else(|| env(&opt.env_name()))
                .or_else(|| opt.alt_env.and_then(&env))
                .or_else(|| opt.default.map(str::to_string))
                .or_else(|| opt.switch.then(|| "false".to_string()));
            let value = value.ok_or_else(|| FlagError::Missing {
                name: opt.name.to_string(),
                env: opt.env_name(),
            })?;
            if opt.switch && parse_switch(&value).is_none() {
                return Err(FlagError::Invalid {
                    name: opt.name.to_string(),
                    value,
                    reason: "expected true/false".to_string(),
                });
            }
            if opt.name == LOG_LEVEL && Level::parse(&value).is_none() {
                return Err(FlagError::Invalid {
                    name: LOG_LEVEL.to_string(),
                    value,
                    reason: "expected debug, info, warn or error".to_string(),
                });
            }
            values.insert(opt.name, value);
        }
        Ok(Flags { values })
    }

    /// The raw value. Panics for a name the spec does not declare: a programming error.
    pub fn get(&self, name: &str) -> &str {
        self.values
            .get(name)
            .unwrap_or_else(|| panic!("option --{name} is not declared in the service's spec"))
    }

    pub fn switch(&self, name: &str) -> bool {
        parse_switch(self.get(name)).unwrap_or(false)
    }

    /// The value parsed as `T`, with an error that names the option.
    pub fn parsed<T: FromStr>(&self, name: &str) -> Result<T, FlagError>
    where
        T::Err: fmt::Display,
    {
        let raw = self.get(name);
        raw.parse::<T>().map_err(|e| FlagError::Invalid {
            name: name.to_string(),
            value: raw.to_string(),
            reason: e.to_string(),
        })
    }
}

impl Flags {
    /// An error that names the option and shows its value.
    pub fn invalid(&self, name: &str, reason: &str) -> FlagError {
        FlagError::Invalid {
            name: name.to_string(),
            value: self.get(name).to_string(),
            reason: reason.to_string(),
        }
    }

    /// A count or duration where 0 would mean nothing works.
    pub fn positive(&self, name: &str) -> Result<u64, FlagError> {
        match self.parsed(name)? {
            0 => Err(self.invalid(name, "must be at least 1")),
            value => Ok(value),
        }
    }

    /// The trimmed value, which must not be empty (a server address).
    pub fn non_empty(&self, name: &str) -> Result<String, FlagError> {
        match self.get(name).trim() {
            "" => Err(self.invalid(name, "must not be empty")),
            value => Ok(value.to_string()),
        }
    }
}

fn parse_switch(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        service: "demo",
        about: "a test service",
        options: &[
            Opt::value("port", "8880", "client port"),
            Opt::required("secret", "signing key"),
            Opt::switch("one-shot", "close after one answer"),
            Opt::value("ip", "127.0.0.1", "address").with_alt_env("POD_IP"),
        ],
    };

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flag_beats_env_beats_default() {
        let env = |k: &str| match k {
            "LUKSEUN_PORT" => Some("9000".to_string()),
            "LUKSEUN_SECRET" => Some("s".to_string()),
            _ => None,
        };
        let c = Flags::parse(&SPEC, &args(&[]), env).unwrap();
        assert_eq!(c.get("port"), "9000");
        let c = Flags::parse(&SPEC, &args(&["--port", "7"]), env).unwrap();
        assert_eq!(c.parsed::<u16>("port").unwrap(), 7);
        let c = Flags::parse(&SPEC, &args(&["--port=8"]), env).unwrap();
        assert_eq!(c.get("port"), "8");
        assert_eq!(c.get("log-level"), "info");
    }

    #[test]
    fn switches_and_alternative_env() {
        let env = |k: &str| match k {
            "POD_IP" => Some("10.0.0.5".to_string()),
            _ => None,
        };
        let c = Flags::parse(&SPEC, &args(&["--secret", "x", "--one-shot"]), env).unwrap();
        assert!(c.switch("one-shot"));
        assert_eq!(c.get("ip"), "10.0.0.5");
        let c = Flags::parse(&SPEC, &args(&["--secret", "x"]), |_| None).unwrap();
        assert!(!c.switch("one-shot"));
    }

    #[test]
    fn errors_name_the_option() {
        let none = |_: &str| None;
        assert_eq!(
            Flags::parse(&SPEC, &args(&[]), none).unwrap_err(),
            FlagError::Missing {
                name: "secret".into(),
                env: "LUKSEUN_SECRET".into()
            }
        );
        assert!(matches!(
            Flags::parse(&SPEC, &args(&["--nope"]), none),
            Err(FlagError::UnknownOption(_))
        ));
        assert!(matches!(
            Flags::parse(&SPEC, &args(&["--secret"]), none),
            Err(FlagError::MissingValue(_))
        ));
        assert_eq!(
            Flags::parse(&SPEC, &args(&["--help"]), none).unwrap_err(),
            FlagError::HelpRequested
        );
        let c = Flags::parse(&SPEC, &args(&["--secret", "x", "--port", "abc"]), none).unwrap();
        let e = c.parsed::<u16>("port").unwrap_err().to_string();
        assert!(e.contains("--port") && e.contains("abc"), "{e}");
        let e = Flags::parse(
            &SPEC,
            &args(&["--secret", "x", "--log-level", "loud"]),
            none,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--log-level") && e.contains("loud"), "{e}");
    }

    #[test]
    fn positive_and_non_empty_name_the_option() {
        let none = |_: &str| None;
        let c = Flags::parse(&SPEC, &args(&["--secret", " ", "--port", "0"]), none).unwrap();
        assert!(c
            .positive("port")
            .unwrap_err()
            .to_string()
            .contains("--port"));
        assert!(c
            .non_empty("secret")
            .unwrap_err()
            .to_string()
            .contains("--secret"));
        let c = Flags::parse(&SPEC, &args(&["--secret", " s ", "--port", "-3"]), none).unwrap();
        assert!(c.positive("port").is_err());
        assert_eq!(c.non_empty("secret").unwrap(), "s");
        let c = Flags::parse(
            &SPEC,
            &args(&["--secret", "s", "--port", "18446744073709551615"]),
            none,
        )
        .unwrap();
        assert_eq!(c.positive("port").unwrap(), u64::MAX);
    }

    #[test]
    fn log_level_is_read_once_parsed() {
        let none = |_: &str| None;
        let c = Flags::parse(&SPEC, &args(&["--secret", "x"]), none).unwrap();
        assert_eq!(c.log_level(), Level::Info);
        let c = Flags::parse(&SPEC, &args(&["--secret", "x", "--log-level=warn"]), none).unwrap();
        assert_eq!(c.log_level(), Level::Warn);
    }

    #[test]
    fn help_and_errors_map_to_exit_statuses() {
        assert_eq!(FlagError::HelpRequested.report(&SPEC), ExitCode::SUCCESS);
        let missing = FlagError::MissingValue("port".into());
        assert_eq!(missing.report(&SPEC), ExitCode::from(2));
    }

    #[test]
    fn help_lists_every_option_with_env_and_default() {
        let h = SPEC.help();
        for needle in [
            "--port <value>",
            "LUKSEUN_PORT",
            "8880",
            "--one-shot\n",
            "(required)",
            "POD_IP",
            "--log-level",
        ] {
            assert!(h.contains(needle), "help lacks {needle:?}:\n{h}");
        }
    }
}
