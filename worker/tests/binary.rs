//! The `worker` binary: options, refusing a bad key, readiness and SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "a test signing key of 32 bytes!!";

fn worker() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    // Only what the test sets: a developer's LUKSEUN_* must not leak in.
    for (key, _) in std::env::vars() {
        if key.starts_with("LUKSEUN_") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

#[test]
fn help_lists_every_option() {
    let out = worker().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--nats-url",
        "--redis-url",
        "--mysql-url",
        "--jwt-secret",
        "LUKSEUN_JWT_SECRET",
        "--threads",
        "--config-url",
        "--config-refresh-secs",
        "--admin-port",
        "9105",
        "--mail-url",
        "--auth-url",
        "--game-day-utc-offset-hours",
        "--smtp-addr",
        "--smtp-from",
        "--phone-hook-url",
        "--purchase-verifier-url",
        "--rid-ttl-secs",
        "--rid-answer-max-bytes",
        "--world-db",
        "LUKSEUN_WORLD_DB",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

#[test]
fn a_missing_or_short_key_refuses_to_start() {
    let out = worker().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LUKSEUN_JWT_SECRET"), "{err}");

    let out = worker()
        .env("LUKSEUN_JWT_SECRET", "short")
        .args(["--admin-port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("at least 32"), "{log}");
}

#[test]
fn bad_option_values_are_named() {
    let out = worker()
        .env("LUKSEUN_JWT_SECRET", SECRET)
        .args(["--threads", "0"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let all = output_text(&out);
    assert!(all.contains("--threads"), "{all}");

    // A bad world map refuses to start, naming the option but not the URL's password.
    let out = worker()
        .env("LUKSEUN_JWT_SECRET", SECRET)
        .env("LUKSEUN_WORLD_DB", "s1=http://u:hunter2@db-b/lukseun")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let all = output_text(&out);
    assert!(
        all.contains("--world-db") && !all.contains("hunter2"),
        "{all}"
    );
}

/// A finished command's stdout, then its stderr.
fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `mariadb-install-db` fails now and then on a busy machine: one more try.
fn start_mariadb() -> testkit::MariaDb {
    std::panic::catch_unwind(testkit::MariaDb::start).unwrap_or_else(|_| testkit::MariaDb::start())
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    conn.read_to_string(&mut text).ok()?;
    Some((text.get(9..12)?.parse().ok()?, text))
}

#[test]
fn becomes_ready_and_exits_0_on_sigterm() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = start_mariadb();
    let admin_port = testkit::free_port();
    let mut child = worker()
        .env("LUKSEUN_JWT_SECRET", SECRET)
        .env("LUKSEUN_NATS_URL", nats.url())
        .env("LUKSEUN_REDIS_URL", redis.url())
        .env("LUKSEUN_MYSQL_URL", db.url())
        .args(["--threads", "2", "--admin-port", &admin_port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, _)) = http_get(admin_port, "/readyz") {
            break;
        }
        assert!(Instant::now() < deadline, "worker never became ready");
        assert!(child.try_wait().unwrap().is_none(), "worker exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, metrics) = http_get(admin_port, "/metrics").unwrap();
    assert!(metrics.contains("worker_job_seconds_count"), "{metrics}");

    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "worker ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigterm_while_waiting_for_mysql_is_a_clean_exit() {
    let mut child = worker()
        .env("LUKSEUN_JWT_SECRET", SECRET)
        .env(
            "LUKSEUN_MYSQL_URL",
            format!("mysql://root@127.0.0.1:{}/lukseun", testkit::free_port()),
        )
        .args(["--admin-port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it reports the first failed attempt, so the signal lands mid-wait.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("start step failed") {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0,
            "worker exited before retrying"
        );
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "worker ignored SIGTERM during start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}
