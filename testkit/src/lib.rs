//! Real servers for tests: `redis-server` (alone or as a [`RedisCluster`]), `nats-server`,
//! `mariadbd` and an SMTP server (`aiosmtpd`) from the distribution's packages, each on a
//! free loopback port in its own temporary directory; and [`HttpReceiver`], the project's
//! own HTTP server recording the requests a service under test sends.
//!
//! A server lives as long as its handle: dropping it stops the process by its own PID and
//! removes the directory. Nothing here assumes a server on a standard port.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod http_receiver;
mod redis_cluster;
mod smtp;

pub use http_receiver::HttpReceiver;
pub use redis_cluster::{RedisCluster, CLUSTER_MASTERS};
pub use smtp::{decode_words, Mail, Smtp};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A directory under the system's temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "lukseun-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Finds a server binary: on PATH, or in the sbin directories Debian puts daemons in.
pub fn find_binary(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path
        .split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("{name} not found: run ./lukseun test, which installs the servers the tests need")
}

/// A child process that is stopped when the handle drops, and dies with the test thread
/// that started it if the test runner is killed before Drop runs.
struct Process {
    name: &'static str,
    child: Option<Child>,
}

impl Process {
    fn spawn(name: &'static str, mut command: Command, log: &Path) -> Process {
        let log_file = std::fs::File::create(log).expect("create server log");
        command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Process {
            name,
            child: Some(child),
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    fn signal(&self, signal: libc::c_int) {
        if let Some(c) = self.child.as_ref() {
            // SAFETY: a plain kill(2) on our own child's PID.
            unsafe {
                libc::kill(c.id() as libc::pid_t, signal);
            }
        }
    }

    /// SIGKILL, as a crash would.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL if the server is still there after a few seconds.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: plain syscall on our own child's PID.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                sleep(Duration::from_millis(20));
            }
            eprintln!("testkit: {} did not stop on SIGTERM, killing it", self.name);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `done` every 5 ms for up to `limit`: how long it took to hold, `None` if it did
/// not. For what another thread or process makes true in its own time (a client noticing
/// an outage, a feed catching up).
pub fn poll_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if done() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        sleep(Duration::from_millis(5));
    }
}

/// [`poll_until`] with 10 s, panicking with `what` when `done` never held.
pub fn eventually(what: &str, done: impl FnMut() -> bool) -> Duration {
    poll_until(Duration::from_secs(10), done).unwrap_or_else(|| panic!("never: {what}"))
}

/// Waits until `ready`; `Err(log)` when the process exited during start. Panics when it
/// is not ready within the start timeout.
fn wait_until(
    what: &str,
    log: &Path,
    process: &mut Process,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        if process.exited() {
            return Err(std::fs::read_to_string(log).unwrap_or_default());
        }
        sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{what} not ready after {START_TIMEOUT:?}; its log:\n{text}");
}

/// Sends `request` and reads until `expect` shows up in the answer.
fn probe(port: u16, request: &[u8], expect: &[u8]) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if !request.is_empty() && s.write_all(request).is_err() {
        return false;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while got.len() < 4096 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(expect.len()).any(|w| w == expect) {
                    let _ = s.shutdown(Shutdown::Both);
                    return true;
                }
            }
        }
    }
    false
}

/// One server process on a fixed port in its own directory, restartable on that port.
struct Server {
    name: &'static str,
    port: u16,
    dir: TempDir,
    process: Process,
    command: fn(&Path, u16) -> Command,
    ready: fn(u16) -> bool,
}

impl Server {
    fn start(
        name: &'static str,
        dir: TempDir,
        command: fn(&Path, u16) -> Command,
        ready: fn(u16) -> bool,
    ) -> Server {
        Self::start_on(name, dir, command, ready, free_port)
    }

    /// As [`Server::start`], taking its ports from `ports`.
    fn start_on(
        name: &'static str,
        mut dir: TempDir,
        command: fn(&Path, u16) -> Command,
        ready: fn(u16) -> bool,
        mut ports: impl FnMut() -> u16,
    ) -> Server {
        // A port free a moment ago may be taken by a parallel test before the server binds
        // it: then the server exits saying so, and is started again on another port.
        for attempt in 1.. {
            let port = ports();
            let process = Self::spawn(name, &dir, port, command);
            let mut server = Server {
                name,
                port,
                dir,
                process,
                command,
                ready,
            };
            match server.try_wait_ready() {
                Ok(()) => return server,
                Err(log) if attempt < 4 && log.to_lowercase().contains("already in use") => {
                    eprintln!("testkit: {name} lost port {port} to another process; again");
                    let Server { dir: kept, .. } = server;
                    dir = kept;
                }
                Err(log) => panic!("{name} exited during start; its log:\n{log}"),
            }
        }
        unreachable!("the loop returns or panics")
    }

    fn spawn(
        name: &'static str,
        dir: &TempDir,
        port: u16,
        command: fn(&Path, u16) -> Command,
    ) -> Process {
        let log = dir.path().join(format!("{name}.log"));
        Process::spawn(name, command(dir.path(), port), &log)
    }

    fn try_wait_ready(&mut self) -> Result<(), String> {
        let (port, ready) = (self.port, self.ready);
        let log = self.dir.path().join(format!("{}.log", self.name));
        wait_until(self.name, &log, &mut self.process, || ready(port))
    }

    fn wait_ready(&mut self) {
        if let Err(log) = self.try_wait_ready() {
            panic!("{} exited during start; its log:\n{log}", self.name);
        }
    }

    fn restart(&mut self) {
        self.process.kill();
        self.process = Self::spawn(self.name, &self.dir, self.port, self.command);
        self.wait_ready();
    }
}

/// The password testkit gives `service`'s NATS and Redis users on secured servers.
pub fn test_password(service: &str) -> String {
    format!("{service}-testkit-password")
}

/// The operators' password of a secured Redis's `default` user (all rights).
pub const REDIS_DEFAULT_PASSWORD: &str = "default-testkit-password";
const REDIS_CONF: &str = "redis.conf";
const NATS_CONF: &str = "nats.conf";

/// A real `redis-server` with persistence off. [`Redis::start_secured`] adds one ACL user
/// per service (shared::grants) and protects `default` with a password.
pub struct Redis {
    pub port: u16,
    server: Server,
    secured: bool,
}

impl Redis {
    pub fn start() -> Redis {
        let server = Server::start(
            "redis-server",
            TempDir::new("redis"),
            Self::command,
            |port| probe(port, b"PING\r\n", b"+PONG"),
        );
        Redis {
            port: server.port,
            server,
            secured: false,
        }
    }

    /// A server with the services' ACL users ([`Redis::url_as`]); [`Redis::url`] is the
    /// `default` user with its password, for test code that reads any key.
    pub fn start_secured() -> Redis {
        let dir = TempDir::new("redis");
        let config = shared::grants::redis_config(test_password, Some(REDIS_DEFAULT_PASSWORD));
        std::fs::write(dir.path().join(REDIS_CONF), config).expect("write redis.conf");
        let server = Server::start("redis-server", dir, Self::command, |port| {
            let auth = format!("AUTH default {REDIS_DEFAULT_PASSWORD}\r\nPING\r\n");
            probe(port, auth.as_bytes(), b"+PONG")
        });
        Redis {
            port: server.port,
            server,
            secured: true,
        }
    }

    fn command(dir: &Path, port: u16) -> Command {
        let mut cmd = Command::new(find_binary("redis-server"));
        // The config file must come first; the flags after it override it.
        let conf = dir.join(REDIS_CONF);
        if conf.exists() {
            cmd.arg(conf);
        }
        cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir);
        cmd
    }

    /// `redis://127.0.0.1:<port>/`, with the `default` user's password when secured.
    pub fn url(&self) -> String {
        if self.secured {
            format!(
                "redis://default:{REDIS_DEFAULT_PASSWORD}@127.0.0.1:{}/",
                self.port
            )
        } else {
            format!("redis://127.0.0.1:{}/", self.port)
        }
    }

    /// `redis://<service>:<password>@127.0.0.1:<port>/`: that service's ACL user.
    pub fn url_as(&self, service: &str) -> String {
        format!(
            "redis://{service}:{}@127.0.0.1:{}/",
            test_password(service),
            self.port
        )
    }

    pub fn pid(&self) -> u32 {
        self.server.process.pid()
    }

    /// Kills the server with SIGKILL; its data is gone, as after a crash without persistence.
    pub fn kill(&mut self) {
        self.server.process.kill();
    }

    /// Starts a fresh server on the same port (after `kill`).
    pub fn restart(&mut self) {
        self.server.restart();
    }
}

/// A real `nats-server`. [`Nats::start_secured`] adds one user per service with the
/// permissions of shared::grants.
pub struct Nats {
    pub port: u16,
    server: Server,
}

impl Nats {
    pub fn start() -> Nats {
        Self::start_in(TempDir::new("nats"))
    }

    /// A server that takes only the services' users ([`Nats::url_as`]); [`Nats::url`]
    /// then carries no credentials and is refused.
    pub fn start_secured() -> Nats {
        let dir = TempDir::new("nats");
        let config = shared::grants::nats_server_config(|service| {
            shared::grants::nats_quoted(&test_password(service))
        });
        std::fs::write(dir.path().join(NATS_CONF), config).expect("write nats.conf");
        Self::start_in(dir)
    }

    fn start_in(dir: TempDir) -> Nats {
        let server = Server::start("nats-server", dir, Self::command, |port| {
            probe(port, b"", b"INFO ")
        });
        Nats {
            port: server.port,
            server,
        }
    }

    fn command(dir: &Path, port: u16) -> Command {
        let mut cmd = Command::new(find_binary("nats-server"));
        let conf = dir.join(NATS_CONF);
        if conf.exists() {
            cmd.arg("-c").arg(conf);
        }
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        cmd
    }

    /// `nats://<service>:<password>@127.0.0.1:<port>`: that service's user.
    pub fn url_as(&self, service: &str) -> String {
        format!(
            "nats://{service}:{}@127.0.0.1:{}",
            test_password(service),
            self.port
        )
    }

    /// `nats://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.server.process.pid()
    }

    pub fn kill(&mut self) {
        self.server.process.kill();
    }

    /// Starts a fresh server on the same port (after `kill`).
    pub fn restart(&mut self) {
        self.server.restart();
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing is answered.
    pub fn pause(&self) {
        self.server.process.signal(libc::SIGSTOP);
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.server.process.signal(libc::SIGCONT);
    }
}

/// An initialised MariaDB datadir, made once per machine and MariaDB version and copied for
/// each server: `mariadb-install-db` takes seconds and is the flaky part of a start on a
/// busy machine, a copy takes milliseconds.
fn mariadb_template() -> PathBuf {
    static TEMPLATE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let version = Command::new(find_binary("mariadbd"))
                .arg("--version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let tag: String = version
                .split_whitespace()
                .nth(2)
                .unwrap_or("unknown")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            // SAFETY: getuid has no preconditions.
            let uid = unsafe { libc::getuid() };
            let template =
                std::env::temp_dir().join(format!("lukseun-mariadb-template-{uid}-{tag}"));
            if !template.join("mysql").is_dir() {
                build_mariadb_template(&template);
            }
            template
        })
        .clone()
}

/// Runs `mariadb-install-db` into a private directory and renames it into place, so
/// concurrent test processes never see half a template. Retries: the install fails now and
/// then when the machine is very busy.
fn build_mariadb_template(template: &Path) {
    let mut last_log = String::new();
    for _ in 0..3 {
        let work = TempDir::new("mariadb-install");
        let data = work.path().join("data");
        std::fs::create_dir_all(&data).expect("create datadir");
        let log = work.path().join("install.log");
        let status = Command::new(find_binary("mariadb-install-db"))
            .args([
                "--no-defaults",
                "--auth-root-authentication-method=normal",
                "--user=root",
                "--skip-test-db",
                "--innodb-use-native-aio=0",
                "--innodb-log-file-size=8M",
            ])
            .arg(format!("--datadir={}", data.display()))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("install log"))
            .stderr(Stdio::from(
                std::fs::File::options()
                    .append(true)
                    .open(&log)
                    .expect("install log"),
            ))
            .status()
            .expect("run mariadb-install-db");
        if status.success() {
            // Another process may have won the race; its template is as good as ours.
            if std::fs::rename(&data, template).is_ok() || template.join("mysql").is_dir() {
                return;
            }
        }
        last_log = std::fs::read_to_string(&log).unwrap_or_default();
    }
    panic!("mariadb-install-db failed three times; last log:\n{last_log}");
}

/// `cp -a`: a plain recursive copy keeping permissions.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("cp -a failed: {status}")))
    }
}

/// A real `mariadbd` with a root account without password and an empty database `lukseun`.
pub struct MariaDb {
    pub port: u16,
    server: Server,
}

pub const MARIADB_DATABASE: &str = "lukseun";

impl MariaDb {
    pub fn start() -> MariaDb {
        let dir = TempDir::new("mariadb");
        copy_tree(&mariadb_template(), &dir.path().join("data"))
            .expect("copy the initialised datadir");
        // The server's greeting carries its version string; it is sent once it takes logins.
        let server = Server::start("mariadbd", dir, Self::command, |port| {
            probe(port, b"", b"MariaDB")
        });
        let db = MariaDb {
            port: server.port,
            server,
        };
        db.sql(&format!("CREATE DATABASE IF NOT EXISTS {MARIADB_DATABASE}"));
        db
    }

    fn command(dir: &Path, port: u16) -> Command {
        let mut cmd = Command::new(find_binary("mariadbd"));
        cmd.args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .args([
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=8M",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--max-connections=500",
                // Native AIO contexts are a machine-wide quota that parallel tests exhaust.
                "--innodb-use-native-aio=0",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_bin",
            ]);
        cmd
    }

    /// Runs one statement as root through the distribution's command-line client.
    pub fn sql(&self, statement: &str) -> String {
        let socket = self.server.dir.path().join("mysqld.sock");
        let out = Command::new(find_binary("mariadb"))
            .args(["--no-defaults", "-uroot", "-N", "-B"])
            .arg(format!("--socket={}", socket.display()))
            .args(["-e", statement])
            .output()
            .expect("run the mariadb client");
        if !out.status.success() {
            panic!(
                "mariadb client failed on {statement:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `mysql://root@127.0.0.1:<port>/lukseun`
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/{MARIADB_DATABASE}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.server.process.pid()
    }

    pub fn kill(&mut self) {
        self.server.process.kill();
    }

    /// Starts the server again on the same port and data directory (after `kill`).
    pub fn restart(&mut self) {
        self.server.restart();
    }

    /// Freezes the server (SIGSTOP): the kernel still accepts connections, nothing answers.
    pub fn pause(&self) {
        self.server.process.signal(libc::SIGSTOP);
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.server.process.signal(libc::SIGCONT);
    }
}

/// A TCP connection to `addr` from the loopback address `from` (any of 127.0.0.0/8), so a
/// test can be several client addresses at once (per-address limits).
pub fn connect_from(from: std::net::Ipv4Addr, addr: SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = addr else {
        panic!("IPv4 only")
    };
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a fresh socket owned by the returned stream; the addresses outlive the calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(from, 0);
        let r = libc::bind(fd, &local as *const _ as *const libc::sockaddr, len);
        assert_eq!(r, 0, "bind {from}: {}", std::io::Error::last_os_error());
        let remote = sockaddr(*to.ip(), to.port());
        let r = libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len);
        assert_eq!(r, 0, "connect {addr}: {}", std::io::Error::last_os_error());
        stream
    }
}

/// A plain HTTP/1.1 GET with `Connection: close`, for tests of admin ports and HTTP APIs:
/// the status code and the body.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer");
    let code = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let body = text.split_once("\r\n\r\n").ok_or_else(bad)?.1.to_string();
    Ok((code, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_whose_port_was_taken_starts_on_another() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let mut first = true;
        let server = Server::start_on(
            "redis-server",
            TempDir::new("redis-taken"),
            Redis::command,
            |port| probe(port, b"PING\r\n", b"+PONG"),
            || {
                if std::mem::take(&mut first) {
                    taken_port
                } else {
                    free_port()
                }
            },
        );
        assert!(!first, "the taken port was tried first");
        assert_ne!(server.port, taken_port);
        assert!(probe(server.port, b"PING\r\n", b"+PONG"));
    }

    #[test]
    fn redis_answers_ping_and_stops_with_its_handle() {
        let redis = Redis::start();
        assert!(probe(redis.port, b"PING\r\n", b"+PONG"));
        let pid = redis.pid();
        drop(redis);
        // SAFETY: signal 0 only asks whether the PID exists.
        let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
        assert!(!alive, "redis-server {pid} still running after drop");
    }

    #[test]
    fn nats_sends_info() {
        let nats = Nats::start();
        assert!(probe(nats.port, b"", b"INFO "));
    }

    #[test]
    fn mariadb_runs_sql_and_restarts_with_its_data() {
        let mut db = MariaDb::start();
        db.sql("CREATE TABLE lukseun.t (v INT); INSERT INTO lukseun.t VALUES (7)");
        db.kill();
        db.restart();
        assert_eq!(db.sql("SELECT v FROM lukseun.t").trim(), "7");
    }
}
