//! Several `mail` processes on one store, as replicas on a shared volume: the limit exact,
//! each mail taken or deleted once, kill -9 of one replica mid-burst, a dead lock holder.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use common::{names_in, spawn, Connection, Process};
use serde_json::{json, Value};

fn send_body(uid: &str, subject: &str, system: bool) -> Value {
    json!({"world": "w", "uid": uid, "system": system, "mail": {"type": 1,
        "from": "复制测试", "subj": subject, "body": "内容".repeat(50), "items": ["1:2:3"]}})
}

/// Every mail file of a mailbox (`new/` and `cur/`): key -> subject, panicking on a key
/// stored twice or a file that does not parse.
fn stored(mailbox: &Path) -> HashMap<String, String> {
    let mut mails = HashMap::new();
    for sub in ["new", "cur"] {
        for name in names_in(&mailbox.join(sub)) {
            let raw = std::fs::read(mailbox.join(sub).join(&name)).unwrap();
            let message = mail::message::parse(&raw)
                .unwrap_or_else(|e| panic!("{sub}/{name} is not a complete message: {e}"));
            let key = name.split(':').next().unwrap().to_string();
            let previous = mails.insert(key, message.mail.subject);
            assert!(previous.is_none(), "{name} stored twice");
        }
    }
    mails
}

#[test]
fn the_limit_is_exact_with_sends_spread_over_three_replicas() {
    const LIMIT: usize = 20;
    let dir = testkit::TempDir::new("mail-replicas-limit");
    let root = dir.path().join("root");
    let replicas: Vec<Process> = (0..3).map(|_| spawn(&root, 4, LIMIT)).collect();
    // 12 connections, 4 on each replica; player and system mail race at the same time.
    let barrier = Arc::new(Barrier::new(12));
    let senders: Vec<_> = (0..12)
        .map(|t| {
            let api = replicas[t % 3].api;
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut conn = Connection::open(api).unwrap();
                barrier.wait();
                (0..8)
                    .map(|i| {
                        let system = t % 4 == 3;
                        let subject = format!("{t}-{i}-{system}");
                        let answer = conn
                            .post("/send", &send_body("u", &subject, system))
                            .unwrap();
                        assert_eq!(answer.http, 200, "{}", answer.body);
                        (subject, system, answer.json())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<_> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    let files = stored(&root.join("w/u"));
    for class in [false, true] {
        let of_class: Vec<_> = answers.iter().filter(|(_, s, _)| *s == class).collect();
        let delivered: HashMap<String, String> = of_class
            .iter()
            .filter(|(_, _, a)| a["status"] == 0)
            .map(|(subject, _, a)| (a["key"].as_str().unwrap().to_string(), subject.clone()))
            .collect();
        assert_eq!(delivered.len(), LIMIT, "system {class}: exactly the limit");
        for (_, _, answer) in of_class.iter().filter(|(_, _, a)| a["status"] != 0) {
            assert_eq!(*answer, json!({"status": 1, "message": "mailbox full"}));
        }
        for (key, subject) in &delivered {
            assert_eq!(files.get(key), Some(subject), "acknowledged {key} stored");
        }
    }
    assert_eq!(
        files.len(),
        2 * LIMIT,
        "nothing stored but what was acknowledged"
    );
    let mut conn = Connection::open(replicas[1].api).unwrap();
    let all = conn
        .post("/all", &json!({"world": "w", "uid": "u"}))
        .unwrap();
    assert_eq!(all.json()["count"], json!({"cur": 2 * LIMIT, "max": LIMIT}));
}

#[test]
fn each_mail_is_read_and_deleted_once_through_two_replicas() {
    let dir = testkit::TempDir::new("mail-replicas-once");
    let root = dir.path().join("root");
    let replicas: Vec<Process> = (0..2).map(|_| spawn(&root, 4, 1000)).collect();
    let mut conn = Connection::open(replicas[0].api).unwrap();
    let mut keys = Vec::new();
    for i in 0..60 {
        let answer = conn
            .post("/send", &send_body("u", &i.to_string(), false))
            .unwrap();
        keys.push(answer.json()["key"].as_str().unwrap().to_string());
    }
    let mailbox = json!({"world": "w", "uid": "u"});
    // Both replicas ask for the new mails at once, again and again: each mail once.
    let handed: Arc<Mutex<Vec<String>>> = Arc::default();
    let readers: Vec<_> = replicas
        .iter()
        .map(|r| {
            let (api, handed, mailbox) = (r.api, handed.clone(), mailbox.clone());
            std::thread::spawn(move || {
                let mut conn = Connection::open(api).unwrap();
                for _ in 0..20 {
                    let answer = conn.post("/new", &mailbox).unwrap().json();
                    for mail in answer["mail"].as_array().unwrap() {
                        handed
                            .lock()
                            .unwrap()
                            .push(mail["key"].as_str().unwrap().to_string());
                    }
                }
            })
        })
        .collect();
    // Meanwhile more mail arrives through the other replica.
    let mut conn1 = Connection::open(replicas[1].api).unwrap();
    for i in 60..100 {
        let answer = conn1
            .post("/send", &send_body("u", &i.to_string(), false))
            .unwrap();
        keys.push(answer.json()["key"].as_str().unwrap().to_string());
    }
    for reader in readers {
        reader.join().unwrap();
    }
    let last = conn.post("/new", &mailbox).unwrap().json();
    let mut handed = handed.lock().unwrap().clone();
    handed.extend(
        last["mail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["key"].as_str().unwrap().to_string()),
    );
    assert_eq!(handed.len(), 100, "each new mail handed out exactly once");
    assert_eq!(
        handed.iter().collect::<HashSet<_>>(),
        keys.iter().collect::<HashSet<_>>()
    );

    // mark_read, delete and delete_read of the same mails through both replicas at once.
    let race = |path: &'static str, keys: Vec<String>| -> Vec<(i64, i64)> {
        let barrier = Arc::new(Barrier::new(2));
        let runs: Vec<_> = replicas
            .iter()
            .map(|r| {
                let (api, keys, barrier) = (r.api, keys.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut conn = Connection::open(api).unwrap();
                    barrier.wait();
                    keys.iter()
                        .map(|key| {
                            let body = json!({"world": "w", "uid": "u", "key": key});
                            let answer = conn.post(path, &body).unwrap();
                            answer.json()["status"].as_i64().unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut statuses: Vec<Vec<i64>> = runs.into_iter().map(|r| r.join().unwrap()).collect();
        let second = statuses.pop().unwrap();
        statuses.pop().unwrap().into_iter().zip(second).collect()
    };
    for (a, b) in race("/mark_read", keys[..50].to_vec()) {
        assert_eq!((a, b), (0, 0), "marking read twice is no error");
    }
    for (a, b) in race("/delete", keys[50..].to_vec()) {
        assert!(
            (a, b) == (0, 2) || (a, b) == (2, 0),
            "deleted once, the other replica says no such mail: {a} {b}"
        );
    }
    let deleted: Vec<Vec<String>> = replicas
        .iter()
        .map(|r| {
            let (api, mailbox) = (r.api, mailbox.clone());
            std::thread::spawn(move || {
                let answer = common::post(api, "/delete_read", &mailbox).unwrap().json();
                serde_json::from_value(answer["keys"].clone()).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let mut all_deleted: Vec<&String> = deleted.iter().flatten().collect();
    all_deleted.sort();
    let mut read: Vec<&String> = keys[..50].iter().collect();
    read.sort();
    assert_eq!(
        all_deleted, read,
        "every read mail deleted and reported once"
    );
    assert!(stored(&root.join("w/u")).is_empty());
}

#[test]
fn kill_9_of_one_replica_mid_burst_loses_nothing_and_the_rest_serve() {
    let dir = testkit::TempDir::new("mail-replicas-kill9");
    let root = dir.path().join("root");
    let mut victim = spawn(&root, 4, 1_000_000);
    let survivor = spawn(&root, 4, 1_000_000);
    let acked: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let acked_by_victim = Arc::new(AtomicUsize::new(0));
    let survivor_after_kill = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    // 8 senders, 4 on each replica, all to the same 4 mailboxes.
    let senders: Vec<_> = (0..8)
        .map(|t| {
            let on_victim = t % 2 == 0;
            let api = if on_victim { victim.api } else { survivor.api };
            let (acked, killed) = (acked.clone(), killed.clone());
            let (by_victim, after_kill) = (acked_by_victim.clone(), survivor_after_kill.clone());
            std::thread::spawn(move || {
                let mut conn = Connection::open(api).unwrap();
                // The survivor's senders go on until it has served 150 sends after the kill.
                for i in 0.. {
                    if !on_victim && after_kill.load(Ordering::SeqCst) >= 150 {
                        return;
                    }
                    let uid = format!("u{}", i % 4);
                    let subject = format!("{t}-{i}");
                    let Ok(answer) = conn.post("/send", &send_body(&uid, &subject, false)) else {
                        assert!(on_victim && killed.load(Ordering::SeqCst), "send failed");
                        return;
                    };
                    assert_eq!(answer.json()["status"], 0, "{}", answer.body);
                    let key = answer.json()["key"].as_str().unwrap().to_string();
                    acked.lock().unwrap().push((uid, key, subject));
                    if on_victim {
                        by_victim.fetch_add(1, Ordering::SeqCst);
                    } else if killed.load(Ordering::SeqCst) {
                        after_kill.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    // A sender that stopped early has failed: go on to the join, which reports it.
    while acked_by_victim.load(Ordering::SeqCst) < 150 && !senders.iter().any(|s| s.is_finished()) {
        std::thread::sleep(Duration::from_millis(1));
    }
    killed.store(true, Ordering::SeqCst);
    victim.child.kill().unwrap(); // SIGKILL, mid-burst
    victim.child.wait().unwrap();
    for sender in senders {
        sender.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let unanswered_at_most = 4; // one send in flight per victim connection
    let mut stored_total = 0;
    for m in 0..4 {
        let mailbox = root.join(format!("w/u{m}"));
        let files = stored(&mailbox);
        stored_total += files.len();
        let subjects: HashSet<&String> = files.values().collect();
        assert_eq!(subjects.len(), files.len(), "u{m}: no mail stored twice");
        for (_, key, subject) in acked.iter().filter(|(uid, _, _)| *uid == format!("u{m}")) {
            assert_eq!(files.get(key), Some(subject), "acknowledged {key} present");
        }
    }
    assert!(
        stored_total >= acked.len() && stored_total <= acked.len() + unanswered_at_most,
        "stored {stored_total}, acknowledged {}",
        acked.len()
    );

    // The replica comes back on the same store, serves, and clears the tmp files of any
    // delivery the kill cut short. Planted: one such leftover named as the dead process's.
    let leftover = format!("1.M1P{}Q999999.host", victim.child.id());
    std::fs::write(root.join("w/u0/tmp").join(&leftover), "partial").unwrap();
    let restarted = spawn(&root, 4, 1_000_000);
    let mut conn = Connection::open(restarted.api).unwrap();
    let answer = conn
        .post("/send", &send_body("u0", "after", false))
        .unwrap();
    assert_eq!(answer.json()["status"], 0);
    for m in 0..4 {
        let all = conn
            .post("/all", &json!({"world": "w", "uid": format!("u{m}")}))
            .unwrap()
            .json();
        let listed = all["mail"].as_array().unwrap().len();
        assert_eq!(listed, stored(&root.join(format!("w/u{m}"))).len());
        let tmp = names_in(&root.join(format!("w/u{m}/tmp")));
        assert!(tmp.is_empty(), "u{m}: tmp/ cleared by the read: {tmp:?}");
    }
}

#[test]
fn a_lock_held_by_a_killed_process_never_blocks() {
    let Ok(path) = which_flock() else {
        println!("skipped: util-linux flock(1) is not installed");
        return;
    };
    let dir = testkit::TempDir::new("mail-replicas-lock");
    let root = dir.path().join("root");
    let replica = spawn(&root, 2, 50);
    let mut conn = Connection::open(replica.api).unwrap();
    assert_eq!(
        conn.post("/send", &send_body("u", "first", false))
            .unwrap()
            .json()["status"],
        0
    );
    // Another process takes the mailbox's lock and would hold it for an hour.
    let lock_file = root.join("w/u/.lock");
    let mut holder = KillOnDrop(
        std::process::Command::new(path)
            .arg("--no-fork") // the holder is the process we kill, not a parent of it
            .arg(&lock_file)
            .args(["sleep", "3600"])
            .spawn()
            .unwrap(),
    );
    // Until the holder has it: a probe that gets the lock releases it when dropped.
    while mail::lock::try_lock(&std::fs::File::open(&lock_file).unwrap()).unwrap() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let answered = Arc::new(AtomicBool::new(false));
    let sender = {
        let (api, answered) = (replica.api, answered.clone());
        std::thread::spawn(move || {
            let mut conn = Connection::open(api).unwrap();
            let answer = conn
                .post("/send", &send_body("u", "second", false))
                .unwrap();
            answered.store(true, Ordering::SeqCst);
            answer.json()
        })
    };
    // Give a broken lock every chance to show: the send must still be waiting.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !answered.load(Ordering::SeqCst),
        "sent while another held the lock"
    );
    holder.0.kill().unwrap(); // SIGKILL: the kernel drops its lock
    holder.0.wait().unwrap();
    assert_eq!(sender.join().unwrap()["status"], 0);
    let all = conn
        .post("/all", &json!({"world": "w", "uid": "u"}))
        .unwrap()
        .json();
    assert_eq!(all["count"]["cur"], 2);
}

/// A helper process that must not outlive a failed test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which_flock() -> Result<std::path::PathBuf, ()> {
    ["/usr/bin/flock", "/bin/flock"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
        .ok_or(())
}
