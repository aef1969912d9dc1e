//! The library API the worker calls, against a real Redis.

mod support;

use std::sync::Arc;
use std::time::Duration;

use auth::{Key, KeyError, NonceError, Nonces, TokenError, TokenKind, Tokens};
use serde_json::{json, Map, Value};
use shared::redis_conn::RedisPool;

fn setup() -> (testkit::Redis, Arc<RedisPool>) {
    let redis = testkit::Redis::start();
    let pool = Arc::new(RedisPool::new(&redis.url(), 4).unwrap());
    (redis, pool)
}

fn payload(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn tokens_and_nonces_work_under_the_auth_acl_user() {
    let redis = testkit::Redis::start_secured();
    let pool = Arc::new(RedisPool::new(&redis.url_as("auth"), 4).unwrap());
    let tokens = Tokens::new(support::key(), pool.clone(), Duration::from_secs(60));
    let (first, _) = tokens
        .issue("acl-1", TokenKind::Account, None, None)
        .unwrap();
    let (second, _) = tokens
        .issue("acl-1", TokenKind::Account, None, None)
        .unwrap();
    assert_eq!(tokens.validate(&first), Err(TokenError::Revoked));
    assert!(tokens.validate(&second).is_ok());
    let nonces = Nonces::new(pool.clone());
    nonces
        .register("acl-nonce", &payload(json!({"k": 1})), 60)
        .unwrap();
    let taken = nonces.redeem(&["acl-nonce".to_string()]).unwrap();
    assert_eq!(taken["acl-nonce"], Some(payload(json!({"k": 1}))));
    // Nothing outside auth.*: not the gates' addresses.
    let other: Result<Option<String>, _> =
        pool.run(|c| redis::cmd("GET").arg("gates.id.0").query(c));
    assert!(other.is_err());
}

#[test]
fn short_key_is_refused_with_a_clear_error() {
    let e = Key::new(b"too short").unwrap_err();
    assert_eq!(e, KeyError::TooShort { len: 9 });
    assert_eq!(
        e.to_string(),
        "the JWT signing key has 9 bytes; at least 32 are required"
    );
}

#[test]
fn issue_and_validate_in_process() {
    let (_redis, pool) = setup();
    let tokens = Tokens::new(support::key(), pool, Duration::from_secs(60));
    let (token, issued) = tokens
        .issue("w-1", TokenKind::Session, Some("s2"), None)
        .unwrap();
    assert_eq!(issued.exp - issued.iat, 60);
    assert_eq!(issued.jti.len(), 32);
    let claims = tokens.validate(&token).unwrap();
    assert_eq!(claims, issued);
    assert!(!claims.is_admin());
}

#[test]
fn newest_token_wins_per_uid_and_kind() {
    let (_redis, pool) = setup();
    let tokens = Tokens::new(support::key(), pool, Duration::from_secs(60));
    let (first, _) = tokens.issue("w-2", TokenKind::Account, None, None).unwrap();
    let (other_user, _) = tokens.issue("w-3", TokenKind::Account, None, None).unwrap();
    let (second, _) = tokens.issue("w-2", TokenKind::Account, None, None).unwrap();
    assert_eq!(tokens.validate(&first), Err(TokenError::Revoked));
    assert!(tokens.validate(&second).is_ok());
    assert!(tokens.validate(&other_user).is_ok());
}

#[test]
fn a_token_whose_record_expired_is_refused() {
    let (_redis, pool) = setup();
    let tokens = Tokens::new(support::key(), pool.clone(), Duration::from_secs(60));
    let (token, _) = tokens.issue("w-4", TokenKind::Account, None, None).unwrap();
    pool.run(|c| {
        redis::cmd("DEL")
            .arg("auth.tokens.account.w-4")
            .query::<()>(c)
    })
    .unwrap();
    assert_eq!(tokens.validate(&token), Err(TokenError::Revoked));
}

#[test]
fn token_from_a_service_with_another_key_is_refused() {
    let (_redis, pool) = setup();
    let ours = Tokens::new(support::key(), pool.clone(), Duration::from_secs(60));
    let other_key = Key::new(&[9u8; 48]).unwrap();
    let theirs = Tokens::new(other_key, pool, Duration::from_secs(60));
    let (token, _) = theirs.issue("w-5", TokenKind::Account, None, None).unwrap();
    assert_eq!(ours.validate(&token), Err(TokenError::BadSignature));
}

#[test]
fn redis_down_is_unavailable_not_valid() {
    let (mut redis, pool) = setup();
    let tokens = Tokens::new(support::key(), pool, Duration::from_secs(60));
    let (token, _) = tokens.issue("w-6", TokenKind::Account, None, None).unwrap();
    redis.kill();
    let down = tokens.validate(&token).unwrap_err();
    assert!(matches!(down, TokenError::Unavailable(_)), "{down}");
    // The Redis error itself, for whoever logs the chain.
    assert!(std::error::Error::source(&down).is_some());
    let down = tokens
        .issue("w-6", TokenKind::Account, None, None)
        .unwrap_err();
    assert!(std::error::Error::source(&down).is_some(), "{down}");
}

#[test]
fn nonce_register_and_redeem() {
    let (_redis, pool) = setup();
    let nonces = Nonces::new(pool.clone());
    nonces
        .register("n-1", &payload(json!({"world": "s0", "gn": "ann"})), 30)
        .unwrap();
    let ttl: i64 = pool
        .run(|c| redis::cmd("TTL").arg("auth.nonces.n-1").query(c))
        .unwrap();
    assert!((1..=30).contains(&ttl), "{ttl}");
    let out = nonces
        .redeem(&["n-1".to_string(), "n-2".to_string()])
        .unwrap();
    assert_eq!(out["n-1"].as_ref().unwrap()["gn"], "ann");
    assert_eq!(out["n-2"], None);
    let again = nonces.redeem(&["n-1".to_string()]).unwrap();
    assert_eq!(again["n-1"], None);
}

#[test]
fn nonce_errors() {
    let (_redis, pool) = setup();
    let nonces = Nonces::new(pool);
    let empty = Map::new();
    nonces.register("taken", &empty, 10).unwrap();
    assert_eq!(
        nonces.register("taken", &empty, 10),
        Err(NonceError::AlreadyRegistered("taken".into()))
    );
    assert_eq!(nonces.register("x", &empty, 0), Err(NonceError::BadTtl(0)));
    assert!(nonces.register("x", &empty, 366 * 24 * 3600).is_err());
    assert_eq!(
        nonces.register("x", &payload(json!({"status": 0})), 10),
        Err(NonceError::ReservedField)
    );
    assert!(matches!(
        nonces.register("x/../y", &empty, 10),
        Err(NonceError::Invalid { .. })
    ));
    let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    assert_eq!(nonces.redeem(&many), Err(NonceError::TooManyKeys(1001)));
    assert!(nonces.redeem(&[]).unwrap().is_empty());
}

#[test]
fn concurrent_library_redeems_exactly_one_wins() {
    let (_redis, pool) = setup();
    let nonces = Arc::new(Nonces::new(pool));
    for round in 0..50 {
        let key = format!("lib-race:{round}");
        nonces
            .register(&key, &payload(json!({"r": round})), 60)
            .unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (nonces, barrier, key) = (nonces.clone(), barrier.clone(), key.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    nonces.redeem(std::slice::from_ref(&key)).unwrap()[&key].is_some()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1, "round {round}");
    }
}

/// The worker's copy of the current token ids (shared::redis_tracking): checks stop
/// costing a Redis GET, a token revoked by another process (auth issuing a newer one) is
/// refused within the copy's bound by every thread checking it at that moment, and one
/// revoked by the worker itself is refused at once.
#[test]
fn a_worker_copy_saves_its_gets_and_refuses_revoked_tokens_within_its_bound() {
    use shared::redis_tracking::{KeyCache, Tracker, STALE_AFTER};
    use std::time::Instant;
    let redis = testkit::Redis::start_secured();
    let pool_as = |user: &str| Arc::new(RedisPool::new(&redis.url_as(user), 4).unwrap());
    let auth = Tokens::new(support::key(), pool_as("auth"), Duration::from_secs(60));
    let cache = KeyCache::new(auth::tokens::REVOCATION_PREFIX);
    let _tracker = Tracker::start(&redis.url_as("worker"), cache.clone()).unwrap();
    let worker = Arc::new(
        Tokens::new(support::key(), pool_as("worker"), Duration::from_secs(60))
            .with_cache(cache.clone()),
    );
    testkit::eventually("the feed is current", || cache.is_current());
    let ops = RedisPool::new(&redis.url(), 1).unwrap();
    let gets = || -> u64 {
        let info: String = ops
            .run(|c| redis::cmd("INFO").arg("commandstats").query(c))
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
            .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
    };

    let (first, _) = auth.issue("c-1", TokenKind::Session, None, None).unwrap();
    // The copy keeps the id once the issue's own invalidation has gone by.
    while cache.is_empty() {
        assert!(worker.validate(&first).is_ok());
    }
    let (before, hits) = (gets(), cache.stats().0);
    for _ in 0..200 {
        assert!(worker.validate(&first).is_ok());
    }
    let read = gets() - before;
    assert!(read <= 10, "200 checks read Redis {read} times");
    assert!(cache.stats().0 - hits >= 190, "hits: {:?}", cache.stats());

    // Four threads check the token while auth revokes it.
    let revoked_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let checkers: Vec<_> = (0..4)
        .map(|_| {
            let (worker, first, revoked_at) = (worker.clone(), first.clone(), revoked_at.clone());
            std::thread::spawn(move || loop {
                if worker.validate(&first) == Err(TokenError::Revoked) {
                    let seen = Instant::now();
                    let revoked = revoked_at.lock().unwrap().expect("refused before revoked");
                    return seen.saturating_duration_since(revoked);
                }
                std::thread::sleep(Duration::from_micros(100));
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    {
        let mut at = revoked_at.lock().unwrap();
        let (second, _) = auth.issue("c-1", TokenKind::Session, None, None).unwrap();
        *at = Some(Instant::now());
        assert!(worker.validate(&second).is_ok());
    }
    for checker in checkers {
        // The bound, and the checking thread's own wait for a core.
        let late = checker.join().unwrap();
        assert!(
            late <= STALE_AFTER + Duration::from_millis(100),
            "a revoked token passed for {late:?}"
        );
    }

    // A token the worker itself replaces is refused by its next check.
    let (mine, _) = worker.issue("c-2", TokenKind::Account, None, None).unwrap();
    for _ in 0..20 {
        assert!(worker.validate(&mine).is_ok());
    }
    worker.issue("c-2", TokenKind::Account, None, None).unwrap();
    assert_eq!(worker.validate(&mine), Err(TokenError::Revoked));
}
