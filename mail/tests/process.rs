//! The built `mail` binary as a process: kill -9 during a burst, SIGTERM, admin port.

mod common;

use std::collections::HashSet;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{get, names_in, spawn, Connection};
use serde_json::json;

#[test]
fn kill_9_during_a_burst_loses_no_acknowledged_mail() {
    let dir = testkit::TempDir::new("mail-kill9");
    let root = dir.path().join("root");
    let mut process = spawn(&root, 4, 1_000_000);
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let acked_count = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let (acked, acked_count, dead) = (acked.clone(), acked_count.clone(), dead.clone());
            let api = process.api;
            std::thread::spawn(move || {
                let uid = format!("sender{t}");
                let mut conn = Connection::open(api).unwrap();
                for i in 0.. {
                    let body = json!({"world": "w", "uid": uid, "mail": {"type": 1,
                        "from": "压力测试", "subj": format!("burst {i} 🎁"),
                        "body": "数据".repeat(100 + i % 50), "items": ["1:2:3"]}});
                    let Ok(answer) = conn.post("/send", &body) else {
                        // Killed: the connection broke mid-request or before it.
                        assert!(dead.load(Ordering::SeqCst), "send failed before the kill");
                        return;
                    };
                    assert_eq!(answer.http, 200, "{}", answer.body);
                    let key = answer.json()["key"].as_str().unwrap().to_string();
                    acked.lock().unwrap().push((uid.clone(), key));
                    acked_count.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    // Kill once the burst is well under way: a count, not a clock.
    while acked_count.load(Ordering::SeqCst) < 200 {
        std::thread::sleep(Duration::from_millis(1));
    }
    dead.store(true, Ordering::SeqCst);
    process.child.kill().unwrap(); // SIGKILL
    process.child.wait().unwrap();
    for sender in senders {
        sender.join().unwrap();
    }

    let acked = acked.lock().unwrap();
    assert!(acked.len() >= 200);
    for (uid, key) in acked.iter() {
        let mailbox = root.join("w").join(uid);
        let in_new = mailbox.join("new").join(key).is_file();
        let in_cur = names_in(&mailbox.join("cur"))
            .iter()
            .any(|n| n.split(':').next() == Some(key));
        assert!(in_new || in_cur, "acknowledged {uid}/{key} is gone");
    }
    let mut total_new = 0;
    for t in 0..4 {
        let mailbox = root.join("w").join(format!("sender{t}"));
        let new: HashSet<String> = names_in(&mailbox.join("new")).into_iter().collect();
        total_new += new.len();
        for name in &new {
            let raw_file = std::fs::read(mailbox.join("new").join(name)).unwrap();
            let message = mail::message::parse(&raw_file)
                .unwrap_or_else(|e| panic!("new/{name} is not a complete message: {e}"));
            assert_eq!(&message.key, name);
            assert!(message.mail.subject.starts_with("burst "));
            assert!(message.mail.body.starts_with("数据"));
        }
        for name in names_in(&mailbox.join("tmp")) {
            assert!(!new.contains(&name), "tmp/{name} is also in new/");
        }
    }
    assert!(total_new >= acked.len());
}

#[test]
fn sigterm_answers_in_flight_requests_and_exits_0() {
    let dir = testkit::TempDir::new("mail-sigterm");
    let root = dir.path().join("root");
    let mut process = spawn(&root, 2, 50);

    let health = get(process.admin, "/healthz");
    assert_eq!(health.http, 200);
    let ready = get(process.admin, "/readyz");
    assert_eq!(ready.http, 200);
    assert!(ready.body.contains("writable"), "{}", ready.body);

    let mut conn = Connection::open(process.api).unwrap();
    let body = json!({"world": "s0", "uid": "u", "mail": {"type": 0, "from": "a",
        "subj": "b", "body": "c"}});
    assert_eq!(conn.post("/send", &body).unwrap().json()["status"], 0);
    let metrics = get(process.admin, "/metrics").body;
    assert!(metrics.contains("mail_delivered_total 1\n"), "{metrics}");

    // A request half sent when SIGTERM arrives is still read and answered.
    let request = common::request_bytes("/send", body.to_string().as_bytes(), false);
    let (first, rest) = request.split_at(request.len() - 10);
    conn.write_raw(first).unwrap();
    // SAFETY: signalling our own child by its pid.
    unsafe {
        libc::kill(process.child.id() as libc::pid_t, libc::SIGTERM);
    }
    // The listener closes first: from then on the service is shutting down.
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(process.api).is_ok() {
        assert!(
            Instant::now() < deadline,
            "SIGTERM did not stop the listener"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    conn.write_raw(rest).unwrap();
    let answer = conn.read_answer().unwrap();
    assert_eq!(answer.json()["status"], 0, "{}", answer.body);
    // Then the server closes the connection.
    assert!(
        conn.post("/send", &body).is_err(),
        "closed after the answer"
    );
    let status = process.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(TcpStream::connect(process.api).is_err(), "API port closed");
    assert_eq!(names_in(&root.join("s0/u/new")).len(), 2);
}
