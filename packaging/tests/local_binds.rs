//! `./lukseun up` binds only what clients need on every address (issue 16): the gate's and
//! the edge's client ports. auth, config, mail, every admin port and the gate's worker port
//! listen on 127.0.0.1, so a LAN neighbour can neither call `/issue_token` nor write answer
//! lines to the gate.
//!
//! The test runs the plan `./lukseun commands` prints (the one `up` starts from) with the
//! debug builds of the six services against testkit's Redis, NATS and MariaDB. Only the
//! port numbers are swapped for free ones (other runs on this machine may hold the fixed
//! ones); every bind flag is the script's. It then reads which addresses each process
//! really listens on from /proc.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use packaging::{announce, workspace_root, SERVICES};

/// One line of `./lukseun commands`.
#[derive(Debug)]
struct Planned {
    name: String,
    admin_port: u16,
    binary: String,
    args: Vec<String>,
}

fn plan() -> Vec<Planned> {
    let out = Command::new(workspace_root().join("lukseun"))
        .arg("commands")
        .output()
        .expect("run ./lukseun commands");
    assert!(
        out.status.success(),
        "./lukseun commands: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    text.lines()
        .map(|line| {
            // Shell quoting would show as `\` or quotes: the words are plain in this checkout.
            assert!(
                !line.contains(['\\', '\'', '"']),
                "a quoted word (path with spaces?): {line}"
            );
            let mut words = line.split_whitespace().map(str::to_string);
            let name = words.next().expect("name");
            let admin_port = words.next().and_then(|p| p.parse().ok()).expect("port");
            let path = words.next().expect("binary");
            let binary = Path::new(&path)
                .file_name()
                .and_then(|n| n.to_str())
                .expect("binary name")
                .to_string();
            Planned {
                name,
                admin_port,
                binary,
                args: words.collect(),
            }
        })
        .collect()
}

/// The target directory this test binary was built into (cargo's `CACHEDIR.TAG` marks it).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Builds the six services' debug binaries (near nothing when the tests built them).
fn debug_binaries() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["build", "--locked", "--bins"])
        .arg("--target-dir")
        .arg(target_dir());
    for service in SERVICES {
        command.args(["-p", service]);
    }
    assert!(
        command.status().expect("run cargo build").success(),
        "cargo build of the services failed"
    );
    target_dir().join("debug")
}

/// Every port the plan names, mapped to a free one; `:<port>` inside URLs follows.
fn remap(plan: &mut [Planned]) -> BTreeMap<u16, u16> {
    let mut ports = BTreeMap::new();
    for p in plan.iter() {
        for pair in p.args.windows(2) {
            if pair[0].ends_with("-port") || pair[0] == "--port" {
                let port: u16 = pair[1].parse().expect("a port number");
                if !ports.contains_key(&port) {
                    // Distinct ports: two services handed one port would fail to start.
                    let taken: BTreeSet<u16> = ports.values().copied().collect();
                    let fresh = std::iter::repeat_with(testkit::free_port)
                        .find(|p| !taken.contains(p))
                        .expect("a free port");
                    ports.insert(port, fresh);
                }
            }
        }
    }
    for p in plan.iter_mut() {
        p.admin_port = ports[&p.admin_port];
        let mut previous = String::new();
        for arg in p.args.iter_mut() {
            if previous.ends_with("-port") || previous == "--port" {
                *arg = ports[&arg.parse::<u16>().unwrap()].to_string();
            } else if arg.starts_with("http://") {
                for (old, new) in &ports {
                    *arg = arg.replace(&format!(":{old}"), &format!(":{new}"));
                }
            }
            previous = arg.clone();
        }
    }
    ports
}

/// Listening TCP sockets of `pid`: its socket inodes matched against /proc/net/tcp{,6}.
fn listening(pid: u32) -> BTreeSet<SocketAddr> {
    let mut inodes = BTreeSet::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("read the fds") {
        let Ok(target) = std::fs::read_link(fd.expect("fd").path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
        {
            inodes.insert(inode.to_string());
        }
    }
    let mut found = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if cols.len() > 9 && cols[3] == "0A" && inodes.contains(cols[9]) {
                found.insert(parse_proc_addr(cols[1]));
            }
        }
    }
    found
}

/// `0100007F:1F90` (IPv4, host byte order of a little-endian machine) or the 32-digit IPv6
/// form, as /proc/net/tcp{,6} write local addresses.
fn parse_proc_addr(text: &str) -> SocketAddr {
    let (ip, port) = text.split_once(':').expect("addr:port");
    let port = u16::from_str_radix(port, 16).expect("hex port");
    let ip = if ip.len() == 8 {
        let n = u32::from_str_radix(ip, 16).expect("hex ip");
        IpAddr::V4(Ipv4Addr::from(n.to_le_bytes()))
    } else {
        let mut bytes = [0u8; 16];
        for (i, chunk) in bytes.chunks_mut(4).enumerate() {
            let word = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).expect("hex ip");
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        IpAddr::V6(bytes.into())
    };
    SocketAddr::new(ip, port)
}

#[test]
fn proc_addresses_parse() {
    assert_eq!(
        parse_proc_addr("0100007F:1F90"),
        "127.0.0.1:8080".parse().unwrap()
    );
    assert_eq!(
        parse_proc_addr("00000000:22B0"),
        "0.0.0.0:8880".parse().unwrap()
    );
    assert_eq!(
        parse_proc_addr("00000000000000000000000001000000:0050"),
        "[::1]:80".parse().unwrap()
    );
}

/// Stops the services (in reverse start order) however the test ends.
struct Running(Vec<(String, Child)>);

impl Drop for Running {
    fn drop(&mut self) {
        for (_, child) in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for `/readyz`; a service that exits or stays unready fails the test with what it
/// wrote to `log` (its stdout and stderr).
fn wait_ready(name: &str, admin_port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    loop {
        if let Ok((200, _)) = testkit::http_get(addr, "/readyz") {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{name} exited ({status}) before it was ready; its output:\n{}",
                tail(log)
            );
        }
        assert!(
            Instant::now() < deadline,
            "{name} not ready on {addr}; its output:\n{}",
            tail(log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last 8 KiB of a service's output file (its last words are what explains a failure).
fn tail(log: &Path) -> String {
    const KEEP: usize = 8 * 1024;
    match fs::read(log) {
        Ok(bytes) => {
            String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(KEEP)..]).into_owned()
        }
        Err(e) => format!("(no output: {}: {e})", log.display()),
    }
}

#[test]
fn lukseun_up_listens_on_every_address_only_for_clients() {
    let mut plan = plan();
    assert_eq!(
        plan.iter()
            .map(|p| p.binary.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(SERVICES),
        "the plan starts each service"
    );
    let bin = debug_binaries();
    // The servers hold their ports before the plan's are picked, so none is picked twice.
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = testkit::MariaDb::start();
    let ports = remap(&mut plan);
    let mail_root = testkit::TempDir::new("binds-mail");
    // Each service's stdout (its log) and stderr go to a file, shown when it fails to start.
    let logs = testkit::TempDir::new("binds-logs");

    let mut running = Running(Vec::new());
    for p in &plan {
        let mut args = p.args.clone();
        if let Some(i) = args.iter().position(|a| a == "--root") {
            args[i + 1] = mail_root.path().display().to_string();
        }
        let mut command = Command::new(bin.join(&p.binary));
        command
            .args(&args)
            .env_clear()
            .env("LUKSEUN_REDIS_URL", redis.url())
            .env("LUKSEUN_NATS_URL", nats.url())
            .env("LUKSEUN_MYSQL_URL", db.url())
            .env(
                "LUKSEUN_JWT_SECRET",
                "the local binds test's key, 32 bytes+",
            )
            .env("LUKSEUN_LOG_LEVEL", "warn")
            .stdin(Stdio::null());
        let log = logs.path().join(format!("{}.log", p.name));
        let out = fs::File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = out.try_clone().expect("clone the log file's descriptor");
        command.stdout(out).stderr(err);
        if p.binary == "auth" {
            command.env("LUKSEUN_ISSUER_KEY", "the local binds test's issuer key!!");
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", p.name));
        running.0.push((p.name.clone(), child));
        let (_, child) = running.0.last_mut().unwrap();
        wait_ready(&p.name, p.admin_port, child, &log);
    }

    let loopback = IpAddr::from([127, 0, 0, 1]);
    let any = IpAddr::from([0, 0, 0, 0]);
    let mut exposed = BTreeMap::new();
    let mut seen_ports = BTreeSet::new();
    for ((name, child), p) in running.0.iter().zip(&plan) {
        let sockets = listening(child.id());
        assert!(!sockets.is_empty(), "{name} listens on nothing");
        for socket in &sockets {
            seen_ports.insert(socket.port());
            if socket.ip() != loopback {
                exposed.insert(name.clone(), (p.args.clone(), *socket));
            }
        }
        let client_port = |flag: &str| -> u16 {
            let i = p.args.iter().position(|a| a == flag).unwrap();
            p.args[i + 1].parse().unwrap()
        };
        if p.binary == "gate" || p.binary == "edge" {
            let client = SocketAddr::new(any, client_port("--port"));
            assert!(
                sockets.contains(&client),
                "{name}: clients reach it on {client}: {sockets:?}"
            );
            assert_eq!(
                sockets.iter().filter(|s| s.ip() != loopback).count(),
                1,
                "{name}: only the client port faces the network: {sockets:?}"
            );
        } else {
            assert!(
                sockets.iter().all(|s| s.ip() == loopback),
                "{name} listens beyond 127.0.0.1: {sockets:?}"
            );
        }
        announce(&format!(
            "{name}: {}",
            sockets
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    // Every planned port is open (the gate's worker port among them), none forgotten.
    let planned: BTreeSet<u16> = ports.values().copied().collect();
    assert!(
        planned.is_subset(&seen_ports),
        "planned {planned:?}, listening {seen_ports:?}"
    );
    let exposed_names: BTreeSet<&str> = exposed.keys().map(String::as_str).collect();
    assert_eq!(exposed_names, BTreeSet::from(["edge0", "gate0"]));
}
