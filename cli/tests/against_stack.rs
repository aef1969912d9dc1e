//! `lukseun-cli` against the whole system (teststack): login keeps a session, calls show
//! answers as JSON and failures as status, message and data, `--raw` shows the gate's
//! lines as they came, chat talks through an edge.

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
fn a_missing_argument_shows_the_reason_from_data() {
    let stack = teststack::Stack::start();
    let dir = testkit::TempDir::new("cli");
    let cli = Cli {
        stack: &stack,
        session: dir.path().join("session.json"),
    };
    assert!(cli.run(&["login"]).status.success());
    let out = cli.run(&["call", "create_player", r#"{"gn":"cli_reason"}"#]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            r#"create_player: status 13 (malformed request): {"reason":"`icon` is missing"}"#
        ),
        "{err}"
    );
    // No data, nothing after the message.
    let out = cli.run(&["call", "no_such_function"]);
    assert_eq!(
        text(&out.stderr).trim_end(),
        "lukseun-cli: no_such_function: status 10 (function is not in function list)"
    );
}

/// The line the gate answers to `request`, read off a socket of our own.
fn gate_line(stack: &teststack::Stack, request: &str) -> Vec<u8> {
    let stream = std::net::TcpStream::connect(stack.gate_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    (&stream)
        .write_all(format!("{request}\r\n").as_bytes())
        .unwrap();
    let mut line = Vec::new();
    BufReader::new(&stream)
        .read_until(b'\n', &mut line)
        .unwrap();
    line
}

#[test]
fn raw_prints_the_answer_line_as_the_gate_sent_it() {
    let stack = teststack::Stack::start();
    let dir = testkit::TempDir::new("cli");
    let session = dir.path().join("session.json");
    let cli = Cli {
        stack: &stack,
        session: session.clone(),
    };
    // login: the login and enter_world lines, nothing else.
    let out = cli.run(&["--raw", "login"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.split_inclusive("\r\n").collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in lines {
        assert!(line.ends_with("\r\n"), "{line:?}");
        let answer: serde_json::Value = serde_json::from_str(line).unwrap();
        // 1 "new account created" (a new guest), 98 "have not been in this world before"
        let status = answer["status"].as_i64().unwrap();
        assert!(matches!(status, 1 | 98), "{line}");
    }

    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&session).unwrap()).unwrap();
    let token = kept["session_token"].as_str().unwrap();
    let request = serde_json::json!({
        "world": "s0",
        "function": "create_player",
        "data": {"gn": "cli_raw", "token": token},
    })
    .to_string();
    let expected = gate_line(&stack, &request);
    assert!(expected.ends_with(b"\r\n"));

    // A failure: the exact line on stdout, exit 1, nothing on stderr.
    let out = cli.run(&["--raw", "call", "create_player", r#"{"gn":"cli_raw"}"#]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), text(&expected));
    assert_eq!(out.stdout, expected);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["data"]["reason"], "`icon` is missing");

    // A success: the line and exit 0.
    let out = cli.run(&[
        "--raw",
        "call",
        "create_player",
        r#"{"gn":"cli_raw","icon":1}"#,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.ends_with(b"\r\n"));
    assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), 1);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], 0);
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
