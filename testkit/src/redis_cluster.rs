//! A real local Redis Cluster: six `redis-server` processes in cluster mode (three masters,
//! three replicas) joined by `redis-cli --cluster create`, each node with the services' ACL
//! users of shared::grants and `default` behind [`REDIS_DEFAULT_PASSWORD`]. Replicas log in
//! to their masters as `default`.
//!
//! Each node is a [`Server`] in its own directory; dropping the cluster stops them all.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{
    find_binary, free_port, probe, test_password, Redis, Server, TempDir, REDIS_CONF,
    REDIS_DEFAULT_PASSWORD,
};

/// Masters of the test cluster; each gets one replica.
pub const CLUSTER_MASTERS: usize = 3;

/// How long the cluster may take to agree on its state (after create or a failover).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

pub struct RedisCluster {
    nodes: Vec<Server>,
}

impl RedisCluster {
    /// Starts six nodes and makes them one cluster; returns when every node reports
    /// `cluster_state:ok` and every replica's link to its master is up.
    pub fn start() -> RedisCluster {
        let nodes: Vec<Server> = (0..2 * CLUSTER_MASTERS).map(|_| start_node()).collect();
        let cluster = RedisCluster { nodes };
        let mut create = cluster.cli_command();
        create.arg("--cluster").arg("create");
        for port in cluster.ports() {
            create.arg(format!("127.0.0.1:{port}"));
        }
        create.args(["--cluster-replicas", "1", "--cluster-yes"]);
        let out = create.output().expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_settled();
        cluster
    }

    /// The nodes' ports, in start order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// `redis+cluster://default:<password>@127.0.0.1:<p1>,…/`: all rights, for test code.
    pub fn url(&self) -> String {
        self.url_with("default", REDIS_DEFAULT_PASSWORD)
    }

    /// The cluster URL with `service`'s ACL user.
    pub fn url_as(&self, service: &str) -> String {
        self.url_with(service, &test_password(service))
    }

    fn url_with(&self, user: &str, password: &str) -> String {
        let seeds: Vec<String> = self
            .ports()
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{user}:{password}@{}/", seeds.join(","))
    }

    /// Runs `redis-cli` as `default` against the node on `port`; its stdout.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = self
            .cli_command()
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn cli_command(&self) -> Command {
        let mut cmd = Command::new(find_binary("redis-cli"));
        cmd.args(["-h", "127.0.0.1", "--user", "default"]).args([
            "--pass",
            REDIS_DEFAULT_PASSWORD,
            "--no-auth-warning",
        ]);
        cmd
    }

    /// The role a node reports (`master` or `slave`).
    pub fn role(&self, port: u16) -> String {
        info_field(&self.cli(port, &["INFO", "replication"]), "role").unwrap_or_default()
    }

    /// The ports of the nodes that are replicas now.
    pub fn replicas(&self) -> Vec<u16> {
        self.ports()
            .into_iter()
            .filter(|p| self.role(*p) == "slave")
            .collect()
    }

    /// The port of the master serving `key`'s slot now.
    pub fn master_of(&self, key: &str) -> u16 {
        let slot = self.cli(self.nodes[0].port, &["CLUSTER", "KEYSLOT", key]);
        let slot: u16 = slot
            .trim()
            .parse()
            .expect("CLUSTER KEYSLOT answers a number");
        self.ports()
            .into_iter()
            .find(|port| self.role(*port) == "master" && self.serves(*port, slot))
            .expect("a master serves every slot")
    }

    /// The replica of the master on `port`.
    pub fn replica_of(&self, master: u16) -> u16 {
        self.ports()
            .into_iter()
            .find(|port| {
                let info = self.cli(*port, &["INFO", "replication"]);
                info_field(&info, "role").as_deref() == Some("slave")
                    && info_field(&info, "master_port").as_deref() == Some(&master.to_string())
            })
            .expect("every master has a replica")
    }

    /// Whether the node on `port` lists `slot` among its own in `CLUSTER NODES`.
    fn serves(&self, port: u16, slot: u16) -> bool {
        let nodes = self.cli(port, &["CLUSTER", "NODES"]);
        let Some(me) = nodes.lines().find(|l| l.contains("myself")) else {
            return false;
        };
        me.split_whitespace().skip(8).any(|range| {
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            match (lo.parse::<u16>(), hi.parse::<u16>()) {
                (Ok(lo), Ok(hi)) => (lo..=hi).contains(&slot),
                _ => false,
            }
        })
    }

    /// MOVED replies all nodes have sent since they started (`INFO errorstats`): how often
    /// clients found their slot map out of date.
    pub fn moved_replies(&self) -> u64 {
        self.ports()
            .into_iter()
            .filter_map(|port| {
                let stats = self.cli(port, &["INFO", "errorstats"]);
                info_field(&stats, "errorstat_MOVED")?
                    .strip_prefix("count=")?
                    .parse::<u64>()
                    .ok()
            })
            .sum()
    }

    /// `CLUSTER FAILOVER` on the replica at `port` (its master hands over without data
    /// loss), then waits until it is a master and the cluster is settled again.
    pub fn failover(&self, port: u16) {
        let answer = self.cli(port, &["CLUSTER", "FAILOVER"]);
        assert!(
            answer.trim() == "OK",
            "CLUSTER FAILOVER on {port}: {answer}"
        );
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        while self.role(port) != "master" {
            assert!(
                Instant::now() < deadline,
                "node {port} not master after CLUSTER FAILOVER"
            );
            sleep(Duration::from_millis(50));
        }
        self.wait_settled();
    }

    /// Every node sees the cluster ok with all nodes; every replica's link is up.
    fn wait_settled(&self) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let nodes = (2 * CLUSTER_MASTERS).to_string();
        loop {
            let settled = self.ports().into_iter().all(|port| {
                let cluster = self.cli(port, &["CLUSTER", "INFO"]);
                let replication = self.cli(port, &["INFO", "replication"]);
                info_field(&cluster, "cluster_state").as_deref() == Some("ok")
                    && info_field(&cluster, "cluster_known_nodes").as_deref() == Some(&nodes)
                    && (info_field(&replication, "role").as_deref() == Some("master")
                        || info_field(&replication, "master_link_status").as_deref() == Some("up"))
            });
            if settled {
                return;
            }
            if Instant::now() > deadline {
                let states: Vec<String> = self
                    .ports()
                    .into_iter()
                    .map(|p| format!("{p}: {}", self.cli(p, &["CLUSTER", "INFO"])))
                    .collect();
                panic!("Redis Cluster not settled:\n{}", states.join("\n"));
            }
            sleep(Duration::from_millis(100));
        }
    }
}

/// `field:value` from INFO-style text.
fn info_field(text: &str, field: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn start_node() -> Server {
    let dir = TempDir::new("redis-cluster");
    let mut config = shared::grants::redis_config(test_password, Some(REDIS_DEFAULT_PASSWORD));
    config.push_str(&format!(
        "cluster-enabled yes\n\
         cluster-config-file nodes.conf\n\
         cluster-node-timeout 3000\n\
         masteruser default\n\
         masterauth {REDIS_DEFAULT_PASSWORD}\n"
    ));
    std::fs::write(dir.path().join(REDIS_CONF), config).expect("write redis.conf");
    Server::start_on(
        "redis-server",
        dir,
        node_command,
        secured_ping,
        cluster_port,
    )
}

fn node_command(dir: &Path, port: u16) -> Command {
    Redis::command(dir, port)
}

fn secured_ping(port: u16) -> bool {
    let auth = format!("AUTH default {REDIS_DEFAULT_PASSWORD}\r\nPING\r\n");
    probe(port, auth.as_bytes(), b"+PONG")
}

/// A free port whose cluster bus port (port + 10000) exists and is free too.
fn cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port <= u16::MAX - 10_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_read_like_redis_writes_them() {
        let text = "# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n";
        assert_eq!(info_field(text, "role").as_deref(), Some("slave"));
        assert_eq!(
            info_field(text, "master_link_status").as_deref(),
            Some("up")
        );
        assert_eq!(info_field(text, "master"), None);
        let stats = "# Errorstats\r\nerrorstat_MOVED:count=12\r\n";
        assert_eq!(
            info_field(stats, "errorstat_MOVED").as_deref(),
            Some("count=12")
        );
    }
}
