//! `lukseun-cli`: a game client for people at a terminal. Answers are printed as JSON;
//! a failed call shows its status, its message and its `data` (where `reason` says what
//! was wrong) and exits 1. With `--raw` every answer line is printed exactly as the gate
//! sent it, and the exit status is 1 when an answer's status is not a success ([`succeeded`]).

#![forbid(unsafe_code)]

mod args;
mod chat;
mod session;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Map, Value};
use shared::gate_client::{parse_answer, request_line, uses_account_token, Answer, GateClient};

use args::{ArgError, Command, Globals, MailCommand};
use session::Session;

const TIMEOUT: Duration = Duration::from_secs(15);

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (globals, command) = match args::parse(&argv) {
        Ok(parsed) => parsed,
        Err(ArgError::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&e.to_string()),
    };
    let mut cli = Cli::new(globals);
    match cli.run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Message(e)) => fail(&e),
        Err(Failure::Shown) => ExitCode::FAILURE,
    }
}

/// Why a command failed.
#[derive(Debug)]
enum Failure {
    /// To be printed on stderr.
    Message(String),
    /// Already shown (a `--raw` answer line with a non-zero status): just exit 1.
    Shown,
}

impl From<String> for Failure {
    fn from(m: String) -> Failure {
        Failure::Message(m)
    }
}

impl From<&str> for Failure {
    fn from(m: &str) -> Failure {
        Failure::Message(m.to_string())
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("lukseun-cli: {message}");
    ExitCode::FAILURE
}

/// `KEY` from the environment, else from var/cluster.env as `./lukseun up` writes it.
fn cluster_setting(key: &str) -> Option<String> {
    if let Ok(v) = std::env::var(key) {
        return Some(v);
    }
    let text = std::fs::read_to_string("var/cluster.env").ok()?;
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

struct Cli {
    gate: String,
    edge: String,
    world: String,
    session_path: PathBuf,
    session: Session,
    /// Answer lines go to stdout as the gate sent them, instead of pretty JSON.
    raw: bool,
}

impl Cli {
    fn new(g: Globals) -> Cli {
        let session_path = g
            .session
            .map(PathBuf::from)
            .unwrap_or_else(session::default_path);
        let session = Session::load(&session_path);
        Cli {
            gate: g
                .gate
                .or_else(|| cluster_setting("LUKSEUN_GATE"))
                .unwrap_or_else(|| "127.0.0.1:8880".into()),
            edge: g
                .edge
                .or_else(|| cluster_setting("LUKSEUN_EDGE"))
                .unwrap_or_else(|| "127.0.0.1:9000".into()),
            world: g
                .world
                .or_else(|| session.world.clone())
                .unwrap_or_else(|| "s0".into()),
            session_path,
            session,
            raw: g.raw,
        }
    }

    fn run(&mut self, command: Command) -> Result<(), Failure> {
        match command {
            Command::Login {
                device,
                account,
                password,
            } => self.login(device, account, password),
            Command::Register { account, password } => {
                let device = self.device(None);
                let answer = self.call_raw(
                    "register",
                    None,
                    args(&[
                        ("unique_id", &device),
                        ("account", &account),
                        ("password", &password),
                    ]),
                )?;
                self.print_answer(&answer);
                Ok(())
            }
            Command::Call { function, args } => {
                let args: Map<String, Value> = serde_json::from_str(&args)
                    .map_err(|e| format!("arguments must be one JSON object: {e}"))?;
                let answer = self.call(&function, args)?;
                if function == "enter_world" {
                    // The new session token revokes the one we kept: keep the new one.
                    self.session.session_token = Some(token(&answer)?);
                    self.session.world = Some(self.world.clone());
                    self.session
                        .save(&self.session_path)
                        .map_err(|e| format!("saving {}: {e}", self.session_path.display()))?;
                }
                self.print_answer(&answer);
                Ok(())
            }
            Command::Chat => {
                let answer = self.call("get_login_token_chat", Map::new())?;
                let nonce = answer.data("token").as_str().ok_or("no chat token")?;
                Ok(chat::run(&self.edge, nonce)?)
            }
            Command::Mail(mail) => {
                let answer = match mail {
                    MailCommand::List => self.call("get_all_mail", Map::new())?,
                    MailCommand::New => self.call("get_new_mail", Map::new())?,
                    MailCommand::Read(key) => {
                        self.call("mark_read_mail", args(&[("key", &key)]))?
                    }
                    MailCommand::Delete(key) => self.call("delete_mail", args(&[("key", &key)]))?,
                };
                self.print_answer(&answer);
                Ok(())
            }
        }
    }

    /// The device id of this terminal: given, remembered, or new.
    fn device(&mut self, given: Option<String>) -> String {
        let device = given
            .or_else(|| self.session.device.clone())
            .unwrap_or_else(|| format!("cli-{}", shared::ids::random_hex(12)));
        self.session.device = Some(device.clone());
        device
    }

    fn login(
        &mut self,
        device: Option<String>,
        account: Option<String>,
        password: Option<String>,
    ) -> Result<(), Failure> {
        let answer = match (account, password) {
            (Some(account), Some(password)) => self.call_raw(
                "login",
                None,
                args(&[
                    ("identifier", "account"),
                    ("value", &account),
                    ("password", &password),
                ]),
            )?,
            _ => {
                let device = self.device(device);
                self.call_raw("login_unique", None, args(&[("unique_id", &device)]))?
            }
        };
        let account_token = token(&answer)?;
        let entered = self.call_raw("enter_world", Some(&account_token), Map::new())?;
        self.session.account_token = Some(account_token);
        self.session.session_token = Some(token(&entered)?);
        self.session.world = Some(self.world.clone());
        self.session
            .save(&self.session_path)
            .map_err(|e| format!("saving {}: {e}", self.session_path.display()))?;
        if !self.raw {
            println!(
                "logged in to world {} (session kept in {})",
                self.world,
                self.session_path.display()
            );
        }
        Ok(())
    }

    fn call(&mut self, function: &str, args: Map<String, Value>) -> Result<Answer, Failure> {
        let token = if uses_account_token(function) {
            self.session.account_token.clone()
        } else {
            self.session.session_token.clone()
        };
        let token = token.ok_or("not logged in: run `lukseun-cli login` first")?;
        self.call_raw(function, Some(&token), args)
    }

    fn call_raw(
        &mut self,
        function: &str,
        token: Option<&str>,
        args: Map<String, Value>,
    ) -> Result<Answer, Failure> {
        let gate_error = |e: shared::gate_client::ClientError| format!("gate {}: {e}", self.gate);
        let mut client = GateClient::connect(&self.gate, TIMEOUT).map_err(gate_error)?;
        client
            .send(&request_line(&self.world, function, token, &args))
            .map_err(gate_error)?;
        let line = client.receive_raw().map_err(gate_error)?;
        if self.raw {
            let mut out = std::io::stdout().lock();
            out.write_all(&line)
                .and_then(|()| out.flush())
                .map_err(|e| format!("writing the answer: {e}"))?;
        }
        let text = String::from_utf8_lossy(&line);
        let answer = parse_answer(text.trim_end_matches(['\r', '\n']));
        match answer {
            Ok(answer) if succeeded(function, answer.status) => Ok(answer),
            _ if self.raw => Err(Failure::Shown),
            Ok(answer) => Err(Failure::Message(failed(function, &answer))),
            Err(e) => Err(Failure::Message(gate_error(e))),
        }
    }

    /// A successful answer as pretty JSON; with `--raw` it is already on stdout.
    fn print_answer(&self, answer: &Answer) {
        if !self.raw {
            println!(
                "{}",
                serde_json::to_string_pretty(&answer.body).unwrap_or_default()
            );
        }
    }
}

/// Whether `status` is a success of `function`: 0, or one of the original game's non-zero
/// successes (1 "new account created" of `register` and `login_unique`, 98 "have not been
/// in this world before" of `enter_world`, which still carries the session, 1 of an unbind
/// verify).
fn succeeded(function: &str, status: i64) -> bool {
    status == 0
        || matches!(
            (function, status),
            ("register" | "login_unique", 1)
                | ("enter_world", 98)
                | ("verify_email_code" | "verify_phone_code", 1)
        )
}

/// A failed call for a person: status, message and, when there is any, the answer's `data`
/// as compact JSON (status 13 says which argument was wrong in `data.reason`).
fn failed(function: &str, answer: &Answer) -> String {
    let mut text = format!(
        "{function}: status {} ({})",
        answer.status,
        answer.message()
    );
    let data = &answer.body["data"];
    let empty = match data {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    };
    if !empty {
        text.push_str(": ");
        text.push_str(&data.to_string());
    }
    text
}

fn args(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect()
}

fn token(answer: &Answer) -> Result<String, String> {
    answer
        .data("token")
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "the answer carries no token".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Answer {
        parse_answer(line).unwrap()
    }

    #[test]
    fn failures_show_data_when_there_is_some() {
        let a = answer(
            r#"{"status":13,"message":"malformed request","data":{"reason":"`icon` is missing"}}"#,
        );
        assert_eq!(
            failed("create_player", &a),
            r#"create_player: status 13 (malformed request): {"reason":"`icon` is missing"}"#
        );
        let a = answer(r#"{"status":10,"message":"function is not in function list"}"#);
        assert_eq!(
            failed("f", &a),
            "f: status 10 (function is not in function list)"
        );
        let a = answer(r#"{"status":90,"message":"no player","data":{}}"#);
        assert_eq!(failed("f", &a), "f: status 90 (no player)");
    }
}
