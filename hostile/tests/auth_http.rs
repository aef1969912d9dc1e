//! Hostile requests to the auth HTTP API (internal, but it must not fall over or accept
//! forgeries): tampered tokens, malformed bodies, oversized and lying bodies, nonce replays
//! and a race of two redeemers.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use hostile::{b64url, b64url_decode, http, post_json, read_http_answer};
use serde_json::{json, Value};
use teststack::Stack;

fn auth_addr(stack: &Stack) -> SocketAddr {
    stack.auth.as_ref().expect("auth running").addr()
}

fn issue(addr: SocketAddr, uid: &str) -> String {
    let (code, body) = post_json(
        addr,
        "/issue_token",
        &json!({"uid": uid, "kind": "account"}).to_string(),
    );
    assert_eq!((code, body["status"].as_i64()), (200, Some(0)), "{body}");
    body["token"].as_str().unwrap().to_string()
}

fn validate(addr: SocketAddr, token: &str) -> (u16, Value) {
    post_json(
        addr,
        "/validate_token",
        &json!({"token": token}).to_string(),
    )
}

/// The service still issues and validates: proof it lives on.
fn still_serving(addr: SocketAddr) {
    let token = issue(addr, "alive");
    let (code, body) = validate(addr, &token);
    assert_eq!((code, body["status"].as_i64()), (200, Some(0)), "{body}");
}

#[test]
fn tampered_and_misshapen_tokens_are_refused() {
    let stack = Stack::start();
    let addr = auth_addr(&stack);
    let token = issue(addr, "victim");
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64url_decode(parts[1])).unwrap();
    claims["uid"] = json!("attacker");
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        b64url(claims.to_string().as_bytes()),
        parts[2]
    );
    let mut sig = b64url_decode(parts[2]);
    sig[0] ^= 1;
    let tampered_signature = format!("{}.{}.{}", parts[0], parts[1], b64url(&sig));
    let none = format!("{}.{}.", b64url(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let cases = [
        ("tampered payload", tampered_payload),
        ("tampered signature", tampered_signature),
        ("alg none", none),
        ("two segments", format!("{}.{}", parts[0], parts[1])),
        ("four segments", format!("{token}.{}", parts[2])),
        ("padding added", format!("{token}==")),
        ("not base64", "!!.??.**".to_string()),
        ("empty", String::new()),
    ];
    for (name, t) in cases {
        let (code, body) = validate(addr, &t);
        assert_eq!(code, 200, "{name}: {body}");
        assert_eq!(body["status"], json!(1), "{name} is refused: {body}");
        assert!(
            body["data"].is_null(),
            "{name}: no claims handed out: {body}"
        );
    }
    let (_, body) = validate(addr, &token);
    assert_eq!(body["data"]["uid"], json!("victim"), "{body}");

    // `token` twice: the last one is the one checked.
    let twice = |first: &str, second: &str| {
        let body = format!("{{\"token\":\"{first}\",\"token\":\"{second}\"}}");
        post_json(addr, "/validate_token", &body).1
    };
    assert_eq!(twice(&token, "forged")["status"], json!(1));
    let last_good = twice("forged", &token);
    assert_eq!(last_good["status"], json!(0), "{last_good}");
    assert_eq!(last_good["data"]["uid"], json!("victim"), "{last_good}");
}

#[test]
fn malformed_bodies_get_400_with_a_reason() {
    let stack = Stack::start();
    let addr = auth_addr(&stack);
    let cases: [(&str, &str); 16] = [
        ("/validate_token", "not json"),
        ("/validate_token", ""),
        ("/validate_token", "[]"),
        ("/validate_token", "{}"),
        ("/validate_token", r#"{"token":7}"#),
        ("/issue_token", r#"{"uid":"u"}"#),
        ("/issue_token", r#"{"uid":"u","kind":"root"}"#),
        ("/register_nonce", r#"{"nonce":"n"}"#),
        ("/register_nonce", r#"{"nonce":"n","payload":"x"}"#),
        ("/redeem_nonce", r#"{"keys":"n"}"#),
        ("/register_nonce", r#"{"nonce":"t0","payload":{},"ttl":0}"#),
        (
            "/register_nonce",
            r#"{"nonce":"t1","payload":{},"ttl":9223372036854775807}"#,
        ),
        (
            "/register_nonce",
            r#"{"nonce":"t2","payload":{},"ttl":18446744073709551615}"#,
        ),
        ("/register_nonce", r#"{"nonce":"t3","payload":{},"ttl":-1}"#),
        ("/register_nonce", r#"{"nonce":"","payload":{}}"#),
        (
            "/register_nonce",
            r#"{"nonce":"t4","payload":{"status":0}}"#,
        ),
    ];
    for (path, body) in cases {
        let (code, text) = http(addr, "POST", path, &[], body.as_bytes());
        assert_eq!(code, 400, "{path} {body}: {text}");
        let v: Value = serde_json::from_str(&text).expect("a JSON error body");
        assert_eq!(v["status"], json!(-1), "{path} {body}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path} {body}: says why: {v}"
        );
    }
    // Deep nesting inside a field the endpoint ignores is still bounded by the parser.
    let deep = format!(
        "{{\"token\":\"x\",\"extra\":{}{}}}",
        "[".repeat(30_000),
        "]".repeat(30_000)
    );
    let (code, _) = http(addr, "POST", "/validate_token", &[], deep.as_bytes());
    assert_eq!(code, 400, "deep nesting");
    let (code, _) = http(addr, "GET", "/validate_token", &[], b"");
    assert_eq!(code, 405);
    let (code, _) = http(addr, "POST", "/../validate_token", &[], b"{}");
    assert_eq!(code, 404);
    still_serving(addr);
}

#[test]
fn oversized_and_lying_bodies_are_refused_and_service_goes_on() {
    let stack = Stack::start();
    let addr = auth_addr(&stack);
    // 1 MB body, sent in full.
    let big = format!("{{\"token\":\"{}\"}}", "a".repeat(1024 * 1024));
    let (code, _) = http(addr, "POST", "/validate_token", &[], big.as_bytes());
    assert_eq!(code, 413, "1 MB body");
    still_serving(addr);

    // A Content-Length of a terabyte, with a few bytes behind it.
    let (code, _) = http(
        addr,
        "POST",
        "/validate_token",
        &["Content-Length: 1000000000000"],
        b"{\"token\":\"x\"}",
    );
    assert_eq!(code, 413, "huge declared length");
    // A length that does not even fit in u64, and a negative one.
    for bad in ["99999999999999999999999", "-1", "12, 13"] {
        let header = format!("Content-Length: {bad}");
        let (code, _) = http(addr, "POST", "/validate_token", &[&header], b"{}");
        assert_eq!(code, 400, "Content-Length {bad}");
    }
    // Declared 100 bytes, sent 13, then the write side closed: no answer is invented and
    // the server lets go of the connection.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(
        b"POST /validate_token HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n{\"token\":\"x\"}",
    )
    .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut rest).expect("the server closes the connection");
    let text = String::from_utf8_lossy(&rest);
    assert!(
        !text.contains("\"status\":0"),
        "a truncated body is never processed: {text}"
    );
    // Chunked bodies are refused with a reason, not misread.
    let (code, _) = http(
        addr,
        "POST",
        "/validate_token",
        &["Transfer-Encoding: chunked", "Content-Length: 0"],
        b"",
    );
    assert!((400..500).contains(&code), "chunked: {code}");
    still_serving(addr);
}

#[test]
fn a_nonce_redeems_once_even_when_two_race() {
    let stack = Stack::start();
    let addr = auth_addr(&stack);
    let register = |nonce: &str| {
        post_json(
            addr,
            "/register_nonce",
            &json!({"nonce": nonce, "payload": {"gift": "0:1:5"}}).to_string(),
        )
    };
    let redeem = |nonce: &str| {
        post_json(addr, "/redeem_nonce", &json!({"keys": [nonce]}).to_string()).1[nonce]["status"]
            .as_i64()
    };
    // Registering the same nonce twice does not replace the first payload.
    let (code, body) = register("dup-nonce");
    assert_eq!((code, body["status"].as_i64()), (200, Some(0)), "{body}");
    let (_, body) = register("dup-nonce");
    assert_eq!(body["status"], json!(1), "second register refused: {body}");
    // Replayed: the second redeem fails.
    assert_eq!(redeem("dup-nonce"), Some(0));
    assert_eq!(redeem("dup-nonce"), Some(1), "replayed nonce");
    // The same key twice in one request redeems once.
    register("twice-in-one");
    let (_, body) = post_json(
        addr,
        "/redeem_nonce",
        &json!({"keys": ["twice-in-one", "twice-in-one"]}).to_string(),
    );
    assert_eq!(body["twice-in-one"]["status"], json!(0), "{body}");

    // Two threads, same nonce, released together: exactly one wins, 20 rounds.
    for round in 0..20 {
        let nonce = format!("race-{round}");
        register(&nonce);
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                let nonce = nonce.clone();
                std::thread::spawn(move || {
                    let body = json!({"keys": [nonce]}).to_string();
                    let head = format!(
                        "POST /redeem_nonce HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.write_all(head.as_bytes()).unwrap();
                    barrier.wait();
                    s.write_all(body.as_bytes()).unwrap();
                    let (_, text) = read_http_answer(&mut s);
                    let v: Value = serde_json::from_str(&text).unwrap();
                    v[&nonce]["status"].as_i64().unwrap()
                })
            })
            .collect();
        let mut results: Vec<i64> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        results.sort();
        assert_eq!(
            results,
            vec![0, 1],
            "round {round}: exactly one redeem wins"
        );
    }
}
