//! The `auth` binary as an operator runs it.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::Client;

fn auth_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth"));
    // Nothing from the test runner's environment may configure the service.
    cmd.env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("auth did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn output_of(mut child: Child) -> (std::process::ExitStatus, String) {
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    (status, text)
}

#[test]
fn short_key_refuses_to_start() {
    let child = auth_command()
        .env("LUKSEUN_JWT_SECRET", "only-twenty-one-bytes")
        .args(["--port", "0", "--admin-port", "0"])
        .spawn()
        .unwrap();
    let (status, text) = output_of(child);
    assert!(!status.success(), "{text}");
    assert!(
        text.contains("21 bytes") && text.contains("at least 32"),
        "{text}"
    );
}

#[test]
fn short_issuer_key_refuses_to_start() {
    let child = auth_command()
        .env("LUKSEUN_JWT_SECRET", "a-signing-key-of-at-least-32-bytes!!")
        .env("LUKSEUN_ISSUER_KEY", "issuer-of-20-bytes!!")
        .args(["--port", "0", "--admin-port", "0"])
        .spawn()
        .unwrap();
    let (status, text) = output_of(child);
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(
        text.contains("issuer key has 20 bytes") && text.contains("at least 32"),
        "{text}"
    );
}

#[test]
fn missing_key_refuses_to_start() {
    let child = auth_command()
        .args(["--port", "0", "--admin-port", "0"])
        .spawn()
        .unwrap();
    let (status, text) = output_of(child);
    assert!(!status.success(), "{text}");
    assert!(text.contains("LUKSEUN_JWT_SECRET"), "{text}");
}

#[test]
fn help_lists_the_options() {
    let child = auth_command().arg("--help").spawn().unwrap();
    let (status, text) = output_of(child);
    assert!(status.success(), "{text}");
    for option in [
        "--port",
        "8001",
        "--bind",
        "--admin-port",
        "9101",
        "--redis-url",
        "--jwt-secret",
        "LUKSEUN_JWT_SECRET",
        "--token-lifetime-secs",
        "2592000",
        "--threads",
    ] {
        assert!(text.contains(option), "help lacks {option}:\n{text}");
    }
}

#[test]
fn serves_probes_and_finishes_in_flight_work_on_sigterm() {
    let redis = testkit::Redis::start();
    let port = testkit::free_port();
    let admin_port = testkit::free_port();
    let mut child = auth_command()
        .env(
            "LUKSEUN_JWT_SECRET",
            std::str::from_utf8(support::SECRET).unwrap(),
        )
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--admin-port", &admin_port.to_string(), "--threads", "2"])
        .args(["--redis-url", &redis.url()])
        .spawn()
        .unwrap();
    let api: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    while testkit::http_get(admin, "/readyz").ok().map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "auth never became ready");
        assert!(child.try_wait().unwrap().is_none(), "auth exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(testkit::http_get(admin, "/healthz").unwrap().0, 200);

    let mut c = Client::connect(api);
    let (code, answer) = c.post("/issue_token", r#"{"uid":"bin","kind":"account"}"#);
    assert_eq!((code, &answer["status"]), (200, &serde_json::json!(0)));
    let (_, metrics) = testkit::http_get(admin, "/metrics").unwrap();
    assert!(
        metrics.contains("auth_issue_token_requests_total 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("auth_request_seconds_bucket"), "{metrics}");

    // A request whose body is still arriving when SIGTERM comes must still be answered.
    let body = format!(
        r#"{{"nonce":"late","payload":{{"pad":"{}"}}}}"#,
        "p".repeat(3000)
    );
    let mut slow = TcpStream::connect(api).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        slow,
        "POST /register_nonce HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    slow.write_all(&body.as_bytes()[..2000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(300));
    slow.write_all(&body.as_bytes()[2000..]).unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).ok();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"status":0}"#), "{answer}");

    let status = wait_with_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
}
