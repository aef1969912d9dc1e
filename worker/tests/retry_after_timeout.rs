//! Issue 16's retry: a client told -2 while its job still ran (the worker process frozen
//! with SIGSTOP inside the function, past the gate's timeout, then SIGCONT) retries with
//! the same request id and the function ran once; while the first attempt is frozen, a
//! second worker answers the retries 20 without running them. Through the real gate, NATS,
//! Redis and MariaDB, with the worker binaries as their own processes.

mod support;

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use serde_json::json;
use support::{signal, wait_stopped, Client, Servers, WorkerProcess};

const JOB_TIMEOUT: Duration = Duration::from_millis(1500);

/// A worker with its admin server on `admin_port` (0: any). Its records live 120 s, well
/// past how long this test keeps the first attempt frozen.
fn spawn_worker(servers: &Servers, admin_port: u16) -> WorkerProcess {
    let admin_port = admin_port.to_string();
    servers.worker(&[
        "--admin-port",
        &admin_port,
        "--rid-ttl-secs",
        "120",
        "--threads",
        "2",
        "--pbkdf2-iterations",
        "1000",
    ])
}

/// `worker_rid_still_running_total` of the worker with this admin address; 0 until it is up.
fn still_running(admin: std::net::SocketAddr) -> u64 {
    let Ok((200, body)) = testkit::http_get(admin, "/metrics") else {
        return 0;
    };
    body.lines()
        .find_map(|l| l.strip_prefix("worker_rid_still_running_total "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Coins (group 3, item 1) of `uid` in s0.
fn coins(db: &mut mysql::Conn, uid: &str) -> u64 {
    db.exec_first(
        "SELECT qty FROM items WHERE world = 's0' AND unique_id = ? AND grp = 3 AND item_id = 1",
        (uid,),
    )
    .unwrap()
    .unwrap()
}

#[test]
fn a_client_answered_minus_2_retries_with_its_rid_and_the_function_ran_once() {
    let servers = Servers::start();
    let mut front = servers.gate(JOB_TIMEOUT);
    let mut client = Client::connect(front.client_addr(), Duration::from_secs(30));
    let worker = spawn_worker(&servers, 0);

    // A player with plenty of iron and coins, made through the gate once the worker
    // answers (timeouts while it starts are expected).
    let device = "frozen-smith";
    let login = json!({"world":"s0","function":"login_unique","data":{"unique_id":device}});
    let deadline = Instant::now() + Duration::from_secs(30);
    let account = loop {
        let answer = client.ask(login.clone());
        if matches!(answer["status"].as_i64(), Some(0 | 1)) {
            break answer["data"]["token"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "the worker never became ready");
    };
    let entered =
        client.ask(json!({"world":"s0","function":"enter_world","data":{"token":account}}));
    let session = entered["data"]["session"].as_str().unwrap().to_string();
    let created = client.ask(json!({"world":"s0","function":"create_player",
        "data":{"token":session,"gn":"Frozen","icon":1}}));
    assert_eq!(created["status"], 0, "{created}");
    let mut sql = mysql::Conn::new(servers.db.url().as_str()).unwrap();
    sql.exec_drop(
        "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', ?, 3, 1, 1000000), \
         ('s0', ?, 3, 2, 1000000) ON DUPLICATE KEY UPDATE qty = VALUES(qty)",
        (device, device),
    )
    .unwrap();
    let before = coins(&mut sql, device);

    // The test holds the player's item rows, so the worker's level-up transaction waits
    // for them: then it is surely inside the function when it is frozen.
    let mut holder = mysql::Conn::new(servers.db.url().as_str()).unwrap();
    holder.query_drop("BEGIN").unwrap();
    holder
        .exec_drop(
            "SELECT qty FROM items WHERE world = 's0' AND unique_id = ? FOR UPDATE",
            (device,),
        )
        .unwrap();
    let level_up = json!({"world":"s0","function":"level_up_weapon","rid":"lvl-after-timeout",
        "data":{"token":session,"weapon":301}});
    let asked = Instant::now();
    client.send(&level_up);
    let waiting = Instant::now();
    loop {
        // The worker's payment, blocked on the rows the test holds.
        let waits: u64 = sql
            .query_first(
                "SELECT COUNT(*) FROM information_schema.processlist \
                 WHERE info LIKE 'UPDATE items SET qty = qty - %'",
            )
            .unwrap()
            .unwrap();
        if waits == 1 {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the worker never waited for the rows"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let frozen_after = asked.elapsed();
    signal(&worker.0, libc::SIGSTOP);
    wait_stopped(&worker.0);
    // Its statement gets the rows while it is frozen; it goes on when resumed.
    holder.query_drop("COMMIT").unwrap();

    let timed_out = client.receive();
    assert_eq!(timed_out["status"], -2, "{timed_out}");
    let told = asked.elapsed();
    assert_eq!(coins(&mut sql, device), before, "frozen before its commit");

    // While the first attempt is frozen, a second worker takes retries: it finds the rid
    // running and answers 20 without running it (a retry NATS hands to the frozen worker
    // gets -2 from the gate instead). Nothing is paid either way.
    let admin_port = testkit::free_port();
    let _second = spawn_worker(&servers, admin_port);
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], admin_port));
    let waiting = Instant::now();
    let mut statuses = Vec::new();
    while still_running(metrics) == 0 {
        let answer = client.ask(level_up.clone());
        statuses.push(answer["status"].as_i64().unwrap());
        assert!(matches!(statuses.last(), Some(20 | -2)), "{answer}");
        assert_eq!(coins(&mut sql, device), before, "nothing ran: {statuses:?}");
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "the second worker never took a retry: {statuses:?}"
        );
    }
    signal(&worker.0, libc::SIGCONT);

    // The client retries with the same rid: the first run's answer, and one payment.
    let retried = Instant::now();
    let retry = client.ask(level_up.clone());
    let retry_took = retried.elapsed();
    assert_eq!(retry["status"], 0, "{retry}");
    let paid = before - coins(&mut sql, device);
    let level = retry["data"]["remaining"]["0"]["level"].as_u64().unwrap();
    let again = client.ask(level_up.clone());
    assert_eq!(again, retry, "every retry gets the same answer");
    assert_eq!(
        before - coins(&mut sql, device),
        paid,
        "the function ran once"
    );
    assert_eq!(
        retry["data"]["remaining"]["3"][1]["value"].as_u64(),
        Some(before - paid),
        "the answer is the run that paid"
    );

    // Another player sending the same rid string gets its own run and its own answer;
    // the first player's record and coins are untouched.
    let other = client.ask(json!({"world":"s0","function":"login_unique",
        "data":{"unique_id":"copycat"}}));
    let other = other["data"]["token"].as_str().unwrap().to_string();
    let entered = client.ask(json!({"world":"s0","function":"enter_world","data":{"token":other}}));
    let other = entered["data"]["session"].as_str().unwrap().to_string();
    let created = client.ask(json!({"world":"s0","function":"create_player",
        "data":{"token":other,"gn":"Copycat","icon":1}}));
    assert_eq!(created["status"], 0, "{created}");
    sql.exec_drop(
        "INSERT INTO items (world, unique_id, grp, item_id, qty) VALUES ('s0', 'copycat', 3, 1, 5000), \
         ('s0', 'copycat', 3, 2, 5000) ON DUPLICATE KEY UPDATE qty = VALUES(qty)",
        (),
    )
    .unwrap();
    let copycat = client.ask(json!({"world":"s0","function":"level_up_weapon",
        "rid":"lvl-after-timeout","data":{"token":other,"weapon":301}}));
    assert_eq!(copycat["status"], 0, "{copycat}");
    assert_ne!(copycat, retry);
    assert!(
        coins(&mut sql, "copycat") < 5000,
        "its own run, its own coins"
    );
    assert_eq!(
        before - coins(&mut sql, device),
        paid,
        "not the first player's coins"
    );
    assert_eq!(client.ask(level_up.clone()), retry, "nor its record");

    // A new rid is a new request: it levels up again and pays again.
    let next = client.ask(
        json!({"world":"s0","function":"level_up_weapon","rid":"lvl-next",
        "data":{"token":session,"weapon":301}}),
    );
    assert_eq!(
        next["data"]["remaining"]["0"]["level"].as_u64(),
        Some(level + 1)
    );
    assert!(coins(&mut sql, device) < before - paid);
    // And a bad rid is refused through the gate, naming the field.
    let bad = client.ask(
        json!({"world":"s0","function":"level_up_weapon","rid":"no spaces",
        "data":{"token":session,"weapon":301}}),
    );
    assert_eq!(bad["status"], 13, "{bad}");
    assert!(bad["data"]["reason"].as_str().unwrap().contains("`rid`"));
    eprintln!(
        "rid retry: frozen inside the function {frozen_after:?} after the request, -2 read \
         after {told:?} (gate timeout {JOB_TIMEOUT:?}); the retry's answer after {retry_took:?}"
    );

    eprintln!("rid retries while the first attempt was frozen: {statuses:?}");
    drop(worker);
    front.stop();
}
