//! Path tricks in the mail API's world, uid and key: every one refused, and nothing created
//! in (or outside) the Maildir root.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hostile::post_json;
use serde_json::{json, Value};
use teststack::Stack;

fn mail_addr(stack: &Stack) -> SocketAddr {
    stack.mail.as_ref().expect("mail running").addr()
}

/// Every path under `root`, recursively.
fn tree(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            found.push(path);
        }
    }
    found.sort();
    found
}

fn a_mail() -> Value {
    json!({"type": 0, "from": "hostile", "subj": "s", "body": "b"})
}

const TRICKS: [&str; 14] = [
    "../x",
    "..",
    ".",
    "a/b",
    "/etc",
    ".hidden",
    "a\u{0}b",
    "a\\b",
    "..%2fx",
    "%2e%2e",
    "x/../../y",
    " s0",
    "",
    "s0\n",
];

#[test]
fn path_tricks_in_world_uid_and_key_are_refused_and_create_nothing() {
    let stack = Stack::start();
    let addr = mail_addr(&stack);
    let root = stack.mail_dir.path();
    let outside = root.parent().expect("root has a parent").to_path_buf();
    let long = "a".repeat(300);
    let mut names: Vec<&str> = TRICKS.to_vec();
    names.push(&long);

    for bad in &names {
        let sends = [
            json!({"world": bad, "uid": "u1", "mail": a_mail()}),
            json!({"world": "s0", "uid": bad, "mail": a_mail()}),
        ];
        for body in sends {
            let (code, v) = post_json(addr, "/send", &body.to_string());
            assert_eq!((code, v["status"].as_i64()), (400, Some(-1)), "{body}: {v}");
            assert!(v["message"].is_string(), "says why: {v}");
        }
        for path in ["/new", "/all", "/delete_read"] {
            for body in [
                json!({"world": bad, "uid": "u1"}),
                json!({"world": "s0", "uid": bad}),
            ] {
                let (code, v) = post_json(addr, path, &body.to_string());
                assert_eq!(
                    (code, v["status"].as_i64()),
                    (400, Some(-1)),
                    "{path} {body}: {v}"
                );
            }
        }
        for path in ["/mark_read", "/delete"] {
            let body = json!({"world": "s0", "uid": "u1", "key": bad});
            let (code, v) = post_json(addr, path, &body.to_string());
            assert_eq!(
                (code, v["status"].as_i64()),
                (400, Some(-1)),
                "{path} {body}: {v}"
            );
        }
    }
    // A duplicate key cannot pair a checked value with a used one: mail refuses it.
    for (first, second) in [("../x", "s0"), ("s0", "../x")] {
        let body = format!(
            "{{\"world\":\"{first}\",\"world\":\"{second}\",\"uid\":\"u1\",\"mail\":{}}}",
            a_mail()
        );
        let (code, v) = post_json(addr, "/send", &body);
        assert_eq!((code, v["status"].as_i64()), (400, Some(-1)), "{body}: {v}");
    }
    assert_eq!(
        tree(root),
        Vec::<PathBuf>::new(),
        "nothing created under the root"
    );
    // The escapes aimed beside the root (`../x`, `x/../../y`) landed nowhere.
    assert!(!outside.join("x").exists() && !outside.join("y").exists());

    // A key that looks valid but names another user's message is simply not found.
    let (_, sent) = post_json(
        addr,
        "/send",
        &json!({"world": "s0", "uid": "owner", "mail": a_mail()}).to_string(),
    );
    assert_eq!(sent["status"], json!(0), "{sent}");
    let key = sent["key"].as_str().unwrap();
    let (_, v) = post_json(
        addr,
        "/delete",
        &json!({"world": "s0", "uid": "thief", "key": key}).to_string(),
    );
    assert_ne!(v["status"], json!(0), "another uid cannot delete it: {v}");
    let (_, all) = post_json(
        addr,
        "/all",
        &json!({"world": "s0", "uid": "owner"}).to_string(),
    );
    assert_eq!(all["mail"].as_array().map(Vec::len), Some(1), "{all}");
    // Only the legitimate mailbox exists.
    for path in tree(root) {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(rel.starts_with("s0"), "unexpected {rel}");
    }
}

#[test]
fn malformed_mail_bodies_are_refused() {
    let stack = Stack::start();
    let addr = mail_addr(&stack);
    let cases = [
        "not json".to_string(),
        "{}".into(),
        json!({"world": "s0", "uid": "u"}).to_string(),
        json!({"world": "s0", "uid": "u", "mail": "x"}).to_string(),
        json!({"world": 1, "uid": "u", "mail": a_mail()}).to_string(),
        json!({"world": "s0", "uid": "u", "mail": {"type": "../x", "from": "f", "subj": "s", "body": "b"}}).to_string(),
        json!({"world": "s0", "uid": "u", "mail": {"type": 4, "from": "f", "subj": "s", "body": "b"}}).to_string(),
        json!({"world": "s0", "uid": "u", "mail": {"type": 0, "from": "f\r\nBcc: x", "subj": "s", "body": "b"}}).to_string(),
        json!({"world": "s0", "uid": "u", "mail": {"type": 0, "from": "f", "subj": "s\r\nX: y", "body": "b"}}).to_string(),
        json!({"world": "s0", "uid": "u", "mail": {"type": 0, "from": "f", "subj": "s", "body": "b\u{0}"}}).to_string(),
        json!({"world": "s0", "uid": "u", "mail": {"type": 0, "from": "f", "subj": "s", "body": "b", "items": ["../x"]}}).to_string(),
        format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)),
    ];
    for body in cases {
        let (code, v) = post_json(addr, "/send", &body);
        assert_eq!(code, 400, "{body:.80}: {v}");
        assert_eq!(v["status"], json!(-1), "{body:.80}: {v}");
    }
    assert_eq!(tree(stack.mail_dir.path()), Vec::<PathBuf>::new());
}
