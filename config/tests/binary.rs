//! The `config` binary as an operator runs it: flags, readiness, SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{get, wait_until, write};
use testkit::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_config");

#[test]
fn serves_from_flags_and_exits_0_on_sigterm() {
    let dir = TempDir::new("config-bin");
    write(dir.path(), "mail.json", "{\"daily_send_limit\":20}");
    let (port, admin_port) = (testkit::free_port(), testkit::free_port());
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--admin-port",
            &admin_port.to_string(),
            "--reload-secs",
            "0.1",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the binary");
    let admin = format!("127.0.0.1:{admin_port}").parse().unwrap();
    wait_until("readiness", || {
        std::net::TcpStream::connect(admin).is_ok() && get(admin, "/readyz", &[]).status == 200
    });
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(
        get(addr, "/config/mail", &[]).body,
        "{\"daily_send_limit\":20}"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the service did not stop after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn help_lists_the_options_and_bad_values_exit_2() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for option in [
        "--port",
        "--bind",
        "--dir",
        "--reload-secs",
        "--admin-port",
        "LUKSEUN_DIR",
    ] {
        assert!(text.contains(option), "help lacks {option}:\n{text}");
    }
    let bad = Command::new(BIN)
        .args(["--reload-secs", "0", "--port", "0", "--admin-port", "0"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let said = String::from_utf8_lossy(&bad.stdout);
    assert!(
        said.contains("bad configuration")
            && said.contains("--reload-secs")
            && said.contains("must be above 0"),
        "{said}"
    );
    let bad_bind = Command::new(BIN)
        .args(["--bind", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(bad_bind.status.code(), Some(2));
}
