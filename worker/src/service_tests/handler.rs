//! The handler against real MariaDB and Redis: statuses, token scope, worlds, outages.

use auth::jwt::{self, Claims};

use super::*;

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
        r#"{"function":"login","world":7.5}"#,
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

    // 15: admin functions need an admin token; a player token's role claim is no admin.
    let player = s.token("p1", TokenKind::Account, None, Some("player"));
    let r = s.call(json!({"function":"debug_admin","data":{"token":player}}));
    assert_eq!((r.status, r.message.as_str()), (15, "permission denied"));
    let role_only = s.token("p2", TokenKind::Account, None, Some("admin"));
    let r = s.call(json!({"function":"debug_admin","data":{"token":role_only}}));
    assert_status(&r, 15, "");
    let admin = s.token("admin:boss", TokenKind::Admin, None, None);
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
    s.guest("after-panic");
}

#[test]
fn the_token_decides_who_the_caller_is() {
    let s = Stack::start();
    s.expect(json!({"function":"register","data":{"unique_id":"victim","account":"victim_acc","password":"victim-pass"}}), 1);
    let attacker = s.guest("attacker-device");

    let info =
        s.ok(json!({"function":"account_all_info","data":{"token":attacker,"unique_id":"victim"}}));
    assert_eq!(info["unique_id"], "attacker-device");
    assert_eq!(info["account"], "");

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
fn merged_worlds_are_served_as_their_target() {
    let mut s = Stack::start();
    s.config = GameConfig::embedded()
        .overlay(&json!({"worlds":{"worlds":["s0"],"merge":{"s1":"s0"}}}))
        .unwrap();
    let account = s.guest("merged-player");
    let entered = s.expect(
        json!({"world":"s1","function":"enter_world","data":{"token":account}}),
        98,
    );
    assert_eq!(entered["world"], "s0", "s1 was merged into s0");
    let session = entered["token"].as_str().unwrap();
    let echo = s.ok(json!({"world":"s1","function":"debug_session","data":{"token":session}}));
    assert_eq!(echo["served_world"], "s0");
    s.ok(json!({"world":"s0","function":"debug_session","data":{"token":session}}));
    let r = s.call(json!({"world":"s2","function":"enter_world","data":{"token":account}}));
    assert_eq!(r.status, 14);
}

#[test]
fn backend_outages_answer_16_and_recover() {
    let mut s = Stack::start();
    s.db_server.kill();
    let started = Instant::now();
    let r = s.call(json!({"function":"login_unique","data":{"unique_id":"during-outage"}}));
    assert_eq!(
        (r.status, r.message.as_str()),
        (16, "service temporarily unavailable, try again")
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "an outage must not hang a job"
    );
    s.db_server.restart();
    s.guest("after-outage");

    let token = s.guest("redis-check");
    s.redis_server.kill();
    let r = s.call(json!({"function":"account_all_info","data":{"token":token}}));
    assert_eq!(r.status, 16, "token revocation cannot be checked");
    let register = json!({"function":"register","data":{"unique_id":"half","account":"half_done","password":"123456"}});
    assert_eq!(
        s.call(register.clone()).status,
        16,
        "no token can be issued"
    );
    s.redis_server.restart();
    s.expect(register, 1); // the failed attempt left no row behind
    s.guest("redis-check");
}
