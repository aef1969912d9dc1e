//! `lukseun-cli` against the whole system (teststack): login keeps a session, calls show
//! answers as JSON and failures as status and message, chat talks through an edge.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

struct Cli<'a> {
    stack: &'a teststack::Stack,
    session: std::path::PathBuf,
}

impl Cli<'_> {
    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lukseun-cli"));
        cmd.env_remove("LUKSEUN_GATE")
            .env_remove("LUKSEUN_EDGE")
            .env("LUKSEUN_SESSION", &self.session)
            .args(["--gate", &self.stack.gate_addr().to_string()])
            .args(["--edge", &self.stack.edge_addr().to_string()]);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run lukseun-cli")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn login_then_calls_with_the_kept_session() {
    let stack = teststack::Stack::start();
    let dir = testkit::TempDir::new("cli");
    let cli = Cli {
        stack: &stack,
        session: dir.path().join("session.json"),
    };
    let out = cli.run(&["login"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("logged in to world s0"));

    let out = cli.run(&["call", "account_all_info"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], 0);
    let device = answer["data"]["unique_id"].as_str().unwrap().to_string();

    // A second login reuses the device id kept in the session: the same guest account.
    assert!(cli.run(&["login"]).status.success());
    let out = cli.run(&["call", "account_all_info"]);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["data"]["unique_id"], device.as_str());

    // enter_world revokes the kept session token; the CLI keeps the new one.
    assert!(cli.run(&["call", "enter_world"]).status.success());
    let out = cli.run(&["call", "create_player", r#"{"gn":"cli_player","icon":2}"#]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Failures: status and message on stderr, exit 1, no stack trace.
    let out = cli.run(&["call", "no_such_function"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("status 10 (function is not in function list)"),
        "{err}"
    );
    let out = cli.run(&["call", "account_all_info", "{not json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("one JSON object"));
    let out = cli.run(&["--world", "s404", "call", "account_all_info"]);
    assert!(
        text(&out.stderr).contains("status 14"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn without_a_session_calls_say_to_log_in() {
    let stack = teststack::Stack::start();
    let dir = testkit::TempDir::new("cli");
    let cli = Cli {
        stack: &stack,
        session: dir.path().join("none.json"),
    };
    let out = cli.run(&["call", "account_all_info"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not logged in"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn chat_sends_typed_lines_and_prints_what_arrives() {
    let stack = teststack::Stack::start();
    let dir = testkit::TempDir::new("cli");
    let cli = Cli {
        stack: &stack,
        session: dir.path().join("session.json"),
    };
    assert!(cli.run(&["login"]).status.success());
    // The chat token needs a player in the world.
    let out = cli.run(&["call", "create_player", r#"{"gn":"cli_chatter","icon":1}"#]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut chat = cli
        .command()
        .arg("chat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(chat.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("[connected]"), "{line}");
    let mut stdin = chat.stdin.take().unwrap();
    writeln!(stdin, "hello from the terminal 你好").unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim_end(),
        "[public] cli_chatter:hello from the terminal 你好"
    );
    writeln!(stdin, "/quit").unwrap();
    drop(stdin);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while chat.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "chat did not end on /quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
