//! Tests against real MariaDB, Redis and NATS (testkit): the handler's statuses, the
//! account functions, and the whole worker between NATS and a gate. They live inside the
//! crate so the test-only functions of `functions::TEST_FUNCTIONS` exist.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth::jwt::{self, Claims, TokenKind};
use auth::{Key, Tokens};
use mysql::prelude::Queryable;
use serde_json::{json, Value};
use shared::envelope::Response;
use shared::redis_conn::RedisPool;

use crate::context::{FunctionSettings, Services};
use crate::db::{self, Db};
use crate::functions::test_only::SLEEPS_STARTED;
use crate::game_config::GameConfig;
use crate::handler::handle;
use crate::settings::Settings;
use crate::Worker;

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
        let services = Services {
            db,
            redis: redis.clone(),
            tokens: Tokens::new(key, redis, Duration::from_secs(3600)),
            settings: FunctionSettings {
                pbkdf2_iterations: 1000,
                mail_url: String::new(),
                auth_url: String::new(),
            },
        };
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

    fn call_line(&self, line: &str) -> Response {
        handle(&self.services, &self.config, line)
    }

    fn ok(&self, request: Value) -> serde_json::Map<String, Value> {
        let r = self.call(request.clone());
        assert_eq!(r.status, 0, "{request} answered {}", r.to_json());
        assert_eq!(r.message, "success");
        r.data
    }

    fn token(&self, uid: &str, kind: TokenKind, world: Option<&str>, role: Option<&str>) -> String {
        self.services
            .tokens
            .issue(uid, kind, world, role)
            .unwrap()
            .0
    }

    fn guest(&self, device: &str) -> String {
        let data = self.ok(json!({"function":"login_unique","data":{"unique_id":device}}));
        data["token"].as_str().unwrap().to_string()
    }
}

fn status(r: &Response) -> i32 {
    r.status
}

#[test]
fn handler_answers_the_contract_statuses() {
    let s = Stack::start();
    let account = s.token("u1", TokenKind::Account, None, None);

    // 13: malformed in every way the contract names.
    for line in [
        "not json",
        "[1]",
        r#""text""#,
        r#"{"world":"s0","data":{}}"#,
        r#"{"function":5,"data":{}}"#,
        r#"{"function":"login","data":[1]}"#,
        r#"{"function":"login","world":7}"#,
    ] {
        let r = s.call_line(line);
        assert_eq!(
            (r.status, r.message.as_str()),
            (13, "malformed request"),
            "{line}"
        );
    }
    let r = s
        .call(json!({"function":"login","data":{"identifier":"account","value":5,"password":"x"}}));
    assert_eq!(r.status, 13, "an argument of the wrong type");
    assert_eq!(r.data["reason"], "`value` must be a string");
    let r = s.call(json!({"function":"account_all_info","data":{"token":17}}));
    assert_eq!(r.status, 13, "a token that is not a string");

    // 10
    let r = s.call(json!({"world":"s0","function":"steal_everything","data":{}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (10, "function is not in function list")
    );

    // 14: unknown world; a world-bound function without one.
    let r = s.call(json!({"world":"s42","function":"enter_world","data":{"token":account}}));
    assert_eq!((r.status, r.message.as_str()), (14, "world does not exist"));
    let r = s.call(json!({"function":"enter_world","data":{"token":account}}));
    assert_eq!(status(&r), 14);
    let r = s.call(json!({"function":"debug_session","data":{}}));
    assert_eq!(status(&r), 14);

    // 12: every function but the three logins needs a token.
    for function in [
        "bind_account",
        "account_all_info",
        "enter_world",
        "debug_admin",
    ] {
        let r = s.call(json!({"world":"s0","function":function,"data":{}}));
        assert_eq!(
            (r.status, r.message.as_str()),
            (12, "token not present"),
            "{function}"
        );
    }

    // 11: bad signature, expired, revoked, session token of another world.
    let other_key = Key::new(b"another key of at least 32 bytes!!").unwrap();
    let forged = jwt::encode(&other_key, &s.services.tokens.validate(&account).unwrap());
    let now = auth::tokens::unix_now();
    let expired = jwt::encode(
        &Key::new(SECRET.as_bytes()).unwrap(),
        &Claims {
            uid: "u1".into(),
            kind: TokenKind::Account,
            world: None,
            role: None,
            iat: now - 100,
            exp: now - 10,
            jti: "old".into(),
        },
    );
    let first = s.token("u2", TokenKind::Account, None, None);
    let _second = s.token("u2", TokenKind::Account, None, None);
    let session_s1 = s.token("u3", TokenKind::Session, Some("s1"), None);
    for (what, token, world) in [
        ("forged", forged.as_str(), "s0"),
        ("expired", expired.as_str(), "s0"),
        ("revoked", first.as_str(), "s0"),
        ("garbage", "abc.def.ghi", "s0"),
        ("session of s1 used in s0", session_s1.as_str(), "s0"),
    ] {
        let r = s.call(json!({"world":world,"function":"account_all_info","data":{"token":token}}));
        assert_eq!(
            (r.status, r.message.as_str()),
            (11, "invalid token"),
            "{what}"
        );
    }
    let r = s.call(json!({"world":"s0","function":"debug_session","data":{"token":account}}));
    assert_eq!(status(&r), 11, "an account token where a session is needed");

    // 15: admin functions need role admin, in any valid token.
    let player = s.token("p1", TokenKind::Account, None, Some("player"));
    let r = s.call(json!({"function":"debug_admin","data":{"token":player}}));
    assert_eq!((r.status, r.message.as_str()), (15, "permission denied"));
    let admin = s.token("boss", TokenKind::Account, None, Some("admin"));
    assert_eq!(
        status(&s.call(json!({"function":"debug_admin","data":{"token":admin}}))),
        0
    );

    // -1: a panic answers the programming error, and the next request is served.
    let r = s.call(json!({"function":"debug_panic","data":{}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (-1, "programming error, this should not happen")
    );
    s.ok(json!({"function":"login_unique","data":{"unique_id":"after-panic"}}));
}

#[test]
fn the_token_decides_who_the_caller_is() {
    let s = Stack::start();
    s.ok(json!({"function":"register","data":{"unique_id":"victim","account":"victim_acc","password":"victim-pass"}}));
    let attacker = s.guest("attacker-device");

    let info =
        s.ok(json!({"function":"account_all_info","data":{"token":attacker,"unique_id":"victim"}}));
    assert_eq!(info["unique_id"], "attacker-device");
    assert_eq!(info["account"], Value::Null);

    let bound = s.ok(json!({"function":"bind_account","data":{"token":attacker,"unique_id":"victim","account":"mine","password":"attacker-pass"}}));
    assert_eq!(bound["unique_id"], "attacker-device");
    let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":"victim_acc","password":"victim-pass"}}));
    assert_eq!(
        login["unique_id"], "victim",
        "the victim's password still works"
    );

    let session = s.token("attacker-device", TokenKind::Session, Some("s0"), None);
    let echo = s.ok(json!({"world":"s0","function":"debug_session","data":{"token":session,"unique_id":"victim"}}));
    assert_eq!(echo["unique_id"], "attacker-device");
    assert!(
        echo.get("token").is_none(),
        "the token is not passed to functions"
    );
    assert_eq!(echo["served_world"], "s0");
}

#[test]
fn account_happy_paths() {
    let s = Stack::start();
    // register -> a working account token
    let reg = s.ok(json!({"function":"register","data":{"unique_id":"dev-1","account":"alice","password":"correct horse"}}));
    assert_eq!(reg["unique_id"], "dev-1");
    let token = reg["token"].as_str().unwrap();
    let claims = s.services.tokens.validate(token).unwrap();
    assert_eq!(
        (claims.uid.as_str(), claims.kind),
        ("dev-1", TokenKind::Account)
    );

    // login by account, email and phone number
    let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":"alice","password":"correct horse"}}));
    assert_eq!(login["unique_id"], "dev-1");
    assert!(
        s.services.tokens.validate(token).is_err(),
        "a new login revokes the old token"
    );
    let mut conn = s.services.db.conn().unwrap();
    conn.exec_drop(
        "UPDATE accounts SET email = ?, phone_number = ? WHERE unique_id = ?",
        ("alice@example.com", "+8613800000000", "dev-1"),
    )
    .unwrap();
    for (identifier, value) in [
        ("email", "alice@example.com"),
        ("phone_number", "+8613800000000"),
    ] {
        let login = s.ok(json!({"function":"login","data":{"identifier":identifier,"value":value,"password":"correct horse"}}));
        assert_eq!(login["unique_id"], "dev-1", "{identifier}");
    }
    let r = s.call(json!({"function":"login","data":{"identifier":"account","value":"alice","password":"wrong horse"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (82, "wrong account or password")
    );
    let r = s.call(json!({"function":"login","data":{"identifier":"account","value":"nobody","password":"correct horse"}}));
    assert_eq!(
        r.status, 82,
        "an unknown account looks like a wrong password"
    );
    let r = s.call(json!({"function":"login","data":{"identifier":"password","value":"x","password":"correct horse"}}));
    assert_eq!(r.status, 86);

    // the stored password is a salted PBKDF2 hash, not the password
    let stored: String = conn
        .exec_first(
            "SELECT password FROM accounts WHERE unique_id = ?",
            ("dev-1",),
        )
        .unwrap()
        .unwrap();
    assert!(stored.starts_with("pbkdf2-sha256$1000$"), "{stored}");
    assert!(!stored.contains("correct horse"));

    // guest -> bind once -> login with the new credentials
    let guest = s.guest("phone-7");
    let again = s.guest("phone-7");
    assert!(
        s.services.tokens.validate(&guest).is_err(),
        "the second guest login revoked the first"
    );
    let info = s.ok(json!({"function":"account_all_info","data":{"token":again}}));
    assert_eq!(info["unique_id"], "phone-7");
    let bound = s.ok(json!({"function":"bind_account","data":{"token":again,"account":"bob","password":"bobs-password"}}));
    assert_eq!(bound["account"], "bob");
    let r = s.call(json!({"function":"bind_account","data":{"token":again,"account":"bob2","password":"bobs-password"}}));
    assert_eq!(r.status, 84, "binding is once only");
    let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":"bob","password":"bobs-password"}}));
    assert_eq!(login["unique_id"], "phone-7");
    let info = s.ok(json!({"function":"account_all_info","data":{"token":login["token"]}}));
    assert_eq!(info["account"], "bob");
    assert_eq!(info["email"], Value::Null);

    // enter_world -> a session token for that world, usable there only
    let account_token = login["token"].as_str().unwrap();
    let entered =
        s.ok(json!({"world":"s1","function":"enter_world","data":{"token":account_token}}));
    assert_eq!(entered["world"], "s1");
    let session = entered["token"].as_str().unwrap();
    let claims = s.services.tokens.validate(session).unwrap();
    assert_eq!(claims.kind, TokenKind::Session);
    assert_eq!(claims.world.as_deref(), Some("s1"));
    s.ok(json!({"world":"s1","function":"debug_session","data":{"token":session}}));
    let r = s.call(json!({"world":"s0","function":"debug_session","data":{"token":session}}));
    assert_eq!(r.status, 11);

    // a token for a uid without an account row
    let ghost = s.token("ghost", TokenKind::Account, None, None);
    let r = s.call(json!({"function":"account_all_info","data":{"token":ghost}}));
    assert_eq!(r.status, 85);
    let r = s.call(json!({"function":"bind_account","data":{"token":ghost,"account":"ghosty","password":"123456"}}));
    assert_eq!(r.status, 85);
}

#[test]
fn taken_ids_and_names_change_nothing() {
    let s = Stack::start();
    s.ok(json!({"function":"register","data":{"unique_id":"owner","account":"owner_acc","password":"owner-pass"}}));

    let r = s.call(json!({"function":"register","data":{"unique_id":"owner","account":"thief","password":"thief-pass"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (80, "unique_id is already in use")
    );
    let r = s.call(json!({"function":"register","data":{"unique_id":"thief","account":"owner_acc","password":"thief-pass"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (81, "account name is already taken")
    );
    for (account, password) in [("owner_acc", "thief-pass"), ("thief", "thief-pass")] {
        let r = s.call(json!({"function":"login","data":{"identifier":"account","value":account,"password":password}}));
        assert_eq!(r.status, 82, "{account}");
    }
    let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":"owner_acc","password":"owner-pass"}}));
    assert_eq!(login["unique_id"], "owner");
    let count: Option<i64> = s
        .services
        .db
        .conn()
        .unwrap()
        .query_first("SELECT COUNT(*) FROM accounts")
        .unwrap();
    assert_eq!(count, Some(1), "no row for the failed registrations");

    // A device id whose account has credentials cannot be taken over as a guest.
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"owner"}}));
    assert_eq!(r.status, 83);
    // MySQL compares 'owner ' equal to 'owner': a padded id must not reach the table.
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"owner "}}));
    assert_eq!(r.status, 86);
    let guest = s.guest("device-9");
    s.ok(json!({"function":"bind_account","data":{"token":guest,"account":"nine","password":"nine-pass"}}));
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"device-9"}}));
    assert_eq!(r.status, 83);
    assert!(r.data.get("token").is_none());
    // Binding a name someone has fails too.
    let other = s.guest("device-10");
    let r = s.call(json!({"function":"bind_account","data":{"token":other,"account":"owner_acc","password":"whatever"}}));
    assert_eq!(r.status, 81);
    s.ok(json!({"function":"login","data":{"identifier":"account","value":"owner_acc","password":"owner-pass"}}));

    // Bounds, with messages that say which.
    for (data, message) in [
        (
            json!({"unique_id":"","account":"abc","password":"123456"}),
            "unique_id must be 1 to 64 characters",
        ),
        (
            json!({"unique_id":"x".repeat(65),"account":"abc","password":"123456"}),
            "unique_id must be 1 to 64 characters",
        ),
        (
            json!({"unique_id":"x","account":"ab","password":"123456"}),
            "account must be 3 to 32 characters",
        ),
        (
            json!({"unique_id":"x","account":"a".repeat(33),"password":"123456"}),
            "account must be 3 to 32 characters",
        ),
        (
            json!({"unique_id":"x","account":"abc","password":"12345"}),
            "password must be 6 to 64 characters",
        ),
        (
            json!({"unique_id":"x","account":"abc","password":"1".repeat(65)}),
            "password must be 6 to 64 characters",
        ),
        (
            json!({"unique_id":"x\u{0}y","account":"abc","password":"123456"}),
            "unique_id must not contain control characters",
        ),
        (
            json!({"unique_id":"owner ","account":"abc","password":"123456"}),
            "unique_id must not start or end with whitespace",
        ),
        (
            json!({"unique_id":"x","account":"owner_acc ","password":"123456"}),
            "account must not start or end with whitespace",
        ),
    ] {
        let r = s.call(json!({"function":"register","data":data}));
        assert_eq!((r.status, r.message.as_str()), (86, message), "{data}");
    }
}

#[test]
fn sql_metacharacters_and_emoji_round_trip_verbatim() {
    let s = Stack::start();
    let nasty = [
        "'; DROP TABLE accounts; --",
        "%",
        "*",
        "\" OR \"1\"=\"1",
        "😀🎮 ünïcödé",
        "\\'; --",
        "_",
    ];
    for (i, text) in nasty.iter().enumerate() {
        let unique_id = format!("{text}{i}");
        let account = format!("{text}{i}a");
        let password = format!("{text}{i}pass");
        let reg = s.ok(json!({"function":"register","data":{"unique_id":unique_id,"account":account,"password":password}}));
        assert_eq!(reg["unique_id"], unique_id.as_str());
        let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":account,"password":password}}));
        assert_eq!(login["unique_id"], unique_id.as_str());
        let info = s.ok(json!({"function":"account_all_info","data":{"token":login["token"]}}));
        assert_eq!(info["account"], account.as_str());

        let device = format!("{text}{i}device");
        let guest = s.guest(&device);
        let bound_name = format!("{text}{i}b");
        let bound = s.ok(json!({"function":"bind_account","data":{"token":guest,"account":bound_name,"password":password}}));
        assert_eq!(bound["account"], bound_name.as_str());
        let login = s.ok(json!({"function":"login","data":{"identifier":"account","value":bound_name,"password":password}}));
        assert_eq!(login["unique_id"], device.as_str());

        let email = format!("{text}{i}@mail");
        s.services
            .db
            .conn()
            .unwrap()
            .exec_drop(
                "UPDATE accounts SET email = ? WHERE unique_id = ?",
                (&email, &unique_id),
            )
            .unwrap();
        let login = s.ok(json!({"function":"login","data":{"identifier":"email","value":email,"password":password}}));
        assert_eq!(login["unique_id"], unique_id.as_str());

        let r = s.call(
            json!({"function":"login","data":{"identifier":text,"value":"x","password":"123456"}}),
        );
        assert_eq!(r.status, 86, "identifier {text:?}");
        let r =
            s.call(json!({"world":text,"function":"enter_world","data":{"token":login["token"]}}));
        assert_eq!(r.status, 14, "world {text:?}");
    }
    // Wildcards match nothing: `%` is a name, not a pattern.
    let r = s.call(json!({"function":"login","data":{"identifier":"account","value":"%","password":"%1apass"}}));
    assert_eq!(r.status, 82);
    let tables = s.db_server.sql("SHOW TABLES FROM lukseun");
    assert!(tables.contains("accounts"), "{tables}");
    let count = s.db_server.sql("SELECT COUNT(*) FROM lukseun.accounts");
    assert_eq!(count.trim(), (nasty.len() * 2).to_string());
}

#[test]
fn backend_outages_answer_99_and_recover() {
    let mut s = Stack::start();
    s.db_server.kill();
    let started = Instant::now();
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"during-outage"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (99, "service temporarily unavailable, try again")
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "an outage must not hang a job"
    );
    s.db_server.restart();
    s.ok(json!({"function":"login_unique","data":{"unique_id":"after-outage"}}));

    let token = s.guest("redis-check");
    s.redis_server.kill();
    let r = s.call(json!({"function":"account_all_info","data":{"token":token}}));
    assert_eq!(r.status, 99, "token revocation cannot be checked");
    let register = json!({"function":"register","data":{"unique_id":"half","account":"half_done","password":"123456"}});
    assert_eq!(
        s.call(register.clone()).status,
        99,
        "no token can be issued"
    );
    s.redis_server.restart();
    s.ok(register); // the failed attempt left no row behind
    s.guest("redis-check");
}

/// Plays the gate: a listener registered in Redis as `gates.id.<gid>` that reads the
/// worker's answer lines.
struct FakeGate {
    gid: String,
    listener: TcpListener,
    reader: Option<BufReader<TcpStream>>,
    redis: RedisPool,
    nats: shared::nats::Client,
}

impl FakeGate {
    fn start(redis_url: &str, nats_url: &str, gid: &str) -> FakeGate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let redis = RedisPool::new(redis_url, 2).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        redis
            .run(|c| {
                redis::cmd("SET")
                    .arg(format!("gates.id.{gid}"))
                    .arg(&addr)
                    .query::<()>(c)
            })
            .unwrap();
        let nats =
            shared::nats::Client::connect(nats_url, shared::nats::Options::named("fake-gate"))
                .unwrap();
        FakeGate {
            gid: gid.to_string(),
            listener,
            reader: None,
            redis,
            nats,
        }
    }

    /// Registers a job and publishes it; returns its jid.
    fn publish(&self, line: &str) -> String {
        let jid = shared::ids::job_id();
        self.redis
            .run(|c| {
                redis::cmd("SET")
                    .arg(format!("gate.job.{jid}"))
                    .arg(&self.gid)
                    .arg("EX")
                    .arg(10)
                    .query::<()>(c)
            })
            .unwrap();
        self.nats
            .publish("jobs", format!("{jid}~{line}").as_bytes())
            .unwrap();
        jid
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
        let (jid, json) = body.split_once('~').unwrap();
        Some((jid.to_string(), serde_json::from_str(json).unwrap()))
    }

    fn ask(&mut self, request: Value) -> Response {
        let jid = self.publish(&request.to_string());
        let (answered, response) = self.answer();
        assert_eq!(answered, jid);
        response
    }
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

#[test]
fn end_to_end_between_nats_and_a_gate() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let mut settings = Settings::new(&nats.url(), &redis.url(), &db.url(), SECRET);
    settings.threads = 4;
    settings.admin_addr = "127.0.0.1:0".into();
    settings.pbkdf2_iterations = 1000;
    settings.startup_wait = Duration::from_secs(10);
    let worker = Worker::start(&settings).unwrap();
    let mut gate = FakeGate::start(&redis.url(), &nats.url(), "0");

    let r = gate.ask(json!({"world":"s0","function":"register","data":{"unique_id":"e2e","account":"e2e_user","password":"e2e-password"}}));
    assert_eq!(r.status, 0, "{}", r.to_json());
    let token = r.data["token"].as_str().unwrap().to_string();
    let r = gate.ask(json!({"world":"s0","function":"enter_world","data":{"token":token}}));
    assert_eq!(r.status, 0);
    assert_eq!(r.data["world"], "s0");

    // A malformed payload is dropped; a panic answers -1 and the next job is served.
    gate.nats.publish("jobs", b"no job id here").unwrap();
    gate.nats.publish("jobs", b"NOT-HEX~{}").unwrap();
    assert_eq!(
        gate.ask(json!({"function":"debug_panic","data":{}})).status,
        -1
    );
    assert_eq!(gate.ask(json!({"function":"nope","data":{}})).status, 10);
    assert_eq!(
        gate.ask(json!({"function":"login_unique","data":{"unique_id":"next"}}))
            .status,
        0
    );

    // Many jobs at once all come back, each under its own jid.
    let mut sent: Vec<String> = (0..40)
        .map(|i| {
            gate.publish(
                &json!({"function":"login_unique","data":{"unique_id":format!("bulk-{i}")}})
                    .to_string(),
            )
        })
        .collect();
    let mut answered: Vec<String> = (0..40)
        .map(|_| {
            let (jid, r) = gate.answer();
            assert_eq!(r.status, 0);
            jid
        })
        .collect();
    sent.sort();
    answered.sort();
    assert_eq!(sent, answered);

    let (code, body) = http_get(worker.admin_addr(), "/readyz");
    assert_eq!(code, 200, "{body}");
    let (_, metrics) = http_get(worker.admin_addr(), "/metrics");
    assert!(metrics.contains("worker_jobs_panic_total 1"), "{metrics}");
    assert!(
        metrics.contains("worker_jobs_malformed_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("worker_jobs_refused_total 1"), "{metrics}");
    assert!(metrics.contains("worker_jobs_ok_total 43"), "{metrics}");
    worker.stop();
}

#[test]
fn stop_answers_jobs_in_flight_then_takes_no_more() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let mut settings = Settings::new(&nats.url(), &redis.url(), &db.url(), SECRET);
    settings.threads = 2;
    settings.admin_addr = "127.0.0.1:0".into();
    settings.startup_wait = Duration::from_secs(10);
    let worker = Worker::start(&settings).unwrap();
    let mut gate = FakeGate::start(&redis.url(), &nats.url(), "5");

    let before = SLEEPS_STARTED.load(Ordering::SeqCst);
    let jid = gate.publish(&json!({"function":"debug_sleep","data":{"ms":500}}).to_string());
    let deadline = Instant::now() + Duration::from_secs(10);
    while SLEEPS_STARTED.load(Ordering::SeqCst) == before {
        assert!(Instant::now() < deadline, "the job never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    worker.stop();
    let (answered, r) = gate.answer();
    assert_eq!(
        (answered, r.status),
        (jid, 0),
        "the job in flight was answered"
    );
    assert_eq!(r.data["ms"], 500);

    // Stopped: a new job stays unanswered (no worker subscribed).
    gate.publish(&json!({"function":"login_unique","data":{"unique_id":"late"}}).to_string());
    let reader = gate.reader.as_mut().unwrap();
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut line = String::new();
    let read = reader.read_line(&mut line);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "answered after stop: {line:?}"
    );
}

fn test_settings(redis: &testkit::Redis, nats: &testkit::Nats, db: &testkit::MariaDb) -> Settings {
    let mut settings = Settings::new(&nats.url(), &redis.url(), &db.url(), SECRET);
    settings.threads = 4;
    settings.admin_addr = "127.0.0.1:0".into();
    settings.pbkdf2_iterations = 1000;
    settings.startup_wait = Duration::from_secs(10);
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

#[test]
fn the_worker_survives_a_nats_restart() {
    let redis = testkit::Redis::start();
    let mut nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let worker = Worker::start(&test_settings(&redis, &nats, &db)).unwrap();
    let mut gate = FakeGate::start(&redis.url(), &nats.url(), "1");
    let guest = json!({"function":"login_unique","data":{"unique_id":"nats-1"}});
    assert_eq!(gate.ask(guest.clone()).status, 0);

    nats.kill();
    nats.restart();
    let r = ask_until_answered(&mut gate, &guest);
    assert_eq!(r.status, 0);
    let (code, body) = http_get(worker.admin_addr(), "/readyz");
    assert_eq!(code, 200, "{body}");
    worker.stop();
}

#[test]
fn merged_worlds_are_served_as_their_target() {
    let mut s = Stack::start();
    s.config = GameConfig::embedded()
        .overlay(&json!({"worlds":{"worlds":["s0"],"merge":{"s1":"s0"}}}))
        .unwrap();
    let account = s.guest("merged-player");
    let entered = s.ok(json!({"world":"s1","function":"enter_world","data":{"token":account}}));
    assert_eq!(entered["world"], "s0", "s1 was merged into s0");
    let session = entered["token"].as_str().unwrap();
    let echo = s.ok(json!({"world":"s1","function":"debug_session","data":{"token":session}}));
    assert_eq!(echo["served_world"], "s0");
    s.ok(json!({"world":"s0","function":"debug_session","data":{"token":session}}));
    let r = s.call(json!({"world":"s2","function":"enter_world","data":{"token":account}}));
    assert_eq!(r.status, 14);
}

#[test]
fn worlds_come_from_the_config_service_and_follow_its_changes() {
    let dir = testkit::TempDir::new("worker-config");
    let worlds = dir.path().join("worlds.json");
    std::fs::write(&worlds, r#"{"worlds":["s7"],"merge":{}}"#).unwrap();
    let service = lukseun_config::ConfigService::start(lukseun_config::Settings {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        admin_port: 0,
        dir: dir.path().to_path_buf(),
        reload_every: Duration::from_millis(100),
        http_threads: 2,
    })
    .unwrap();

    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let mut settings = test_settings(&redis, &nats, &db);
    settings.config_url = format!("http://{}", service.addr());
    settings.config_refresh = Duration::from_secs(1);
    let worker = Worker::start(&settings).unwrap();
    let mut gate = FakeGate::start(&redis.url(), &nats.url(), "2");

    let token = gate
        .ask(json!({"function":"login_unique","data":{"unique_id":"cfg"}}))
        .data["token"]
        .clone();
    let enter =
        |world: &str| json!({"world":world,"function":"enter_world","data":{"token":token}});
    assert_eq!(
        gate.ask(enter("s7")).status,
        0,
        "served by the config service"
    );
    assert_eq!(
        gate.ask(enter("s0")).status,
        14,
        "embedded worlds were replaced"
    );

    std::fs::write(&worlds, r#"{"worlds":["s7","s8"],"merge":{}}"#).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while gate.ask(enter("s8")).status != 0 {
        assert!(Instant::now() < deadline, "the new world never appeared");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A broken file on the service keeps the last good worlds.
    std::fs::write(&worlds, "{ broken").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(gate.ask(enter("s8")).status, 0);
    worker.stop();
}

#[test]
fn clients_are_served_through_the_real_gate() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let worker = Worker::start(&test_settings(&redis, &nats, &db)).unwrap();
    let mut front = gate::Gate::start(gate::GateOptions::local(&redis.url(), &nats.url())).unwrap();

    let client = TcpStream::connect(front.client_addr()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut writer = client;
    let mut ask = |requests: &[Value]| -> Vec<Response> {
        use std::io::Write;
        let mut batch = String::new();
        for r in requests {
            batch.push_str(&r.to_string());
            batch.push_str("\r\n");
        }
        writer.write_all(batch.as_bytes()).unwrap();
        requests
            .iter()
            .map(|_| {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                serde_json::from_str(line.trim_end()).unwrap()
            })
            .collect()
    };

    let registered = ask(&[
        json!({"world":"s0","function":"register","data":{"unique_id":"via-gate","account":"gate_user","password":"gate-password"}}),
    ]);
    assert_eq!(registered[0].status, 0);
    // Pipelined requests run concurrently (on any worker thread or worker); the gate
    // answers them in request order.
    let answers = ask(&[
        json!({"world":"s0","function":"no_such_function","data":{}}),
        json!({"world":"s0","function":"login","data":{"identifier":"account","value":"gate_user","password":"gate-password"}}),
        json!({"world":"s0","function":"account_all_info","data":{}}),
        json!({"world":"s0","function":"debug_sleep","data":{"ms":300}}),
        json!({"world":"s0","function":"login_unique","data":{"unique_id":"via-gate"}}),
    ]);
    let statuses: Vec<i32> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [10, 0, 12, 0, 83]);
    let token = answers[1].data["token"].clone();
    let answers = ask(&[json!({"world":"s1","function":"enter_world","data":{"token":token}})]);
    assert_eq!(answers[0].status, 0);
    assert_eq!(answers[0].data["world"], "s1");
    front.stop();
    worker.stop();
}

#[test]
fn start_fails_with_a_clear_error_instead_of_hanging() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();

    let mut settings = test_settings(&redis, &nats, &db);
    settings.mysql_url = format!("mysql://root@127.0.0.1:{}/lukseun", testkit::free_port());
    settings.startup_wait = Duration::from_secs(1);
    let e = Worker::start(&settings).err().expect("no MySQL, no worker");
    assert!(matches!(e, crate::StartError::Db(_)), "{e}");

    let mut settings = test_settings(&redis, &nats, &db);
    settings.nats_url = format!("nats://127.0.0.1:{}", testkit::free_port());
    settings.startup_wait = Duration::from_secs(1);
    let e = Worker::start(&settings).err().expect("no NATS, no worker");
    assert!(matches!(e, crate::StartError::Nats(_)), "{e}");

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = test_settings(&redis, &nats, &db);
    settings.admin_addr = taken.local_addr().unwrap().to_string();
    let e = Worker::start(&settings).err().expect("admin port taken");
    assert!(matches!(e, crate::StartError::Io(_)), "{e}");

    let mut settings = test_settings(&redis, &nats, &db);
    settings.jwt_secret = "too short".into();
    let e = Worker::start(&settings).err().expect("short key");
    assert!(e.to_string().contains("at least 32"), "{e}");
}
