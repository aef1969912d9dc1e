//! Reads a service's `--help` (as printed by `shared::flags`) into its options, so the
//! manifests can be checked against the options the binary really has.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionDefault {
    Value(String),
    /// `(empty)`
    Empty,
    /// `(required)`: no default, must be given.
    Required,
    /// A switch (`off` unless given).
    Off,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelpOption {
    /// Without the leading `--`.
    pub flag: String,
    pub env: String,
    /// Read when `env` is unset (e.g. `POD_IP`).
    pub alt_env: Option<String>,
    pub default: OptionDefault,
}

#[derive(Debug, PartialEq, Eq)]
pub enum HelpError {
    /// An option line with no `env ...; default ...` line after it.
    NoEnvLine(String),
    BadEnvLine {
        flag: String,
        line: String,
    },
    NoOptions,
}

impl fmt::Display for HelpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HelpError::NoEnvLine(flag) => write!(f, "--{flag} has no `env ...; default ...` line"),
            HelpError::BadEnvLine { flag, line } => {
                write!(
                    f,
                    "--{flag}: cannot read {line:?} as `env NAME[ or ALT]; default VALUE`"
                )
            }
            HelpError::NoOptions => write!(f, "no options found in the --help text"),
        }
    }
}

/// A binary's options, as its `--help` lists them.
#[derive(Clone, Debug)]
pub struct Help {
    pub options: Vec<HelpOption>,
}

impl Help {
    pub fn parse(text: &str) -> Result<Help, HelpError> {
        let lines: Vec<&str> = text.lines().collect();
        let mut options = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.strip_prefix("  --") else {
                continue;
            };
            let flag = rest.split_whitespace().next().unwrap_or("").to_string();
            if flag == "help" {
                continue;
            }
            let detail = lines
                .get(i + 1)
                .map(|l| l.trim())
                .filter(|l| l.starts_with("env "))
                .ok_or_else(|| HelpError::NoEnvLine(flag.clone()))?;
            options.push(parse_env_line(&flag, detail)?);
        }
        if options.is_empty() {
            return Err(HelpError::NoOptions);
        }
        Ok(Help { options })
    }

    pub fn by_env(&self, env: &str) -> Option<&HelpOption> {
        self.options.iter().find(|o| o.env == env)
    }

    pub fn by_alt_env(&self, env: &str) -> Option<&HelpOption> {
        self.options
            .iter()
            .find(|o| o.alt_env.as_deref() == Some(env))
    }

    pub fn by_flag(&self, flag: &str) -> Option<&HelpOption> {
        self.options.iter().find(|o| o.flag == flag)
    }

    /// The default of a flag with a plain value (`None` for required, empty or switch).
    pub fn default_value(&self, flag: &str) -> Option<&str> {
        match &self.by_flag(flag)?.default {
            OptionDefault::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// `env LUKSEUN_ADVERTISE_IP or POD_IP; default 127.0.0.1`
fn parse_env_line(flag: &str, line: &str) -> Result<HelpOption, HelpError> {
    let bad = || HelpError::BadEnvLine {
        flag: flag.to_string(),
        line: line.to_string(),
    };
    let rest = line.strip_prefix("env ").ok_or_else(bad)?;
    let (names, default) = rest.split_once("; default ").ok_or_else(bad)?;
    let (env, alt_env) = match names.split_once(" or ") {
        Some((env, alt)) => (env, Some(alt.to_string())),
        None => (names, None),
    };
    if env.is_empty() || env.contains(' ') {
        return Err(bad());
    }
    let default = match default {
        "(required)" => OptionDefault::Required,
        "(empty)" => OptionDefault::Empty,
        "off" => OptionDefault::Off,
        value => OptionDefault::Value(value.to_string()),
    };
    Ok(HelpOption {
        flag: flag.to_string(),
        env: env.to_string(),
        alt_env,
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "gate — front door\n\nUsage: gate [OPTIONS]\n\nOptions (flag, environment, default):\n  --port <value>\n      env LUKSEUN_PORT; default 8880\n      client port\n  --advertise-ip <value>\n      env LUKSEUN_ADVERTISE_IP or POD_IP; default 127.0.0.1\n      IP workers reach\n  --jwt-secret <value>\n      env LUKSEUN_JWT_SECRET; default (required)\n      key\n  --config-url <value>\n      env LUKSEUN_CONFIG_URL; default (empty)\n      url\n  --one-shot\n      env LUKSEUN_ONE_SHOT; default off\n      close\n  --help\n      print this and exit\n";

    #[test]
    fn reads_every_kind_of_option() {
        let help = Help::parse(SAMPLE).unwrap();
        assert_eq!(help.options.len(), 5);
        assert_eq!(help.default_value("port"), Some("8880"));
        let ip = help.by_env("LUKSEUN_ADVERTISE_IP").unwrap();
        assert_eq!(ip.alt_env.as_deref(), Some("POD_IP"));
        assert_eq!(help.by_alt_env("POD_IP").unwrap().flag, "advertise-ip");
        assert_eq!(
            help.by_flag("jwt-secret").unwrap().default,
            OptionDefault::Required
        );
        assert_eq!(
            help.by_flag("config-url").unwrap().default,
            OptionDefault::Empty
        );
        assert_eq!(
            help.by_flag("one-shot").unwrap().default,
            OptionDefault::Off
        );
        assert!(help.by_flag("help").is_none());
        assert!(help.by_env("LUKSEUN_MYSQL_URL").is_none());
    }

    #[test]
    fn an_option_without_env_line_is_an_error() {
        let text = "  --port <value>\n      client port\n";
        assert_eq!(
            Help::parse(text).unwrap_err(),
            HelpError::NoEnvLine("port".into())
        );
    }

    #[test]
    fn a_garbled_env_line_is_an_error() {
        let text = "  --port <value>\n      env LUKSEUN_PORT default 8880\n";
        assert!(matches!(
            Help::parse(text),
            Err(HelpError::BadEnvLine { .. })
        ));
    }

    #[test]
    fn text_without_options_is_an_error() {
        assert_eq!(
            Help::parse("error: unknown option\n").unwrap_err(),
            HelpError::NoOptions
        );
    }
}
