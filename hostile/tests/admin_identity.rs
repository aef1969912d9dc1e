//! Issue 16, finding 1: an anonymous client could revoke the operators' admin token (a
//! guest `login_unique` with `"unique_id":"admin"` shared its revocation key), and anyone who
//! reached auth could mint one. Now admin tokens are their own kind with their own key,
//! admin ids live in the `admin:` namespace no player may take, and `/issue_token` mints
//! them only for the issuer key.

use std::net::SocketAddr;

use hostile::{http, new_player, request, status, RawClient};
use serde_json::{json, Value};
use teststack::{Stack, ADMIN_UID, ISSUER_KEY};

fn auth_addr(stack: &Stack) -> SocketAddr {
    stack.auth.as_ref().expect("auth running").addr()
}

/// `/issue_token` with `issuer_key` in X-Issuer-Key (None: no header).
fn issue(stack: &Stack, issuer_key: Option<&str>, body: Value) -> (u16, Value) {
    let header = issuer_key.map(|k| format!("X-Issuer-Key: {k}"));
    let headers: Vec<&str> = header.iter().map(String::as_str).collect();
    let (code, text) = http(
        auth_addr(stack),
        "POST",
        "/issue_token",
        &headers,
        body.to_string().as_bytes(),
    );
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The dev admin token, minted as `./lukseun up` mints it.
fn admin_token(stack: &Stack) -> String {
    let (code, answer) = issue(
        stack,
        Some(ISSUER_KEY),
        json!({"uid": ADMIN_UID, "kind": "admin"}),
    );
    assert_eq!((code, &answer["status"]), (200, &json!(0)), "{answer}");
    answer["token"].as_str().expect("token").to_string()
}

fn grant(c: &mut RawClient, admin: &str, gn: &str) -> Value {
    c.call(&request(
        "s0",
        "add_resources",
        json!({"token": admin, "gn_target": gn, "items": ["3:5:10"]}),
    ))
}

/// On the seed system the guest logins below revoked the admin token: `add_resources`
/// then answered 11.
#[test]
fn an_anonymous_login_no_longer_revokes_the_admin_token() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let target = new_player(&mut c, "adm");
    let admin = admin_token(&stack);
    let a = grant(&mut c, &admin, &target.gn);
    assert_eq!(status(&a), 0, "{a}");

    // The pre-16 dev admin uid is an ordinary device id now: a guest, nothing more.
    let login = c.call(&request(
        "s0",
        "login_unique",
        json!({"unique_id": "admin"}),
    ));
    assert!(matches!(status(&login), 0 | 1), "{login}");
    // The namespace itself, in any case, is refused before anything is stored or issued.
    for uid in [ADMIN_UID, "ADMIN:dev", "Admin:ops", "admin:"] {
        let login = c.call(&request("s0", "login_unique", json!({"unique_id": uid})));
        assert_eq!(status(&login), 96, "login_unique {uid}: {login}");
        assert!(login["data"]["token"].is_null(), "{login}");
        let register = c.call(&request(
            "s0",
            "register",
            json!({"unique_id": uid, "account": "sneaky1", "password": "a password"}),
        ));
        assert_eq!(status(&register), 96, "register {uid}: {register}");
    }
    let stored = stack
        .db
        .sql("SELECT COUNT(*) FROM lukseun.accounts WHERE unique_id LIKE 'admin:%'");
    assert_eq!(stored.trim(), "0");

    let a = grant(&mut c, &admin, &target.gn);
    assert_eq!(
        status(&a),
        0,
        "the admin token survived every guest login: {a}"
    );
}

/// Reaching auth is not enough to mint an admin token or a role; and a player token that
/// carries `role:"admin"` (what auth minted for anyone before) grants nothing.
#[test]
fn admin_tokens_need_the_issuer_key_and_roles_grant_nothing() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let target = new_player(&mut c, "key");
    let wrong = format!("{ISSUER_KEY}!");
    for body in [
        json!({"uid": ADMIN_UID, "kind": "admin"}),
        json!({"uid": "admin", "kind": "account", "role": "admin"}),
        json!({"uid": target.unique_id, "kind": "session", "world": "s0", "role": "admin"}),
    ] {
        for key in [None, Some("guess"), Some(wrong.as_str()), Some("")] {
            let (code, answer) = issue(&stack, key, body.clone());
            assert_eq!(code, 403, "{body} with {key:?}: {answer}");
            assert!(answer["token"].is_null(), "{answer}");
        }
    }
    // Minted with the key (as an operator could), a role claim is still no admin.
    let (code, answer) = issue(
        &stack,
        Some(ISSUER_KEY),
        json!({"uid": target.unique_id, "kind": "account", "role": "admin"}),
    );
    assert_eq!(code, 200, "{answer}");
    let role_only = answer["token"].as_str().unwrap();
    let a = grant(&mut c, role_only, &target.gn);
    assert_eq!(status(&a), 15, "{a}");
    let admin = admin_token(&stack);
    let a = grant(&mut c, &admin, &target.gn);
    assert_eq!(status(&a), 0, "{a}");
    // An operator has no player: a session function with the admin token is 11.
    let a = c.call(&request("s0", "get_all_resource", json!({"token": admin})));
    assert_eq!(status(&a), 11, "{a}");
}
