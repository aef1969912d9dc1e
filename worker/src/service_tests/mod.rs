//! Tests against real MariaDB, Redis and NATS (testkit), inside the crate so the
//! test-only functions of `functions::TEST_FUNCTIONS` exist:
//! - `handler`: the contract's statuses, token scope, merged worlds, backend outages;
//! - `accounts`: the account functions, takeovers refused, SQL metacharacters;
//! - `players`: players, items, weapons and `add_resources`;
//! - `mail_functions`: the mail functions and request mails, with the real mail and auth;
//! - `through_gate`: the request path end to end, raw TCP clients through the real gate;
//! - `running`: the whole worker between NATS and a gate (a listener playing one, or the
//!   real gate), restarts, graceful stop, the config service, start failures;
//! - `social`: what is left of the social tests (a player acting only as its token says);
//! - `family`: families and the chat token, with the real mail, auth and edge;
//! - `friend`, `weapon`, `package`, `stage`, `roles` (roles, skills, armor): those modules
//!   as the original game's clients call them;
//! - `science_vip`: science, element skills and VIP, likewise;
//! - `dark_market`: the dark market's offers, refreshes and purchases, likewise;
//! - `contact`: email and phone verification with a real SMTP server and HTTP hook;
//! - `mall`: purchases verified by a real HTTP server playing the store, exchange codes;
//! - `config_readers`: the config reader functions;
//! - `progression`: check-in, daily tasks and achievements, and what counts for them;
//! - `summon`: the summoning stores, pulls and integral;
//! - `factory`: the factory functions, production on the test clock, the wishing pool;
//! - `request_ids`: a retry with the same request id (`rid`) gets the first answer and
//!   the function runs once;
//! - `worlds`: worlds on two MySQL servers (`--world-db`), merges, one server down.

mod accounts;
mod config_readers;
mod contact;
mod dark_market;
mod factory;
mod family;
mod friend;
mod handler;
mod link_jobs;
mod mail_functions;
mod mall;
mod package;
mod players;
mod progression;
mod request_ids;
mod roles;
mod running;
mod science_vip;
mod social;
mod stage;
mod summon;
mod through_gate;
mod weapon;
mod worlds;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth::jwt::TokenKind;
use auth::{Key, Tokens};
use serde_json::{json, Value};
use shared::contract;
use shared::envelope::Response;
use shared::redis_conn::RedisPool;

use crate::db::{self, Db};
use crate::function::{FunctionSettings, Services};
use crate::game_config::GameConfig;
use crate::handler::handle;
use crate::options::Options;

const SECRET: &str = "a test signing key of 32 bytes!!";

/// The servers a worker needs, and the worker's resources built on them.
struct Stack {
    redis_server: testkit::Redis,
    db_server: testkit::MariaDb,
    services: Services,
    config: GameConfig,
}

impl Stack {
    fn start() -> Stack {
        let redis_server = testkit::Redis::start();
        let db_server = crate::test_support::start_mariadb();
        let redis = Arc::new(RedisPool::new(&redis_server.url(), 8).unwrap());
        let db = Db::open(&db_server.url(), 8).unwrap();
        db::migrate(&db).unwrap();
        let key = Key::new(SECRET.as_bytes()).unwrap();
        let services = Services::new(
            db,
            redis.clone(),
            Tokens::new(key, redis, Duration::from_secs(3600)),
            FunctionSettings {
                pbkdf2_iterations: 1000,
                mail_url: String::new(),
                auth_url: String::new(),
                notify: Default::default(),
                purchase_verifier: Default::default(),
                chat_tokens_per_minute: crate::modules::chat::DEFAULT_TOKENS_PER_MINUTE,
                account_limits: Default::default(),
            },
        );
        Stack {
            redis_server,
            db_server,
            services,
            config: GameConfig::embedded(),
        }
    }

    fn call(&self, request: Value) -> Response {
        handle(&self.services, &self.config, &request.to_string())
    }

    /// As a job from client address `ip` (the gate's `c=`).
    fn call_from(&self, ip: &str, request: Value) -> Response {
        crate::handler::handle_from(
            &self.services,
            &self.config,
            &request.to_string(),
            Some(ip.parse().unwrap()),
        )
    }

    fn call_line(&self, line: &str) -> Response {
        handle(&self.services, &self.config, line)
    }

    fn ok(&self, request: Value) -> serde_json::Map<String, Value> {
        let r = self.call(request.clone());
        assert_status(&r, 0, &request);
        assert_eq!(r.message, "success");
        r.data
    }

    /// `function` in s0 with `data` and the `token` set.
    fn call_as(&self, token: &str, function: &str, data: Value) -> Response {
        self.call_in(token, "s0", function, data)
    }

    /// [`Stack::call_as`], asserting status 0; answers its data.
    fn ok_as(&self, token: &str, function: &str, data: Value) -> serde_json::Map<String, Value> {
        self.ok_in(token, "s0", function, data)
    }

    /// [`Stack::call_as`] in `world`.
    fn call_in(&self, token: &str, world: &str, function: &str, mut data: Value) -> Response {
        data["token"] = token.into();
        self.call(json!({"world":world,"function":function,"data":data}))
    }

    /// [`Stack::ok_as`] in `world`.
    fn ok_in(
        &self,
        token: &str,
        world: &str,
        function: &str,
        data: Value,
    ) -> serde_json::Map<String, Value> {
        self.expect_in(token, world, function, data, 0).data
    }

    /// [`Stack::call_as`], asserting `status`; answers the whole answer.
    fn expect_as(&self, token: &str, function: &str, data: Value, status: i32) -> Response {
        self.expect_in(token, "s0", function, data, status)
    }

    /// [`Stack::expect_as`] in `world`.
    fn expect_in(
        &self,
        token: &str,
        world: &str,
        function: &str,
        data: Value,
        status: i32,
    ) -> Response {
        let r = self.call_in(token, world, function, data.clone());
        assert_status(&r, status, format_args!("{function} {data}"));
        r
    }

    /// `request`'s data, asserting its status (e.g. 1 "new account created").
    fn expect(&self, request: Value, status: i32) -> serde_json::Map<String, Value> {
        let r = self.call(request.clone());
        assert_status(&r, status, &request);
        r.data
    }

    fn token(&self, uid: &str, kind: TokenKind, world: Option<&str>, role: Option<&str>) -> String {
        self.services
            .tokens
            .issue(uid, kind, world, role)
            .unwrap()
            .0
    }

    /// (owner count, member count) of the family named `name`.
    fn owners_and_members(&self, name: &str) -> (u64, u64) {
        use mysql::prelude::Queryable;
        let row: Option<(u64, u64)> = self
            .services
            .db
            .conn()
            .unwrap()
            .exec_first(
                "SELECT COALESCE(SUM(m.role = 10), 0), COUNT(m.unique_id) FROM families f \
                 LEFT JOIN family_members m ON m.world = f.world AND m.fid = f.fid \
                 WHERE f.world = 's0' AND f.name = ?",
                (name,),
            )
            .unwrap();
        row.unwrap_or((0, 0))
    }

    /// Asserts the family named `name` has exactly one owner and `members` members.
    fn assert_one_owner(&self, name: &str, members: u64) {
        assert_eq!(
            self.owners_and_members(name),
            (1, members),
            "family {name}: exactly one owner and {members} members"
        );
    }

    /// A guest login (1 for a new guest, 0 for an existing one): its account token.
    fn guest(&self, device: &str) -> String {
        let r = self.call(json!({"function":"login_unique","data":{"unique_id":device}}));
        assert!(matches!(r.status, 0 | 1), "login_unique: {}", r.to_json());
        r.data["token"].as_str().unwrap().to_string()
    }
}

fn status(r: &Response) -> i32 {
    r.status
}

/// Asserts `r` has `status`; on failure shows `call` (what was asked, may be empty) and the
/// whole answer.
#[track_caller]
fn assert_status(r: &Response, status: i32, call: impl std::fmt::Display) {
    let call = call.to_string();
    let sep = if call.is_empty() { "" } else { " " };
    assert_eq!(r.status, status, "{call}{sep}answered {}", r.to_json());
}

/// Plays the gate: a listener registered in Redis as `gates.id.<gid>` that reads the
/// worker's answer lines.
struct FakeGate {
    gid: u32,
    listener: TcpListener,
    reader: Option<BufReader<TcpStream>>,
    redis: RedisPool,
    nats: shared::nats::Client,
    /// The jobs the worker said it took (its taken notices), in order.
    taken: Vec<String>,
}

/// A listener for gate `gid`'s worker port, registered in Redis as the gate's address
/// (what a gate does at start), and the Redis pool used.
pub(crate) fn register_gate(redis_url: &str, gid: u32) -> (TcpListener, RedisPool) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let redis = RedisPool::new(redis_url, 2).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    redis
        .run(|c| {
            redis::cmd("SET")
                .arg(contract::gate_key(gid))
                .arg(&addr)
                .query::<()>(c)
        })
        .unwrap();
    (listener, redis)
}

impl FakeGate {
    fn start(redis_url: &str, nats_url: &str, gid: u32) -> FakeGate {
        let (listener, redis) = register_gate(redis_url, gid);
        let nats =
            shared::nats::Client::connect(nats_url, shared::nats::Options::named("fake-gate"))
                .unwrap();
        FakeGate {
            gid,
            listener,
            reader: None,
            redis,
            nats,
            taken: Vec::new(),
        }
    }

    /// Registers a job and publishes it as the gate does, with 10 s to run; returns its jid.
    fn publish(&self, line: &str) -> String {
        self.publish_with_budget(line, contract::JOB_KEY_TTL_SECS * 1000)
    }

    fn publish_with_budget(&self, line: &str, budget_ms: u64) -> String {
        let jid = contract::JobId::random();
        let header = contract::JobHeader {
            gate: Some(self.gid),
            budget_ms: Some(budget_ms),
            client: Some(std::net::Ipv4Addr::LOCALHOST.into()),
            link_jobs: false,
        };
        let mut payload = Vec::new();
        contract::encode_job(&mut payload, jid, &header, line);
        self.nats.publish(contract::JOBS_SUBJECT, &payload).unwrap();
        jid.to_string()
    }

    /// Publishes a job as a seed-contract gate does: no header, the gate's id stored under
    /// `gate.job.<jid>` instead.
    fn publish_seed(&self, line: &str) -> String {
        let jid = contract::JobId::random();
        self.redis
            .run(|c| {
                redis::cmd("SET")
                    .arg(contract::job_key(jid))
                    .arg(self.gid)
                    .arg("EX")
                    .arg(contract::JOB_KEY_TTL_SECS)
                    .query::<()>(c)
            })
            .unwrap();
        let mut payload = Vec::new();
        contract::encode_job(&mut payload, jid, &contract::JobHeader::default(), line);
        self.nats.publish(contract::JOBS_SUBJECT, &payload).unwrap();
        jid.to_string()
    }

    /// The next answer line: (jid, response).
    fn answer(&mut self) -> (String, Response) {
        self.answer_within(Duration::from_secs(20))
            .expect("an answer within 20 s")
    }

    /// The next answer line, or `None` when none comes within `wait`.
    fn answer_within(&mut self, wait: Duration) -> Option<(String, Response)> {
        if self.reader.is_none() {
            self.listener.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + wait;
            let conn = loop {
                match self.listener.accept() {
                    Ok((conn, _)) => break conn,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return None,
                }
            };
            conn.set_nonblocking(false).unwrap();
            self.reader = Some(BufReader::new(conn));
        }
        let reader = self.reader.as_mut().unwrap();
        reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 => {}
                Ok(_) => {
                    // The worker closed this connection; its next answer comes on a new one.
                    self.reader = None;
                    return None;
                }
                Err(_) => return None,
            }
            let body = line
                .strip_suffix("\r\n")
                .unwrap_or_else(|| panic!("no CRLF: {line:?}"));
            match contract::parse_worker_line(body).unwrap() {
                contract::WorkerLine::Taken(jid) => self.taken.push(jid.to_string()),
                contract::WorkerLine::Answer(jid, json) => {
                    return Some((jid.to_string(), serde_json::from_str(json).unwrap()))
                }
                contract::WorkerLine::Jobs(_) => panic!("an offer to a gate that said no `l=1`"),
            }
        }
    }

    fn ask(&mut self, request: Value) -> Response {
        let jid = self.publish(&request.to_string());
        let (answered, response) = self.answer();
        assert_eq!(answered, jid);
        response
    }
}

/// Runs `call(i)` for every `i` in `0..n`, each on its own thread, all at once (the
/// concurrency tests' race); the results in the order of `i`.
fn at_once<T: Send>(n: usize, call: impl Fn(usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let call = &call;
                scope.spawn(move || call(i))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A MariaDB with our schema as it was before migration `version`: every migration below
/// it ran, and the database opened with a pool of `pool`. Also answers `version`'s index in
/// [`db::MIGRATIONS`], so `MIGRATIONS[..=index]` runs it next.
fn schema_before(version: u32, pool: usize) -> (testkit::MariaDb, Db, usize) {
    let server = crate::test_support::start_mariadb();
    let db = Db::open(&server.url(), pool).unwrap();
    let index = db::MIGRATIONS
        .iter()
        .position(|m| m.version == version)
        .unwrap_or_else(|| panic!("migration {version} is listed"));
    let ran = db::migrate_with(&db, &db::MIGRATIONS[..index]).unwrap();
    assert_eq!(
        ran,
        (1..version).collect::<Vec<_>>(),
        "the migrations below {version}"
    );
    (server, db, index)
}

/// How many of `statuses` are `status`.
fn count(statuses: &[i32], status: i32) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut conn = TcpStream::connect(addr).unwrap();
    write!(conn, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    let code = text[9..12].parse().unwrap();
    (code, text)
}

/// The real mail and auth services in-process, wired into a stack's function settings:
/// what the mail and social functions call.
struct MailAndAuth {
    mail: Option<::mail::MailService>,
    auth: Option<auth::ServerHandle>,
    _mail_root: testkit::TempDir,
}

impl MailAndAuth {
    fn start(s: &mut Stack, mailbox_limit: usize) -> MailAndAuth {
        let mail_root = testkit::TempDir::new("worker-mail");
        let mail = ::mail::MailService::start(
            &::mail::Options {
                bind: "127.0.0.1:0".into(),
                root: mail_root.path().to_path_buf(),
                mailbox_limit,
                threads: 4,
            },
            &shared::metrics::Registry::new(),
        )
        .unwrap();
        let pool = Arc::new(RedisPool::new(&s.redis_server.url(), 8).unwrap());
        let key = Key::new(SECRET.as_bytes()).unwrap();
        let service = Arc::new(auth::Endpoints::new(
            Tokens::new(key, pool.clone(), Duration::from_secs(3600)),
            auth::Nonces::new(pool),
        ));
        let metrics = Arc::new(auth::Metrics::new(&shared::metrics::Registry::new()));
        let auth = auth::server::start("127.0.0.1:0", 4, service, metrics).unwrap();
        s.services.settings.mail_url = format!("http://{}", mail.addr());
        s.services.settings.auth_url = format!("http://{}", auth.addr());
        MailAndAuth {
            mail: Some(mail),
            auth: Some(auth),
            _mail_root: mail_root,
        }
    }
}

fn test_settings(redis: &testkit::Redis, nats: &testkit::Nats, db: &testkit::MariaDb) -> Options {
    let mut settings = Options::new(&nats.url(), &redis.url(), &db.url(), SECRET);
    settings.threads = 4;
    settings.admin_addr = "127.0.0.1:0".into();
    settings.pbkdf2_iterations = 1000;
    settings.startup_wait = Duration::from_secs(10);
    // Every test client is 127.0.0.1: these tests are about routing, not the budgets
    // (which accounts.rs tests).
    settings.account_limits.guests_per_address_per_day = 1_000_000;
    settings
}

/// Publishes `request` until an answer comes: jobs published while NATS was down are lost
/// (at most once delivery), which is the gate's timeout to report, not the worker's.
fn ask_until_answered(gate: &mut FakeGate, request: &Value) -> Response {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let jid = gate.publish(&request.to_string());
        while let Some((answered, response)) = gate.answer_within(Duration::from_secs(2)) {
            if answered == jid {
                return response;
            }
        }
        assert!(Instant::now() < deadline, "no answer to {request}");
    }
}
