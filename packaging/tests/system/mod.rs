//! The six static binaries running as plain processes against the given Redis, NATS and
//! MariaDB, each on free ports, until dropped (SIGKILL then). For checks that need the whole
//! system as it ships but no container engine (the observability kit's live scrape).

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use packaging::static_build::static_binaries;
use packaging::{workspace_root, SERVICES};

/// A signing key for tests only (32+ bytes, as auth and worker demand).
pub const JWT_SECRET: &str = "packaging-test-key-0123456789abcdef-0123456789";

pub struct Running {
    children: Vec<(&'static str, Child)>,
    /// `(service, admin address)` of each of the six.
    pub admin: Vec<(&'static str, SocketAddr)>,
    pub gate: SocketAddr,
    pub edge: SocketAddr,
    logs: std::path::PathBuf,
}

/// The backends the services use.
pub struct Backends {
    pub redis_url: String,
    pub nats_url: String,
    pub mysql_url: String,
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Running {
    /// Starts the six (logs and the mail root under `dir`) and waits until each `/readyz`
    /// answers 200.
    pub fn start(backends: &Backends, dir: &Path) -> Result<Running, String> {
        let port = testkit::free_port;
        let (auth, config, mail) = (port(), port(), port());
        let (gate, gate_worker, edge) = (port(), port(), port());
        let mail_root = dir.join("maildir");
        std::fs::create_dir_all(&mail_root).map_err(|e| e.to_string())?;
        let url = |p: u16| format!("http://127.0.0.1:{p}");
        let game_config = workspace_root().join("game-config");
        let args: Vec<(&'static str, Vec<String>)> = vec![
            (
                "auth",
                vec![
                    format!("--port={auth}"),
                    format!("--redis-url={}", backends.redis_url),
                    format!("--jwt-secret={JWT_SECRET}"),
                ],
            ),
            (
                "config",
                vec![
                    format!("--port={config}"),
                    format!("--dir={}", game_config.display()),
                ],
            ),
            (
                "mail",
                vec![
                    format!("--port={mail}"),
                    format!("--root={}", mail_root.display()),
                ],
            ),
            (
                "gate",
                vec![
                    format!("--port={gate}"),
                    format!("--worker-port={gate_worker}"),
                    "--advertise-ip=127.0.0.1".into(),
                    format!("--redis-url={}", backends.redis_url),
                    format!("--nats-url={}", backends.nats_url),
                ],
            ),
            (
                "edge",
                vec![
                    format!("--port={edge}"),
                    format!("--redis-url={}", backends.redis_url),
                    format!("--nats-url={}", backends.nats_url),
                ],
            ),
            (
                "worker",
                vec![
                    format!("--nats-url={}", backends.nats_url),
                    format!("--redis-url={}", backends.redis_url),
                    format!("--mysql-url={}", backends.mysql_url),
                    format!("--jwt-secret={JWT_SECRET}"),
                    format!("--config-url={}", url(config)),
                    format!("--mail-url={}", url(mail)),
                    format!("--auth-url={}", url(auth)),
                    "--threads=4".into(),
                ],
            ),
        ];
        let mut running = Running {
            children: Vec::new(),
            admin: Vec::new(),
            gate: local(gate),
            edge: local(edge),
            logs: dir.to_path_buf(),
        };
        for (service, mut flags) in args {
            let admin = local(port());
            flags.push(format!("--admin-port={}", admin.port()));
            let log =
                File::create(dir.join(format!("{service}.log"))).map_err(|e| e.to_string())?;
            let child = Command::new(static_binaries().binary(service))
                .args(&flags)
                .env_clear()
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log)
                .spawn()
                .map_err(|e| format!("start {service}: {e}"))?;
            running.children.push((service, child));
            running.admin.push((service, admin));
            running.wait_ready(service, admin)?;
        }
        debug_assert_eq!(running.admin.len(), SERVICES.len());
        Ok(running)
    }

    fn wait_ready(&mut self, service: &str, admin: SocketAddr) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = testkit::http_get(admin, "/readyz") {
                return Ok(());
            }
            let (_, child) = self.children.last_mut().expect("just started");
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{service} exited ({status}):\n{}",
                    self.log(service)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{service} not ready in 60 s:\n{}",
                    self.log(service)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self, service: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{service}.log"))).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
