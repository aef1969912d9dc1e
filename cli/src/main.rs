//! `lukseun-cli`: a game client for people at a terminal. Answers are printed as JSON;
//! a failed call shows its status and message and exits 1.

mod args;
mod chat;
mod session;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};
use shared::gate_client::{request_line, uses_account_token, Answer, GateClient};

use args::{ArgError, Command, Globals, MailCommand};
use session::Session;

const TIMEOUT: Duration = Duration::from_secs(15);

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (globals, command) = match args::parse(&argv) {
        Ok(parsed) => parsed,
        Err(ArgError::Help) => {
            print!("{}", args::USAGE);
            return;
        }
        Err(e) => fail(&e.to_string()),
    };
    let mut cli = Cli::new(globals);
    if let Err(e) = cli.run(command) {
        fail(&e);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("lukseun-cli: {message}");
    std::process::exit(1);
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
        }
    }

    fn run(&mut self, command: Command) -> Result<(), String> {
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
                print_answer(&answer);
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
                print_answer(&answer);
                Ok(())
            }
            Command::Chat => {
                let answer = self.call("get_login_token_chat", Map::new())?;
                let nonce = answer.data("token").as_str().ok_or("no chat token")?;
                chat::run(&self.edge, nonce)
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
                print_answer(&answer);
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
    ) -> Result<(), String> {
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
        println!(
            "logged in to world {} (session kept in {})",
            self.world,
            self.session_path.display()
        );
        Ok(())
    }

    fn call(&mut self, function: &str, args: Map<String, Value>) -> Result<Answer, String> {
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
    ) -> Result<Answer, String> {
        let mut client = GateClient::connect(&self.gate, TIMEOUT)
            .map_err(|e| format!("gate {}: {e}", self.gate))?;
        let answer = client
            .call(&request_line(&self.world, function, token, &args))
            .map_err(|e| format!("gate {}: {e}", self.gate))?;
        if answer.status != 0 {
            return Err(format!(
                "{function}: status {} ({})",
                answer.status,
                answer.message()
            ));
        }
        Ok(answer)
    }
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

fn print_answer(answer: &Answer) {
    println!(
        "{}",
        serde_json::to_string_pretty(&answer.body).unwrap_or_default()
    );
}
