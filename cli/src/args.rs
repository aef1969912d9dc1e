//! Command-line parsing for `lukseun-cli`: global options, then one command.

use std::fmt;

#[derive(Debug, PartialEq)]
pub enum Command {
    /// Guest login by device id, or account login with a password.
    Login {
        device: Option<String>,
        account: Option<String>,
        password: Option<String>,
    },
    Register {
        account: String,
        password: String,
    },
    Call {
        function: String,
        args: String,
    },
    Chat,
    Mail(MailCommand),
}

#[derive(Debug, PartialEq)]
pub enum MailCommand {
    List,
    New,
    Read(String),
    Delete(String),
}

#[derive(Debug, PartialEq, Default)]
pub struct Globals {
    pub gate: Option<String>,
    pub edge: Option<String>,
    pub world: Option<String>,
    pub session: Option<String>,
    /// `--raw`: print answer lines exactly as the gate sent them.
    pub raw: bool,
}

#[derive(Debug, PartialEq)]
pub enum ArgError {
    Help,
    Usage(String),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::Help => write!(f, "help requested"),
            ArgError::Usage(m) => write!(f, "{m} (see --help)"),
        }
    }
}

pub const USAGE: &str = "\
lukseun-cli — a game client for the terminal

Usage: lukseun-cli [--gate HOST:PORT] [--edge HOST:PORT] [--world ID] [--session FILE] [--raw]
                   COMMAND

Commands:
  login [--device ID]                    guest login (the device id is kept in the session)
  login --account NAME --password PW     account login
  register --account NAME --password PW  new account bound to this device id
  call FUNCTION [JSON-OBJECT]            call a game function, e.g. call get_info_player
  chat                                   chat on an edge: type lines; /f TEXT for family; /quit
  mail [list|new|read KEY|delete KEY]    your mailbox

Addresses come from the flags, else LUKSEUN_GATE / LUKSEUN_EDGE, else var/cluster.env,
else 127.0.0.1:8880 and 127.0.0.1:9000. The session (tokens) is kept in --session,
LUKSEUN_SESSION or ~/.lukseun-session.json.

Answers are printed as indented JSON. A call whose status is not a success (0; also 1 'new
account created' of register and login_unique, 98 of enter_world for a world without your
player yet, 1 of an unbind verify) prints, on stderr, the
status, the message and the answer's data as compact JSON when it has any (for status 13,
data.reason names the wrong or missing argument), and exits 1.

--raw prints every answer line the command gets exactly as the gate sent it (byte for
byte, its \r\n included, nothing else on stdout; login prints two: login and
enter_world) and exits 1 as soon as an answer's status is not a success, else 0.
";

pub fn parse(args: &[String]) -> Result<(Globals, Command), ArgError> {
    let mut globals = Globals::default();
    let mut rest = args.iter().map(String::as_str).peekable();
    while let Some(arg) = rest.peek().copied() {
        let slot = match arg {
            "-h" | "--help" => return Err(ArgError::Help),
            "--raw" => {
                globals.raw = true;
                rest.next();
                continue;
            }
            "--gate" => &mut globals.gate,
            "--edge" => &mut globals.edge,
            "--world" => &mut globals.world,
            "--session" => &mut globals.session,
            _ if arg.starts_with("--") => {
                return Err(ArgError::Usage(format!("unknown option {arg}")))
            }
            _ => break,
        };
        rest.next();
        *slot = Some(value_of(arg, rest.next())?);
    }
    let command = rest
        .next()
        .ok_or_else(|| ArgError::Usage("no command".into()))?;
    let rest: Vec<&str> = rest.collect();
    let command = match command {
        "login" => {
            let opts = options(&rest, &["--device", "--account", "--password"])?;
            if opts[1].is_some() != opts[2].is_some() {
                return Err(ArgError::Usage(
                    "login needs both --account and --password".into(),
                ));
            }
            let [device, account, password] = opts;
            Command::Login {
                device,
                account,
                password,
            }
        }
        "register" => {
            let [account, password] = options(&rest, &["--account", "--password"])?;
            match (account, password) {
                (Some(account), Some(password)) => Command::Register { account, password },
                _ => {
                    return Err(ArgError::Usage(
                        "register needs --account and --password".into(),
                    ))
                }
            }
        }
        "call" => match rest.as_slice() {
            [function] => Command::Call {
                function: function.to_string(),
                args: "{}".into(),
            },
            [function, args] => Command::Call {
                function: function.to_string(),
                args: args.to_string(),
            },
            _ => return Err(ArgError::Usage("call FUNCTION [JSON-OBJECT]".into())),
        },
        "chat" if rest.is_empty() => Command::Chat,
        "mail" => Command::Mail(match rest.as_slice() {
            [] | ["list"] => MailCommand::List,
            ["new"] => MailCommand::New,
            ["read", key] => MailCommand::Read(key.to_string()),
            ["delete", key] => MailCommand::Delete(key.to_string()),
            _ => {
                return Err(ArgError::Usage(
                    "mail [list|new|read KEY|delete KEY]".into(),
                ))
            }
        }),
        other => return Err(ArgError::Usage(format!("unknown command {other:?}"))),
    };
    Ok((globals, command))
}

fn value_of(option: &str, value: Option<&str>) -> Result<String, ArgError> {
    value
        .map(str::to_string)
        .ok_or_else(|| ArgError::Usage(format!("{option} needs a value")))
}

/// `--name value` pairs, in the order of `names`.
fn options<const N: usize>(
    args: &[&str],
    names: &[&str; N],
) -> Result<[Option<String>; N], ArgError> {
    let mut found: [Option<String>; N] = std::array::from_fn(|_| None);
    let mut i = 0;
    while i < args.len() {
        let Some(slot) = names.iter().position(|n| *n == args[i]) else {
            return Err(ArgError::Usage(format!("unexpected {:?}", args[i])));
        };
        found[slot] = Some(value_of(args[i], args.get(i + 1).copied())?);
        i += 2;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<(Globals, Command), ArgError> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        parse(&args)
    }

    #[test]
    fn globals_then_command() {
        let (g, c) = parse_str("--gate 1.2.3.4:8880 --world s1 call get_info_player").unwrap();
        assert_eq!(g.gate.as_deref(), Some("1.2.3.4:8880"));
        assert_eq!(g.world.as_deref(), Some("s1"));
        assert!(!g.raw);
        assert_eq!(
            c,
            Command::Call {
                function: "get_info_player".into(),
                args: "{}".into()
            }
        );
    }

    #[test]
    fn raw_is_a_flag_among_the_globals() {
        let (g, c) = parse_str("--raw --world s1 call get_info_player").unwrap();
        assert!(g.raw);
        assert_eq!(g.world.as_deref(), Some("s1"));
        assert!(matches!(c, Command::Call { .. }));
        let (g, _) = parse_str("--gate h:1 --raw mail").unwrap();
        assert!(g.raw);
        assert_eq!(g.gate.as_deref(), Some("h:1"));
        // Only before the command: after it, --raw is the command's business.
        assert!(parse_str("call f --raw").is_ok_and(|(g, _)| !g.raw));
        assert!(parse_str("mail --raw").is_err());
    }

    #[test]
    fn login_forms() {
        assert_eq!(
            parse_str("login").unwrap().1,
            Command::Login {
                device: None,
                account: None,
                password: None
            }
        );
        let (_, c) = parse_str("login --account bob --password secret1").unwrap();
        assert!(matches!(c, Command::Login { account: Some(a), .. } if a == "bob"));
        assert!(parse_str("login --account bob").is_err());
        assert!(parse_str("register --account bob").is_err());
    }

    #[test]
    fn mail_and_errors() {
        assert_eq!(
            parse_str("mail read k1").unwrap().1,
            Command::Mail(MailCommand::Read("k1".into()))
        );
        assert_eq!(
            parse_str("mail").unwrap().1,
            Command::Mail(MailCommand::List)
        );
        assert_eq!(parse_str("--help"), Err(ArgError::Help));
        assert!(parse_str("").is_err());
        assert!(parse_str("--gate").is_err());
        assert!(parse_str("dance").is_err());
        assert!(parse_str("call a b c").is_err());
    }
}
