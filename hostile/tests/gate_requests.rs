//! Hostile request lines through the gate's client port, as a game client would send them:
//! broken framing, malformed JSON, bad tokens, giant nesting, numbers out of range,
//! duplicate keys and SQL metacharacters. Every answer must be a defined status, never
//! -1 (a panic or bug), and the gate and worker must go on serving.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hostile::{b64url, b64url_decode, new_player, request, status, RawClient};
use serde_json::{json, Value};
use teststack::{Stack, JWT_SECRET};

const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// A request that must still work after each hostile one: proof the gate and worker live.
fn still_serving(stack: &Stack) {
    let mut c = RawClient::connect(stack.gate_addr());
    let a = c.call(&request("s0", "no_such_function", json!({})));
    assert_eq!(status(&a), 10, "the system still answers: {a}");
}

#[test]
fn framing_breaks_close_only_that_connection() {
    let stack = Stack::start();
    let mut bystander = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut bystander, "frm");

    // Exactly 64 KiB before the line end is still a request; one byte more closes.
    let line_of = |len: usize| {
        let empty = request("s0", "no_such_function", json!({"pad": ""}));
        let line = request(
            "s0",
            "no_such_function",
            json!({"pad": "x".repeat(len - empty.len())}),
        );
        assert_eq!(line.len(), len);
        line
    };
    let mut at_limit = RawClient::connect(stack.gate_addr());
    let a = at_limit.call(&line_of(64 * 1024));
    assert_eq!(status(&a), 10, "a 64 KiB line is answered: {a}");
    let mut long = RawClient::connect(stack.gate_addr());
    long.send(&line_of(64 * 1024 + 1));
    long.expect_closed(CLOSE_WAIT);
    let mut long = RawClient::connect(stack.gate_addr());
    long.send(&"x".repeat(64 * 1024 + 1));
    long.expect_closed(CLOSE_WAIT);
    // Over the limit with no line end at all: closed without waiting for one.
    let mut endless = RawClient::connect(stack.gate_addr());
    endless.send_raw("y".repeat(200 * 1024).as_bytes());
    endless.expect_closed(CLOSE_WAIT);

    // Invalid UTF-8 inside an otherwise fine line.
    let mut not_utf8 = RawClient::connect(stack.gate_addr());
    not_utf8.send_raw(b"{\"world\":\"s0\",\"function\":\"\xff\xfe\",\"data\":{}}\r\n");
    not_utf8.expect_closed(CLOSE_WAIT);

    // 100,000 `[`: longer than a line may be, so the gate closes it before any parser.
    let mut nested = RawClient::connect(stack.gate_addr());
    nested.send(&"[".repeat(100_000));
    nested.expect_closed(CLOSE_WAIT);

    let a = bystander.call(&request(
        "s0",
        "get_info_player",
        json!({"token": p.session}),
    ));
    assert_eq!(status(&a), 0, "the bystander keeps its connection: {a}");
}

#[test]
fn malformed_requests_get_13_and_routing_errors_their_codes() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "mal");
    let tok = p.session.as_str();
    let cases: Vec<(&str, String, i64)> = vec![
        ("not JSON", "hello there".into(), 13),
        ("truncated JSON", "{\"world\":\"s0\",".into(), 13),
        ("empty object", "{}".into(), 13),
        ("JSON array", "[1,2,3]".into(), 13),
        ("JSON string", "\"get_info_player\"".into(), 13),
        ("JSON number", "42".into(), 13),
        ("JSON null", "null".into(), 13),
        (
            "function not a string",
            json!({"world":"s0","function":7,"data":{"token":tok}}).to_string(),
            13,
        ),
        (
            "function null",
            json!({"world":"s0","function":null,"data":{"token":tok}}).to_string(),
            13,
        ),
        (
            "data not an object",
            json!({"world":"s0","function":"get_info_player","data":"x"}).to_string(),
            13,
        ),
        (
            "data an array",
            json!({"world":"s0","function":"get_info_player","data":[tok]}).to_string(),
            13,
        ),
        (
            "token not a string",
            json!({"world":"s0","function":"get_info_player","data":{"token":12}}).to_string(),
            13,
        ),
        (
            "unknown function",
            request("s0", "drop_tables", json!({"token": tok})),
            10,
        ),
        ("no token", request("s0", "get_info_player", json!({})), 12),
        (
            "unknown world",
            request(
                "s99",
                "login_unique",
                json!({"unique_id": "device-unknown-world"}),
            ),
            14,
        ),
    ];
    for (name, line, want) in cases {
        let a = c.call(&line);
        assert_eq!(status(&a), want, "{name}: {line} -> {a}");
        assert!(a["message"].is_string(), "{name}: a message says why: {a}");
    }
}

/// Builds a token by hand: header and claims as given, signed with HS256 by `key`
/// (or with `signature` as given when `key` is None).
fn hand_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        signature
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn forged_expired_and_unsigned_tokens_get_11() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "tok");
    let parts: Vec<&str> = p.session.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64url_decode(parts[1])).unwrap();
    let real_sig = parts[2];

    // Claims changed to another uid, the original signature kept.
    let mut other = claims.clone();
    other["uid"] = json!("someone-else");
    let tampered = hand_token(&json!({"alg":"HS256","typ":"JWT"}), &other, real_sig);
    // The real claims with a signature of the right length but wrong bytes.
    let forged_sig = hand_token(
        &json!({"alg":"HS256","typ":"JWT"}),
        &claims,
        &b64url(&[7u8; 32]),
    );
    // alg none, empty signature, in the spellings attackers try.
    let none = hand_token(&json!({"alg":"none","typ":"JWT"}), &claims, "");
    let none_upper = hand_token(&json!({"alg":"NONE","typ":"JWT"}), &claims, "");
    let none_real_sig = hand_token(&json!({"alg":"none"}), &claims, real_sig);
    let hs512 = hand_token(&json!({"alg":"HS512"}), &claims, real_sig);
    // Expired: properly signed with the stack's key, exp in the past.
    let key = auth::Key::new(JWT_SECRET.as_bytes()).unwrap();
    let mut expired_claims: auth::Claims = serde_json::from_value(claims.clone()).unwrap();
    expired_claims.iat = now() - 7200;
    expired_claims.exp = now() - 3600;
    let expired = auth::jwt::encode(&key, &expired_claims);
    // Signed with a different key.
    let wrong_key = auth::Key::new(b"another signing key of 32+ bytes!").unwrap();
    let other_key = auth::jwt::encode(&wrong_key, &serde_json::from_value(claims.clone()).unwrap());
    claims["exp"] = json!(u64::MAX);
    let forever_unsigned = hand_token(&json!({"alg":"HS256"}), &claims, real_sig);

    let cases = [
        ("tampered payload", tampered),
        ("forged signature", forged_sig),
        ("alg none", none),
        ("alg NONE", none_upper),
        ("alg none with a real signature", none_real_sig),
        ("alg HS512", hs512),
        ("expired", expired),
        ("signed with another key", other_key),
        ("exp changed to forever", forever_unsigned),
        ("two segments", format!("{}.{}", parts[0], parts[1])),
        ("four segments", format!("{}.x", p.session)),
        ("garbage", "not-a-token".to_string()),
        ("10 KiB of dots", ".".repeat(10 * 1024)),
    ];
    for (name, token) in cases {
        let a = c.call(&request("s0", "get_info_player", json!({"token": token})));
        assert_eq!(status(&a), 11, "{name}: {a}");
    }
    let a = c.call(&request("s0", "get_info_player", json!({"token": ""})));
    assert_eq!(status(&a), 12, "an empty token counts as none: {a}");
    let a = c.call(&request(
        "s0",
        "get_info_player",
        json!({"token": p.session}),
    ));
    assert_eq!(status(&a), 0, "the real token still works: {a}");
}

#[test]
fn player_tokens_cannot_call_admin_functions() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "adm");
    for (function, args) in [
        (
            "add_resources",
            json!({"gn_target": p.gn, "items": ["3:5:100"]}),
        ),
        (
            "send_gift_mail",
            json!({"gn_target": p.gn, "items": ["3:5:100"], "subj": "s", "body": "b"}),
        ),
    ] {
        for token in [&p.session, &p.account] {
            let mut data = args.clone();
            data["token"] = json!(token);
            // A client cannot claim the role itself either.
            data["role"] = json!("admin");
            let a = c.call(&request("s0", function, data));
            assert_eq!(status(&a), 15, "{function} with a player token: {a}");
        }
    }
}

#[test]
fn giant_nesting_gets_an_error_and_the_system_lives_on() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "nest");
    // As deep as fits under the 64 KiB line limit, so the worker's parser sees it.
    let depth = 60_000;
    let cases = [
        ("bare arrays", "[".repeat(depth)),
        ("closed arrays", format!("{}{}", "[".repeat(depth / 2), "]".repeat(depth / 2))),
        (
            "nested inside data",
            format!(
                "{{\"world\":\"s0\",\"function\":\"get_info_player\",\"data\":{{\"token\":\"{}\",\"x\":{}{}}}}}",
                p.session,
                "[".repeat(25_000),
                "]".repeat(25_000)
            ),
        ),
        (
            "nested objects",
            format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)),
        ),
    ];
    for (name, line) in cases {
        assert!(line.len() < 64 * 1024, "{name} fits in a line");
        let a = c.call(&line);
        let s = status(&a);
        assert_eq!(s, 13, "{name}: {a}");
    }
    let a = c.call(&request(
        "s0",
        "get_info_player",
        json!({"token": p.session}),
    ));
    assert_eq!(status(&a), 0, "same connection still served: {a}");
    still_serving(&stack);
}

#[test]
fn numbers_out_of_range_never_panic() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "num");
    // Fresh sessions without a player, for create_player.
    let bad_numbers = [
        "1e400",
        "18446744073709551616",
        "-1",
        "1.5",
        "-9223372036854775809",
        "9223372036854775807",
        "4294967296",
        // A decimal string is a number (the original converted with int()); others are not.
        "\"7x\"",
        "\" 7 7\"",
        "true",
        "null",
        "[1]",
    ];
    let mut seen = Vec::new();
    for raw in bad_numbers {
        let fresh = new_session(&mut c, "numc");
        let line = format!(
            "{{\"world\":\"s0\",\"function\":\"create_player\",\"data\":{{\"token\":\"{fresh}\",\"gn\":\"n{}\",\"icon\":{raw}}}}}",
            shared::ids::random_hex(4)
        );
        let a = c.call(&line);
        seen.push(format!("create_player icon={raw}: {}", status(&a)));
        assert_ne!(status(&a), -1, "icon {raw}: {a}");
        assert_ne!(status(&a), 0, "icon {raw} is refused: {a}");
    }
    for raw in bad_numbers {
        for (function, arg) in [
            ("level_up_weapon", "delta"),
            ("level_up_weapon", "weapon"),
            ("level_up_star_weapon", "weapon"),
        ] {
            let line = format!(
                "{{\"world\":\"s0\",\"function\":\"{function}\",\"data\":{{\"token\":\"{}\",\"weapon\":1,\"delta\":1,\"{arg}\":{raw}}}}}",
                p.session
            );
            let a = c.call(&line);
            seen.push(format!("{function} {arg}={raw}: {}", status(&a)));
            assert_ne!(status(&a), -1, "{function} {arg}={raw}: {a}");
        }
        // Numbers where strings and string lists are expected.
        for (function, data) in [
            ("accept_gifts", format!("\"gift\":[{raw}]")),
            ("accept_gifts", format!("\"gift\":{raw}")),
            ("change_player_name", format!("\"gn\":{raw}")),
            ("find_person", format!("\"gn_target\":{raw}")),
            (
                "set_role_family",
                format!("\"gn_target\":\"x\",\"role\":{raw}"),
            ),
        ] {
            let line = format!(
                "{{\"world\":\"s0\",\"function\":\"{function}\",\"data\":{{\"token\":\"{}\",{data}}}}}",
                p.session
            );
            let a = c.call(&line);
            seen.push(format!("{function} {data}: {}", status(&a)));
            assert_ne!(status(&a), -1, "{function} {data}: {a}");
        }
    }
    eprintln!("statuses seen:\n{}", seen.join("\n"));
    let a = c.call(&request(
        "s0",
        "get_info_player",
        json!({"token": p.session}),
    ));
    assert_eq!(status(&a), 0, "{a}");
}

/// A fresh guest's session token in s0 (no player yet).
fn new_session(c: &mut RawClient, prefix: &str) -> String {
    let login = c.call(&request(
        "s0",
        "login_unique",
        json!({"unique_id": format!("{prefix}-{}", shared::ids::random_hex(8))}),
    ));
    let account = login["data"]["token"].as_str().unwrap().to_string();
    let enter = c.call(&request("s0", "enter_world", json!({"token": account})));
    enter["data"]["session"].as_str().unwrap().to_string()
}

#[test]
fn duplicate_keys_take_the_last_and_cannot_smuggle_a_token() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let alice = new_player(&mut c, "dupa");
    let bob = new_player(&mut c, "dupb");
    let forged = format!("{}.{}", alice.session, "x");

    let line = |pairs: &str| format!("{{\"world\":\"s0\",{pairs}}}");
    // `function` twice: the last one counts.
    let a = c.call(&line(&format!(
        "\"function\":\"get_info_player\",\"function\":\"no_such\",\"data\":{{\"token\":\"{}\"}}",
        alice.session
    )));
    assert_eq!(status(&a), 10, "last function wins: {a}");
    let a = c.call(&line(&format!(
        "\"function\":\"no_such\",\"function\":\"get_info_player\",\"data\":{{\"token\":\"{}\"}}",
        alice.session
    )));
    assert_eq!(status(&a), 0, "last function wins: {a}");

    // `token` twice: the last one is the one validated and the one whose uid is used.
    let two_tokens = |first: &str, second: &str| {
        line(&format!(
            "\"function\":\"get_info_player\",\"data\":{{\"token\":\"{first}\",\"token\":\"{second}\"}}"
        ))
    };
    let a = c.call(&two_tokens(&alice.session, &forged));
    assert_eq!(status(&a), 11, "a forged last token is refused: {a}");
    let a = c.call(&two_tokens(&forged, &alice.session));
    assert_eq!(status(&a), 0, "{a}");
    assert!(a.to_string().contains(&alice.gn), "answers as alice: {a}");
    let a = c.call(&two_tokens(&bob.session, &alice.session));
    assert!(
        a.to_string().contains(&alice.gn),
        "answers as the last token: {a}"
    );
    assert!(!a.to_string().contains(&bob.gn), "never as the first: {a}");

    // `unique_id` sent by the client, twice, is overwritten from the token.
    let a = c.call(&line(&format!(
        "\"function\":\"get_info_player\",\"data\":{{\"unique_id\":\"{}\",\"token\":\"{}\",\"unique_id\":\"{}\"}}",
        bob.unique_id, alice.session, bob.unique_id
    )));
    assert_eq!(status(&a), 0, "{a}");
    assert!(
        a.to_string().contains(&alice.gn),
        "identity from the token only: {a}"
    );

    // `data` twice: the last object is the arguments.
    let a = c.call(&line(&format!(
        "\"function\":\"get_info_player\",\"data\":{{\"token\":\"{}\"}},\"data\":{{\"token\":\"{forged}\"}}",
        alice.session
    )));
    assert_eq!(status(&a), 11, "last data wins: {a}");
    // `world` twice: the last world is checked.
    let a = c.call(&format!(
        "{{\"world\":\"s0\",\"world\":\"nowhere\",\"function\":\"get_info_player\",\"data\":{{\"token\":\"{}\"}}}}",
        alice.session
    ));
    assert_eq!(status(&a), 14, "last world wins: {a}");
}

#[test]
fn sql_metacharacters_are_plain_text() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "sql");
    // Never named in a request: wildcards and injections must not reach it.
    let bystander = new_player(&mut c, "sqlb");
    let nasty = [
        "' OR '1'='1",
        "'; DROP TABLE accounts; --",
        "\" OR \"\"=\"",
        "\\",
        "%",
        "_",
        "a' UNION SELECT password FROM accounts --",
        "1; SHUTDOWN",
        "`",
        "\u{0}",
    ];
    let mut seen = Vec::new();
    for text in nasty {
        let calls: Vec<(&str, Value)> = vec![
            (
                "register",
                json!({"unique_id": text, "account": text, "password": text}),
            ),
            ("login_unique", json!({"unique_id": text})),
            (
                "login",
                json!({"identifier": "account", "value": text, "password": text}),
            ),
            (
                "login",
                json!({"identifier": text, "value": "x", "password": "y"}),
            ),
            (
                "bind_account",
                json!({"token": p.account, "account": text, "password": text}),
            ),
            (
                "change_player_name",
                json!({"token": p.session, "gn": text}),
            ),
            (
                "find_person",
                json!({"token": p.session, "gn_target": text}),
            ),
            (
                "search_family",
                json!({"token": p.session, "family_name": text}),
            ),
            (
                "request_join_family",
                json!({"token": p.session, "name": text}),
            ),
            (
                "request_friend",
                json!({"token": p.session, "gn_target": text}),
            ),
            ("respond_friend", json!({"token": p.session, "key": text})),
            (
                "send_mail",
                json!({"token": p.session, "gn_target": text, "subj": text, "body": text}),
            ),
            ("mark_read_mail", json!({"token": p.session, "key": text})),
            ("accept_gifts", json!({"token": p.session, "gift": [text]})),
            (
                "level_up_weapon",
                json!({"token": p.session, "weapon": text, "delta": 1}),
            ),
        ];
        for (function, data) in calls {
            let a = c.call(&request("s0", function, data));
            seen.push(format!("{function} {text:?}: {}", status(&a)));
            assert_ne!(status(&a), -1, "{function} with {text:?}: {a}");
            assert_ne!(status(&a), -2, "{function} with {text:?}: {a}");
        }
    }
    eprintln!("statuses seen:\n{}", seen.join("\n"));
    // The tables are intact and the player is untouched.
    let count = stack.db.sql("SELECT COUNT(*) FROM lukseun.accounts");
    assert!(count.trim().parse::<u64>().unwrap() >= 1, "{count}");
    let a = c.call(&request(
        "s0",
        "get_info_player",
        json!({"token": bystander.session}),
    ));
    assert_eq!(status(&a), 0, "{a}");
    assert!(a.to_string().contains(&bystander.gn), "{a}");
    // `%` and `_` match nobody by wildcard.
    for wildcard in ["%", "_", "%%", "sqlb%", "sqlb____"] {
        let a = c.call(&request(
            "s0",
            "find_person",
            json!({"token": p.session, "gn_target": wildcard}),
        ));
        assert!(
            !a.to_string().contains(&bystander.gn),
            "{wildcard:?} found {a}"
        );
    }
}

#[test]
fn a_client_sending_one_byte_at_a_time_gets_its_answers() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "drip");
    let mut drip = RawClient::connect(stack.gate_addr());
    // Multi-byte characters arrive split across reads too.
    let line = format!(
        "{}\r\n{}\r\n",
        request("s0", "get_info_player", json!({"token": p.session})),
        request("s0", "no_such_function", json!({"note": "é€😀"}))
    );
    for byte in line.as_bytes() {
        drip.send_raw(std::slice::from_ref(byte));
        std::thread::sleep(Duration::from_micros(200));
    }
    let first = drip.answer();
    assert_eq!(status(&first), 0, "{first}");
    assert!(first.to_string().contains(&p.gn), "{first}");
    assert_eq!(status(&drip.answer()), 10);
}

#[test]
fn a_half_closed_client_still_gets_every_answer() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "half");
    let mut half = RawClient::connect(stack.gate_addr());
    let mut burst = String::new();
    for i in 0..5 {
        let function = if i % 2 == 0 {
            "get_info_player"
        } else {
            "no_such_function"
        };
        burst.push_str(&request("s0", function, json!({"token": p.session})));
        burst.push_str("\r\n");
    }
    half.send_raw(burst.as_bytes());
    half.shutdown_write();
    let answers = half.expect_closed(Duration::from_secs(30));
    let statuses: Vec<i64> = answers
        .iter()
        .map(|l| status(&serde_json::from_str(l).unwrap()))
        .collect();
    assert_eq!(statuses, vec![0, 10, 0, 10, 0], "in order, then closed");
}

#[test]
fn odd_line_endings_and_hostile_text_get_defined_answers() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "odd");
    let probe = request("s0", "no_such_function", json!({}));

    // An empty or blank line is a request that is not JSON.
    for blank in ["", "   "] {
        assert_eq!(status(&c.call(blank)), 13, "{blank:?}");
    }
    // A byte-order mark is not JSON whitespace.
    assert_eq!(status(&c.call(&format!("\u{feff}{probe}"))), 13);
    // A bare `\n` does not end a line: nothing is answered until `\r\n` comes, and then
    // both parts are one (malformed) request.
    c.send_raw(format!("{probe}\n").as_bytes());
    assert_eq!(
        c.read_line_within(Duration::from_secs(2)),
        hostile::Read1::Silent,
        "no answer to a line without \\r\\n"
    );
    c.send_raw(format!("{probe}\r\n").as_bytes());
    assert_eq!(status(&c.answer()), 13, "two JSON values in one line");
    // `\r\r\n`: the stray `\r` is JSON whitespace, so the request itself is read.
    assert_eq!(status(&c.call(&format!("{probe}\r"))), 10);

    // Text arguments: control, bidi-override, emoji, oversized -> the module's status.
    let texts: Vec<(&str, Value, i64)> = vec![
        ("change_player_name", json!({"gn": "\u{202e}evil"}), 97),
        ("change_player_name", json!({"gn": "😀😀"}), 97),
        ("change_player_name", json!({"gn": "x".repeat(5000)}), 97),
        (
            "send_mail",
            json!({"gn_target": p.gn, "subj": "a\r\nBcc: x", "body": "b"}),
            98,
        ),
        (
            "send_mail",
            json!({"gn_target": p.gn, "subj": "s", "body": "\u{0}"}),
            98,
        ),
        ("accept_gifts", json!({"gift": vec!["x"; 5000]}), 85),
        // The player is level 1: the original checks the level (95) before the name.
        ("create_family", json!({"name": "a.b*>", "icon": 1}), 95),
        ("create_family", json!({"name": "fam ily", "icon": 1}), 95),
        ("set_notice_family", json!({"msg": "x".repeat(60_000)}), 13),
    ];
    for (function, mut data, want) in texts {
        data["token"] = json!(p.session);
        let a = c.call(&request("s0", function, data.clone()));
        assert_eq!(status(&a), want, "{function}: {a}");
    }
    // A world that is not a string, empty, or absent.
    let world_cases = [
        (
            json!({"world": ["s0"], "function": "get_info_player", "data": {"token": p.session}}),
            13,
        ),
        (
            json!({"world": "", "function": "get_info_player", "data": {"token": p.session}}),
            14,
        ),
        (
            json!({"function": "get_info_player", "data": {"token": p.session}}),
            14,
        ),
    ];
    for (line, want) in world_cases {
        let a = c.call(&line.to_string());
        assert_eq!(status(&a), want, "{line}: {a}");
    }
    // A session token of s0 is not valid in s1.
    let a = c.call(&request(
        "s1",
        "get_info_player",
        json!({"token": p.session}),
    ));
    assert_eq!(status(&a), 11, "{a}");
}

/// Quantities inside item strings (`<group>:<item id>:<qty>`) from an admin: out of range
/// or not plain digits is the module's `92`; huge in-range ones are granted capped, never
/// wrapped to a small or negative count.
#[test]
fn item_quantities_out_of_range_are_refused_or_capped_never_wrapped() {
    let stack = Stack::start();
    let mut c = RawClient::connect(stack.gate_addr());
    let p = new_player(&mut c, "qty");
    let admin = stack.admin_token();
    let refused = [
        "3:5:99999999999999999999999",
        "3:5:-5",
        "3:5:0",
        "0:99999999999999999999:1",
        "3:5:1e3",
        "3:5:+5",
        "3:5:",
        "0::1",
        ":::",
    ];
    for item in refused {
        for function in ["add_resources", "send_gift_mail"] {
            let a = c.call(&request(
                "s0",
                function,
                json!({"token": admin, "gn_target": p.gn, "items": [item], "subj": "s", "body": "b"}),
            ));
            assert_eq!(status(&a), 19, "{function} {item}: {a}");
        }
    }
    let coins = |c: &mut RawClient| -> u64 {
        let a = c.call(&request(
            "s0",
            "get_all_resource",
            json!({"token": p.session}),
        ));
        assert_eq!(status(&a), 0, "{a}");
        let items = a["data"]["items"].as_array().expect("items").clone();
        items
            .iter()
            .filter_map(|i| i.as_str()?.strip_prefix("3:5:")?.parse().ok())
            .next()
            .unwrap_or(0)
    };
    let mut last = coins(&mut c);
    for item in [
        "3:5:2147483648",
        "3:5:9223372036854775807",
        "3:5:18446744073709551615",
    ] {
        let a = c.call(&request(
            "s0",
            "add_resources",
            json!({"token": admin, "gn_target": p.gn, "items": [item]}),
        ));
        assert_eq!(status(&a), 0, "{item}: {a}");
        let now = coins(&mut c);
        assert!(now >= last, "{item}: coins went from {last} down to {now}");
        last = now;
        // The same quantity as a gift mail: refused (above the item's max), nothing sent.
        let sent = c.call(&request(
            "s0",
            "send_gift_mail",
            json!({"token": admin, "gn_target": p.gn, "items": [item], "subj": "s", "body": "b"}),
        ));
        assert_eq!(status(&sent), 19, "{sent}");
        let mail = c.call(&request("s0", "get_all_mail", json!({"token": p.session})));
        assert_eq!(mail["data"]["mail"], json!([]), "{mail}");
        let now = coins(&mut c);
        assert_eq!(now, last, "gift {item}: coins moved");
        last = now;
    }
}
