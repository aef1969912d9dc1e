//! The whole system in one test process, for tests of tools and of faults: real Redis
//! (one server, or a Redis Cluster with [`Stack::start_on_cluster`]), NATS and MariaDB from
//! `testkit`, and auth, mail, worker, gate and edge in-process on free ports. Dropping the
//! [`Stack`] stops everything.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shared::metrics::Registry;
use shared::redis_conn::RedisPool;

/// The dev signing key of every stack.
pub const JWT_SECRET: &str = "teststack signing key, 32 bytes+";

/// The operators' key of every stack's auth (`--issuer-key`): `/issue_token` mints admin
/// tokens only for requests presenting it (header `X-Issuer-Key`).
pub const ISSUER_KEY: &str = "teststack issuer key, 32 bytes or more";

/// The environment variable that puts every [`Stack`] on a Redis Cluster.
pub const CLUSTER_ENV: &str = "LUKSEUN_TEST_REDIS_CLUSTER";

/// The uid of [`Stack::admin_token`], in the operators' namespace (`admin:`).
pub const ADMIN_UID: &str = "admin:dev";

/// The Redis a stack's services use.
pub enum StackRedis {
    Single(testkit::Redis),
    Cluster(testkit::RedisCluster),
}

impl StackRedis {
    /// The URL the services get (all rights): `redis://…` or `redis+cluster://…`.
    pub fn url(&self) -> String {
        match self {
            StackRedis::Single(r) => r.url(),
            StackRedis::Cluster(c) => c.url(),
        }
    }

    /// The URL `service` gets: on a cluster its own ACL user (shared::grants), so the
    /// whole system shows its grants suffice there; a single server has no users.
    pub fn url_for(&self, service: &str) -> String {
        match self {
            StackRedis::Single(r) => r.url(),
            StackRedis::Cluster(c) => c.url_as(service),
        }
    }
}

pub struct Stack {
    // Services first: they stop before the servers they use.
    pub gate: Option<gate::Gate>,
    pub worker: Option<worker::Worker>,
    pub edge: Option<edge::Edge>,
    pub mail: Option<mail::MailService>,
    pub auth: Option<auth::ServerHandle>,
    pub tokens: auth::Tokens,
    pub mail_dir: testkit::TempDir,
    pub redis: StackRedis,
    pub nats: testkit::Nats,
    pub db: testkit::MariaDb,
}

impl Stack {
    pub fn start() -> Stack {
        Stack::start_with(|_| {})
    }

    /// As [`Stack::start`], with `adjust` changing the worker's settings before it starts
    /// (e.g. `smtp_addr` and `phone_hook_url`, for verification codes).
    /// With [`CLUSTER_ENV`] set to `1` in the environment, every stack runs on a Redis
    /// Cluster: `LUKSEUN_TEST_REDIS_CLUSTER=1 cargo test -p hostile` runs the hostile suite
    /// there.
    pub fn start_with(adjust: impl FnOnce(&mut worker::Options)) -> Stack {
        if std::env::var(CLUSTER_ENV).is_ok_and(|v| v == "1") {
            return Stack::start_on_cluster(adjust);
        }
        Stack::start_on(StackRedis::Single(testkit::Redis::start()), adjust)
    }

    /// As [`Stack::start_with`], on a local Redis Cluster (three masters, three replicas).
    pub fn start_on_cluster(adjust: impl FnOnce(&mut worker::Options)) -> Stack {
        Stack::start_on(StackRedis::Cluster(testkit::RedisCluster::start()), adjust)
    }

    fn start_on(redis: StackRedis, adjust: impl FnOnce(&mut worker::Options)) -> Stack {
        let nats = testkit::Nats::start();
        let db = testkit::MariaDb::start();

        let pool = Arc::new(RedisPool::new(&redis.url_for("auth"), 8).expect("redis url"));
        let key = || auth::Key::new(JWT_SECRET.as_bytes()).expect("a long enough key");
        let lifetime = Duration::from_secs(3600);
        let issuer_key = auth::IssuerKey::new(ISSUER_KEY.as_bytes()).expect("a long enough key");
        let service = Arc::new(
            auth::Endpoints::new(
                auth::Tokens::new(key(), pool.clone(), lifetime),
                auth::Nonces::new(pool.clone()),
            )
            .with_issuer_key(issuer_key),
        );
        let metrics = Arc::new(auth::Metrics::new(&Registry::new()));
        let auth = auth::server::start("127.0.0.1:0", 4, service, metrics).expect("start auth");

        let mail_dir = testkit::TempDir::new("stack-mail");
        let mail = mail::MailService::start(
            &mail::Options {
                bind: "127.0.0.1:0".into(),
                root: mail_dir.path().to_path_buf(),
                mailbox_limit: 50,
                threads: 4,
            },
            &Registry::new(),
        )
        .expect("start mail");

        let mut settings =
            worker::Options::new(&nats.url(), &redis.url_for("worker"), &db.url(), JWT_SECRET);
        settings.threads = 8;
        settings.admin_addr = "127.0.0.1:0".into();
        settings.pbkdf2_iterations = 1000;
        settings.mail_url = format!("http://{}", mail.addr());
        settings.auth_url = format!("http://{}", auth.addr());
        adjust(&mut settings);
        let worker = worker::Worker::start(&settings).expect("start worker");
        let gate = gate::Gate::start(gate::Options::local(&redis.url_for("gate"), &nats.url()))
            .expect("start gate");
        let edge = edge::Edge::start(edge::Options::local(&redis.url_for("edge"), &nats.url()))
            .expect("start edge");
        Stack {
            gate: Some(gate),
            worker: Some(worker),
            edge: Some(edge),
            mail: Some(mail),
            auth: Some(auth),
            tokens: auth::Tokens::new(key(), pool, lifetime),
            mail_dir,
            redis,
            nats,
            db,
        }
    }

    /// A pool with all rights on the stack's Redis (one server or the cluster), for test
    /// code that reads or plants any key.
    pub fn redis_admin(&self) -> RedisPool {
        RedisPool::new(&self.redis.url(), 1).expect("redis url")
    }

    pub fn gate_addr(&self) -> SocketAddr {
        self.gate.as_ref().expect("gate running").client_addr()
    }

    pub fn edge_addr(&self) -> SocketAddr {
        self.edge.as_ref().expect("edge running").addr()
    }

    /// An admin token (kind `admin`, uid [`ADMIN_UID`]), as `./lukseun up` writes to
    /// LUKSEUN_ADMIN_TOKEN; each call revokes the one before.
    pub fn admin_token(&self) -> String {
        self.tokens
            .issue(ADMIN_UID, auth::TokenKind::Admin, None, None)
            .expect("issue an admin token")
            .0
    }

    /// The KEY=VALUE lines of `var/cluster.env` for this stack, for tools that read it.
    pub fn cluster_env(&self) -> Vec<(String, String)> {
        vec![
            ("LUKSEUN_GATE".into(), self.gate_addr().to_string()),
            ("LUKSEUN_GATES".into(), self.gate_addr().to_string()),
            ("LUKSEUN_EDGE".into(), self.edge_addr().to_string()),
            ("LUKSEUN_EDGES".into(), self.edge_addr().to_string()),
            ("LUKSEUN_REDIS_URL".into(), self.redis.url()),
            ("LUKSEUN_NATS_URL".into(), self.nats.url()),
            ("LUKSEUN_MYSQL_URL".into(), self.db.url()),
            ("LUKSEUN_JWT_SECRET".into(), JWT_SECRET.into()),
            ("LUKSEUN_ISSUER_KEY".into(), ISSUER_KEY.into()),
            ("LUKSEUN_ADMIN_TOKEN".into(), self.admin_token()),
        ]
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut g) = self.gate.take() {
            g.stop();
        }
        if let Some(w) = self.worker.take() {
            w.stop();
        }
        if let Some(e) = self.edge.take() {
            e.stop();
        }
        if let Some(m) = self.mail.take() {
            m.stop();
        }
        if let Some(a) = self.auth.take() {
            a.stop();
        }
    }
}
