//! The per-service Redis ACL users of shared::grants on a real `redis-server` (testkit's
//! secured server): commands and keys outside a service's grants are refused.

use shared::redis_conn::{RedisError, RedisPool};
use testkit::Redis;

fn pool(url: &str) -> RedisPool {
    RedisPool::new(url, 1).unwrap()
}

/// Runs `args` as one command; the error text when Redis refused it.
fn run(pool: &RedisPool, args: &[&str]) -> Result<redis::Value, String> {
    pool.run(|c| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query::<redis::Value>(c)
    })
    .map_err(|e: RedisError| e.to_string())
}

fn refused(pool: &RedisPool, args: &[&str]) {
    match run(pool, args) {
        Err(e) => assert!(
            e.contains("NoPerm") || e.contains("NOPERM") || e.contains("permission"),
            "{args:?}: {e}"
        ),
        Ok(v) => panic!("{args:?} was allowed: {v:?}"),
    }
}

#[test]
fn without_a_password_nothing_is_allowed() {
    let redis = Redis::start_secured();
    let anonymous = pool(&format!("redis://127.0.0.1:{}/", redis.port));
    let err = run(&anonymous, &["GET", "auth.tokens.account.u1"]).unwrap_err();
    assert!(
        err.contains("NOAUTH") || err.contains("uthentication"),
        "{err}"
    );
    let wrong = pool(&format!("redis://edge:wrong@127.0.0.1:{}/", redis.port));
    assert!(run(&wrong, &["PING"]).is_err());
}

#[test]
fn no_service_may_flush_list_or_reconfigure() {
    let redis = Redis::start_secured();
    for service in ["gate", "worker", "edge", "auth"] {
        let p = pool(&redis.url_as(service));
        assert!(run(&p, &["PING"]).is_ok(), "{service}");
        for args in [
            &["FLUSHALL"][..],
            &["FLUSHDB"],
            &["KEYS", "*"],
            &["SCAN", "0"],
            &["CONFIG", "SET", "appendonly", "no"],
            &["ACL", "LIST"],
            &["SUBSCRIBE", "x"],
            &["CLIENT", "LIST"],
            &["MONITOR"],
            &["SHUTDOWN"],
        ] {
            refused(&p, args);
        }
    }
}

#[test]
fn each_service_reaches_only_its_keys() {
    let redis = Redis::start_secured();
    let admin = pool(&redis.url());
    run(&admin, &["SET", "auth.tokens.account.u1", "jti-1"]).unwrap();
    run(&admin, &["SET", "gates.id.0", "127.0.0.1:8201"]).unwrap();

    let edge = pool(&redis.url_as("edge"));
    refused(&edge, &["GET", "auth.tokens.account.u1"]);
    refused(&edge, &["HGETALL", "auth.tokens.account.u1"]);
    refused(&edge, &["DEL", "gates.id.0"]);
    refused(&edge, &["HGETALL", "gates.id.0"]);
    assert!(run(&edge, &["HGETALL", "chat.logintokens.n1"]).is_ok());

    let gate = pool(&redis.url_as("gate"));
    refused(&gate, &["GET", "auth.tokens.account.u1"]);
    refused(&gate, &["SET", "gate.job.x", "1"]);
    assert!(run(
        &gate,
        &["SET", "gates.id.1", "10.0.0.1:8201", "NX", "EX", "10"]
    )
    .is_ok());

    // The worker reads where gates are but may not redirect their answers.
    let worker = pool(&redis.url_as("worker"));
    assert!(run(&worker, &["GET", "gates.id.0"]).is_ok());
    refused(&worker, &["SET", "gates.id.0", "203.0.113.1:8201"]);
    refused(&worker, &["DEL", "gates.id.0"]);
    refused(&worker, &["GET", "auth.nonces.mail:x"]);
    assert!(run(&worker, &["SET", "auth.tokens.account.u2", "jti-2"]).is_ok());

    let auth = pool(&redis.url_as("auth"));
    refused(&auth, &["GET", "gates.id.0"]);
    refused(&auth, &["HGETALL", "auth.tokens.account.u1"]);
    assert!(run(&auth, &["GET", "auth.tokens.account.u1"]).is_ok());

    let gates: Option<String> = admin
        .run(|c| redis::cmd("GET").arg("gates.id.0").query(c))
        .unwrap();
    assert_eq!(gates.as_deref(), Some("127.0.0.1:8201"));
}
