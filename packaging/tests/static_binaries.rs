//! The static (musl) release binaries: their size, that they need no loader, and that each
//! one starts in an empty root directory (as in its scratch image, as user 10001) and serves
//! its admin port against real Redis, NATS and MariaDB; together they answer a game request.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use packaging::elf::is_static;
use packaging::static_build::static_binaries;
use packaging::{skip_or_fail, workspace_root, SERVICES};
use testkit::{free_port, MariaDb, Nats, Redis, TempDir};

/// Issue 8's budget per service binary.
const SIZE_BUDGET_BYTES: u64 = 5_000_000;
/// The images' `USER`.
const IMAGE_USER: u32 = 10001;
/// A test key only (32+ bytes, as auth and worker demand).
const JWT_SECRET: &str = "packaging-test-key-0123456789abcdef-0123456789";

#[test]
fn binaries_are_static_and_within_the_size_budget() {
    let build = static_binaries();
    let mut report = format!(
        "static build: {:.1} s in this run\n",
        build.took.as_secs_f64()
    );
    for service in SERVICES {
        let path = build.binary(service);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let size = bytes.len() as u64;
        report.push_str(&format!(
            "  {service:<7} {size:>9} bytes ({:.2} MB)\n",
            size as f64 / 1e6
        ));
        assert_eq!(
            is_static(&bytes),
            Ok(true),
            "{service} needs a program interpreter: it cannot run in a scratch image"
        );
        assert!(
            size <= SIZE_BUDGET_BYTES,
            "{service} is {size} bytes, over the {SIZE_BUDGET_BYTES}-byte budget"
        );
    }
    eprint!("{report}");
}

/// A service running chrooted into a directory holding only its binary (and its data).
struct Jailed {
    service: &'static str,
    child: Child,
    log: PathBuf,
    admin_port: u16,
    _root: TempDir,
}

impl Jailed {
    /// `prepare` adds what the image holds besides the binary (config's game-config, mail's
    /// Maildir root), relative to the new root.
    fn start(
        service: &'static str,
        args: &[String],
        admin_port: u16,
        logs: &Path,
        prepare: impl FnOnce(&Path),
    ) -> Jailed {
        let root = TempDir::new(&format!("chroot-{service}"));
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = root.path().join(service);
        std::fs::copy(static_binaries().binary(service), &binary).expect("copy the binary");
        prepare(root.path());
        assert_eq!(
            std::fs::read_dir(root.path()).unwrap().count(),
            if matches!(service, "config" | "mail") {
                2
            } else {
                1
            },
            "{service}: the root holds only what the image holds"
        );
        let log = logs.join(format!("{service}.log"));
        let out = File::create(&log).unwrap();
        let jail = std::ffi::CString::new(root.path().as_os_str().as_encoded_bytes()).unwrap();
        let mut command = Command::new(format!("/{service}"));
        command
            .args(args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        // SAFETY: only async-signal-safe libc calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let check = |rc: libc::c_int| {
                    if rc == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                };
                check(libc::chroot(jail.as_ptr()))?;
                check(libc::chdir(c"/".as_ptr()))?;
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(IMAGE_USER))?;
                check(libc::setuid(IMAGE_USER))
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {service} in {}: {e}", root.path().display()));
        Jailed {
            service,
            child,
            log,
            admin_port,
            _root: root,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `path` on the admin port answers 200.
    fn wait_for(&mut self, path: &str, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before {path} answered:\n{}",
                    self.service,
                    self.log_text()
                );
            }
            if http_status(self.admin_port, path) == Some(200) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "{} did not answer {path} with 200 within {within:?}:\n{}",
                self.service,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, as Kubernetes sends it (the images' STOPSIGNAL); the contract says exit 0.
    fn stop(mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "{} exited with {status} (signal {:?}) after SIGTERM:\n{}",
                    self.service,
                    status.signal(),
                    self.log_text()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} still runs 20 s after SIGTERM",
                self.service
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Jailed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of `GET path`, or None when nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

fn flags(pairs: &[(&str, String)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(flag, value)| [format!("--{flag}"), value.clone()])
        .collect()
}

#[test]
fn each_binary_serves_its_admin_port_in_an_empty_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip_or_fail("chroot run of the static binaries", "chroot needs root");
    }
    let redis = Redis::start();
    let nats = Nats::start();
    let mariadb = MariaDb::start();
    let logs = TempDir::new("chroot-logs");
    let port = |_: &str| free_port();
    let (auth_port, config_port, mail_port) = (port("auth"), port("config"), port("mail"));
    let (gate_port, gate_worker_port, edge_port) = (port("gate"), port("worker"), port("edge"));
    let admin: Vec<u16> = SERVICES.iter().map(|_| free_port()).collect();
    let admin_of = |service: &str| admin[SERVICES.iter().position(|s| *s == service).unwrap()];
    let game_config = workspace_root().join("game-config");

    let mut started: Vec<Jailed> = Vec::new();
    let mut start = |service: &'static str, pairs: Vec<(&str, String)>, prepare: &dyn Fn(&Path)| {
        let mut all = pairs;
        all.push(("admin-port", admin_of(service).to_string()));
        let mut jailed = Jailed::start(
            service,
            &flags(&all),
            admin_of(service),
            logs.path(),
            prepare,
        );
        let healthy = jailed.wait_for("/healthz", Duration::from_secs(60));
        let ready = jailed.wait_for("/readyz", Duration::from_secs(60));
        eprintln!(
            "chroot: {service:<7} /healthz 200 after {:.2} s, /readyz 200 after {:.2} s more",
            healthy.as_secs_f64(),
            ready.as_secs_f64()
        );
        started.push(jailed);
    };
    let nothing = |_: &Path| {};
    start(
        "auth",
        vec![
            ("port", auth_port.to_string()),
            ("redis-url", redis.url()),
            ("jwt-secret", JWT_SECRET.into()),
        ],
        &nothing,
    );
    start(
        "config",
        vec![
            ("port", config_port.to_string()),
            ("dir", "/game-config".into()),
        ],
        &|root: &Path| copy_dir(&game_config, &root.join("game-config")),
    );
    start(
        "mail",
        vec![("port", mail_port.to_string()), ("root", "/maildir".into())],
        &|root: &Path| {
            let dir = root.join("maildir");
            std::fs::create_dir(&dir).unwrap();
            std::os::unix::fs::chown(&dir, Some(IMAGE_USER), Some(IMAGE_USER)).unwrap();
        },
    );
    start(
        "gate",
        vec![
            ("port", gate_port.to_string()),
            ("worker-port", gate_worker_port.to_string()),
            ("advertise-ip", "127.0.0.1".into()),
            ("redis-url", redis.url()),
            ("nats-url", nats.url()),
        ],
        &nothing,
    );
    start(
        "edge",
        vec![
            ("port", edge_port.to_string()),
            ("redis-url", redis.url()),
            ("nats-url", nats.url()),
        ],
        &nothing,
    );
    start(
        "worker",
        vec![
            ("nats-url", nats.url()),
            ("redis-url", redis.url()),
            ("mysql-url", mariadb.url()),
            ("jwt-secret", JWT_SECRET.into()),
            ("config-url", url(config_port)),
            ("mail-url", url(mail_port)),
            ("auth-url", url(auth_port)),
            ("threads", "4".into()),
        ],
        &nothing,
    );

    // All six static binaries together: a guest login goes client -> gate -> NATS -> worker
    // (MariaDB, Redis, auth) -> gate -> client.
    // A -2 is the gate's "timed out, try again" answer: under a loaded machine the first job
    // of a freshly started worker can miss the gate's deadline. A client retries it, and so
    // does this test (a few times, with the logs printed); the path is broken only if every
    // attempt fails. A retry after a timed-out attempt may find the account that attempt
    // created (0) instead of creating it (1).
    let login =
        r#"{"world":"s0","function":"login_unique","data":{"unique_id":"chroot-device-1"}}"#;
    let mut timed_out = 0;
    let answer = loop {
        let answer = gate_request(gate_port, login);
        let parsed: serde_json::Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("gate answered {answer:?}: {e}"));
        if parsed["status"] == -2 && timed_out < 3 {
            timed_out += 1;
            eprintln!("chroot: login_unique timed out (-2), attempt {timed_out}; retrying");
            for jailed in &started {
                eprintln!("--- {} log ---\n{}", jailed.service, jailed.log_text());
            }
            continue;
        }
        let created = parsed["status"] == 1 || (timed_out > 0 && parsed["status"] == 0);
        assert!(
            created,
            "login_unique (new account) through the chrooted services, after {timed_out} \
             timeouts: {answer}"
        );
        break answer;
    };
    eprintln!(
        "chroot: login_unique through gate and worker -> {}",
        &answer[..answer.len().min(120)]
    );

    // Stop in the reverse order, as a rollout would drain them.
    while let Some(jailed) = started.pop() {
        jailed.stop();
    }
}

fn gate_request(port: u16, line: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the gate");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(format!("{line}\r\n").as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .expect("an answer line from the gate");
    answer.trim_end().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
