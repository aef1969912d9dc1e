//! A stolen token stops working once its owner gets a newer one, now that the worker
//! answers revocation checks from its copy of the current token ids (docs/worker.md "The
//! token cache"): at once when the worker that checks issued the new token, within the
//! copy's bound when another process did.

use std::time::{Duration, Instant};

use hostile::{new_player, request, status, RawClient};
use serde_json::json;
use shared::redis_tracking::STALE_AFTER;
use teststack::Stack;

#[test]
fn a_token_replaced_by_a_newer_login_is_refused() {
    let stack = Stack::start();
    let mut owner = RawClient::connect(stack.gate_addr());
    let mut thief = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut owner, "rev");
    let info = |token: &str| request("s0", "account_all_info", json!({ "token": token }));

    // The copied token works while it is the newest, and (on one Redis server) the
    // worker's copy answers its checks.
    let cache = stack
        .worker
        .as_ref()
        .unwrap()
        .services()
        .tokens
        .cache()
        .cloned();
    let hits = || cache.as_ref().map_or(0, |c| c.stats().0);
    let started = Instant::now();
    let before = hits();
    for round in 0.. {
        let a = thief.call(&info(&p.account));
        assert_eq!(status(&a), 0, "{a}");
        if round >= 20 && (cache.is_none() || hits() > before) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the copy never answered"
        );
    }
    // The owner logs in again (the worker issues the new token): the old one is dead for
    // the very next call, through the same gate and worker.
    let login = owner.call(&request(
        "s0",
        "login_unique",
        json!({ "unique_id": p.unique_id }),
    ));
    assert_eq!(status(&login), 0, "{login}");
    let fresh = login["data"]["token"].as_str().expect("token").to_string();
    let a = thief.call(&info(&p.account));
    assert_eq!(status(&a), 11, "the replaced token still worked: {a}");
    let a = owner.call(&info(&fresh));
    assert_eq!(status(&a), 0, "{a}");

    // A token another process replaces (here the stack's issuer, as auth does): refused
    // within the bound, measured from the moment the new token exists.
    let old = stack.admin_token();
    let grant = |token: &str| {
        request(
            "s0",
            "add_resources",
            json!({"token": token, "gn_target": p.gn, "items": ["3:5:1"]}),
        )
    };
    for _ in 0..20 {
        let a = thief.call(&grant(&old));
        assert_eq!(status(&a), 0, "{a}");
    }
    let _newer = stack.admin_token();
    let replaced = Instant::now();
    loop {
        let a = thief.call(&grant(&old));
        if status(&a) == 11 {
            break;
        }
        assert_eq!(status(&a), 0, "{a}");
        // The bound, plus the calls' own round trips on a busy machine.
        assert!(
            replaced.elapsed() < STALE_AFTER + Duration::from_millis(500),
            "a replaced admin token still worked after {:?}",
            replaced.elapsed()
        );
    }
}
