//! Request ids (`rid`) against real Redis and MariaDB, through the real handler: a retry
//! gets the first answer and the function ran once, concurrent duplicates run once, other
//! callers are unaffected, failures without effect free the rid, and what it costs.

use std::time::Instant;

use mysql::prelude::Queryable;

use super::*;
use crate::functions::test_only::ticks;
use crate::handler::handle_job;
use crate::keys;

fn session(s: &Stack, uid: &str) -> String {
    s.token(uid, TokenKind::Session, Some("s0"), None)
}

/// `function` in s0 as `token`'s caller, with request id `rid`.
fn call_rid(s: &Stack, token: &str, rid: &str, function: &str, mut data: Value) -> Response {
    data["token"] = token.into();
    s.call(json!({"world":"s0","function":function,"rid":rid,"data":data}))
}

/// A player `uid` in s0 with plenty of iron and coins; its session token.
fn smith(s: &Stack, uid: &str) -> String {
    let token = session(s, uid);
    s.ok_as(&token, "create_player", json!({"gn": uid, "icon": 3}));
    let mut conn = s.services.db.conn().unwrap();
    for item in [1, 2] {
        conn.exec_drop(
            "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', ?, 3, ?, ?) \
             ON DUPLICATE KEY UPDATE qty = VALUES(qty)",
            (uid, item, 1_000_000),
        )
        .unwrap();
    }
    token
}

fn coins(s: &Stack, uid: &str) -> u64 {
    let mut conn = s.services.db.conn().unwrap();
    conn.exec_first(
        "SELECT qty FROM items WHERE world = 's0' AND unique_id = ? AND grp = 3 AND item_id = 1",
        (uid,),
    )
    .unwrap()
    .unwrap()
}

fn weapon_level(answer: &Response) -> u64 {
    answer.data["remaining"]["0"]["level"].as_u64().unwrap()
}

fn redis_get(s: &Stack, key: &str) -> Option<String> {
    s.services
        .redis
        .run(|c| redis::cmd("GET").arg(key).query(c))
        .unwrap()
}

fn record_key(uid: &str, rid: &str) -> String {
    keys::request_record(false, rid, uid)
}

#[test]
fn a_retry_with_the_same_rid_gets_the_first_answer_and_the_function_ran_once() {
    let s = Stack::start();
    let token = smith(&s, "smith");
    let before = coins(&s, "smith");
    let level_up = json!({"weapon":301});

    let first = call_rid(&s, &token, "lvl-1", "level_up_weapon", level_up.clone());
    assert_status(&first, 0, "");
    let level = weapon_level(&first);
    let paid = before - coins(&s, "smith");
    assert!(paid > 0);
    for _ in 0..3 {
        let retry = call_rid(&s, &token, "lvl-1", "level_up_weapon", level_up.clone());
        assert_eq!(retry, first, "a retry gets the first answer, word for word");
    }
    assert_eq!(coins(&s, "smith"), before - paid, "paid once");
    assert_eq!(s.services.rid_counters.replayed.get(), 3);

    // The record lives for the configured time (longer than the job timeout), no more.
    let ttl: i64 = s
        .services
        .redis
        .run(|c| {
            redis::cmd("PTTL")
                .arg(record_key("smith", "lvl-1"))
                .query(c)
        })
        .unwrap();
    assert!(ttl > 10_000 && ttl <= 30_000, "{ttl} ms");

    // A new rid is a new request, and so is one without a rid.
    let second = call_rid(&s, &token, "lvl-2", "level_up_weapon", level_up.clone());
    assert_eq!(weapon_level(&second), level + 1);
    let third = s.call_as(&token, "level_up_weapon", level_up);
    assert_eq!(weapon_level(&third), level + 2);
}

#[test]
fn concurrent_duplicates_with_one_rid_run_once() {
    let s = Stack::start();
    let token = smith(&s, "racer");
    let before = coins(&s, "racer");
    let answers = at_once(8, |_| {
        call_rid(&s, &token, "race", "level_up_weapon", json!({"weapon":301}))
    });
    assert_eq!(answers[0].status, 0, "{}", answers[0].to_json());
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let level = weapon_level(&answers[0]);
    let once = before - coins(&s, "racer");
    let again = call_rid(
        &s,
        &token,
        "race-2",
        "level_up_weapon",
        json!({"weapon":301}),
    );
    assert_eq!(weapon_level(&again), level + 1, "the race levelled up once");
    assert!(
        coins(&s, "racer") < before - once,
        "the next level costs again"
    );

    // A slow function: the duplicates surely arrive while the first still runs, wait,
    // and get its answer.
    let account = s.token("ticker", TokenKind::Account, None, None);
    let answers = at_once(8, |_| {
        call_rid(&s, &account, "slow", "debug_tick", json!({"ms":300}))
    });
    let statuses: Vec<i32> = answers.iter().map(status).collect();
    assert_eq!(count(&statuses, 0), 8, "{statuses:?}");
    assert!(answers.iter().all(|a| a.data["tick"] == 1), "{answers:?}");
    assert_eq!(ticks("ticker"), 1);
}

#[test]
fn another_caller_with_the_same_rid_is_unaffected() {
    let s = Stack::start();
    let alice = s.token("alice", TokenKind::Account, None, None);
    let bob = s.token("bob", TokenKind::Account, None, None);
    let a = call_rid(&s, &alice, "shared", "debug_tick", json!({}));
    let b = call_rid(&s, &bob, "shared", "debug_tick", json!({}));
    assert_eq!(
        (a.data["uid"].clone(), a.data["tick"].clone()),
        (json!("alice"), json!(1))
    );
    assert_eq!(
        (b.data["uid"].clone(), b.data["tick"].clone()),
        (json!("bob"), json!(1))
    );
    assert_eq!((ticks("alice"), ticks("bob")), (1, 1));
    // Each one's retry is its own first answer: the records are apart, not absent.
    assert_eq!(call_rid(&s, &alice, "shared", "debug_tick", json!({})), a);
    assert_eq!(call_rid(&s, &bob, "shared", "debug_tick", json!({})), b);
    assert_eq!((ticks("alice"), ticks("bob")), (1, 1));
    // Nothing in the request picks whose record is read: a `unique_id` is overwritten.
    let forged = call_rid(
        &s,
        &bob,
        "shared",
        "debug_tick",
        json!({"unique_id":"alice"}),
    );
    assert_eq!(forged.data["uid"], "bob");

    // An operator's records are a family of their own: its rid never lands among the
    // players' records, even for the same uid text (which the `admin:` namespace already
    // keeps apart).
    let admin = s.token("admin:boss", TokenKind::Admin, None, None);
    let by_admin = call_rid(&s, &admin, "op-1", "debug_tick", json!({}));
    assert_eq!(by_admin.data["tick"], json!(1));
    assert!(redis_get(&s, &keys::request_record(true, "op-1", "admin:boss")).is_some());
    assert_eq!(redis_get(&s, &record_key("admin:boss", "op-1")), None);
}

#[test]
fn bad_rids_answer_13_naming_the_field_and_run_nothing() {
    let s = Stack::start();
    let token = s.token("careless", TokenKind::Account, None, None);
    for rid in [
        json!(""),
        json!("x".repeat(65)),
        json!("a b"),
        json!("a:b"),
        json!("ü"),
        json!(7),
        json!({"a":1}),
    ] {
        let r =
            s.call(json!({"world":"s0","function":"debug_tick","rid":rid,"data":{"token":token}}));
        assert_status(&r, 13, format_args!("{rid}"));
        assert!(
            r.data["reason"].as_str().unwrap().contains("`rid`"),
            "{}",
            r.to_json()
        );
    }
    assert_eq!(ticks("careless"), 0);
    // A null rid is no rid.
    let r = s.call(json!({"world":"s0","function":"debug_tick","rid":null,"data":{"token":token}}));
    assert_eq!(r.status, 0);
    // A public function has no caller to key the rid by: it runs as without one.
    for _ in 0..2 {
        let r = s.call(json!({"function":"login_unique","rid":"x","data":{"unique_id":"pub"}}));
        assert!(matches!(r.status, 0 | 1), "{}", r.to_json());
    }
}

#[test]
fn a_failure_without_effect_frees_the_rid_for_the_retry() {
    let s = Stack::start();
    let token = s.token("unlucky", TokenKind::Account, None, None);
    // 16: a backend failed, nothing kept. The retry runs, and is then recorded.
    let r = call_rid(&s, &token, "f", "debug_tick", json!({"fail":true}));
    assert_eq!(r.status, 16);
    assert_eq!(redis_get(&s, &record_key("unlucky", "f")), None);
    let r = call_rid(&s, &token, "f", "debug_tick", json!({}));
    assert_eq!((r.status, r.data["tick"].clone()), (0, json!(1)));
    let r = call_rid(&s, &token, "f", "debug_tick", json!({}));
    assert_eq!(r.data["tick"], 1, "recorded now");

    // -1: a panic (its transaction rolled back).
    let r = call_rid(&s, &token, "p", "debug_tick", json!({"panic":true}));
    assert_eq!(r.status, -1);
    assert_eq!(redis_get(&s, &record_key("unlucky", "p")), None);
    let r = call_rid(&s, &token, "p", "debug_tick", json!({}));
    assert_eq!(r.data["tick"], 2);

    // A function's own refusal is its answer: recorded like a success.
    let r = call_rid(&s, &token, "m", "level_up_weapon", json!({"weapon":301}));
    assert_status(&r, 11, format_args!("an account token is not a session"));
    let session = session(&s, "unlucky");
    let r = call_rid(&s, &session, "m", "level_up_weapon", json!({"weapon":301}));
    assert_status(&r, 17, format_args!("no player yet"));
    assert!(redis_get(&s, &record_key("unlucky", "m")).is_some());

    // A refused token leaves no marker behind: neither a revoked one nor one of another
    // scope (the claim travels with the revocation check and is let go).
    let old = s.token("revoked", TokenKind::Account, None, None);
    let new = s.token("revoked", TokenKind::Account, None, None);
    let r = call_rid(&s, &old, "t", "debug_tick", json!({}));
    assert_eq!(r.status, 11);
    assert_eq!(redis_get(&s, &record_key("revoked", "t")), None);
    let r = s.call(json!({"function":"debug_admin","rid":"t","data":{"token":new}}));
    assert_eq!(r.status, 15);
    assert_eq!(redis_get(&s, &record_key("revoked", "t")), None);
    let r = call_rid(&s, &new, "t", "debug_tick", json!({}));
    assert_eq!((r.status, r.data["tick"].clone()), (0, json!(1)));
    // 16, -1, the account token where a session was needed, revoked, not an admin.
    assert_eq!(s.services.rid_counters.released.get(), 5);
}

#[test]
fn a_duplicate_still_running_at_its_deadline_answers_20_and_runs_nothing() {
    let s = Stack::start();
    let token = s.token("sloth", TokenKind::Account, None, None);
    let line = |ms: u64| {
        json!({"world":"s0","function":"debug_tick","rid":"long","data":{"token":token,"ms":ms}})
            .to_string()
    };
    let key = record_key("sloth", "long");
    std::thread::scope(|scope| {
        let first = scope.spawn(|| s.call_line(&line(1500)));
        let waited = Instant::now();
        while redis_get(&s, &key).is_none() {
            assert!(waited.elapsed() < Duration::from_secs(10), "no marker");
            std::thread::sleep(Duration::from_millis(5));
        }
        let deadline = Instant::now() + Duration::from_millis(400);
        let second =
            handle_job(&s.services, &s.config, &line(0), None, None, Some(deadline)).response;
        assert_status(&second, 20, "");
        assert_eq!(
            second.message,
            "request still running: retry with the same rid"
        );
        assert_eq!(ticks("sloth"), 0, "the duplicate ran nothing");
        assert_eq!(s.services.rid_counters.still_running.get(), 1);
        let first = first.join().unwrap();
        assert_eq!((first.status, first.data["tick"].clone()), (0, json!(1)));
        // Retried once the first is done: its answer.
        let third =
            handle_job(&s.services, &s.config, &line(0), None, None, Some(deadline)).response;
        assert_eq!(third, first);
    });
    assert_eq!(ticks("sloth"), 1);

    // A job whose deadline passed while it claimed the rid is not run, and frees it.
    let past = Instant::now();
    let late = json!({"world":"s0","function":"debug_tick","rid":"late","data":{"token":token}});
    let r = handle_job(
        &s.services,
        &s.config,
        &late.to_string(),
        None,
        None,
        Some(past),
    )
    .response;
    assert_eq!(r.status, -2);
    assert_eq!(redis_get(&s, &record_key("sloth", "late")), None);
    assert_eq!(ticks("sloth"), 1);
}

#[test]
fn an_answer_over_the_cap_is_not_kept_and_its_retry_answers_21_without_running() {
    let mut s = Stack::start();
    s.services.request_ids.max_answer_bytes = 500;
    let token = s.token("verbose", TokenKind::Account, None, None);
    let big = call_rid(&s, &token, "big", "debug_tick", json!({"pad":1000}));
    assert_eq!(big.status, 0);
    assert!(big.to_json().len() > 1000);
    let retry = call_rid(&s, &token, "big", "debug_tick", json!({"pad":1000}));
    assert_status(&retry, 21, "");
    assert_eq!(
        retry.message,
        "request already done: its answer was too large to keep"
    );
    assert_eq!(ticks("verbose"), 1);
    let small = call_rid(&s, &token, "small", "debug_tick", json!({"pad":100}));
    let retry = call_rid(&s, &token, "small", "debug_tick", json!({"pad":100}));
    assert_eq!(retry, small);
    assert_eq!(ticks("verbose"), 2);
}

/// Redis commands the server has run so far (`INFO stats`; the INFO itself counts).
fn commands_run(s: &Stack) -> u64 {
    let info: String = s
        .services
        .redis
        .run(|c| redis::cmd("INFO").arg("stats").query(c))
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The cost of a rid: two commands (the claim, sent in the token check's round trip, and
/// the record: one more round trip); none without a rid. Prints the time per call.
#[test]
fn a_rid_costs_two_commands_in_one_extra_round_trip_and_nothing_without() {
    let s = Stack::start();
    let token = s.token("meter", TokenKind::Account, None, None);
    let plain = json!({"world":"s0","function":"debug_tick","data":{"token":token}});
    let with_rid = |i: usize| json!({"world":"s0","function":"debug_tick","rid":format!("r{i}"),"data":{"token":token}});
    let commands = |request: &Value| {
        let before = commands_run(&s);
        assert_eq!(s.call(request.clone()).status, 0);
        commands_run(&s) - before - 1
    };
    let idle = {
        let before = commands_run(&s);
        commands_run(&s) - before - 1
    };
    assert_eq!(idle, 0);
    let without = commands(&plain);
    assert_eq!(without, 1, "the token's revocation GET alone");
    assert_eq!(commands(&with_rid(0)), without + 2, "claim and record");
    assert_eq!(
        commands(&with_rid(0)),
        without + 1,
        "a retry: the claim finds the answer"
    );

    const N: usize = 300;
    let timed = |f: &dyn Fn(usize) -> Value| {
        let started = Instant::now();
        for i in 1..=N {
            assert_eq!(s.call(f(i)).status, 0);
        }
        started.elapsed() / N as u32
    };
    let plain_each = timed(&|_| plain.clone());
    let rid_each = timed(&with_rid);
    eprintln!(
        "request ids: {plain_each:?} per call without a rid, {rid_each:?} with one \
         (in-process handler, local Redis, {N} calls each)"
    );
}
