//! The `gate` binary: options, startup errors, SIGTERM.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

fn gate_binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LUKSEUN_") || key == "POD_IP" {
            cmd.env_remove(key);
        }
    }
    cmd
}

#[test]
fn help_lists_the_options() {
    let out = gate_binary().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--port",
        "--worker-port",
        "--bind",
        "--advertise-ip",
        "POD_IP",
        "--redis-url",
        "--nats-url",
        "--job-timeout-ms",
        "--idle-timeout-secs",
        "--max-connections",
        "--max-in-flight",
        "--one-shot",
        "--admin-port",
    ] {
        assert!(text.contains(option), "--help lacks {option}:\n{text}");
    }
}

#[test]
fn a_bad_option_value_is_refused_with_its_name() {
    let out = gate_binary().arg("--job-timeout-ms=0").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("job-timeout-ms"), "{text}");
}

#[test]
fn a_taken_port_is_a_clear_start_error() {
    let servers = Servers::start();
    let first = servers.gate();
    let mut options = servers.options();
    options.port = first.client_addr().port();
    let error = gate::Gate::start(options)
        .err()
        .expect("the port is taken")
        .to_string();
    assert!(error.contains(&first.client_addr().to_string()), "{error}");

    let mut options = servers.options();
    options.admin_port = first.admin_addr().port();
    let error = gate::Gate::start(options)
        .err()
        .expect("the admin port is taken")
        .to_string();
    assert!(
        error.contains(&first.admin_addr().to_string()) && error.contains("admin"),
        "{error}"
    );
}

#[test]
fn sigterm_answers_in_flight_requests_deregisters_and_exits_0() {
    let servers = Servers::start();
    let mut child = gate_binary()
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--worker-port",
            "0",
            "--admin-port",
            "0",
        ])
        .args([
            "--redis-url",
            &servers.redis.url(),
            "--nats-url",
            &servers.nats.url(),
        ])
        .args(["--job-timeout-ms", "3000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let client_addr = loop {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "gate exited early");
        if line.contains("msg=\"gate started\"") {
            let addr = line
                .split(" clients=")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            break addr.parse().unwrap();
        }
    };
    let drain_log = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut log, &mut rest);
        rest
    });
    assert!(servers.redis_get(&shared::contract::gate_key(0)).is_some());

    let _worker = TestWorker::start(
        &servers.nats.url(),
        &servers.redis.url(),
        "w1",
        Duration::from_millis(300),
    );
    let mut client = TestClient::connect(client_addr);
    client.request(1, 1);
    assert_eq!(data_of(&client.read_answer().unwrap()), (1, 1));
    let burst: String = (2..12).map(|n| request_line(1, n)).collect();
    client.send(burst.as_bytes());
    std::thread::sleep(Duration::from_millis(100));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for n in 2..12 {
        let answer = client
            .read_answer()
            .expect("in-flight requests are answered");
        if answer != shared::envelope::timeout_json() {
            assert_eq!(data_of(&answer), (1, n));
        }
    }
    assert_eq!(client.read_answer(), None);
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    assert_eq!(servers.redis_get(&shared::contract::gate_key(0)), None);
    let rest = drain_log.join().unwrap();
    assert!(rest.contains("msg=deregistered"), "{rest}");
}

#[test]
fn an_unreachable_nats_is_a_clear_start_error() {
    let servers = Servers::start();
    let mut options = servers.options();
    options.nats_url = format!("nats://127.0.0.1:{}", testkit::free_port());
    let error = gate::Gate::start(options)
        .err()
        .expect("no NATS there")
        .to_string();
    assert!(error.starts_with("nats:"), "{error}");
}
